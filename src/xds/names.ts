// Naming conventions shared by the xDS generator, the control plane and the proxy.
// They follow Istio's so that users' habits and tools (istioctl-style output) carry over.

export const DEFAULT_TRUST_DOMAIN = 'cluster.local';

/** spiffe://<trust-domain>/ns/<namespace>/sa/<service-account> */
export function spiffeId(namespace: string, serviceAccount: string, trustDomain = DEFAULT_TRUST_DOMAIN): string {
  return `spiffe://${trustDomain}/ns/${namespace}/sa/${serviceAccount}`;
}

/** The fully qualified host of a Kubernetes service. */
export function serviceFqdn(name: string, namespace: string, clusterDomain = 'cluster.local'): string {
  return `${name}.${namespace}.svc.${clusterDomain}`;
}

/** outbound|<port>|<subset>|<fqdn>: the cluster a client proxy uses to reach a service port (or subset). */
export function outboundClusterName(port: number, fqdn: string, subset = ''): string {
  return `outbound|${port}|${subset}|${fqdn}`;
}

/** inbound|<port>||: the cluster an inbound listener forwards to (the local app). */
export function inboundClusterName(port: number): string {
  return `inbound|${port}||`;
}

/** A VHDS virtual host's resource name (and its `name`): "<route config>/<virtual host>" (Envoy's convention). */
export function vhdsResourceName(routeConfig: string, virtualHost: string): string {
  return `${routeConfig}/${virtualHost}`;
}

/** The route config a VHDS virtual host belongs to: up to the last slash (a route config name may hold slashes, a host not). */
export function vhdsRouteConfig(resourceName: string): string {
  return resourceName.slice(0, Math.max(0, resourceName.lastIndexOf('/')));
}

export function parseClusterName(name: string): { direction: 'inbound' | 'outbound'; port: number; subset: string; host: string } | undefined {
  const parts = name.split('|');
  if (parts.length !== 4 || (parts[0] !== 'inbound' && parts[0] !== 'outbound')) return undefined;
  return { direction: parts[0], port: Number(parts[1]), subset: parts[2]!, host: parts[3]! };
}

/** SNI a client sidecar sends to a server sidecar; the server picks the inbound port from it. Istio's form: outbound_.9080_._.<fqdn> (no subset), outbound_.9080_.v2_.<fqdn>. */
export function meshSni(port: number, fqdn: string, subset = ''): string {
  return `outbound_.${port}_.${subset}_.${fqdn}`;
}

export function parseMeshSni(sni: string): { port: number; subset: string; host: string } | undefined {
  const m = /^outbound_\.(\d+)_\.([^_]*)_\.(.+)$/.exec(sni);
  if (!m) return undefined;
  return { port: Number(m[1]), subset: m[2] === '' ? '' : m[2]!, host: m[3]! };
}

/** ALPN a client sidecar offers for opaque TCP to a server sidecar (weft's own; HTTP uses h2 or http/1.1). */
export const ALPN_WEFT_TCP = 'weft-tcp';

/** Listener and route-configuration names. */
export const LISTENER = {
  /** The sidecar's outbound listener (HTTP proxy + CONNECT) on <podIP>:15001. */
  outbound: 'virtualOutbound',
  /** One inbound listener per container port on <podIP>:<port>. */
  inbound: (port: number) => `inbound|${port}`,
  /** A gateway listener on <address>:<port>. */
  gateway: (port: number) => `gateway|${port}`,
  /**
   * A sidecar's internal listener (no address) that routes the TLS bytes of a CONNECT
   * tunnel to <fqdn>:<port> by SNI (VirtualService tls[]); the cluster that reaches it
   * has the same name.
   */
  tlsSni: (port: number, fqdn: string) => `tls_sni|${port}|${fqdn}`,
} as const;

export const ROUTE = {
  /** All HTTP services the sidecar can reach, with domains "host" and "host:port". */
  outboundHttpProxy: 'http_proxy',
  inbound: (port: number) => `inbound|${port}`,
  gateway: (port: number) => `http.${port}`,
} as const;

/** Secret names: the workload certificate is made by the proxy itself (keys never leave it); the root comes over SDS. */
export const SECRET = { workload: 'default', root: 'ROOTCA' } as const;

/**
 * SDS names of gateway credentials, as Istio names them: `kubernetes://<name>` for an Istio
 * credentialName (a Secret in the gateway's namespace), `kubernetes-gateway://<ns>/<name>`
 * for a Gateway API certificateRef; the client CA of a MUTUAL server adds `-cacert`. A
 * DestinationRule's credentialName uses the same names (the client certificate, and the
 * CA under `-cacert`). The prefixes keep them apart from `default` and `ROOTCA` whatever
 * the Secret is called.
 */
export const CREDENTIAL = {
  cert: (name: string, namespace?: string): string => (namespace === undefined ? `kubernetes://${name}` : `kubernetes-gateway://${namespace}/${name}`),
  ca: (name: string, namespace?: string): string => `${CREDENTIAL.cert(name, namespace)}-cacert`,
} as const;

/** Endpoint metadata keys (Istio's): the transport socket match for mTLS-capable endpoints and the workload identity. */
export const METADATA = {
  tlsModeFilter: 'envoy.transport_socket_match',
  tlsModeKey: 'tlsMode',
  tlsModeMesh: 'istio',
  workloadFilter: 'weft',
} as const;

/** Proxy node id: <type>~<ip>~<pod>.<namespace>~<namespace>.svc.cluster.local (Istio's format). */
export type ProxyType = 'sidecar' | 'router';

export function nodeId(type: ProxyType, ip: string, pod: string, namespace: string): string {
  return `${type}~${ip}~${pod}.${namespace}~${namespace}.svc.cluster.local`;
}

export function parseNodeId(id: string): { type: ProxyType; ip: string; pod: string; namespace: string } | undefined {
  const m = /^(sidecar|router)~([^~]+)~([^~]+)\.([^.~]+)~/.exec(id);
  if (!m) return undefined;
  return { type: m[1] as ProxyType, ip: m[2]!, pod: m[3]!, namespace: m[4]! };
}

/** Well-known ports (Istio's). */
export const PORTS = {
  proxyOutbound: 15001,
  proxyInbound: 15006,
  proxyAdmin: 15000,
  proxyMetrics: 15020,
  proxyHealth: 15021,
  xdsPlaintext: 15010,
  xdsTls: 15012,
  controlMonitoring: 15014,
  webhook: 15017,
  /** weft's own: control-plane HTTP API and dashboard. */
  controlApi: 15080,
  /** weft's own, local mode: the ingress gateway's host port for Gateway servers on port 80. */
  ingressHttp: 8080,
  /** weft's own, local mode: the ingress gateway's host port for Gateway servers on port 443. */
  ingressHttps: 8443,
} as const;
