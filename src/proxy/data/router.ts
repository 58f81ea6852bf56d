// The router: pure over a RouteConfiguration (object form). It picks the virtual host by
// domain, then the first route whose match fits, and returns the decision with the reasons
// (which virtual host, domain and route matched: for diagnosis and the router's tests).
import type { EnvoyObject } from '../types.js';
import { anyType, arr, bool, durationMs, num, obj, str, strs } from '../../xds/object-form.js';
import { compileRetry, type RetryPolicy } from './retry.js';
import { compileFault, type FaultConfig } from './fault.js';
import { compileCors, type CorsConfig } from './cors.js';
import { L7_FILTER } from '../../xds/l7-filters.js';
import { compileMirrors, type MirrorTarget } from './mirror.js';
import { compileHashPolicy, type HashPolicy } from './hash-key.js';
import { compileBodyFormat, type BodyFormat } from './body-format.js';
import { pickByWeight } from './weighted.js';

export type { RetryOn, RetryPolicy } from './retry.js';

export interface RouteInput {
  /** Host or host:port (HTTP/2 :authority, HTTP/1.1 Host, or absolute-form URI authority). */
  authority: string;
  /** Path with query. */
  path: string;
  method: string;
  /** Lower-case names. */
  headers: Readonly<Record<string, string | string[] | undefined>>;
  /** For weighted clusters, a number in [0, 1); Math.random() when absent. */
  random?: number;
  /** The request came over TLS (virtual hosts with requireTls redirect the others). */
  tls?: boolean;
}

export interface HeaderValueOption {
  key: string;
  value: string;
  /** Append to existing values (true) or overwrite them (false). */
  append: boolean;
}

export interface HeaderMutations {
  add: HeaderValueOption[];
  remove: string[];
}

type StringMatcher =
  | { kind: 'exact'; value: string; ignoreCase: boolean }
  | { kind: 'prefix'; value: string; ignoreCase: boolean }
  | { kind: 'suffix'; value: string; ignoreCase: boolean }
  | { kind: 'contains'; value: string; ignoreCase: boolean }
  | { kind: 'regex'; re: RegExp }
  | { kind: 'present' }
  | { kind: 'any' };

interface HeaderMatcher {
  name: string;
  matcher: StringMatcher;
  invert: boolean;
}

interface PathMatch {
  kind: 'prefix' | 'path' | 'regex' | 'connect' | 'pathSeparatedPrefix';
  value: string;
  re: RegExp | undefined;
  caseSensitive: boolean;
}

/** A route action that sends the request to a cluster. */
export type ClusterAction = Extract<RouteAction, { type: 'route' }>;

export type RouteAction =
  | {
      type: 'route';
      cluster: string | undefined;
      weighted: { name: string; weight: number; headers: HeaderMutations }[] | undefined;
      totalWeight: number;
      prefixRewrite: string | undefined;
      regexRewrite: { re: RegExp; substitution: string } | undefined;
      hostRewrite: string | undefined;
      /** 0 = no timeout. */
      timeoutMs: number;
      idleTimeoutMs: number | undefined;
      retry: RetryPolicy | undefined;
      /** requestMirrorPolicies; empty when the route mirrors nothing. */
      mirrors: MirrorTarget[];
      /** hashPolicy for consistent-hash clusters (hash-key.ts); undefined when the route has none. */
      hashPolicy?: HashPolicy;
    }
  | {
      type: 'redirect';
      scheme: string | undefined;
      host: string | undefined;
      port: number | undefined;
      path: string | undefined;
      prefixRewrite: string | undefined;
      regexRewrite: { re: RegExp; substitution: string } | undefined;
      status: number;
      stripQuery: boolean;
    }
  | { type: 'direct'; status: number; body: string; format: BodyFormat | undefined };

