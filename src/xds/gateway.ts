// LDS and RDS for routers (gateways): one listener per Gateway server port, routed by
// `http.<port>` built from the route sets bound to those gateways, plus the TCP and TLS
// passthrough chains of gateway-l4.ts.
import type { GatewayServer, HttpRouteSet, MeshModel, Workload } from '../model/types.js';
import { caNameTakenBy, resolveServerCredential, usesCredential } from '../model/credentials.js';
import type { EnvoyObject } from '../proxy/types.js';
import { CREDENTIAL, LISTENER, ROUTE, SECRET } from './names.js';
import { credentialSecrets } from './secrets.js';
import { ANY, meshCertificates, nonEmpty, sdsSecret, socketAddress, sortBy, tlsSocket, wrapped } from './envoy.js';
import { hcmFilter, tlsInspector } from './listeners.js';
import { boundHosts, hostMatches, resolveTargetPort, serviceSelects, stripNamespace, type OutboundTarget } from './mesh.js';
import { translateRules } from './routes.js';
import { gatewayL4Chains } from './gateway-l4.js';
import { labelsMatch } from '../model/labels.js';

/** ALPN a gateway offers to clients on TLS servers. */
export const GATEWAY_ALPN = ['h2', 'http/1.1'];

/** Gateway servers this router runs: their selector matches its labels (Istio: across namespaces). */
export function serversFor(model: MeshModel, proxy: Workload): GatewayServer[] {
  return model.gatewayServers.filter((s) => labelsMatch(s.selector, proxy.labels));
}

/** Servers weft can terminate as HTTP: plain HTTP ones and TLS-terminating HTTPS ones (TCP and passthrough servers: gateway-l4.ts). */
function servesHttp(s: GatewayServer): boolean {
  switch (s.port.protocol) {
    case 'HTTP':
    case 'HTTP2':
    case 'GRPC':
      return true;
    case 'HTTPS':
      return s.tls !== undefined && s.tls.mode !== 'PASSTHROUGH';
    default:
      return false;
  }
}

function terminatesTls(s: GatewayServer): boolean {
  return s.port.protocol === 'HTTPS';
}

/** The address port for a server port: the targetPort of a Service in front of the gateway that has the port, else the port. */
export function gatewayTargetPort(model: MeshModel, proxy: Workload, port: number): number {
  for (const service of model.services) {
    if (!serviceSelects(service, proxy)) continue;
    const sp = service.ports.find((p) => p.port === port);
    if (sp) return resolveTargetPort(sp, proxy) ?? port;
  }
  return port;
}

/** Downstream TLS for an HTTPS server: the gateway's certificate by SDS name (credentialName); MUTUAL also checks clients. */
function serverTlsContext(tls: NonNullable<GatewayServer['tls']>): EnvoyObject {
  if (tls.mode === 'ISTIO_MUTUAL') {
    return {
      commonTlsContext: { ...meshCertificates(), validationContextSdsSecretConfig: sdsSecret(SECRET.root), alpnProtocols: GATEWAY_ALPN },
      requireClientCertificate: wrapped(true),
    };
  }
  const name = tls.credentialName ?? '';
  const common = { tlsCertificateSdsSecretConfigs: [sdsSecret(CREDENTIAL.cert(name, tls.credentialNamespace))], alpnProtocols: GATEWAY_ALPN };
  if (tls.mode === 'MUTUAL') {
    return {
      commonTlsContext: { ...common, validationContextSdsSecretConfig: sdsSecret(CREDENTIAL.ca(name, tls.credentialNamespace)) },
      requireClientCertificate: wrapped(true),
    };
  }
  return { commonTlsContext: common };
}

/**
 * The TLS-terminating filter chain of one HTTPS server, matched by SNI on its hosts (none
 * for "*": the chain for clients without SNI or with other names). A server whose
 * credential does not resolve in this gateway's namespace gets no chain (reported by the
 * model as WEFT_MISSING_CREDENTIAL), nor one whose CA's SDS name another server's certificate
 * takes (WEFT_CREDENTIAL_CLASH); its secrets are added to `secrets` by SDS name.
 */
function httpsChain(model: MeshModel, proxy: Workload, server: GatewayServer, hcm: EnvoyObject, secrets: Map<string, EnvoyObject>): EnvoyObject | undefined {
  const tls = server.tls!;
  if (usesCredential(server)) {
    const r = resolveServerCredential(model, server, proxy.namespace);
    // Both reported by the model (WEFT_MISSING_CREDENTIAL, WEFT_CREDENTIAL_CLASH). Otherwise an
    // SDS name has one content whichever server asks: the Secret's, or the CA of that credential.
    if (!r.ok || caNameTakenBy(model, server, proxy)) return undefined;
    for (const w of credentialSecrets(tls.credentialName!, tls.credentialNamespace, r.credential.cert, r.credential.ca?.pem)) secrets.set(w['name'] as string, w);
  }
  const names = [...new Set(server.hosts.map(stripNamespace).filter((h) => h !== '*'))].sort();
  return {
    filterChainMatch: { ...nonEmpty('serverNames', names), transportProtocol: 'tls' },
    filters: [hcm],
    transportSocket: tlsSocket(ANY.downstreamTls, serverTlsContext(tls)),
  };
}

