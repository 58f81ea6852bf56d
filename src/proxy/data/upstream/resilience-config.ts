// Compiles the resilience fields of an Envoy Cluster (object form): circuit-breaker
// thresholds, outlier detection, load-balancer settings, the healthy panic threshold,
// per-connection HTTP limits, and the ORIGINAL_DST settings. Pure; every default is
// Envoy's (except where noted) and lives in RESILIENCE_DEFAULTS.
import type { EnvoyObject } from '../../types.js';
import { LB_DEFAULTS, type LbSettings } from './lb/types.js';
import { FieldPath, optArray, optDurationMs, optNumber, optObj, optString } from './object-form.js';

export interface BreakerLimits {
  /** HTTP/1.1 connections open (busy) across the cluster's hosts. */
  maxConnections: number;
  /** Requests waiting for a connection. */
  maxPendingRequests: number;
  /** Requests in flight across the cluster (every protocol). */
  maxRequests: number;
  /** Retries in flight across the cluster. */
  maxRetries: number;
}

export interface OutlierConfig {
  consecutive5xx: number;
  enforcingConsecutive5xx: number;
  consecutiveGatewayFailure: number;
  enforcingConsecutiveGatewayFailure: number;
  splitExternalLocalOriginErrors: boolean;
  consecutiveLocalOriginFailure: number;
  enforcingConsecutiveLocalOriginFailure: number;
  intervalMs: number;
  baseEjectionTimeMs: number;
  maxEjectionTimeMs: number;
  maxEjectionPercent: number;
}

export interface PoolLimits {
  /** 0 = unlimited. */
  maxRequestsPerConnection: number;
  /** Close a connection with no request for this long; undefined = the pool's default. */
  idleTimeoutMs: number | undefined;
}

export interface OriginalDstConfig {
  /** Take the destination from a request header rather than the connection. */
  useHttpHeader: boolean;
  /** Lower-case header name (Envoy's x-envoy-original-dst-host by default). */
  headerName: string;
  /** Hosts unused for this long are dropped (Envoy's cleanupInterval). */
  cleanupIntervalMs: number;
}

export interface ResilienceConfig {
  lb: LbSettings;
  /** Percent; when the healthy share of hosts is below it, balance over every host. 0 = never. */
  healthyPanicThreshold: number;
  breakers: BreakerLimits;
  outlier: OutlierConfig | undefined;
  pool: PoolLimits;
  originalDst: OriginalDstConfig;
}

export const RESILIENCE_DEFAULTS = {
  /** Envoy's defaults for thresholds a cluster does not set. */
  breakers: { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 } satisfies BreakerLimits,
  /**
   * Envoy defaults to 50; weft to 0 when the cluster says nothing. weft's control plane
   * sends not-ready endpoints as UNHEALTHY where Istio leaves them out, so panic routing
   * to them would send traffic Istio never sends. Istio sets the field (0 unless
   * minHealthPercent) whenever outlier detection is on, and then it is honoured.
   */
  healthyPanicThreshold: 0,
  outlier: {
    consecutive5xx: 5,
    enforcingConsecutive5xx: 100,
    consecutiveGatewayFailure: 5,
    enforcingConsecutiveGatewayFailure: 0,
    splitExternalLocalOriginErrors: false,
    consecutiveLocalOriginFailure: 5,
    enforcingConsecutiveLocalOriginFailure: 100,
    intervalMs: 10_000,
    baseEjectionTimeMs: 30_000,
    maxEjectionTimeMs: 300_000,
    maxEjectionPercent: 10,
  } satisfies OutlierConfig,
  originalDstHeader: 'x-envoy-original-dst-host',
  originalDstCleanupMs: 5_000,
} as const;

const HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

export function compileResilience(c: EnvoyObject, at: FieldPath): ResilienceConfig {
  return {
    lb: compileLb(c, at),
    healthyPanicThreshold: compilePanic(c, at),
    breakers: compileBreakers(c, at.at('circuitBreakers')),
    outlier: compileOutlier(c['outlierDetection'], at.at('outlierDetection')),
    pool: compilePool(c, at),
    originalDst: compileOriginalDst(c, at),
  };
}