export interface CompiledRoute {
  index: number;
  name: string;
  match: PathMatch;
  headers: HeaderMatcher[];
  query: { name: string; matcher: StringMatcher }[];
  action: RouteAction;
  /** Route, then virtual host, then route-configuration mutations, in that order. */
  requestHeaders: HeaderMutations;
  responseHeaders: HeaderMutations;
  /** typedPerFilterConfig of the route, else its virtual host: fault injection and CORS. */
  fault: FaultConfig | undefined;
  cors: CorsConfig | undefined;
}

export interface CompiledVirtualHost {
  name: string;
  domains: string[];
  routes: CompiledRoute[];
  /** requireTls ALL: a request not over TLS gets a 301 to https (EXTERNAL_ONLY is read as ALL: weft has no internal hops without TLS). */
  requireTls: boolean;
}

export interface CompiledRouteConfig {
  name: string;
  exact: Map<string, CompiledVirtualHost>;
  /** [suffix including the dot, vhost, domain as configured], longest first. */
  suffix: WildcardDomain[];
  /** [prefix, vhost, domain as configured], longest first. */
  prefix: WildcardDomain[];
  any: CompiledVirtualHost | undefined;
}

type WildcardDomain = [affix: string, vhost: CompiledVirtualHost, domain: string];

export type DomainMatchKind = 'exact' | 'suffix' | 'prefix' | 'any';

export interface RouteWhy {
  routeConfig: string;
  virtualHost?: string;
  domainMatch?: DomainMatchKind;
  domain?: string;
  routeIndex?: number;
  routeName?: string;
}

export type RouteDecision =
  | { kind: 'none'; why: RouteWhy }
  | {
      kind: 'route';
      cluster: string;
      path: string;
      authority: string;
      route: CompiledRoute;
      /** route.action, narrowed. */
      action: ClusterAction;
      /** Request header mutations of the weighted cluster drawn, if the route splits by weight. */
      clusterHeaders: HeaderMutations | undefined;
      why: RouteWhy;
    }
  | { kind: 'redirect'; status: number; location: string; route: CompiledRoute; why: RouteWhy }
  | { kind: 'direct'; status: number; body: string; route: CompiledRoute; why: RouteWhy };

export class RouteConfigError extends Error {
  readonly code = 'WEFT_ERR_ROUTE_CONFIG';
  constructor(routeConfig: string, field: string, message: string) {
    super(field ? `RouteConfiguration ${routeConfig}: ${field}: ${message}` : `RouteConfiguration ${routeConfig}: ${message}`);
    this.name = 'RouteConfigError';
  }
}

const REDIRECT_CODES: Record<string, number> = {
  MOVED_PERMANENTLY: 301,
  FOUND: 302,
  SEE_OTHER: 303,
  TEMPORARY_REDIRECT: 307,
  PERMANENT_REDIRECT: 308,
};

function compileRegex(rc: string, field: string, re: unknown, flags = ''): RegExp {
  const src = str(obj(re)?.regex) ?? str(re);
  if (src === undefined) throw new RouteConfigError(rc, field, 'regex missing');
  try {
    // Envoy's safe_regex is RE2 and matches the whole string.
    return new RegExp(`^(?:${src})$`, flags);
  } catch (err) {
    throw new RouteConfigError(rc, field, `invalid regex: ${(err as Error).message}`);
  }
}

function compileStringMatcher(rc: string, field: string, m: EnvoyObject): StringMatcher {
  const ignoreCase = bool(m.ignoreCase) ?? false;
  if (typeof m.exact === 'string') return { kind: 'exact', value: ignoreCase ? m.exact.toLowerCase() : m.exact, ignoreCase };
  if (typeof m.prefix === 'string') return { kind: 'prefix', value: ignoreCase ? m.prefix.toLowerCase() : m.prefix, ignoreCase };
  if (typeof m.suffix === 'string') return { kind: 'suffix', value: ignoreCase ? m.suffix.toLowerCase() : m.suffix, ignoreCase };
  if (typeof m.contains === 'string') return { kind: 'contains', value: ignoreCase ? m.contains.toLowerCase() : m.contains, ignoreCase };
  if (m.safeRegex !== undefined) return { kind: 'regex', re: compileRegex(rc, `${field}.safeRegex`, m.safeRegex, ignoreCase ? 'i' : '') };
  return { kind: 'any' };
}

