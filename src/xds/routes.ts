// RDS: model HTTP rules -> Envoy routes, and the sidecar's `http_proxy` route
// configuration (one virtual host per reachable service port).
import type { HeaderOps, HttpMatch, HttpRouteSet, HttpRule, L4RouteSet, MeshModel, RetryPolicy, RouteAction, Service, ServicePort, StringMatch, Workload } from '../model/types.js';
import type { EnvoyObject } from '../proxy/types.js';
import { outboundClusterName, ROUTE } from './names.js';
import { duration, nonEmpty, wrapped } from './envoy.js';
import { fqdnOf, hostMatches, hostSpecificity, isHttpProtocol, resolveDestination, type OutboundTarget } from './mesh.js';
import { routeHashPolicy } from './cluster-policy.js';
import { catchAllVirtualHost } from './passthrough.js';
import { mirrorPolicy, perFilterConfig } from './l7-filters.js';
import { sidecarConnectRoutes, type SidecarL4 } from './l4-routes.js';
import { labelsMatch } from '../model/labels.js';

/** What rule translation needs to know about where the routes will run. */
export interface RuleContext {
  model: MeshModel;
  /** The proxy the routes are for: source-label and source-namespace matches are decided against it. */
  proxy: Workload;
  /** The port requests arrive on (service port for sidecars, server port for gateways). */
  port: number;
  clusterDomain?: string;
  /** Collects every upstream the routes point at, by cluster name, so the generator can emit those clusters. */
  targets?: Map<string, OutboundTarget>;
}

/** Istio's retry policy when a rule sets none. */
export const DEFAULT_RETRY_ON = 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes';
export const DEFAULT_RETRY_ATTEMPTS = 2;
const DEFAULT_RETRIABLE_STATUS_CODES = [503];

const REDIRECT_CODES: Record<number, string> = {
  301: 'MOVED_PERMANENTLY',
  302: 'FOUND',
  303: 'SEE_OTHER',
  307: 'TEMPORARY_REDIRECT',
  308: 'PERMANENT_REDIRECT',
};

function stringMatcher(m: Exclude<StringMatch, { kind: 'present' }>): EnvoyObject {
  switch (m.kind) {
    case 'exact':
      return { exact: m.value, ...(m.ignoreCase ? { ignoreCase: true } : {}) };
    case 'prefix':
      return { prefix: m.value, ...(m.ignoreCase ? { ignoreCase: true } : {}) };
    case 'regex':
      return { safeRegex: { regex: m.value } };
  }
}

function headerMatcher(name: string, m: StringMatch, invert?: boolean): EnvoyObject {
  const spec = m.kind === 'present' ? { presentMatch: true } : { stringMatch: stringMatcher(m) };
  return { name, ...spec, ...(invert ? { invertMatch: true } : {}) };
}

function pathMatch(m: StringMatch | undefined): EnvoyObject {
  if (!m || m.kind === 'present') return { prefix: '/' };
  const caseInsensitive = m.kind !== 'regex' && m.ignoreCase ? { caseSensitive: wrapped(false) } : {};
  switch (m.kind) {
    case 'exact':
      return { path: m.value, ...caseInsensitive };
    case 'prefix':
      // Gateway API PathPrefix matches whole segments ("/" itself is every path).
      return m.separated && m.value !== '/' ? { pathSeparatedPrefix: m.value.replace(/\/+$/, ''), ...caseInsensitive } : { prefix: m.value, ...caseInsensitive };
    case 'regex':
      return { safeRegex: { regex: m.value } };
  }
}

function routeMatch(m: HttpMatch | undefined): EnvoyObject {
  if (!m) return { prefix: '/' };
  const headers: EnvoyObject[] = [];
  if (m.method) headers.push(headerMatcher(':method', m.method));
  if (m.authority) headers.push(headerMatcher(':authority', m.authority));
  if (m.scheme) headers.push(headerMatcher(':scheme', m.scheme));
  for (const h of m.headers ?? []) headers.push(headerMatcher(h.name, h.match, h.invert));
  const query = (m.queryParams ?? []).map((q) =>
    q.match.kind === 'present' ? { name: q.name, presentMatch: true } : { name: q.name, stringMatch: stringMatcher(q.match) },
  );
  return { ...pathMatch(m.path), ...nonEmpty('headers', headers), ...nonEmpty('queryParameters', query) };
}

/** Matches that can fire on this proxy and port; conditions on the source are decided here, at generation time. */
function applicable(m: HttpMatch, ctx: RuleContext): boolean {
  if (m.port !== undefined && m.port !== ctx.port) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== ctx.proxy.namespace) return false;
  if (m.sourceLabels && !labelsMatch(m.sourceLabels, ctx.proxy.labels)) return false;
  return true;
}

