// The seam between the proxy's downstream side (listeners, HTTP, router) and its
// upstream side (clusters, endpoints, load balancing, connection pools).
import type { Readable, Duplex } from 'node:stream';
import type { ClusterStatus, EnvoyObject } from '../../types.js';
import type { CancelSignal } from './cancel.js';

export type HeaderMap = Record<string, string | string[]>;

export interface UpstreamRequest {
  method: string;
  /** Path with query, after any rewrite. */
  path: string;
  authority: string;
  scheme: 'http' | 'https';
  /** Lower-case names; no HTTP/2 pseudo-headers and no hop-by-hop headers. */
  headers: HeaderMap;
  /** Request body: streamed, or a whole Buffer (a body buffered for retries or mirrors); null when there is none. */
  body: Readable | Buffer | null;
  /** An HTTP/1.1 Upgrade (e.g. websocket): the value of the Upgrade header. */
  upgrade?: string;
  /**
   * The protocol the request arrived on downstream. Used only by clusters whose
   * HttpProtocolOptions say `useDownstreamProtocolConfig` (plaintext endpoints); absent = 'http/1.1'.
   */
  downstreamProtocol?: 'http/1.1' | 'h2';
}

export interface UpstreamResponse {
  status: number;
  headers: HeaderMap;
  /** Response body, streamed. */
  body: Readable;
  /** Resolves with trailers (empty when none) once the body ends. */
  trailers: Promise<HeaderMap>;
  /** HTTP/2: END_STREAM came on the response HEADERS (no body, no trailers: gRPC's trailers-only form). */
  endedAtHead?: boolean;
  /** For a 101 Switching Protocols answer to an upgrade: the raw upstream socket. */
  upgradedSocket?: Duplex;
  /** host:port of the endpoint that answered. */
  endpoint: string;
  /** SPIFFE id the upstream proved, when the hop was mTLS. */
  peerIdentity?: string;
}

/** Envoy response flags: UH no healthy upstream, UF connect failure, UR reset, UT timeout, UO overflow, NC no cluster. */
export type UpstreamFailure = 'UH' | 'UF' | 'UR' | 'UT' | 'UO' | 'NC';

export class UpstreamError extends Error {
  readonly code = 'WEFT_ERR_UPSTREAM';
  constructor(
    readonly flag: UpstreamFailure,
    message: string,
  ) {
    super(message);
    this.name = 'UpstreamError';
  }
}

export interface RequestOptions {
  signal?: CancelSignal;
  /** For consistent-hash load balancing. */
  hashKey?: string;
  /** connect() only: the host:port the downstream asked for (a CONNECT target); ORIGINAL_DST clusters connect there. */
  originalDestination?: string;
}

/**
 * Opens an in-memory connection to an internal listener of this proxy by name (Envoy's
 * envoyInternalAddress endpoints): the client end, or undefined when there is no such listener.
 */
export type InternalConnector = (listener: string, meta: { originalDestination?: string | undefined }) => Duplex | undefined;

export interface ClusterManager {
  /** Validate and switch; throws ConfigRejectedError naming the cluster and field. Open pools to unchanged endpoints are kept. */
  update(clusters: Map<string, EnvoyObject>, endpoints: Map<string, EnvoyObject>, secrets: Map<string, EnvoyObject>): void;
  has(cluster: string): boolean;
  /** Send one HTTP request to an endpoint of the cluster (picked by its load balancer). */
  request(cluster: string, req: UpstreamRequest, opts?: RequestOptions): Promise<UpstreamResponse>;
  /** Open an opaque TCP stream to an endpoint of the cluster (mTLS with ALPN weft-tcp to meshed endpoints). */
  connect(cluster: string, opts?: RequestOptions): Promise<{ socket: Duplex; endpoint: string; peerIdentity?: string }>;
  stats(): Record<string, number>;
  /**
   * A permit for one retry under the cluster's maxRetries circuit breaker: call the returned
   * function when the retry attempt ends. undefined = the breaker is open (counted as
   * upstream_rq_retry_overflow) or there is no such cluster: do not retry.
   */
  retryPermit?(cluster: string): (() => void) | undefined;
  /** Endpoints ejected by outlier detection now, by cluster (clusters with none are left out). */
  outlierStatus?(): Record<string, OutlierEjection[]>;
  /** Every cluster with its hosts' health and outlier state (admin /clusters). */
  clusterStatus?(): ClusterStatus[];
  close(): Promise<void>;
}

/** One endpoint out of its cluster's load balancing because of outlier detection. */
export interface OutlierEjection {
  /** host:port */
  endpoint: string;
  /** When the ejection began (ms since the epoch). */
  ejectedAt: number;
  /** Time left until the interval sweep may bring it back. */
  ejectedForMs: number;
  /** Ejections so far (the multiplier of baseEjectionTime). */
  timesEjected: number;
}
