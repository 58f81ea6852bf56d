// The seam between the proxy's control side (xDS client, identity, admin: src/proxy/core/)
// and its data path (listeners, HTTP, router, clusters: src/proxy/data/).
// Resources are Envoy v3 objects in the object form of src/xds/codec.ts.

export type EnvoyObject = Record<string, unknown>;

/** The full set of accepted resources, by name, that the data plane runs on. */
export interface XdsSnapshot {
  listeners: Map<string, EnvoyObject>;
  routes: Map<string, EnvoyObject>;
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

/** One endpoint out of its cluster's load balancing because of outlier detection. */
export interface OutlierEjectionInfo {
  /** host:port */
  endpoint: string;
  /** Time left until the interval sweep may bring it back. */
  ejectedForMs: number;
  /** Ejections so far (the multiplier of baseEjectionTime). */
  timesEjected: number;
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
  /** Endpoints outlier detection has ejected now, by cluster (clusters with none are left out). */
  outlierEjections?(): Record<string, OutlierEjectionInfo[]>;
  close(): Promise<void>;
}