function compileHeaderMatcher(rc: string, field: string, h: EnvoyObject): HeaderMatcher {
  const name = (str(h.name) ?? '').toLowerCase();
  if (!name) throw new RouteConfigError(rc, `${field}.name`, 'header name missing');
  const invert = bool(h.invertMatch) ?? false;
  let matcher: StringMatcher;
  if (typeof h.exactMatch === 'string') matcher = { kind: 'exact', value: h.exactMatch, ignoreCase: false };
  else if (typeof h.prefixMatch === 'string') matcher = { kind: 'prefix', value: h.prefixMatch, ignoreCase: false };
  else if (typeof h.suffixMatch === 'string') matcher = { kind: 'suffix', value: h.suffixMatch, ignoreCase: false };
  else if (typeof h.containsMatch === 'string') matcher = { kind: 'contains', value: h.containsMatch, ignoreCase: false };
  else if (h.safeRegexMatch !== undefined) matcher = { kind: 'regex', re: compileRegex(rc, `${field}.safeRegexMatch`, h.safeRegexMatch) };
  else if (h.presentMatch !== undefined) matcher = (bool(h.presentMatch) ?? true) ? { kind: 'present' } : { kind: 'any' };
  else if (obj(h.stringMatch)) matcher = compileStringMatcher(rc, `${field}.stringMatch`, obj(h.stringMatch)!);
  else matcher = { kind: 'present' };
  // presentMatch: false means "absent": model it as an inverted present.
  if (h.presentMatch !== undefined && bool(h.presentMatch) === false) return { name, matcher: { kind: 'present' }, invert: !invert };
  return { name, matcher, invert };
}

function compileMutations(
  rc: string,
  levels: EnvoyObject[],
  addField: 'requestHeadersToAdd' | 'responseHeadersToAdd',
  removeField: 'requestHeadersToRemove' | 'responseHeadersToRemove',
): HeaderMutations {
  const add: HeaderValueOption[] = [];
  const remove: string[] = [];
  for (const level of levels) {
    for (const opt of arr(level[addField])) {
      const h = obj(opt.header);
      const key = str(h?.key)?.toLowerCase();
      if (!key) throw new RouteConfigError(rc, `${addField}.header.key`, 'missing');
      const action = str(opt.appendAction);
      const append = action ? action === 'APPEND_IF_EXISTS_OR_ADD' : (bool(opt.append) ?? true);
      add.push({ key, value: str(h?.value) ?? '', append });
    }
    for (const r of strs(level[removeField])) remove.push(r.toLowerCase());
  }
  return { add, remove };
}

function compileRewrite(rc: string, field: string, v: unknown): { re: RegExp; substitution: string } | undefined {
  const o = obj(v);
  if (!o) return undefined;
  const pattern = obj(o.pattern);
  const src = str(pattern?.regex);
  if (src === undefined) throw new RouteConfigError(rc, `${field}.pattern.regex`, 'missing');
  let re: RegExp;
  try {
    re = new RegExp(src, 'g');
  } catch (err) {
    throw new RouteConfigError(rc, `${field}.pattern.regex`, `invalid regex: ${(err as Error).message}`);
  }
  // RE2 substitutions use \1; JavaScript uses $1.
  return { re, substitution: (str(o.substitution) ?? '').replace(/\\(\d)/g, '$$$1') };
}

