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
  | {
      kind: 'prefix';
      value: string;
      ignoreCase?: boolean;
      /** Path prefix on segment boundaries (Gateway API PathPrefix, Envoy path_separated_prefix): "/foo" matches "/foo" and "/foo/bar", not "/foobar". */
      separated?: boolean;
    }
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

/** Fault injection (Istio `fault`): percentages are 0..100 and may be fractional. */
export interface FaultPolicy {
  delay?: { percent: number; fixedDelayMs: number };
  abort?: { percent: number } & ({ httpStatus: number; grpcStatus?: undefined } | { grpcStatus: number; httpStatus?: undefined });
}

/** A copy of matching requests sent, fire-and-forget, to another destination. */
export interface MirrorPolicy {
  /** FQDN of the mirror service (or ServiceEntry host). */
  host: string;
  port?: number;
  subset?: string;
  /** 0..100, may be fractional. */
  percent: number;
}

/** CORS (Istio corsPolicy): the proxy answers preflights and decorates actual responses. */
export interface CorsPolicy {
  allowOrigins: StringMatch[];
  allowMethods: string[];
  allowHeaders: string[];
  exposeHeaders: string[];
  maxAgeMs?: number;
  allowCredentials?: boolean;
  /** Preflights from origins not allowed go upstream (true, Istio's default) or get an answer without CORS headers. */
  forwardNotMatchingPreflights?: boolean;
}

export interface HttpRule {
  name?: string;
  /** OR of matches; empty means match everything. */
  matches: HttpMatch[];
  action: RouteAction;
  timeoutMs?: number;
  retries?: RetryPolicy;
  requestHeaders?: HeaderOps;
  responseHeaders?: HeaderOps;
  fault?: FaultPolicy;
  mirrors?: MirrorPolicy[];
  cors?: CorsPolicy;
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

/**
 * Conditions of an L4 rule (Istio tcp[]/tls[] match). Port and source conditions are
 * decided per proxy when config is generated; destinationSubnets and sniHosts per connection.
 */
export interface L4Match {
  /** The service port (sidecar) or gateway server port the connection is for. */
  port?: number;
  /** Destination IPs or CIDR blocks ("10.0.0.0/8"). */
  destinationSubnets?: string[];
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  /** TLS rules only: SNI names or "*.suffix" wildcards ("*" = any SNI). */
  sniHosts?: string[];
}

/** One L4 rule: the first rule with a matching condition decides the destination(s). */
export interface L4Rule {
  /** OR of matches; empty means match everything (TCP only: a TLS rule always has matches). */
  matches: L4Match[];
  destinations: WeightedDestination[];
}

/**
 * The opaque-TCP (`tcp`) or TLS-passthrough (`tls`, routed by SNI without terminating)
 * routing of one set of hosts: Istio VirtualService tcp[] / tls[].
 */
export interface L4RouteSet {
  source: SourceRef;
  protocol: 'tcp' | 'tls';
  /** FQDNs or wildcards, as HttpRouteSet.hosts. */
  hosts: string[];
  /** "mesh" or "<namespace>/<gateway-name>". */
  attachTo: string[];
  rules: L4Rule[];
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
  tls?: {
    mode: 'SIMPLE' | 'MUTUAL' | 'PASSTHROUGH' | 'ISTIO_MUTUAL';
    /** Secret with the server certificate (and, for MUTUAL, the client CA). */
    credentialName?: string;
    /**
     * The Secret's namespace when the source names it (Gateway API certificateRefs); absent
     * for Istio's credentialName, which is looked up in the gateway workload's namespace.
     */
    credentialNamespace?: string;
    httpsRedirect?: boolean;
  };
  /** Field path of the server in its source ("spec.servers[1]", "spec.listeners[0]"), for findings. */
  path?: string;
}

/** TLS material from a Kubernetes Secret, served over SDS to authenticated proxies of its namespace. */
export interface TlsCredential {
  namespace: string;
  name: string;
  /** PEM, leaf first (`tls.crt` or `cert`). */
  certChainPem?: string;
  /** PEM (`tls.key` or `key`). */
  keyPem?: string;
  /** PEM bundle of client CAs (`ca.crt` or `cacert`). */
  caPem?: string;
  source: SourceRef;
}

/**
 * Linkerd-style retry budget: retries may add at most `retryRatio` of the original
 * requests, plus `minRetriesPerSecond`, counted over a window of `ttlMs`.
 */
export interface RetryBudget {
  retryRatio: number;
  minRetriesPerSecond: number;
  ttlMs: number;
}

/**
 * HTTP policy of one service that holds whichever route set wins the host (a Linkerd
 * ServiceProfile's retry budget; its route timeouts when another dialect's routes win).
 */
export interface ServiceHttpPolicy {
  source: SourceRef;
  /** FQDN of the service. */
  host: string;
  retryBudget?: RetryBudget;
  /** Set only when the profile's routes lost precedence: requests matching `matches` get `timeoutMs` unless the winning rule sets one. */
  routeTimeouts?: { route: string; matches: HttpMatch[]; timeoutMs: number }[];
}

export interface MeshModel {
  trustDomain: string;
  services: Service[];
  workloads: Workload[];
  routes: HttpRouteSet[];
  gatewayServers: GatewayServer[];
  /** Per-service HTTP policies (Linkerd ServiceProfile retry budgets); absent when there are none. */
  serviceHttpPolicies?: ServiceHttpPolicy[];
  /** tcp[] and tls[] route sets; absent when there are none. */
  l4Routes?: L4RouteSet[];
  /** TLS credentials from Secrets; absent when there are none. */
  credentials?: TlsCredential[];
}

// ---- traffic policy (Istio DestinationRule, ServiceEntry, mesh config): additive

export type LbSimple = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'PASSTHROUGH';

/** What a consistent hash is computed from (one of Istio's hash keys). */
export type HashKey =
  | { kind: 'header'; name: string }
  | { kind: 'cookie'; name: string; path?: string; ttlMs?: number }
  | { kind: 'sourceIp' }
  | { kind: 'queryParameter'; name: string };

export interface ConsistentHashPolicy {
  key: HashKey;
  /** RING_HASH (the default) or MAGLEV. */
  algorithm: { kind: 'ringHash'; minimumRingSize?: number } | { kind: 'maglev'; tableSize?: number };
}

export interface LoadBalancerPolicy {
  /** Absent with consistentHash; absent in both means Istio's default (LEAST_REQUEST). */
  simple?: LbSimple;
  consistentHash?: ConsistentHashPolicy;
}

export interface ConnectionPoolPolicy {
  tcp?: {
    maxConnections?: number;
    connectTimeoutMs?: number;
    tcpKeepalive?: { probes?: number; timeMs?: number; intervalMs?: number };
  };
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    idleTimeoutMs?: number;
    h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
  };
}