/** The Envoy retry policy for a rule; undefined means no retries. */
export function retryPolicy(r: RetryPolicy | undefined): EnvoyObject | undefined {
  if (!r) {
    return { retryOn: DEFAULT_RETRY_ON, numRetries: wrapped(DEFAULT_RETRY_ATTEMPTS), retriableStatusCodes: DEFAULT_RETRIABLE_STATUS_CODES };
  }
  if (r.attempts <= 0) return undefined;
  // Status codes ride in retriable_status_codes; Envoy needs the matching retry_on condition.
  // No conditions given: Istio's default conditions (and their status code).
  const retryOn = r.retryOn.length ? r.retryOn : [...DEFAULT_RETRY_ON.split(','), ...DEFAULT_RETRIABLE_STATUS_CODES.map(String)];
  const codes = retryOn.filter((c) => /^\d{3}$/.test(c)).map(Number);
  const conditions = retryOn.filter((c) => !/^\d{3}$/.test(c));
  if (codes.length && !conditions.includes('retriable-status-codes')) conditions.push('retriable-status-codes');
  return {
    retryOn: conditions.join(','),
    numRetries: wrapped(r.attempts),
    ...(r.perTryTimeoutMs !== undefined ? { perTryTimeout: duration(r.perTryTimeoutMs) } : {}),
    ...nonEmpty('retriableStatusCodes', codes),
  };
}

function forwardAction(action: Extract<RouteAction, { kind: 'forward' }>, rule: HttpRule, ctx: RuleContext): EnvoyObject {
  const resolved = action.destinations.map((d) => resolveDestination(ctx.model, d, ctx.port, ctx.clusterDomain));
  const clusters = action.destinations.map((d, i) => {
    const t = resolved[i]!;
    const name = outboundClusterName(t.port, t.fqdn, t.subset);
    ctx.targets?.set(name, t);
    return { name, weight: d.weight };
  });
  const target =
    clusters.length === 1
      ? { cluster: clusters[0]!.name }
      : { weightedClusters: { clusters: clusters.map((c) => ({ name: c.name, weight: wrapped(c.weight) })) } };
  const rw = action.rewrite;
  const retry = retryPolicy(rule.retries);
  const mirrors = (rule.mirrors ?? []).map((m) => {
    const t = resolveDestination(ctx.model, m, ctx.port, ctx.clusterDomain);
    const name = outboundClusterName(t.port, t.fqdn, t.subset);
    ctx.targets?.set(name, t);
    return mirrorPolicy(name, m.percent);
  });
  const hashPolicy = routeHashPolicy(resolved);
  return {
    ...target,
    ...(hashPolicy ? { hashPolicy } : {}),
    ...(rw?.uriPrefix !== undefined ? { prefixRewrite: rw.uriPrefix } : {}),
    ...(rw?.uriRegex ? { regexRewrite: { pattern: { regex: rw.uriRegex.match }, substitution: rw.uriRegex.rewrite } } : {}),
    ...(rw?.authority !== undefined ? { hostRewriteLiteral: rw.authority } : {}),
    // No timeout unless the rule sets one (Istio's default).
    timeout: duration(rule.timeoutMs ?? 0),
    ...(retry ? { retryPolicy: retry } : {}),
    ...nonEmpty('requestMirrorPolicies', mirrors),
  };
}

function redirectAction(a: Extract<RouteAction, { kind: 'redirect' }>): EnvoyObject {
  return {
    ...(a.scheme !== undefined ? { schemeRedirect: a.scheme } : {}),
    ...(a.authority !== undefined ? { hostRedirect: a.authority } : {}),
    ...(a.port !== undefined ? { portRedirect: a.port } : {}),
    ...(a.uri !== undefined ? { pathRedirect: a.uri } : {}),
    responseCode: REDIRECT_CODES[a.responseCode] ?? 'MOVED_PERMANENTLY',
  };
}