function compileAction(rc: string, field: string, r: EnvoyObject, vhostRetry: EnvoyObject | undefined): RouteAction {
  const direct = obj(r.directResponse);
  if (direct) {
    const body = str(obj(direct.body)?.inlineString) ?? '';
    return { type: 'direct', status: num(direct.status) ?? 200, body, format: compileBodyFormat(body) };
  }
  const redirect = obj(r.redirect);
  if (redirect) {
    const code = str(redirect.responseCode) ?? 'MOVED_PERMANENTLY';
    const status = REDIRECT_CODES[code] ?? (typeof redirect.responseCode === 'number' ? ([301, 302, 303, 307, 308][redirect.responseCode] ?? 301) : undefined);
    if (status === undefined) throw new RouteConfigError(rc, `${field}.redirect.responseCode`, `unknown code ${code}`);
    return {
      type: 'redirect',
      scheme: (bool(redirect.httpsRedirect) ? 'https' : undefined) ?? str(redirect.schemeRedirect),
      host: str(redirect.hostRedirect),
      port: num(redirect.portRedirect),
      path: str(redirect.pathRedirect),
      prefixRewrite: str(redirect.prefixRewrite),
      regexRewrite: compileRewrite(rc, `${field}.redirect.regexRewrite`, redirect.regexRewrite),
      status,
      stripQuery: bool(redirect.stripQuery) ?? false,
    };
  }
  const route = obj(r.route);
  if (!route) throw new RouteConfigError(rc, field, 'one of route, redirect, directResponse is required');
  const wc = obj(route.weightedClusters);
  let weighted: { name: string; weight: number; headers: HeaderMutations }[] | undefined;
  let totalWeight = 0;
  if (wc) {
    weighted = arr(wc.clusters).map((c, i) => {
      const name = str(c.name);
      if (!name) throw new RouteConfigError(rc, `${field}.route.weightedClusters.clusters[${i}].name`, 'missing');
      return { name, weight: num(c.weight) ?? 0, headers: compileMutations(rc, [c], 'requestHeadersToAdd', 'requestHeadersToRemove') };
    });
    if (weighted.length === 0) throw new RouteConfigError(rc, `${field}.route.weightedClusters.clusters`, 'empty');
    const sum = weighted.reduce((s, c) => s + c.weight, 0);
    totalWeight = num(wc.totalWeight) ?? sum;
    if (totalWeight <= 0) totalWeight = sum;
  }
  const cluster = str(route.cluster);
  if (!cluster && !weighted) throw new RouteConfigError(rc, `${field}.route`, 'cluster or weightedClusters is required');
  return {
    type: 'route',
    cluster,
    weighted,
    totalWeight,
    prefixRewrite: str(route.prefixRewrite),
    regexRewrite: compileRewrite(rc, `${field}.route.regexRewrite`, route.regexRewrite),
    hostRewrite: str(route.hostRewriteLiteral),
    timeoutMs: durationMs(route.timeout) ?? 0,
    idleTimeoutMs: durationMs(route.idleTimeout),
    retry: compileRetry(obj(route.retryPolicy) ?? vhostRetry),
    mirrors: wrapError(rc, () => compileMirrors(`${field}.route`, route)),
    hashPolicy: wrapError(rc, () => compileHashPolicy(route.hashPolicy, `${field}.route.hashPolicy`)),
  };
}

function wrapError<T>(rc: string, f: () => T): T {
  try {
    return f();
  } catch (err) {
    if (err instanceof RouteConfigError) throw err;
    throw new RouteConfigError(rc, '', (err as Error).message);
  }
}

/**
 * A filter's per-route config: the route's, else the virtual host's (most specific wins).
 * An envoy.config.route.v3.FilterConfig wrapper is unwrapped; `disabled` turns the filter off.
 */
function perFilter(levels: (EnvoyObject | undefined)[], filter: string): { config: EnvoyObject; at: number } | undefined {
  for (let i = 0; i < levels.length; i++) {
    const c = obj(obj(levels[i]?.typedPerFilterConfig)?.[filter]);
    if (!c) continue;
    if (anyType(c) === 'envoy.config.route.v3.FilterConfig') {
      if (bool(c.disabled)) return undefined;
      const inner = obj(c.config);
      return inner ? { config: inner, at: i } : undefined;
    }
    return { config: c, at: i };
  }
  return undefined;
}

