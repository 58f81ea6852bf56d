// The dialect-neutral mesh model. Every accepted YAML dialect is translated into
// this by one `toModel` per dialect (src/model/from-*.ts); the xDS generator reads
// only this. It knows nothing of YAML or of xDS.

/** Where a model element came from, so findings and conflicts can name it. */
export interface SourceRef {
  kind: string;
  namespace: string;
  name: string;
  /** file:line when the resource came from a file. */
  origin?: string;
}

/** Application protocol of a port, from `appProtocol` or Istio's port-name prefix convention (http-, grpc-, tcp- ...). */
export type PortProtocol = 'http' | 'http2' | 'grpc' | 'tcp' | 'tls' | 'https';

export interface ServicePort {
  name?: string;
  port: number;
  /** Container port number on the workloads (named target ports are resolved against container port names). */
  targetPort: number | string;
  protocol: PortProtocol;
}

export interface Service {
  name: string;
  namespace: string;
  /** name.namespace.svc.cluster.local */
  hostname: string;
  ports: ServicePort[];
  /** Label selector; an empty selector selects nothing (as in Kubernetes). */
  selector: Record<string, string>;
  labels: Record<string, string>;
  source: SourceRef;
}

/** One running replica (a pod): the unit that gets a sidecar, an address and an identity. */
export interface Workload {
  /** Pod name, e.g. reviews-v2-7d9c8b-x2k4p */
  name: string;
  namespace: string;
  labels: Record<string, string>;
  serviceAccount: string;
  /** SPIFFE identity: spiffe://<trust-domain>/ns/<ns>/sa/<sa> */
  identity: string;
  /** The pod address peers connect to (owned by the sidecar in local mode). */
  address: string;
  /** Where the application itself listens (local mode: a second loopback address); equals `address` when the app is captured transparently. */
  appAddress: string;
  ports: { name?: string; containerPort: number; protocol?: PortProtocol }[];
  /** Readiness as last reported by the platform (probe passing, process running). */
  ready: boolean;
  /** Whether a weft sidecar runs beside it (endpoints without one are reached in plaintext). */
  meshed: boolean;
  /** The owning Deployment (or gateway) name, for workload-level labels like source_workload. */
  owner: string;
  /** sidecar for app pods, router for gateways. */
  proxyType: 'sidecar' | 'router';
}

export type StringMatch =
  | { kind: 'exact'; value: string; ignoreCase?: boolean }
  | { kind: 'prefix'; value: string; ignoreCase?: boolean }
  | { kind: 'regex'; value: string }
  | { kind: 'present' };

export interface HttpMatch {
  path?: StringMatch;
  method?: StringMatch;
  authority?: StringMatch;
  scheme?: StringMatch;
  headers?: { name: string; match: StringMatch; invert?: boolean }[];
  queryParams?: { name: string; match: StringMatch }[];
  /** Only for traffic arriving on this port. */
  port?: number;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
}

export interface WeightedDestination {
  /** FQDN of the destination service (or ServiceEntry host). */
  host: string;
  port?: number;
  subset?: string;
  /** Relative weight; weights of one rule need not sum to 100. */
  weight: number;
}

export interface HeaderOps {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface RetryPolicy {
  attempts: number;
  perTryTimeoutMs?: number;
  /** Envoy retry_on conditions, e.g. ["5xx","connect-failure","reset"]; status codes as "503". */
  retryOn: string[];
}

export type RouteAction =
  | {
      kind: 'forward';
      destinations: WeightedDestination[];
      rewrite?: { uriPrefix?: string; uriRegex?: { match: string; rewrite: string }; authority?: string };
    }
  | { kind: 'redirect'; uri?: string; authority?: string; scheme?: string; port?: number; responseCode: number }
  | { kind: 'direct'; status: number; body?: string };

export interface HttpRule {
  name?: string;
  /** OR of matches; empty means match everything. */
  matches: HttpMatch[];
  action: RouteAction;
  timeoutMs?: number;
  retries?: RetryPolicy;
  requestHeaders?: HeaderOps;
  responseHeaders?: HeaderOps;
}

/** The HTTP routing of one set of hosts (one VirtualService, one HTTPRoute ...): first matching rule wins. */
export interface HttpRouteSet {
  source: SourceRef;
  /** FQDNs or wildcards ("*.example.com", "*"); short names are expanded by toModel. */
  hosts: string[];
  /** "mesh" for sidecars; "<namespace>/<gateway-name>" for gateways. */
  attachTo: string[];
  rules: HttpRule[];
}

/** One server block of a gateway (Istio Gateway server, Gateway API listener). */
export interface GatewayServer {
  source: SourceRef;
  /** "<namespace>/<gateway-name>" as referenced by routes. */
  gateway: string;
  /** Gateway workloads selected by these labels run this server. */
  selector: Record<string, string>;
  port: { number: number; name?: string; protocol: 'HTTP' | 'HTTPS' | 'HTTP2' | 'GRPC' | 'TCP' | 'TLS' };
  hosts: string[];
  tls?: { mode: 'SIMPLE' | 'MUTUAL' | 'PASSTHROUGH' | 'ISTIO_MUTUAL'; credentialName?: string; httpsRedirect?: boolean };
}

export interface MeshModel {
  trustDomain: string;
  services: Service[];
  workloads: Workload[];
  routes: HttpRouteSet[];
  gatewayServers: GatewayServer[];
}

export function emptyModel(trustDomain = 'cluster.local'): MeshModel {
  return { trustDomain, services: [], workloads: [], routes: [], gatewayServers: [] };
}