function count(v: unknown, at: FieldPath, fallback: number): number {
  const n = optNumber(v, at);
  if (n === undefined) return fallback;
  if (!Number.isInteger(n) || n < 0) throw at.error('expected a whole number, 0 or more');
  return n;
}

function percent(v: unknown, at: FieldPath, fallback: number): number {
  const n = optNumber(v, at);
  if (n === undefined) return fallback;
  if (!(n >= 0 && n <= 100)) throw at.error('expected a percentage 0-100');
  return n;
}

function positiveMs(v: unknown, at: FieldPath, fallback: number): number {
  return optDurationMs(v, at, 'positive') ?? fallback;
}

function compileLb(c: EnvoyObject, at: FieldPath): LbSettings {
  const lr = optObj(c['leastRequestLbConfig'], at.at('leastRequestLbConfig'));
  const ring = optObj(c['ringHashLbConfig'], at.at('ringHashLbConfig'));
  const mag = optObj(c['maglevLbConfig'], at.at('maglevLbConfig'));
  const choiceCount = count(lr?.['choiceCount'], at.at('leastRequestLbConfig').at('choiceCount'), LB_DEFAULTS.choiceCount);
  if (choiceCount < 2) throw at.at('leastRequestLbConfig').at('choiceCount').error('must be at least 2');
  const minimumRingSize = count(ring?.['minimumRingSize'], at.at('ringHashLbConfig').at('minimumRingSize'), LB_DEFAULTS.minimumRingSize);
  const maximumRingSize = count(ring?.['maximumRingSize'], at.at('ringHashLbConfig').at('maximumRingSize'), LB_DEFAULTS.maximumRingSize);
  if (minimumRingSize < 1 || minimumRingSize > maximumRingSize) throw at.at('ringHashLbConfig').at('minimumRingSize').error(`must be 1..maximumRingSize (${maximumRingSize})`);
  const hashFn = optString(ring?.['hashFunction'], at.at('ringHashLbConfig').at('hashFunction'));
  if (hashFn !== undefined && hashFn !== 'XX_HASH') throw at.at('ringHashLbConfig').at('hashFunction').error(`unsupported ${JSON.stringify(hashFn)} (supported: XX_HASH)`);
  const maglevTableSize = count(mag?.['tableSize'], at.at('maglevLbConfig').at('tableSize'), LB_DEFAULTS.maglevTableSize);
  if (!isPrime(maglevTableSize)) throw at.at('maglevLbConfig').at('tableSize').error('must be a prime number');
  return { choiceCount, minimumRingSize, maximumRingSize, maglevTableSize };
}