function compileFilters(rc: string, field: string, vfield: string, r: EnvoyObject, vh: EnvoyObject): { fault: FaultConfig | undefined; cors: CorsConfig | undefined } {
  const levels = [r, vh];
  const where = (at: number, filter: string): string => `${at === 0 ? field : vfield}.typedPerFilterConfig['${filter}']`;
  const f = perFilter(levels, L7_FILTER.fault);
  const c = perFilter(levels, L7_FILTER.cors);
  return wrapError(rc, () => ({
    fault: f ? compileFault(where(f.at, L7_FILTER.fault), f.config) : undefined,
    cors: c ? compileCors(where(c.at, L7_FILTER.cors), c.config) : undefined,
  }));
}

function compileMatch(rc: string, field: string, m: EnvoyObject | undefined): PathMatch {
  if (!m) throw new RouteConfigError(rc, `${field}.match`, 'missing');
  const caseSensitive = bool(m.caseSensitive) ?? true;
  const fold = (s: string): string => (caseSensitive ? s : s.toLowerCase());
  if (typeof m.prefix === 'string') return { kind: 'prefix', value: fold(m.prefix), re: undefined, caseSensitive };
  if (typeof m.path === 'string') return { kind: 'path', value: fold(m.path), re: undefined, caseSensitive };
  if (typeof m.pathSeparatedPrefix === 'string') return { kind: 'pathSeparatedPrefix', value: fold(m.pathSeparatedPrefix), re: undefined, caseSensitive };
  if (m.safeRegex !== undefined) return { kind: 'regex', value: '', re: compileRegex(rc, `${field}.match.safeRegex`, m.safeRegex, caseSensitive ? '' : 'i'), caseSensitive };
  if (m.connectMatcher !== undefined) return { kind: 'connect', value: '', re: undefined, caseSensitive };
  throw new RouteConfigError(rc, `${field}.match`, 'one of prefix, path, safeRegex, connectMatcher is required');
}

/**
 * Compile (and validate) a RouteConfiguration, with `extraVirtualHosts` (VHDS) after its
 * own. Throws RouteConfigError naming the field. A virtual host is compiled once per object
 * (and route config): a VHDS update of one virtual host compiles that one, then the domain
 * index is rebuilt.
 */
export function compileRouteConfig(config: EnvoyObject, extraVirtualHosts?: readonly EnvoyObject[]): CompiledRouteConfig {
  const rc = str(config.name) ?? '(inline)';
  const out: CompiledRouteConfig = { name: rc, exact: new Map(), suffix: [], prefix: [], any: undefined };
  const own = arr(config.virtualHosts);
  const all = extraVirtualHosts && extraVirtualHosts.length > 0 ? [...own, ...extraVirtualHosts] : own;
  all.forEach((vh, vi) => {
    const cvh = compiledVirtualHost(rc, config, vh, vi);
    for (const raw of cvh.domains) {
      const d = raw.toLowerCase();
      if (d === '*') {
        out.any ??= cvh;
      } else if (d.startsWith('*')) {
        out.suffix.push([d.slice(1), cvh, d]);
      } else if (d.endsWith('*')) {
        out.prefix.push([d.slice(0, -1), cvh, d]);
      } else if (!out.exact.has(d)) {
        out.exact.set(d, cvh);
      }
    }
  });
  out.suffix.sort((a, b) => b[0].length - a[0].length);
  out.prefix.sort((a, b) => b[0].length - a[0].length);
  return out;
}

/** Compiled virtual hosts by their object: valid for the same route config object (its header mutations) and, unnamed, the same position. */
const virtualHostCache = new WeakMap<EnvoyObject, { config: EnvoyObject; index: number; vhost: CompiledVirtualHost }>();

function compiledVirtualHost(rc: string, config: EnvoyObject, vh: EnvoyObject, vi: number): CompiledVirtualHost {
  const hit = virtualHostCache.get(vh);
  if (hit && hit.config === config && (hit.index === vi || str(vh.name) !== undefined)) return hit.vhost;
  const vhost = compileVirtualHost(rc, config, vh, vi);
  virtualHostCache.set(vh, { config, index: vi, vhost });
  return vhost;
}

