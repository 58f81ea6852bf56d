// A model ClusterPolicy (DestinationRule, merged) -> the Envoy Cluster fields it sets:
// lbPolicy and its config, circuit breakers, outlier detection, common HTTP options,
// keepalive, and the route-level hash policy for consistent hashing. Istio's defaults
// where the policy is silent, so a cluster without a DestinationRule looks like Istio's.
import type { ClusterPolicy, ConsistentHashPolicy, OutlierDetectionPolicy, Service } from '../model/types.js';
import type { EnvoyObject } from '../proxy/types.js';
import { duration, wrapped } from './envoy.js';

/** Istio's "no limit": circuit-breaker thresholds it sets when a DestinationRule sets none. */
export const UNLIMITED = 2 ** 32 - 1;

/** Istio's defaults for what a DestinationRule leaves unset. */
export const POLICY_DEFAULTS = {
  lbPolicy: 'LEAST_REQUEST',
  connectTimeoutMs: 10_000,
  /** Istio's default minimum ring size for consistent hashing. */
  minimumRingSize: 1024,
} as const;

/** The merged policy for a cluster: the subset's, else the service port's (an undefined subset still gets its host's policy). */
export function clusterPolicyOf(service: Service | undefined, port: number, subset: string): ClusterPolicy | undefined {
  const clusters = service?.destinationPolicy?.clusters;
  if (!clusters) return undefined;
  return clusters.find((c) => c.port === port && c.subset === subset) ?? clusters.find((c) => c.port === port && c.subset === '');
}

/** PASSTHROUGH hands the choice of endpoint to the connection's original destination. */
export function isPassthroughLb(p: ClusterPolicy | undefined): boolean {
  return p?.loadBalancer?.simple === 'PASSTHROUGH';
}

/** lbPolicy and its config block. */
export function lbFields(p: ClusterPolicy | undefined): EnvoyObject {
  const lb = p?.loadBalancer;
  const hash = lb?.consistentHash;
  if (hash) {
    if (hash.algorithm.kind === 'maglev') {
      return { lbPolicy: 'MAGLEV', ...(hash.algorithm.tableSize !== undefined ? { maglevLbConfig: { tableSize: wrapped(hash.algorithm.tableSize) } } : {}) };
    }
    return { lbPolicy: 'RING_HASH', ringHashLbConfig: { minimumRingSize: wrapped(hash.algorithm.minimumRingSize ?? POLICY_DEFAULTS.minimumRingSize) } };
  }
  if (lb?.simple === 'PASSTHROUGH') return { lbPolicy: 'CLUSTER_PROVIDED' };
  return { lbPolicy: lb?.simple ?? POLICY_DEFAULTS.lbPolicy };
}

/** One threshold set at default priority; unset limits are Istio's "unlimited". */
export function circuitBreakers(p: ClusterPolicy | undefined): EnvoyObject {
  const tcp = p?.connectionPool?.tcp;
  const http = p?.connectionPool?.http;
  return {
    thresholds: [
      {
        maxConnections: wrapped(tcp?.maxConnections ?? UNLIMITED),
        maxPendingRequests: wrapped(http?.http1MaxPendingRequests ?? UNLIMITED),
        maxRequests: wrapped(http?.http2MaxRequests ?? UNLIMITED),
        maxRetries: wrapped(http?.maxRetries ?? UNLIMITED),
        trackRemaining: true,
      },
    ],
  };
}

/** An "enforcing" percentage as Istio sets it: 100 when the detector is on, 0 when unset or 0. */
const enforcing = (n: number | undefined): { value: number } => wrapped(n !== undefined && n > 0 ? 100 : 0);

/**
 * Envoy outlier detection as Istio builds it: success-rate ejection off; each
 * consecutive-error detector enforced only when set (Envoy would otherwise run its
 * own default of 5 consecutive 5xx).
 */