export interface OutlierDetectionPolicy {
  consecutive5xxErrors?: number;
  consecutiveGatewayErrors?: number;
  intervalMs?: number;
  baseEjectionTimeMs?: number;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
  splitExternalLocalOriginErrors?: boolean;
  consecutiveLocalOriginFailures?: number;
}

/** Client-side TLS toward the destination (DestinationRule trafficPolicy.tls). */
export interface ClientTlsPolicy {
  mode: 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';
  sni?: string;
  subjectAltNames?: string[];
  /**
   * Secret, in the namespace of the proxy using the cluster, with the client certificate
   * (MUTUAL) and the CA to trust (its ca.crt, else the Secret "<name>-cacert").
   */
  credentialName?: string;
  insecureSkipVerify?: boolean;
  /** With credentialName: field path of this tls block in its DestinationRule ("spec.trafficPolicy.tls"), for findings. */
  path?: string;
}

/** One DestinationRule traffic policy, as written (not yet merged). */
export interface TrafficPolicy {
  loadBalancer?: LoadBalancerPolicy;
  connectionPool?: ConnectionPoolPolicy;
  outlierDetection?: OutlierDetectionPolicy;
  tls?: ClientTlsPolicy;
}

/** The merged policy of one upstream cluster: a service port, or a subset of it (subset ""). */
export interface ClusterPolicy extends TrafficPolicy {
  port: number;
  subset: string;
}

export interface SubsetDef {
  name: string;
  /** Workloads (or ServiceEntry endpoints) whose labels include all of these belong to the subset. */
  labels: Record<string, string>;
}

/** The DestinationRule in force for a service, resolved per cluster by toModel. */
export interface DestinationPolicy {
  source: SourceRef;
  subsets: SubsetDef[];
  /** One per (service port, subset "" or a subset name), merged in Istio's order. */
  clusters: ClusterPolicy[];
}

export type ServiceEntryResolution = 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';

export interface ExternalEndpoint {
  /** IP (STATIC) or hostname (DNS). */
  address: string;
  /** Service port name -> endpoint port. */
  ports: Record<string, number>;
  labels: Record<string, string>;
  weight?: number;
}

/** A host from a ServiceEntry: reached through its own endpoints, not through selected workloads. */
export interface ExternalService {
  location: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  resolution: ServiceEntryResolution;
  addresses: string[];
  endpoints: ExternalEndpoint[];
}

export type OutboundTrafficMode = 'ALLOW_ANY' | 'REGISTRY_ONLY';

export interface Service {
  /** Set for ServiceEntry hosts. */
  external?: ExternalService;
  /** Set when a DestinationRule applies to this host. */
  destinationPolicy?: DestinationPolicy;
}

export interface MeshModel {
  /** Mesh-wide: where a sidecar sends requests for hosts the mesh does not know (default ALLOW_ANY). */
  outboundTrafficPolicy?: OutboundTrafficMode;
}