function compileVirtualHost(rc: string, config: EnvoyObject, vh: EnvoyObject, vi: number): CompiledVirtualHost {
  const vname = str(vh.name) ?? `vh${vi}`;
  const vhostRetry = obj(vh.retryPolicy);
  const routes = arr(vh.routes).map((r, ri): CompiledRoute => {
    const field = `virtualHosts[${vi}].routes[${ri}]`;
    const m = obj(r.match);
    const match = compileMatch(rc, field, m);
    const headers = arr(m?.headers).map((h, hi) => compileHeaderMatcher(rc, `${field}.match.headers[${hi}]`, h));
    const query = arr(m?.queryParameters).map((q, qi) => {
      const name = str(q.name);
      if (!name) throw new RouteConfigError(rc, `${field}.match.queryParameters[${qi}].name`, 'missing');
      const sm = obj(q.stringMatch);
      const matcher: StringMatcher = sm ? compileStringMatcher(rc, `${field}.match.queryParameters[${qi}].stringMatch`, sm) : { kind: 'present' };
      return { name, matcher };
    });
    return {
      index: ri,
      name: str(r.name) ?? '',
      match,
      headers,
      query,
      action: compileAction(rc, field, r, vhostRetry),
      requestHeaders: compileMutations(rc, [r, vh, config], 'requestHeadersToAdd', 'requestHeadersToRemove'),
      responseHeaders: compileMutations(rc, [r, vh, config], 'responseHeadersToAdd', 'responseHeadersToRemove'),
      ...compileFilters(rc, field, `virtualHosts[${vi}]`, r, vh),
    };
  });
  const requireTls = str(vh.requireTls) ?? 'NONE';
  if (!['NONE', 'ALL', 'EXTERNAL_ONLY'].includes(requireTls)) throw new RouteConfigError(rc, `virtualHosts[${vi}].requireTls`, `unknown value ${requireTls}`);
  const cvh: CompiledVirtualHost = { name: vname, domains: strs(vh.domains), routes, requireTls: requireTls !== 'NONE' };
  if (cvh.domains.length === 0) throw new RouteConfigError(rc, `virtualHosts[${vi}].domains`, 'at least one domain is required');
  return cvh;
}

const compiledCache = new WeakMap<EnvoyObject, CompiledRouteConfig>();

function compiled(config: EnvoyObject | CompiledRouteConfig): CompiledRouteConfig {
  if (config instanceof Object && 'exact' in config && config.exact instanceof Map) return config as CompiledRouteConfig;
  const raw = config as EnvoyObject;
  let c = compiledCache.get(raw);
  if (!c) {
    c = compileRouteConfig(raw);
    compiledCache.set(raw, c);
  }
  return c;
}

function stripPort(host: string): string {
  if (host.startsWith('[')) {
    const end = host.indexOf(']');
    return end > 0 ? host.slice(0, end + 1) : host;
  }
  const i = host.lastIndexOf(':');
  return i > 0 && host.indexOf(':') === i ? host.slice(0, i) : host;
}

export function findVirtualHost(
  config: CompiledRouteConfig,
  authority: string,
): { vhost: CompiledVirtualHost; kind: DomainMatchKind; domain: string } | undefined {
  // Each kind is tried with the port, then without it.
  const full = authority.toLowerCase();
  const bare = stripPort(full);
  const other = bare === full ? undefined : bare;
  let v = config.exact.get(full);
  if (v) return { vhost: v, kind: 'exact', domain: full };
  if (other !== undefined && (v = config.exact.get(other))) return { vhost: v, kind: 'exact', domain: other };
  const s = wildcard(config.suffix, full, true) ?? (other !== undefined ? wildcard(config.suffix, other, true) : undefined);
  if (s) return { vhost: s[1], kind: 'suffix', domain: s[2] };
  const p = wildcard(config.prefix, full, false) ?? (other !== undefined ? wildcard(config.prefix, other, false) : undefined);
  if (p) return { vhost: p[1], kind: 'prefix', domain: p[2] };
  return config.any ? { vhost: config.any, kind: 'any', domain: '*' } : undefined;
}