function isPrime(n: number): boolean {
  if (n < 2 || n > 5_000_011) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

function compilePanic(c: EnvoyObject, at: FieldPath): number {
  const common = optObj(c['commonLbConfig'], at.at('commonLbConfig'));
  return percent(common?.['healthyPanicThreshold'], at.at('commonLbConfig').at('healthyPanicThreshold'), RESILIENCE_DEFAULTS.healthyPanicThreshold);
}

/** The DEFAULT-priority threshold set (Envoy ignores the rest for ordinary traffic). */
function compileBreakers(c: EnvoyObject, at: FieldPath): BreakerLimits {
  const cb = optObj(c['circuitBreakers'], at);
  const d = RESILIENCE_DEFAULTS.breakers;
  const list = optArray(cb?.['thresholds'], at.at('thresholds'));
  for (let i = 0; i < list.length; i++) {
    const tAt = at.at('thresholds').at(i);
    const t = optObj(list[i], tAt) ?? {};
    const priority = t['priority'] ?? 'DEFAULT';
    if (priority !== 'DEFAULT' && priority !== 0) continue;
    return {
      maxConnections: count(t['maxConnections'], tAt.at('maxConnections'), d.maxConnections),
      maxPendingRequests: count(t['maxPendingRequests'], tAt.at('maxPendingRequests'), d.maxPendingRequests),
      maxRequests: count(t['maxRequests'], tAt.at('maxRequests'), d.maxRequests),
      maxRetries: count(t['maxRetries'], tAt.at('maxRetries'), d.maxRetries),
    };
  }
  return { ...d };
}

/** A field under its proto name's two object-form spellings (consecutive_5xx / consecutive5xx). */
function field(o: Record<string, unknown>, name: string): unknown {
  return o[name] ?? o[name.replace(/_(\d)/g, '$1')];
}

function compileOutlier(v: unknown, at: FieldPath): OutlierConfig | undefined {
  const o = optObj(v, at);
  if (!o) return undefined;
  const d = RESILIENCE_DEFAULTS.outlier;
  const baseEjectionTimeMs = positiveMs(o['baseEjectionTime'], at.at('baseEjectionTime'), d.baseEjectionTimeMs);
  return {
    consecutive5xx: count(field(o, 'consecutive_5xx'), at.at('consecutive_5xx'), d.consecutive5xx),
    enforcingConsecutive5xx: percent(field(o, 'enforcingConsecutive_5xx'), at.at('enforcingConsecutive_5xx'), d.enforcingConsecutive5xx),
    consecutiveGatewayFailure: count(o['consecutiveGatewayFailure'], at.at('consecutiveGatewayFailure'), d.consecutiveGatewayFailure),
    enforcingConsecutiveGatewayFailure: percent(o['enforcingConsecutiveGatewayFailure'], at.at('enforcingConsecutiveGatewayFailure'), d.enforcingConsecutiveGatewayFailure),
    splitExternalLocalOriginErrors: o['splitExternalLocalOriginErrors'] === true,
    consecutiveLocalOriginFailure: count(o['consecutiveLocalOriginFailure'], at.at('consecutiveLocalOriginFailure'), d.consecutiveLocalOriginFailure),
    enforcingConsecutiveLocalOriginFailure: percent(o['enforcingConsecutiveLocalOriginFailure'], at.at('enforcingConsecutiveLocalOriginFailure'), d.enforcingConsecutiveLocalOriginFailure),
    intervalMs: positiveMs(o['interval'], at.at('interval'), d.intervalMs),
    baseEjectionTimeMs,
    maxEjectionTimeMs: Math.max(baseEjectionTimeMs, positiveMs(o['maxEjectionTime'], at.at('maxEjectionTime'), d.maxEjectionTimeMs)),
    maxEjectionPercent: percent(o['maxEjectionPercent'], at.at('maxEjectionPercent'), d.maxEjectionPercent),
  };
}

function compilePool(c: EnvoyObject, at: FieldPath): PoolLimits {
  const tAt = at.at('typedExtensionProtocolOptions').at(HTTP_OPTIONS);
  const typed = optObj(c['typedExtensionProtocolOptions'], at.at('typedExtensionProtocolOptions'));
  const opts = optObj(typed?.[HTTP_OPTIONS], tAt);
  // The deprecated Cluster-level field, when the typed options do not carry it.
  const common = optObj(opts?.['commonHttpProtocolOptions'], tAt.at('commonHttpProtocolOptions')) ?? optObj(c['commonHttpProtocolOptions'], at.at('commonHttpProtocolOptions'));
  const cAt = tAt.at('commonHttpProtocolOptions');
  const idle = optDurationMs(common?.['idleTimeout'], cAt.at('idleTimeout'));
  return {
    maxRequestsPerConnection: count(common?.['maxRequestsPerConnection'], cAt.at('maxRequestsPerConnection'), 0),
    // Envoy: 0 disables the idle timeout.
    idleTimeoutMs: idle === 0 ? undefined : idle,
  };
}

function compileOriginalDst(c: EnvoyObject, at: FieldPath): OriginalDstConfig {
  const o = optObj(c['originalDstLbConfig'], at.at('originalDstLbConfig'));
  const header = optString(o?.['httpHeaderName'], at.at('originalDstLbConfig').at('httpHeaderName'));
  return {
    useHttpHeader: o?.['useHttpHeader'] === true,
    headerName: (header || RESILIENCE_DEFAULTS.originalDstHeader).toLowerCase(),
    cleanupIntervalMs: positiveMs(c['cleanupInterval'], at.at('cleanupInterval'), RESILIENCE_DEFAULTS.originalDstCleanupMs),
  };
}