function headerOps(ops: HeaderOps | undefined, prefix: 'request' | 'response'): EnvoyObject {
  if (!ops) return {};
  const sorted = (rec: Record<string, string> | undefined) => Object.entries(rec ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const add = [
    ...sorted(ops.set).map(([key, value]) => ({ header: { key, value }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' })),
    ...sorted(ops.add).map(([key, value]) => ({ header: { key, value }, appendAction: 'APPEND_IF_EXISTS_OR_ADD' })),
  ];
  return { ...nonEmpty(`${prefix}HeadersToAdd`, add), ...nonEmpty(`${prefix}HeadersToRemove`, [...(ops.remove ?? [])]) };
}

function actionFields(rule: HttpRule, ctx: RuleContext): EnvoyObject {
  const a = rule.action;
  switch (a.kind) {
    case 'forward':
      return { route: forwardAction(a, rule, ctx) };
    case 'redirect':
      return { redirect: redirectAction(a) };
    case 'direct':
      return { directResponse: { status: a.status, ...(a.body !== undefined ? { body: { inlineString: a.body } } : {}) } };
  }
}

/**
 * Rules -> Envoy routes, in order (first match wins). A rule with several matches
 * (OR) becomes one route per match, all with the same action.
 */
export function translateRules(rules: readonly HttpRule[], ctx: RuleContext): EnvoyObject[] {
  const routes: EnvoyObject[] = [];
  for (const rule of rules) {
    const matches = rule.matches.length ? rule.matches.filter((m) => applicable(m, ctx)) : [undefined];
    const action = actionFields(rule, ctx);
    const ops = { ...headerOps(rule.requestHeaders, 'request'), ...headerOps(rule.responseHeaders, 'response') };
    const filters = perFilterConfig(rule);
    for (const m of matches) {
      routes.push({ ...(rule.name ? { name: rule.name } : {}), match: routeMatch(m), ...action, ...ops, ...filters });
    }
  }
  return routes;
}

/** The route to a service port when no route set covers it. */
export function defaultRoute(cluster: string, http: boolean, hashPolicy?: EnvoyObject[]): EnvoyObject {
  const retry = http ? retryPolicy(undefined) : undefined;
  return { name: 'default', match: { prefix: '/' }, route: { cluster, ...(hashPolicy ? { hashPolicy } : {}), timeout: duration(0), ...(retry ? { retryPolicy: retry } : {}) } };
}

/**
 * The route sets that cover a host, most specific host pattern first, then in model
 * order; their rules are concatenated (first match wins, so the first set dominates).
 */
export function coveringRouteSets<T extends { hosts: string[] }>(sets: readonly T[], host: string): T[] {
  const best = (r: T) => Math.max(...r.hosts.filter((h) => hostMatches(h, host)).map(hostSpecificity));
  return sets
    .filter((r) => r.hosts.some((h) => hostMatches(h, host)))
    .map((r, i) => ({ r, i, s: best(r) }))
    .sort((a, b) => b.s - a.s || a.i - b.i)
    .map((x) => x.r);
}

/**
 * Domains a client may use for a service port: short names are only unambiguous
 * within the proxy's namespace (Istio's rule; Envoy rejects a domain in two virtual
 * hosts). A ServiceEntry host has no short names: only the host itself. Each with
 * ":port"; port 80 also bare.
 */
export function serviceDomains(service: Service, port: number, fqdn: string, proxyNamespace: string): string[] {
  const names = service.external
    ? [fqdn]
    : [
        ...(service.namespace === proxyNamespace ? [service.name] : []),
        `${service.name}.${service.namespace}`,
        `${service.name}.${service.namespace}.svc`,
        fqdn,
      ];
  const unique = [...new Set(names)];
  return unique.flatMap((n) => (port === 80 ? [n, `${n}:${port}`] : [`${n}:${port}`]));
}

/** The mesh tcp[]/tls[] route sets and where the SNI internal listeners they need are collected. */
export interface SidecarL4Input {
  sets: readonly L4RouteSet[];
  out: SidecarL4;
}

function serviceVirtualHost(service: Service, sp: ServicePort, meshRoutes: readonly HttpRouteSet[], ctx: Omit<RuleContext, 'port'>, l4?: SidecarL4Input): EnvoyObject {
  const fqdn = fqdnOf(service, ctx.clusterDomain);
  const http = isHttpProtocol(sp.protocol);
  // Route sets are HTTP rules: on TCP ports the virtual host only serves CONNECT tunnels, routed by tcp[]/tls[] (l4-routes.ts).
  const rules = http ? coveringRouteSets(meshRoutes, fqdn).flatMap((r) => r.rules) : [];
  const routes = http ? translateRules(rules, { ...ctx, port: sp.port }) : l4 ? sidecarConnectRoutes(service, sp, l4.sets, ctx, l4.out) ?? [] : [];
  return {
    name: `${fqdn}:${sp.port}`,
    domains: serviceDomains(service, sp.port, fqdn, ctx.proxy.namespace),
    routes: routes.length ? routes : [defaultRoute(outboundClusterName(sp.port, fqdn), http, routeHashPolicy([{ service, port: sp.port, subset: '' }]))],
  };
}

/** The sidecar's `http_proxy` RouteConfiguration: every service port in the mesh (all namespaces for now). */
export function httpProxyRouteConfig(
  model: MeshModel,
  proxy: Workload,
  meshRoutes: readonly HttpRouteSet[],
  clusterDomain?: string,
  targets?: Map<string, OutboundTarget>,
  l4?: SidecarL4Input,
): EnvoyObject {
  const ctx = { model, proxy, clusterDomain, targets };
  const virtualHosts = model.services.flatMap((s) => s.ports.map((p) => serviceVirtualHost(s, p, meshRoutes, ctx, l4)));
  virtualHosts.sort((a, b) => (String(a.name) < String(b.name) ? -1 : String(a.name) > String(b.name) ? 1 : 0));
  virtualHosts.push(catchAllVirtualHost(model.outboundTrafficPolicy, targets));
  return { name: ROUTE.outboundHttpProxy, ...nonEmpty('virtualHosts', virtualHosts) };
}
