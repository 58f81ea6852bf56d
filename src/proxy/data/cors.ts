// The CORS stage (envoy.filters.http.cors, per route): the proxy answers preflight
// OPTIONS requests from allowed origins itself and adds the CORS response headers to
// actual requests from allowed origins. Pure: it returns headers, the HTTP path writes them.
import type { EnvoyObject } from '../types.js';
import { arr, bool, obj, str } from '../../xds/object-form.js';

type OriginMatcher =
  | { kind: 'exact' | 'prefix' | 'suffix' | 'contains'; value: string; ignoreCase: boolean }
  | { kind: 'regex'; re: RegExp };

export interface CorsConfig {
  origins: OriginMatcher[];
  allowMethods: string | undefined;
  allowHeaders: string | undefined;
  exposeHeaders: string | undefined;
  maxAge: string | undefined;
  allowCredentials: boolean;
  /** A preflight from an origin not allowed goes upstream (Envoy's default) instead of being answered. */
  forwardNotMatchingPreflights: boolean;
}

export class CorsConfigError extends Error {
  readonly code = 'WEFT_ERR_CORS_CONFIG';
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'CorsConfigError';
  }
}

function originMatcher(field: string, m: EnvoyObject): OriginMatcher {
  const ignoreCase = bool(m.ignoreCase) ?? false;
  const fold = (s: string): string => (ignoreCase ? s.toLowerCase() : s);
  for (const kind of ['exact', 'prefix', 'suffix', 'contains'] as const) {
    const v = str(m[kind]);
    if (v !== undefined) return { kind, value: fold(v), ignoreCase };
  }
  const re = str(obj(m.safeRegex)?.regex);
  if (re === undefined) throw new CorsConfigError(field, 'one of exact, prefix, suffix, contains, safeRegex is required');
  try {
    return { kind: 'regex', re: new RegExp(`^(?:${re})$`, ignoreCase ? 'i' : '') };
  } catch (err) {
    throw new CorsConfigError(`${field}.safeRegex`, `invalid regex: ${(err as Error).message}`);
  }
}

/** A CorsPolicy (object form) -> the stage's config; undefined when the filter is disabled for the route. */
export function compileCors(field: string, c: EnvoyObject): CorsConfig | undefined {
  const enabled = obj(obj(c.filterEnabled)?.defaultValue);
  if (enabled && (typeof enabled.numerator !== 'number' || enabled.numerator === 0)) return undefined;
  return {
    origins: arr(c.allowOriginStringMatch).map((m, i) => originMatcher(`${field}.allowOriginStringMatch[${i}]`, m)),
    allowMethods: str(c.allowMethods) || undefined,
    allowHeaders: str(c.allowHeaders) || undefined,
    exposeHeaders: str(c.exposeHeaders) || undefined,
    maxAge: str(c.maxAge) || undefined,
    allowCredentials: bool(c.allowCredentials) ?? false,
    forwardNotMatchingPreflights: bool(c.forwardNotMatchingPreflights) ?? true,
  };
}

export function originAllowed(c: CorsConfig, origin: string): boolean {
  for (const m of c.origins) {
    if (m.kind === 'regex') {
      if (m.re.test(origin)) return true;
      continue;
    }
    const o = m.ignoreCase ? origin.toLowerCase() : origin;
    if (m.kind === 'exact' ? o === m.value : m.kind === 'prefix' ? o.startsWith(m.value) : m.kind === 'suffix' ? o.endsWith(m.value) : o.includes(m.value)) return true;
  }
  return false;
}

type Headers = Readonly<Record<string, string | string[] | undefined>>;

function header(h: Headers, name: string): string | undefined {
  const v = h[name];
  return Array.isArray(v) ? v[0] : v;
}

export type CorsDecision =
  /** Not a CORS request, or one from an origin not allowed: nothing to add. */
  | { kind: 'none' }
  /** A preflight the proxy answers: 200 with these headers, nothing goes upstream. */
  | { kind: 'preflight'; headers: Record<string, string> }
  /** An actual request from an allowed origin: add these headers to the response. */
  | { kind: 'actual'; headers: Record<string, string> };

const NONE: CorsDecision = { kind: 'none' };

/** What CORS does for one request. */
export function decideCors(c: CorsConfig, method: string, h: Headers): CorsDecision {
  const origin = header(h, 'origin');
  if (origin === undefined || origin === '') return NONE;
  const allowed = originAllowed(c, origin);
  const preflight = method === 'OPTIONS' && header(h, 'access-control-request-method') !== undefined;
  if (preflight) {
    if (!allowed) return c.forwardNotMatchingPreflights ? NONE : { kind: 'preflight', headers: {} };
    const out: Record<string, string> = { 'access-control-allow-origin': origin };
    if (c.allowCredentials) out['access-control-allow-credentials'] = 'true';
    if (c.allowMethods) out['access-control-allow-methods'] = c.allowMethods;
    if (c.allowHeaders) out['access-control-allow-headers'] = c.allowHeaders;
    if (c.maxAge) out['access-control-max-age'] = c.maxAge;
    return { kind: 'preflight', headers: out };
  }
  if (!allowed) return NONE;
  const out: Record<string, string> = { 'access-control-allow-origin': origin };
  if (c.allowCredentials) out['access-control-allow-credentials'] = 'true';
  if (c.exposeHeaders) out['access-control-expose-headers'] = c.exposeHeaders;
  return { kind: 'actual', headers: out };
}
