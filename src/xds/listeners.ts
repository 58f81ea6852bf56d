// LDS for sidecars: the outbound HTTP proxy listener and one inbound listener per
// container port (mTLS and PERMISSIVE plaintext chains), plus the network filters
// gateway listeners share.
import type { MeshModel, PortProtocol, Workload } from '../model/types.js';
import type { EnvoyObject } from '../proxy/types.js';
import { ALPN_WEFT_TCP, inboundClusterName, LISTENER, PORTS, ROUTE, SECRET } from './names.js';
import { adsSource, ANY, duration, EXT, filter, meshCertificates, sdsSecret, socketAddress, tlsSocket, typed, wrapped } from './envoy.js';
import { isHttpProtocol, resolveTargetPort, serviceSelects } from './mesh.js';
import { httpFilters } from './l7-filters.js';

/** ALPN the server sidecar accepts: HTTP/2, HTTP/1.1 (Upgrade requests) and opaque TCP (docs/architecture.md). */
export const INBOUND_ALPN = ['h2', 'http/1.1', ALPN_WEFT_TCP];

/** Where an HCM gets its routes: RDS by name, or an inline RouteConfiguration. */
export type RouteSpec = { rds: string } | { inline: EnvoyObject };

/** An http_connection_manager network filter. */
export function hcmFilter(statPrefix: string, routes: RouteSpec, extra: EnvoyObject = {}): EnvoyObject {
  const routeField =
    'rds' in routes ? { rds: { routeConfigName: routes.rds, configSource: adsSource() } } : { routeConfig: routes.inline };
  return filter(EXT.hcm, ANY.hcm, { statPrefix, codecType: 'AUTO', ...routeField, httpFilters: httpFilters(), ...extra });
}

export function tcpProxyFilter(statPrefix: string, cluster: string): EnvoyObject {
  return filter(EXT.tcpProxy, ANY.tcpProxy, { statPrefix, cluster });
}

export function tlsInspector(): EnvoyObject {
  return { name: EXT.tlsInspector, typedConfig: typed(ANY.tlsInspector) };
}

/** The sidecar's outbound listener: an HTTP proxy (absolute-form and CONNECT) routed by `http_proxy`. */
export function virtualOutboundListener(): EnvoyObject {
  return {
    name: LISTENER.outbound,
    address: socketAddress('0.0.0.0', PORTS.proxyOutbound),
    filterChains: [{ filters: [hcmFilter(`outbound_0.0.0.0_${PORTS.proxyOutbound}`, { rds: ROUTE.outboundHttpProxy })] }],
    trafficDirection: 'OUTBOUND',
  };
}

/**
 * A container port's protocol: from the Service port that targets it (by number or by
 * name; services in name order, first wins), else the container port's own, else opaque TCP.
 */
export function inboundProtocol(model: MeshModel, proxy: Workload, containerPort: number): PortProtocol {
  for (const service of model.services) {
    if (!serviceSelects(service, proxy)) continue;
    const sp = service.ports.find((p) => resolveTargetPort(p, proxy) === containerPort);
    if (sp) return sp.protocol;
  }
  return proxy.ports.find((p) => p.containerPort === containerPort)?.protocol ?? 'tcp';
}

/** The distinct container ports of a workload, ascending. */
export function containerPorts(proxy: Workload): number[] {
  return [...new Set(proxy.ports.map((p) => p.containerPort))].sort((a, b) => a - b);
}

function inboundFilter(port: number, protocol: PortProtocol): EnvoyObject {
  const cluster = inboundClusterName(port);
  if (!isHttpProtocol(protocol)) return tcpProxyFilter(cluster, cluster);
  const routeConfig = {
    name: ROUTE.inbound(port),
    virtualHosts: [
      {
        name: `inbound|http|${port}`,
        domains: ['*'],
        routes: [{ name: 'default', match: { prefix: '/' }, route: { cluster, timeout: duration(0) } }],
      },
    ],
  };
  // Tell the app who called: x-forwarded-client-cert By=<own id>;URI=<peer id>, never a client-supplied one.
  return hcmFilter(`inbound_0.0.0.0_${port}`, { inline: routeConfig }, {
    forwardClientCertDetails: 'SANITIZE_SET',
    setCurrentClientCertDetails: { uri: true },
  });
}

/** Server side of mesh mTLS: the workload certificate, peers must present one chaining to ROOTCA. */
export function inboundTlsContext(): EnvoyObject {
  return {
    commonTlsContext: {
      ...meshCertificates(),
      validationContextSdsSecretConfig: sdsSecret(SECRET.root),
      alpnProtocols: INBOUND_ALPN,
    },
    requireClientCertificate: wrapped(true),
  };
}

/** One inbound listener: mTLS chain first, then plaintext (PERMISSIVE), same filters. */
export function inboundListener(port: number, protocol: PortProtocol): EnvoyObject {
  const f = inboundFilter(port, protocol);
  return {
    name: LISTENER.inbound(port),
    address: socketAddress('0.0.0.0', port),
    filterChains: [
      {
        filterChainMatch: { transportProtocol: 'tls' },
        filters: [f],
        transportSocket: tlsSocket(ANY.downstreamTls, inboundTlsContext()),
        name: 'inbound-mtls',
      },
      { filterChainMatch: { transportProtocol: 'raw_buffer' }, filters: [f], name: 'inbound-plaintext' },
    ],
    listenerFilters: [tlsInspector()],
    trafficDirection: 'INBOUND',
  };
}
