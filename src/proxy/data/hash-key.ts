// A route's hashPolicy (Envoy RouteAction.hashPolicy, object form) and one request -> the
// key consistent-hash load balancers (RING_HASH, MAGLEV) hash. Pure.
//
// Envoy's semantics: policies are evaluated in order; each that finds its input adds to
// the key; a policy marked `terminal` that found its input ends the evaluation; if none
// found anything there is no key and the balancer picks at random. Inputs: a header (all
// values, sorted), a cookie (with a ttl, a missing cookie is generated from the source
// address and set on the response, so the client sticks from its first request), the
// downstream source IP, a query parameter. filterState policies are not supported and
// never match.
import { createHash } from 'node:crypto';
import { arr, bool, durationMs, obj, str } from '../../xds/object-form.js';

export type HashPolicyEntry = { terminal: boolean } & (
  | { kind: 'header'; name: string; rewrite: { re: RegExp; substitution: string } | undefined }
  | { kind: 'cookie'; name: string; ttlMs: number | undefined; path: string | undefined; attributes: string }
  | { kind: 'sourceIp' }
  | { kind: 'query'; name: string }
);

export type HashPolicy = readonly HashPolicyEntry[];

export interface HashInput {
  /** Lower-case names. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** Path with query. */
  path: string;
  /** The downstream peer's IP. */
  sourceIp: string | undefined;
}

export interface HashResult {
  /** undefined: no policy found its input (the balancer picks at random). */
  hashKey: string | undefined;
  /** A Set-Cookie value to add to the response (cookie policy with ttl, cookie missing). */
  setCookie: string | undefined;
}

const NONE: HashResult = Object.freeze({ hashKey: undefined, setCookie: undefined });
/** Joins the parts of a key found by several policies (cannot occur in header values). */
const SEP = '\u0000';

export class HashPolicyError extends Error {
  readonly code = 'WEFT_ERR_HASH_POLICY';
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'HashPolicyError';
  }
}

/** Compile RouteAction.hashPolicy; undefined when absent or empty. Throws HashPolicyError naming the field under `where`. */
export function compileHashPolicy(raw: unknown, where = 'hashPolicy'): HashPolicy | undefined {
  const list = arr(raw);
  if (list.length === 0) return undefined;
  const out: HashPolicyEntry[] = [];
  list.forEach((p, i) => {
    const terminal = bool(p.terminal) ?? false;
    const header = obj(p.header);
    const cookie = obj(p.cookie);
    const conn = obj(p.connectionProperties);
    const query = obj(p.queryParameter);
    if (header) {
      const name = str(header.headerName)?.toLowerCase();
      if (!name) throw new HashPolicyError(`${where}[${i}].header.headerName`, 'missing');
      out.push({ kind: 'header', name, rewrite: compileRewrite(header.regexRewrite, `${where}[${i}].header.regexRewrite`), terminal });
    } else if (cookie) {
      const name = str(cookie.name);
      if (!name) throw new HashPolicyError(`${where}[${i}].cookie.name`, 'missing');
      const attributes = arr(cookie.attributes)
        .map((a) => (str(a.value) ? `; ${str(a.name) ?? ''}=${str(a.value)}` : `; ${str(a.name) ?? ''}`))
        .join('');
      out.push({ kind: 'cookie', name, ttlMs: durationMs(cookie.ttl), path: str(cookie.path) || undefined, attributes, terminal });
    } else if (conn) {
      if (bool(conn.sourceIp)) out.push({ kind: 'sourceIp', terminal });
    } else if (query) {
      const name = str(query.name);
      if (!name) throw new HashPolicyError(`${where}[${i}].queryParameter.name`, 'missing');
      out.push({ kind: 'query', name, terminal });
    }
    // filterState and unknown policies find nothing.
  });
  return out.length > 0 ? out : undefined;
}

function compileRewrite(v: unknown, field: string): { re: RegExp; substitution: string } | undefined {
  const o = obj(v);
  if (!o) return undefined;
  const src = str(obj(o.pattern)?.regex);
  if (src === undefined) throw new HashPolicyError(`${field}.pattern.regex`, 'missing');
  try {
    return { re: new RegExp(src, 'g'), substitution: (str(o.substitution) ?? '').replace(/\\(\d)/g, '$$$1') };
  } catch (err) {
    throw new HashPolicyError(`${field}.pattern.regex`, `invalid regex: ${(err as Error).message}`);
  }
}