/** The first (longest) wildcard domain that matches `host` with at least one more character. */
function wildcard(list: readonly WildcardDomain[], host: string, suffix: boolean): WildcardDomain | undefined {
  for (const w of list) {
    if (host.length > w[0].length && (suffix ? host.endsWith(w[0]) : host.startsWith(w[0]))) return w;
  }
  return undefined;
}

function matchString(m: StringMatcher, value: string | undefined): boolean {
  if (m.kind === 'present') return value !== undefined;
  if (m.kind === 'any') return true;
  if (value === undefined) return false;
  if (m.kind === 'regex') return m.re.test(value);
  const v = m.ignoreCase ? value.toLowerCase() : value;
  switch (m.kind) {
    case 'exact':
      return v === m.value;
    case 'prefix':
      return v.startsWith(m.value);
    case 'suffix':
      return v.endsWith(m.value);
    case 'contains':
      return v.includes(m.value);
  }
}

function headerValue(input: RouteInput, name: string): string | undefined {
  if (name.charCodeAt(0) === 58 /* ':' */) {
    if (name === ':authority') return input.authority;
    if (name === ':path') return input.path;
    if (name === ':method') return input.method;
  }
  const v = input.headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}

function queryValue(query: string, name: string): string | undefined {
  if (!query) return undefined;
  for (const part of query.split('&')) {
    const eq = part.indexOf('=');
    const k = eq < 0 ? part : part.slice(0, eq);
    if (k === name) return eq < 0 ? '' : decodeURIComponentSafe(part.slice(eq + 1));
  }
  return undefined;
}

function decodeURIComponentSafe(s: string): string {
  try {
    return decodeURIComponent(s.replace(/\+/g, ' '));
  } catch {
    return s;
  }
}

function matchPath(m: PathMatch, pathOnly: string, isConnect: boolean): boolean {
  if (m.kind === 'connect') return isConnect;
  if (m.kind === 'regex') return m.re!.test(pathOnly);
  const p = m.caseSensitive ? pathOnly : pathOnly.toLowerCase();
  switch (m.kind) {
    case 'prefix':
      return p.startsWith(m.value);
    case 'path':
      return p === m.value;
    case 'pathSeparatedPrefix':
      return p === m.value || (p.startsWith(m.value) && (p.charCodeAt(m.value.length) === 47 || p.charCodeAt(m.value.length) === 63));
  }
}

function routeMatches(r: CompiledRoute, input: RouteInput, pathOnly: string, query: string, isConnect: boolean): boolean {
  if (!matchPath(r.match, pathOnly, isConnect)) return false;
  for (const h of r.headers) {
    if (matchString(h.matcher, headerValue(input, h.name)) === h.invert) return false;
  }
  for (const q of r.query) {
    if (!matchString(q.matcher, queryValue(query, q.name))) return false;
  }
  return true;
}

function rewritePath(
  pathOnly: string,
  query: string,
  match: PathMatch,
  prefixRewrite: string | undefined,
  regexRewrite: { re: RegExp; substitution: string } | undefined,
): string {
  let p = pathOnly;
  if (prefixRewrite !== undefined && (match.kind === 'prefix' || match.kind === 'path' || match.kind === 'pathSeparatedPrefix')) {
    p = prefixRewrite + pathOnly.slice(match.value.length);
  } else if (regexRewrite) {
    regexRewrite.re.lastIndex = 0;
    p = pathOnly.replace(regexRewrite.re, regexRewrite.substitution);
  }
  return query ? `${p}?${query}` : p;
}

/**
 * Route one request. Pure except for the weighted-cluster draw (pass input.random to fix it).
 * Accepts a raw RouteConfiguration (compiled once and cached) or a compiled one.
 */