function gatewayListener(model: MeshModel, proxy: Workload, port: number, servers: GatewayServer[], clusterDomain: string | undefined, targets: Map<string, OutboundTarget>, secrets: Map<string, EnvoyObject>): EnvoyObject | undefined {
  const http = servers.filter(servesHttp);
  const l4 = gatewayL4Chains(model, proxy, port, servers, clusterDomain, targets);
  if (!http.length && !l4.length) return undefined;
  const targetPort = gatewayTargetPort(model, proxy, port);
  const hcm = () => hcmFilter(`outbound_0.0.0.0_${targetPort}`, { rds: ROUTE.gateway(port) });
  const tlsChains = http.filter(terminatesTls).flatMap((s) => httpsChain(model, proxy, s, hcm(), secrets) ?? []);
  const plain = http.some((s) => !terminatesTls(s)) ? [{ filters: [hcm()] }] : [];
  if (!tlsChains.length && !plain.length && !l4.length) return undefined;
  return {
    name: LISTENER.gateway(port),
    address: socketAddress('0.0.0.0', targetPort),
    filterChains: [...tlsChains, ...l4, ...plain],
    ...(tlsChains.length || l4.some(readsClientHello) ? { listenerFilters: [tlsInspector()] } : {}),
    trafficDirection: 'OUTBOUND',
  };
}

/** A chain that needs the ClientHello read (SNI or transport protocol). */
function readsClientHello(chain: EnvoyObject): boolean {
  const m = chain['filterChainMatch'] as EnvoyObject | undefined;
  return m !== undefined && (m['serverNames'] !== undefined || m['transportProtocol'] !== undefined);
}

function byPort(servers: GatewayServer[]): Map<number, GatewayServer[]> {
  const ports = new Map<number, GatewayServer[]>();
  for (const s of servers) ports.set(s.port.number, [...(ports.get(s.port.number) ?? []), s]);
  return new Map([...ports.entries()].sort(([a], [b]) => a - b));
}

function gatewayRouteConfig(
  model: MeshModel,
  proxy: Workload,
  port: number,
  servers: GatewayServer[],
  clusterDomain: string | undefined,
  targets: Map<string, OutboundTarget>,
): EnvoyObject {
  const gateways = new Set(servers.map((s) => s.gateway));
  // domain -> route sets serving it, in model order (the first set's rules come first).
  const byDomain = new Map<string, HttpRouteSet[]>();
  for (const set of model.routes) {
    if (!set.attachTo.some((a) => gateways.has(a))) continue;
    for (const d of boundHosts(set, servers)) byDomain.set(d, [...(byDomain.get(d) ?? []), set]);
  }
  const redirectHosts = servers.filter((s) => s.tls?.httpsRedirect && !terminatesTls(s)).flatMap((s) => s.hosts.map(stripNamespace));
  const ctx = { model, proxy, port, clusterDomain, targets };
  const virtualHosts: EnvoyObject[] = [...byDomain.entries()].map(([domain, sets]) => ({
    name: `${domain}:${port}`,
    domains: [domain],
    routes: translateRules(sets.flatMap((s) => s.rules), ctx),
    // Only hosts an httpsRedirect server covers: a redirect server for one host leaves a "*" server's other hosts plain.
    ...(redirectHosts.some((h) => hostMatches(h, domain)) ? { requireTls: 'ALL' } : {}),
  }));
  virtualHosts.push(...redirectOnlyHosts(redirectHosts, byDomain, port));
  const sorted = sortBy(virtualHosts, (vh) => (vh['domains'] as string[])[0]!);
  return { name: ROUTE.gateway(port), ...nonEmpty('virtualHosts', sorted.map((vh) => dropEmptyRoutes(vh as EnvoyObject & { routes?: EnvoyObject[] }))) };
}

/**
 * An httpsRedirect server's hosts that no route set serves still redirect (as Istio builds
 * them): a virtual host with no routes and `requireTls: ALL`, so every plain request gets
 * a 301 to https.
 */
function redirectOnlyHosts(redirectHosts: string[], served: ReadonlyMap<string, unknown>, port: number): EnvoyObject[] {
  return [...new Set(redirectHosts)].filter((h) => !served.has(h)).map((h) => ({ name: `${h}:${port}`, domains: [h], routes: [], requireTls: 'ALL' }));
}

/** Object form leaves out an empty `routes`; a virtual host whose rules all filtered out has none. */
function dropEmptyRoutes(vh: EnvoyObject & { routes?: EnvoyObject[] }): EnvoyObject {
  const { routes, ...rest } = vh;
  return routes?.length ? vh : rest;
}

/**
 * A router's listeners and route configurations, and the credential secrets its listeners
 * reference (by SDS name, sorted); route targets are collected into `targets`.
 */
export function gatewayResources(
  model: MeshModel,
  proxy: Workload,
  clusterDomain: string | undefined,
  targets: Map<string, OutboundTarget>,
): { listeners: EnvoyObject[]; routes: EnvoyObject[]; secrets: EnvoyObject[] } {
  const listeners: EnvoyObject[] = [];
  const routes: EnvoyObject[] = [];
  const secrets = new Map<string, EnvoyObject>();
  for (const [port, servers] of byPort(serversFor(model, proxy))) {
    const listener = gatewayListener(model, proxy, port, servers, clusterDomain, targets, secrets);
    if (!listener) continue;
    listeners.push(listener);
    const http = servers.filter(servesHttp);
    if (http.length) routes.push(gatewayRouteConfig(model, proxy, port, http, clusterDomain, targets));
  }
  return { listeners, routes, secrets: sortBy([...secrets.values()], (s) => s['name'] as string) };
}