/** The hash key of one request under a policy. */
export function computeHashKey(policy: HashPolicy | undefined, input: HashInput): HashResult {
  if (!policy) return NONE;
  let key: string | undefined;
  let setCookie: string | undefined;
  for (const p of policy) {
    let part: string | undefined;
    switch (p.kind) {
      case 'header':
        part = headerValue(input.headers[p.name]);
        if (part !== undefined && p.rewrite) part = part.replace(p.rewrite.re, p.rewrite.substitution);
        break;
      case 'cookie': {
        part = cookieValue(input.headers['cookie'], p.name);
        if (part === undefined && p.ttlMs !== undefined) {
          part = generatedCookie(input.sourceIp, p.name);
          setCookie = setCookieValue(p.name, part, p.ttlMs, p.path, p.attributes);
        }
        break;
      }
      case 'sourceIp':
        part = input.sourceIp || undefined;
        break;
      case 'query':
        part = queryValue(input.path, p.name);
        break;
    }
    if (part === undefined) continue;
    key = key === undefined ? part : key + SEP + part;
    if (p.terminal) break;
  }
  return key === undefined && setCookie === undefined ? NONE : { hashKey: key, setCookie };
}

function headerValue(v: string | string[] | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (v.length === 0) return undefined;
  if (v.length === 1) return v[0];
  return [...v].sort().join(SEP);
}

/** The first `name=value` among the Cookie header(s); surrounding double quotes removed. */
export function cookieValue(header: string | string[] | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  const all = typeof header === 'string' ? [header] : header;
  for (const h of all) {
    let i = 0;
    while (i < h.length) {
      let end = h.indexOf(';', i);
      if (end < 0) end = h.length;
      const eq = h.indexOf('=', i);
      if (eq > 0 && eq < end && h.slice(i, eq).trim() === name) {
        let v = h.slice(eq + 1, end).trim();
        if (v.length >= 2 && v.charCodeAt(0) === 34 && v.charCodeAt(v.length - 1) === 34) v = v.slice(1, -1);
        return v;
      }
      i = end + 1;
    }
  }
  return undefined;
}

/** First value of a query parameter, as sent (not percent-decoded, as Envoy). */
export function queryValue(path: string, name: string): string | undefined {
  const q = path.indexOf('?');
  if (q < 0) return undefined;
  let i = q + 1;
  const hash = path.indexOf('#', i);
  const stop = hash < 0 ? path.length : hash;
  while (i < stop) {
    let end = path.indexOf('&', i);
    if (end < 0 || end > stop) end = stop;
    const eq = path.indexOf('=', i);
    if (eq >= 0 && eq < end) {
      if (path.slice(i, eq) === name) return path.slice(eq + 1, end);
    } else if (path.slice(i, end) === name) return '';
    i = end + 1;
  }
  return undefined;
}

/** The value Envoy generates for a missing cookie: a hex hash of the downstream address (stable per client). */
function generatedCookie(sourceIp: string | undefined, name: string): string {
  return createHash('sha256')
    .update(`${sourceIp ?? ''}|${name}`)
    .digest('hex')
    .slice(0, 16);
}

/** Envoy's Set-Cookie form: name="value"; Max-Age=s; Path=p; attributes; HttpOnly. A zero ttl is a session cookie. */
export function setCookieValue(name: string, value: string, ttlMs: number, path: string | undefined, attributes = ''): string {
  let s = `${name}="${value}"`;
  const secs = Math.floor(ttlMs / 1000);
  if (secs > 0) s += `; Max-Age=${secs}`;
  if (path) s += `; Path=${path}`;
  return `${s}${attributes}; HttpOnly`;
}

/** Add a Set-Cookie to response headers, keeping any the upstream set. */
export function addSetCookie(headers: Record<string, string | string[]>, value: string): void {
  const prev = headers['set-cookie'];
  headers['set-cookie'] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
}
