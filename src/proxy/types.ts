// The seam between the proxy's control side (xDS client, identity, admin: src/proxy/core/)
// and its data path (listeners, HTTP, router, clusters: src/proxy/data/).
// Resources are Envoy v3 objects in the object form of src/xds/codec.ts.

export type EnvoyObject = Record<string, unknown>;

/** The full set of accepted resources, by name, that the data plane runs on. */
export interface XdsSnapshot {
  listeners: Map<string, EnvoyObject>;
  routes: Map<string, EnvoyObject>;
  /**
   * VHDS virtual hosts by resource name ("<route config>/<virtual host>", also their
   * `name`): added to the route config of that name when it is sent with `vhds`.
   */
  virtualHosts?: Map<string, EnvoyObject>;
  /**
   * Route configs sent with `vhds` whose virtual hosts have not arrived yet (VHDS not yet
   * answered since subscribing them): the data plane keeps routing them as it did, as
   * Envoy waits for them too, rather than with no virtual hosts for a round trip.
   */
  vhdsPending?: ReadonlySet<string>;
  clusters: Map<string, EnvoyObject>;
  /** ClusterLoadAssignment by cluster name. */
  endpoints: Map<string, EnvoyObject>;
  /** Secrets from SDS (the root bundle, "ROOTCA"). */
  secrets: Map<string, EnvoyObject>;
}

/** The proxy's own workload certificate (made from a key that never leaves the process). */
export interface WorkloadCertificate {
  keyPem: string;
  /** Leaf first, then any intermediates. */
  certChainPem: string;
  /** spiffe://... */
  identity: string;
  notAfter: Date;
}

export interface IdentityProvider {
  /** The current certificate, or undefined before the first one is issued. */
  current(): WorkloadCertificate | undefined;
  /** Called after each rotation; new handshakes must use the new certificate, open connections keep going. */
  onRotate(listener: (cert: WorkloadCertificate) => void): void;
}

/** Who the proxy is (from its flags). */
export interface ProxyIdentityInfo {
  type: 'sidecar' | 'router';
  pod: string;
  namespace: string;
  serviceAccount: string;
  /** spiffe://... */
  identity: string;
  /** The pod address (node id, inbound target). */
  ip: string;
  /** Listeners whose xDS address is 0.0.0.0 bind here instead (defaults to ip). */
  listenAddress: string;
  labels: Record<string, string>;
  trustDomain: string;
}

export class ConfigRejectedError extends Error {
  readonly code = 'WEFT_ERR_CONFIG_REJECTED';
  constructor(message: string) {
    super(message);
    this.name = 'ConfigRejectedError';
  }
}

/** Outlier-detection state of one upstream host (admin /clusters). */
export interface OutlierHostStatus {
  ejected: boolean;
  /** When the current ejection began (ms since the epoch); undefined when not ejected. */
  ejectedAt?: number;
  /** Time left until the interval sweep may bring it back; undefined when not ejected. */
  ejectionRemainingMs?: number;
  /** Ejections so far (the multiplier of baseEjectionTime; decays while the host stays healthy). */
  timesEjected: number;
  consecutive5xx: number;
  consecutiveGatewayFailure: number;
  consecutiveLocalOriginFailure: number;
}

/** One upstream host as the data plane sees it. */
export interface HostStatus {
  address: string;
  port: number;
  /** EDS health as Envoy reports it: HEALTHY, UNHEALTHY, DEGRADED or DRAINING. */
  edsHealth: 'HEALTHY' | 'UNHEALTHY' | 'DEGRADED' | 'DRAINING';
  weight: number;
  priority: number;
  /** Requests in flight to the host. */
  activeRequests: number;
  outlier: OutlierHostStatus;
}

/** One cluster as the data plane runs it (admin /clusters). */
export interface ClusterStatus {
  name: string;
  /** Whether the cluster has outlier detection configured. */
  outlierDetection: boolean;
  /** The DEFAULT-priority circuit-breaker thresholds in force. */
  breakers: { maxConnections: number; maxPendingRequests: number; maxRequests: number; maxRetries: number };
  hosts: HostStatus[];
}

export interface DataPlane {
  /**
   * Validate and switch to a new snapshot. Throws ConfigRejectedError with a message naming
   * the resource and field when it cannot be applied; the previous config then stays in force.
   * References to resources not yet received (a route config, a cluster) are not errors.
   */
  apply(snapshot: XdsSnapshot): Promise<void>;
  /** Stop accepting, let in-flight requests finish (up to timeoutMs), then close. */
  drain(timeoutMs: number): Promise<void>;
  /** Counters and gauges, Envoy-style dotted names. */
  stats(): Record<string, number>;
  /** Addresses actually bound, by listener name (for status and tests). */
  boundListeners(): Record<string, string>;
  /** Clusters and their hosts' health and outlier state, sorted by cluster name. */
  clusterStatus(): ClusterStatus[];
  close(): Promise<void>;
}