export function routeRequest(config: EnvoyObject | CompiledRouteConfig, input: RouteInput): RouteDecision {
  const c = compiled(config);
  const found = findVirtualHost(c, input.authority);
  if (!found) return { kind: 'none', why: { routeConfig: c.name } };
  if (found.vhost.requireTls && !input.tls) return tlsRedirect(c.name, found, input);
  const isConnect = input.method === 'CONNECT';
  // A CONNECT has no path: it matches connectMatcher routes and, like a request for "/", prefix routes.
  const q = isConnect ? -1 : input.path.indexOf('?');
  const pathOnly = isConnect ? '/' : q < 0 ? input.path : input.path.slice(0, q);
  const query = q < 0 ? '' : input.path.slice(q + 1);
  for (const r of found.vhost.routes) {
    if (!routeMatches(r, input, pathOnly, query, isConnect)) continue;
    const why: RouteWhy = {
      routeConfig: c.name,
      virtualHost: found.vhost.name,
      domainMatch: found.kind,
      domain: found.domain,
      routeIndex: r.index,
      routeName: r.name,
    };
    const a = r.action;
    if (a.type === 'direct') return { kind: 'direct', status: a.status, body: a.format ? a.format((name) => headerValue(input, name)) : a.body, route: r, why };
    if (a.type === 'redirect') return { kind: 'redirect', status: a.status, location: redirectLocation(a, input, pathOnly, query, r.match), route: r, why };
    const w = a.weighted && pickByWeight(a.weighted, a.totalWeight, input.random ?? Math.random());
    const path = isConnect ? input.path : rewritePath(pathOnly, query, r.match, a.prefixRewrite, a.regexRewrite);
    return { kind: 'route', cluster: w ? w.name : a.cluster!, path, authority: a.hostRewrite ?? input.authority, route: r, action: a, clusterHeaders: w?.headers, why };
  }
  return { kind: 'none', why: { routeConfig: c.name, virtualHost: found.vhost.name, domainMatch: found.kind, domain: found.domain } };
}

/** What a requireTls redirect is, to the stages after routing: a route with nothing to apply. */
const REQUIRE_TLS_ROUTE: CompiledRoute = {
  index: -1,
  name: 'require_tls',
  match: { kind: 'prefix', value: '/', re: undefined, caseSensitive: true },
  headers: [],
  query: [],
  action: { type: 'redirect', scheme: 'https', host: undefined, port: undefined, path: undefined, prefixRewrite: undefined, regexRewrite: undefined, status: 301, stripQuery: false },
  requestHeaders: { add: [], remove: [] },
  responseHeaders: { add: [], remove: [] },
  fault: undefined,
  cors: undefined,
};

/** Envoy's require_tls: 301 to "https://" + the Host header as sent + the path (query included), before any route. */
function tlsRedirect(rc: string, found: NonNullable<ReturnType<typeof findVirtualHost>>, input: RouteInput): RouteDecision {
  const why: RouteWhy = { routeConfig: rc, virtualHost: found.vhost.name, domainMatch: found.kind, domain: found.domain, routeName: REQUIRE_TLS_ROUTE.name };
  return { kind: 'redirect', status: 301, location: `https://${input.authority}${input.path}`, route: REQUIRE_TLS_ROUTE, why };
}

function redirectLocation(a: Extract<RouteAction, { type: 'redirect' }>, input: RouteInput, pathOnly: string, query: string, match: PathMatch): string {
  const scheme = a.scheme ?? (headerValue(input, 'x-forwarded-proto') === 'https' ? 'https' : 'http');
  let host = a.host ?? stripPort(input.authority);
  if (a.port !== undefined) host = `${stripPort(host)}:${a.port}`;
  else if (a.host === undefined && a.scheme === undefined && host !== input.authority) host = input.authority;
  let path: string;
  if (a.path !== undefined) path = a.path;
  else path = rewritePath(pathOnly, '', match, a.prefixRewrite, a.regexRewrite);
  if (!a.stripQuery && query && !path.includes('?')) path = `${path}?${query}`;
  return `${scheme}://${host}${path}`;
}