export function outlierDetection(o: OutlierDetectionPolicy): EnvoyObject {
  const out: EnvoyObject = {
    ...(o.consecutive5xxErrors !== undefined ? { consecutive_5xx: wrapped(o.consecutive5xxErrors) } : {}),
    ...(o.intervalMs !== undefined ? { interval: duration(o.intervalMs) } : {}),
    ...(o.baseEjectionTimeMs !== undefined ? { baseEjectionTime: duration(o.baseEjectionTimeMs) } : {}),
    ...(o.maxEjectionPercent !== undefined ? { maxEjectionPercent: wrapped(o.maxEjectionPercent) } : {}),
    enforcingConsecutive_5xx: enforcing(o.consecutive5xxErrors),
    enforcingSuccessRate: wrapped(0),
    ...(o.consecutiveGatewayErrors !== undefined ? { consecutiveGatewayFailure: wrapped(o.consecutiveGatewayErrors) } : {}),
    enforcingConsecutiveGatewayFailure: enforcing(o.consecutiveGatewayErrors),
  };
  if (o.splitExternalLocalOriginErrors) {
    out.splitExternalLocalOriginErrors = true;
    if (o.consecutiveLocalOriginFailures !== undefined) out.consecutiveLocalOriginFailure = wrapped(o.consecutiveLocalOriginFailures);
    out.enforcingConsecutiveLocalOriginFailure = enforcing(o.consecutiveLocalOriginFailures);
    out.enforcingLocalOriginSuccessRate = wrapped(0);
  }
  return out;
}

/**
 * Fields for outlier detection: the detector and, as Istio does, the panic threshold
 * from minHealthPercent (default 0: panic mode off, few pods per service is normal).
 */
export function outlierFields(p: ClusterPolicy | undefined): EnvoyObject {
  const o = p?.outlierDetection;
  if (!o) return {};
  return { outlierDetection: outlierDetection(o), commonLbConfig: { healthyPanicThreshold: { value: o.minHealthPercent ?? 0 } } };
}

/** HttpProtocolOptions.commonHttpProtocolOptions from the HTTP connection pool; undefined when none is set. */
export function commonHttpOptions(p: ClusterPolicy | undefined): EnvoyObject | undefined {
  const http = p?.connectionPool?.http;
  if (!http || (http.maxRequestsPerConnection === undefined && http.idleTimeoutMs === undefined)) return undefined;
  return {
    ...(http.idleTimeoutMs !== undefined ? { idleTimeout: duration(http.idleTimeoutMs) } : {}),
    // 0 means unlimited in Istio; Envoy's unset field means the same.
    ...(http.maxRequestsPerConnection ? { maxRequestsPerConnection: wrapped(http.maxRequestsPerConnection) } : {}),
  };
}

/** connectTimeout and TCP keepalive. */
export function tcpFields(p: ClusterPolicy | undefined): EnvoyObject {
  const tcp = p?.connectionPool?.tcp;
  const k = tcp?.tcpKeepalive;
  const secs = (ms: number) => wrapped(Math.max(1, Math.round(ms / 1000)));
  return {
    connectTimeout: duration(tcp?.connectTimeoutMs ?? POLICY_DEFAULTS.connectTimeoutMs),
    ...(k
      ? {
          upstreamConnectionOptions: {
            tcpKeepalive: {
              ...(k.probes !== undefined ? { keepaliveProbes: wrapped(k.probes) } : {}),
              ...(k.timeMs !== undefined ? { keepaliveTime: secs(k.timeMs) } : {}),
              ...(k.intervalMs !== undefined ? { keepaliveInterval: secs(k.intervalMs) } : {}),
            },
          },
        }
      : {}),
  };
}

/** RouteAction.hashPolicy for a consistent-hash destination (Envoy hashes the request with it; the cluster is RING_HASH/MAGLEV). */
export function hashPolicy(h: ConsistentHashPolicy): EnvoyObject[] {
  const k = h.key;
  switch (k.kind) {
    case 'header':
      return [{ header: { headerName: k.name } }];
    case 'cookie':
      return [
        {
          cookie: {
            name: k.name,
            ...(k.ttlMs !== undefined ? { ttl: duration(k.ttlMs) } : {}),
            ...(k.path !== undefined ? { path: k.path } : {}),
          },
        },
      ];
    case 'sourceIp':
      return [{ connectionProperties: { sourceIp: true } }];
    case 'queryParameter':
      return [{ queryParameter: { name: k.name } }];
  }
}

/**
 * The hash policy of a route to these destinations: the first destination whose
 * cluster hashes consistently decides (a weighted split first picks the cluster, then
 * that cluster's ring uses the hash); none -> undefined.
 */
export function routeHashPolicy(targets: readonly { service?: Service; port: number; subset: string }[]): EnvoyObject[] | undefined {
  for (const t of targets) {
    const h = clusterPolicyOf(t.service, t.port, t.subset)?.loadBalancer?.consistentHash;
    if (h) return hashPolicy(h);
  }
  return undefined;
}
