// The per-request HTTP stages weft emits besides the router: fault injection and CORS
// as HTTP filters (configured per route through typedPerFilterConfig) and request
// mirroring as route requestMirrorPolicies. Model -> Envoy object form, pure.
import type { CorsPolicy, FaultPolicy, StringMatch } from '../model/types.js';
import type { EnvoyObject } from '../proxy/types.js';
import { duration, nonEmpty, routerFilter, typed, wrapped } from './envoy.js';

export const L7_FILTER = {
  fault: 'envoy.filters.http.fault',
  cors: 'envoy.filters.http.cors',
} as const;

export const L7_ANY = {
  fault: 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
  cors: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.Cors',
  corsPolicy: 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy',
} as const;

/**
 * The HTTP filter chain of every connection manager weft emits: fault, then CORS, then
 * the router (the order the proxy runs them). Without per-route configuration the fault
 * and CORS filters do nothing, so they are always present and routes alone switch them on.
 */
export function httpFilters(): EnvoyObject[] {
  return [
    { name: L7_FILTER.fault, typedConfig: typed(L7_ANY.fault) },
    { name: L7_FILTER.cors, typedConfig: typed(L7_ANY.cors) },
    routerFilter(),
  ];
}

/**
 * A percentage (0..100, possibly fractional) as envoy.type.v3.FractionalPercent with the
 * smallest denominator that holds it exactly (HUNDRED, TEN_THOUSAND, else MILLION).
 * Zero values (numerator 0, denominator HUNDRED) are left out, as object form does.
 */
export function fractionalPercent(percent: number): EnvoyObject {
  const p = Math.min(100, Math.max(0, percent));
  const exact = (scale: number): number | undefined => {
    const n = Math.round(p * scale);
    return Math.abs(n - p * scale) < 1e-6 ? n : undefined;
  };
  const hundred = exact(1);
  if (hundred !== undefined) return hundred ? { numerator: hundred } : {};
  const tenThousand = exact(100);
  if (tenThousand !== undefined) return { numerator: tenThousand, denominator: 'TEN_THOUSAND' };
  return { numerator: Math.round(p * 10_000), denominator: 'MILLION' };
}

/** envoy.extensions.filters.http.fault.v3.HTTPFault for one route. */
export function faultConfig(f: FaultPolicy): EnvoyObject {
  const out: EnvoyObject = {};
  if (f.delay) out.delay = { fixedDelay: duration(f.delay.fixedDelayMs), percentage: fractionalPercent(f.delay.percent) };
  if (f.abort) {
    const code = f.abort.httpStatus !== undefined ? { httpStatus: f.abort.httpStatus } : { grpcStatus: f.abort.grpcStatus };
    out.abort = { ...code, percentage: fractionalPercent(f.abort.percent) };
  }
  return typed(L7_ANY.fault, out);
}

function originMatcher(m: StringMatch): EnvoyObject {
  switch (m.kind) {
    case 'exact':
      return { exact: m.value, ...(m.ignoreCase ? { ignoreCase: true } : {}) };
    case 'prefix':
      // Envoy's prefix must be non-empty: "any origin" is a regex.
      return m.value === '' ? { safeRegex: { regex: '.*' } } : { prefix: m.value, ...(m.ignoreCase ? { ignoreCase: true } : {}) };
    case 'regex':
      return { safeRegex: { regex: m.value } };
    case 'present':
      return { safeRegex: { regex: '.*' } };
  }
}

/** envoy.extensions.filters.http.cors.v3.CorsPolicy for one route. */
export function corsConfig(c: CorsPolicy): EnvoyObject {
  return typed(L7_ANY.corsPolicy, {
    ...nonEmpty('allowOriginStringMatch', c.allowOrigins.map(originMatcher)),
    ...(c.allowMethods.length ? { allowMethods: c.allowMethods.join(',') } : {}),
    ...(c.allowHeaders.length ? { allowHeaders: c.allowHeaders.join(',') } : {}),
    ...(c.exposeHeaders.length ? { exposeHeaders: c.exposeHeaders.join(',') } : {}),
    // Envoy's max_age is a string of seconds.
    ...(c.maxAgeMs !== undefined ? { maxAge: String(Math.floor(c.maxAgeMs / 1000)) } : {}),
    ...(c.allowCredentials !== undefined ? { allowCredentials: wrapped(c.allowCredentials) } : {}),
    ...(c.forwardNotMatchingPreflights === false ? { forwardNotMatchingPreflights: wrapped(false) } : {}),
  });
}

/** A route's typedPerFilterConfig for fault and CORS; empty when it has neither. */
export function perFilterConfig(rule: { fault?: FaultPolicy; cors?: CorsPolicy }): EnvoyObject {
  const out: EnvoyObject = {};
  if (rule.fault) out[L7_FILTER.fault] = faultConfig(rule.fault);
  if (rule.cors) out[L7_FILTER.cors] = corsConfig(rule.cors);
  return Object.keys(out).length ? { typedPerFilterConfig: out } : {};
}

/** One route requestMirrorPolicies entry. */
export function mirrorPolicy(cluster: string, percent: number): EnvoyObject {
  return { cluster, runtimeFraction: { defaultValue: fractionalPercent(percent) } };
}
