// Gateway API (gateway.networking.k8s.io) Gateway, HTTPRoute and GRPCRoute -> model
// GatewayServers and HttpRouteSets. Routes attach to Gateways ("<ns>/<name>") or, GAMMA
// style, to Services (attach "mesh" for that service's host).

import type { Finding, Resource } from '../resources/types.js';
import type {
  GatewayApiGatewaySpec,
  GrpcRouteMatch,
  GrpcRouteSpec,
  HttpBackendRef,
  HttpHeaderFilter,
  HttpRouteFilter,
  HttpRouteMatch,
  HttpRouteRule,
  HttpRouteSpec,
  HttpValueMatch,
  Listener,
  ParentReference,
} from '../resources/gateway-api.js';
import { parseDuration } from '../resources/duration.js';
import { serviceFqdn } from '../xds/names.js';
import type { HostContext } from './hosts.js';
import { findingFor, ResourceTranslator, sourceOf } from './source.js';
import type { GatewayServer, HeaderOps, HttpMatch, HttpRouteSet, HttpRule, MirrorPolicy, RetryPolicy, RouteAction, StringMatch, WeightedDestination, Workload } from './types.js';

export interface GatewayApiContext {
  hosts: HostContext;
  /** FQDNs of known Services (backends elsewhere get WEFT_UNKNOWN_HOST). */
  serviceHosts: ReadonlySet<string>;
  /** Gateway API Gateways by "<ns>/<name>", for listener checks (allowedRoutes, sectionName). */
  gateways: ReadonlyMap<string, Resource<GatewayApiGatewaySpec>>;
  /** Istio Gateways by "<ns>/<name>": a route may attach to those too (they share the attachment space). */
  istioGateways: ReadonlySet<string>;
  findings: Finding[];
}

const GATEWAY_GROUP = 'gateway.networking.k8s.io';
/** The label Gateway API implementations put on the pods they deploy for a Gateway. */
export const GATEWAY_NAME_LABEL = 'gateway.networking.k8s.io/gateway-name';
/** weft's shared ingress gateway (the local platform runs it with these labels). */
export const DEFAULT_INGRESS_SELECTOR: Readonly<Record<string, string>> = { istio: 'ingressgateway' };
const RETRY_ON_CONNECT = ['connect-failure', 'refused-stream', 'reset'];
const DEFAULT_RETRY_ATTEMPTS = 2;

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

// ---- Gateway

/**
 * Which gateway workloads run a Gateway: those labelled
 * `gateway.networking.k8s.io/gateway-name: <name>` in its namespace (how Gateway API
 * implementations label the deployment they create per Gateway); when none exist, weft's
 * default ingress gateway (`istio: ingressgateway`), so a Gateway works on the local mesh
 * without deploying anything.
 */
export function gatewaySelector(r: Resource, workloads: readonly Workload[]): Record<string, string> {
  const own = workloads.some((w) => w.proxyType === 'router' && w.namespace === r.metadata.namespace && w.labels[GATEWAY_NAME_LABEL] === r.metadata.name);
  return own ? { [GATEWAY_NAME_LABEL]: r.metadata.name } : { ...DEFAULT_INGRESS_SELECTOR };
}

function listenerServer(r: Resource<GatewayApiGatewaySpec>, l: Listener, i: number, selector: Record<string, string>, findings: Finding[]): GatewayServer | undefined {
  const path = `spec.listeners[${i}]`;
  const warn = (p: string, msg: string) => findings.push(findingFor(r, 'warning', 'WEFT_UNSUPPORTED_FIELD', p, `accepted, not acted on: ${msg}`));
  if (l.protocol === 'UDP') {
    warn(`${path}.protocol`, 'UDP listeners are not served; this listener is skipped');
    return undefined;
  }
  const server: GatewayServer = {
    source: sourceOf(r),
    gateway: `${r.metadata.namespace}/${r.metadata.name}`,
    selector: { ...selector },
    port: { number: l.port, name: l.name, protocol: l.protocol },
    hosts: [l.hostname ?? '*'],
    path,
  };
  if (!l.tls) return server;
  if ((l.tls.mode ?? 'Terminate') === 'Passthrough') {
    server.tls = { mode: 'PASSTHROUGH' };
    return server;
  }
  const refs = l.tls.certificateRefs ?? [];
  const cert = refs[0]!;
  if ((cert.kind ?? 'Secret') !== 'Secret' || (cert.group ?? '') !== '') {
    warn(`${path}.tls.certificateRefs[0].kind`, `certificate kind ${cert.group ? `${cert.group}/` : ''}${cert.kind} is not read; only Secrets; this listener is skipped`);
    return undefined;
  }
  if (cert.namespace !== undefined && cert.namespace !== r.metadata.namespace) {
    // The spec allows a Secret in another namespace only through a ReferenceGrant, which weft does not read: refused.
    findings.push(
      findingFor(r, 'warning', 'WEFT_REF_NOT_PERMITTED', `${path}.tls.certificateRefs[0].namespace`, `Secret ${cert.namespace}/${cert.name} is in another namespace and ReferenceGrants are not read; this listener is skipped`),
    );
    return undefined;
  }
  if (refs.length > 1) warn(`${path}.tls.certificateRefs[1]`, 'one certificate per listener; the first is served');
  // The Secret is the Gateway's (certificateRefs' namespace defaults to the Gateway's), whichever workload runs it.
  server.tls = { mode: 'SIMPLE', credentialName: cert.name, credentialNamespace: r.metadata.namespace };
  return server;
}

export function gatewayServersFromGatewayApi(r: Resource<GatewayApiGatewaySpec>, workloads: readonly Workload[], findings: Finding[]): GatewayServer[] {
  const selector = gatewaySelector(r, workloads);
  return r.spec.listeners.flatMap((l, i) => listenerServer(r, l, i, selector, findings) ?? []);
}

// ---- routes: matches

function valueMatch(m: HttpValueMatch): StringMatch {
  return m.type === 'RegularExpression' ? { kind: 'regex', value: m.value } : { kind: 'exact', value: m.value };
}

/** Gateway API PathPrefix is segment-wise and ignores a trailing "/". */
function pathMatch(m: HttpRouteMatch['path']): StringMatch | undefined {
  if (!m) return undefined;
  switch (m.type) {
    case 'Exact':
      return { kind: 'exact', value: m.value };
    case 'RegularExpression':
      return { kind: 'regex', value: m.value };
    case 'PathPrefix': {
      const value = m.value.replace(/\/+$/, '');
      return value === '' ? { kind: 'prefix', value: '/' } : { kind: 'prefix', value, separated: true };
    }
  }
}

/** Headers: the first match of a name wins (Gateway API); header names are case-insensitive. */
function headerMatches(list: HttpValueMatch[] | undefined): HttpMatch['headers'] {
  const seen = new Set<string>();
  const out: NonNullable<HttpMatch['headers']> = [];
  for (const h of list ?? []) {
    const name = h.name.toLowerCase();
    if (seen.has(name)) continue;
    seen.add(name);
    out.push({ name, match: valueMatch(h) });
  }
  return out.length ? out : undefined;
}

function httpMatch(m: HttpRouteMatch): HttpMatch {
  const out: HttpMatch = {};
  const path = pathMatch(m.path);
  if (path) out.path = path;
  if (m.method) out.method = { kind: 'exact', value: m.method };
  const headers = headerMatches(m.headers);
  if (headers) out.headers = headers;
  const query = (m.queryParams ?? []).map((q) => ({ name: q.name, match: valueMatch(q) }));
  if (query.length) out.queryParams = query;
  return out;
}

function grpcMatch(m: GrpcRouteMatch): HttpMatch {
  const out: HttpMatch = {};
  const mm = m.method;
  if (mm) {
    if (mm.type === 'RegularExpression') {
      out.path = { kind: 'regex', value: `/(?:${mm.service ?? '[^/]+'})/(?:${mm.method ?? '[^/]+'})` };
    } else if (mm.service !== undefined && mm.method !== undefined) {
      out.path = { kind: 'exact', value: `/${mm.service}/${mm.method}` };
    } else if (mm.service !== undefined) {
      out.path = { kind: 'prefix', value: `/${mm.service}/` };
    } else {
      out.path = { kind: 'regex', value: `/[^/]+/${escapeRegex(mm.method!)}` };
    }
  }
  const headers = headerMatches(m.headers);
  if (headers) out.headers = headers;
  return out;
}

/**
 * Sort key of one match, compared descending. HTTPRoute (spec order): exact path, then
 * regex (implementation-specific; after exact as Istio does, so users migrating see the
 * same order), then prefix by length; then method; then most headers; then most query params.
 */
function httpPrecedence(m: HttpRouteMatch | undefined): number[] {
  const p = m?.path;
  const rank = p?.type === 'Exact' ? 3 : p?.type === 'RegularExpression' ? 2 : 1;
  const len = p?.type === 'PathPrefix' ? p.value.replace(/\/+$/, '').length : (p?.value.length ?? 0);
  return [rank, len, m?.method ? 1 : 0, m?.headers?.length ?? 0, m?.queryParams?.length ?? 0];
}

/** GRPCRoute (spec order): longest matching service, then method, then most headers. */
function grpcPrecedence(m: GrpcRouteMatch | undefined): number[] {
  return [m?.method?.service?.length ?? 0, m?.method?.method?.length ?? 0, m?.headers?.length ?? 0];
}

function compareDesc(a: number[], b: number[]): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return b[i]! - a[i]!;
  return 0;
}

// ---- routes: filters and backends

function headerOps(f: HttpHeaderFilter, into: HeaderOps | undefined): HeaderOps {
  const out: HeaderOps = { ...into };
  for (const h of f.set ?? []) out.set = { ...out.set, [h.name.toLowerCase()]: h.value };
  for (const h of f.add ?? []) out.add = { ...out.add, [h.name.toLowerCase()]: h.value };
  if (f.remove?.length) out.remove = [...(out.remove ?? []), ...f.remove.map((n) => n.toLowerCase())];
  return out;
}

type RouteKind = 'HTTPRoute' | 'GRPCRoute';
type AnyRule = HttpRouteRule & { matches?: (HttpRouteMatch | GrpcRouteMatch)[] };

/** One route rule after filters: the parts every one of its matches shares. */
interface RuleBody {
  action: RouteAction;
  requestHeaders?: HeaderOps;
  responseHeaders?: HeaderOps;
  timeoutMs?: number;
  retries?: RetryPolicy;
  /** URLRewrite ReplacePrefixMatch: resolved per match, as it replaces the matched prefix. */
  replacePrefix?: string;
  mirrors?: MirrorPolicy[];
}

class RouteTranslator extends ResourceTranslator<HttpRouteSpec | GrpcRouteSpec> {
  constructor(
    r: Resource<HttpRouteSpec | GrpcRouteSpec>,
    private readonly kind: RouteKind,
    private readonly ctx: GatewayApiContext,
  ) {
    super(r, ctx.findings);
  }

  private unsupported(path: string, message: string): void {
    this.warn('WEFT_UNSUPPORTED_FIELD', path, `accepted, not acted on: ${message}`);
  }

  private destination(b: HttpBackendRef, path: string): WeightedDestination | undefined {
    if ((b.kind ?? 'Service') !== 'Service' || (b.group ?? '') !== '') {
      this.unsupported(`${path}.kind`, `backend kind ${b.group ? `${b.group}/` : ''}${b.kind} is not supported; only Services; this backend gets no traffic`);
      return undefined;
    }
    const ns = b.namespace ?? this.ns;
    if (ns !== this.ns) this.unsupported(`${path}.namespace`, 'ReferenceGrants are not checked; the cross-namespace backend is used');
    const host = serviceFqdn(b.name, ns, this.ctx.hosts.clusterDomain);
    if (!this.ctx.serviceHosts.has(host)) {
      this.warn('WEFT_UNKNOWN_HOST', `${path}.name`, `backend Service ${ns}/${b.name} does not exist; the route is kept and answers 503`);
    }
    const d: WeightedDestination = { host, weight: b.weight ?? 1 };
    if (b.port !== undefined) d.port = b.port;
    return d;
  }

  private body(rule: AnyRule, path: string): RuleBody {
    const body: RuleBody = { action: { kind: 'direct', status: 500 } };
    let redirect: Extract<RouteAction, { kind: 'redirect' }> | undefined;
    let rewrite: NonNullable<Extract<RouteAction, { kind: 'forward' }>['rewrite']> | undefined;
    (rule.filters ?? []).forEach((f: HttpRouteFilter, k) => {
      const fp = `${path}.filters[${k}]`;
      switch (f.type) {
        case 'RequestHeaderModifier':
          body.requestHeaders = headerOps(f.requestHeaderModifier!, body.requestHeaders);
          break;
        case 'ResponseHeaderModifier':
          body.responseHeaders = headerOps(f.responseHeaderModifier!, body.responseHeaders);
          break;
        case 'RequestRedirect': {
          const rr = f.requestRedirect!;
          redirect = { kind: 'redirect', responseCode: rr.statusCode ?? 302 };
          if (rr.scheme !== undefined) redirect.scheme = rr.scheme;
          if (rr.hostname !== undefined) redirect.authority = rr.hostname;
          if (rr.port !== undefined) redirect.port = rr.port;
          if (rr.path?.type === 'ReplaceFullPath') redirect.uri = rr.path.replaceFullPath!;
          else if (rr.path) this.unsupported(`${fp}.requestRedirect.path`, 'ReplacePrefixMatch in redirects is not supported yet; the path is kept');
          break;
        }
        case 'URLRewrite': {
          const u = f.urlRewrite!;
          rewrite = {};
          if (u.hostname !== undefined) rewrite.authority = u.hostname;
          // Replacing the whole path: one regex over the whole path (query kept by the proxy).
          if (u.path?.type === 'ReplaceFullPath') rewrite.uriRegex = { match: '^.*$', rewrite: u.path.replaceFullPath! };
          else if (u.path) body.replacePrefix = u.path.replacePrefixMatch!;
          break;
        }
        case 'RequestMirror': {
          const rm = f.requestMirror!;
          const dest = this.destination({ ...rm.backendRef, weight: 1 }, `${fp}.requestMirror.backendRef`);
          const fr = rm.fraction;
          const percent = rm.percent ?? (fr ? (100 * fr.numerator) / (fr.denominator ?? 100) : 100);
          if (dest) {
            const m: MirrorPolicy = { host: dest.host, percent: Math.min(100, percent) };
            if (dest.port !== undefined) m.port = dest.port;
            (body.mirrors ??= []).push(m);
          }
          break;
        }
        case 'ExtensionRef':
          this.unsupported(`${fp}.extensionRef`, 'extension filters are not supported');
          break;
        case 'CORS':
          // Warned about when parsed.
          break;
      }
    });
    if (redirect) {
      body.action = redirect;
      return body;
    }
    const refs = rule.backendRefs ?? [];
    const destinations = refs.flatMap((b, k) => this.destination(b, `${path}.backendRefs[${k}]`) ?? []);
    this.foldBackendFilters(refs, body, path);
    // No usable backend (none given, all invalid or all weight 0): Gateway API answers 500.
    if (destinations.some((d) => d.weight > 0)) {
      body.action = { kind: 'forward', destinations, ...(rewrite ? { rewrite } : {}) };
    } else if (refs.length > 0) {
      this.warn('WEFT_NO_BACKEND', `${path}.backendRefs`, 'no backend can take traffic (all invalid or weight 0); matching requests get 500');
    }
    this.timeoutsAndRetries(rule as HttpRouteRule, body, path);
    return body;
  }

  /** Per-backend filters: header modifiers fold into the rule when there is one backend. */
  private foldBackendFilters(refs: HttpBackendRef[], body: RuleBody, path: string): void {
    refs.forEach((b, k) =>
      (b.filters ?? []).forEach((f, j) => {
        const fp = `${path}.backendRefs[${k}].filters[${j}]`;
        if (refs.length === 1 && f.type === 'RequestHeaderModifier') body.requestHeaders = headerOps(f.requestHeaderModifier!, body.requestHeaders);
        else if (refs.length === 1 && f.type === 'ResponseHeaderModifier') body.responseHeaders = headerOps(f.responseHeaderModifier!, body.responseHeaders);
        else this.unsupported(fp, `per-backend ${f.type} filters ${refs.length > 1 ? 'with several backends ' : ''}are not supported yet`);
      }),
    );
  }

  private timeoutsAndRetries(rule: HttpRouteRule, body: RuleBody, path: string): void {
    const request = rule.timeouts?.request !== undefined ? parseDuration(rule.timeouts.request) : undefined;
    const backend = rule.timeouts?.backendRequest !== undefined ? parseDuration(rule.timeouts.backendRequest) : undefined;
    if (request !== undefined) body.timeoutMs = request;
    if (rule.retry) {
      const attempts = rule.retry.attempts ?? DEFAULT_RETRY_ATTEMPTS;
      body.retries = { attempts, retryOn: attempts === 0 ? [] : [...RETRY_ON_CONNECT, ...(rule.retry.codes ?? []).map(String)] };
      if (backend) body.retries.perTryTimeoutMs = backend;
    } else if (backend !== undefined) {
      // Without retries one backend request is the whole request: the tighter timeout holds.
      body.timeoutMs = request ? Math.min(request, backend || request) : backend;
    }
    if (backend && request && backend > request) {
      this.warn('WEFT_INVALID_FIELD', `${path}.timeouts.backendRequest`, `backendRequest ${rule.timeouts!.backendRequest} exceeds request ${rule.timeouts!.request}; request bounds it`);
    }
  }

  /** The rule's matches, each as its own model rule (they are re-sorted by precedence). */
  private rules(): { rule: HttpRule; key: number[] }[] {
    const out: { rule: HttpRule; key: number[] }[] = [];
    (this.r.spec.rules ?? []).forEach((raw, i) => {
      const rule = raw as AnyRule;
      const path = `spec.rules[${i}]`;
      const body = this.body(rule, path);
      const matches: (HttpRouteMatch | GrpcRouteMatch | undefined)[] = rule.matches?.length ? rule.matches : [undefined];
      for (const m of matches) {
        const model: HttpMatch = m === undefined ? {} : this.kind === 'GRPCRoute' ? grpcMatch(m as GrpcRouteMatch) : httpMatch(m as HttpRouteMatch);
        const r: HttpRule = { matches: Object.keys(model).length ? [model] : [], action: this.withPrefixRewrite(body, model, path) };
        if (rule.name !== undefined) r.name = rule.name;
        if (body.timeoutMs !== undefined) r.timeoutMs = body.timeoutMs;
        if (body.retries) r.retries = body.retries;
        if (body.requestHeaders) r.requestHeaders = body.requestHeaders;
        if (body.responseHeaders) r.responseHeaders = body.responseHeaders;
        if (body.mirrors) r.mirrors = body.mirrors;
        const key = this.kind === 'GRPCRoute' ? grpcPrecedence(m as GrpcRouteMatch | undefined) : httpPrecedence(m as HttpRouteMatch | undefined);
        out.push({ rule: r, key });
      }
    });
    // Array.prototype.sort is stable: ties keep rule, then match, order.
    return out.sort((a, b) => compareDesc(a.key, b.key));
  }

  /** ReplacePrefixMatch replaces the matched prefix; "/" as the replacement must not leave "//". */
  private withPrefixRewrite(body: RuleBody, m: HttpMatch, path: string): RouteAction {
    if (body.replacePrefix === undefined || body.action.kind !== 'forward') return body.action;
    const prefix = m.path?.kind === 'prefix' ? m.path.value : m.path === undefined ? '/' : undefined;
    if (prefix === undefined) {
      this.warn('WEFT_INVALID_FIELD', `${path}.filters`, 'URLRewrite ReplacePrefixMatch needs a PathPrefix match; the path is kept for this match');
      return body.action;
    }
    const to = body.replacePrefix;
    const rewrite = { ...body.action.rewrite };
    if (prefix !== '/' && to !== '/') rewrite.uriPrefix = to;
    else rewrite.uriRegex = { match: `^${escapeRegex(prefix === '/' ? '' : prefix)}/*`, rewrite: to.endsWith('/') ? to : `${to}/` };
    return { ...body.action, rewrite };
  }

  /**
   * Whether the parent Gateway takes the route, and on which listener ports: `ports` is set
   * when sectionName or port narrows the route to some listeners (then it serves only
   * traffic arriving on those ports, e.g. a redirect on the http listener and the backend
   * on the https one), absent when it attaches to every listener.
   */
  private gatewayAllows(ref: string, p: ParentReference, path: string): { ok: boolean; ports?: number[] } {
    const gw = this.ctx.gateways.get(ref);
    if (!gw) {
      if (!this.ctx.istioGateways.has(ref)) this.warn('WEFT_UNKNOWN_GATEWAY', `${path}.name`, `gateway "${ref}" matches no Gateway; the routes for it apply once it exists`);
      return { ok: true };
    }
    const listeners = gw.spec.listeners.filter((l) => (p.sectionName === undefined || l.name === p.sectionName) && (p.port === undefined || l.port === p.port));
    if (listeners.length === 0) {
      this.warn('WEFT_UNKNOWN_GATEWAY', path, `gateway "${ref}" has no listener${p.sectionName ? ` named "${p.sectionName}"` : ''}${p.port ? ` on port ${p.port}` : ''}; not attached`);
      return { ok: false };
    }
    const accepting = listeners.filter((l) => {
      if (!['HTTP', 'HTTPS'].includes(l.protocol) && !(l.protocol === 'TLS' && l.tls?.mode !== 'Passthrough')) return false;
      const kinds = l.allowedRoutes?.kinds;
      if (kinds && !kinds.some((k) => k.kind === this.kind && (k.group ?? GATEWAY_GROUP) === GATEWAY_GROUP)) return false;
      const from = l.allowedRoutes?.namespaces?.from ?? 'Same';
      // Namespace selectors need Namespace labels the model does not keep: accepted, like All.
      return from === 'All' || from === 'Selector' || gw.metadata.namespace === this.ns;
    });
    if (!accepting.length) {
      this.warn('WEFT_ROUTE_NOT_ALLOWED', path, `no listener of gateway "${ref}" allows a ${this.kind} from namespace ${this.ns}; not attached`);
      return { ok: false };
    }
    // Listeners share route tables by port: a route narrowed to some listeners serves their ports only.
    const ports = [...new Set(accepting.map((l) => l.port))].sort((a, b) => a - b);
    const allPorts = new Set(gw.spec.listeners.map((l) => l.port));
    if (listeners.length < gw.spec.listeners.length && ports.length < allPorts.size) return { ok: true, ports };
    if (listeners.length < gw.spec.listeners.length) {
      this.unsupported(p.sectionName !== undefined ? `${path}.sectionName` : `${path}.port`, `the route attaches to every listener on port${ports.length > 1 ? 's' : ''} ${ports.join(', ')} of gateway "${ref}", narrowed by hostname only`);
    }
    return { ok: true };
  }

  translate(): HttpRouteSet[] {
    const parents = this.r.spec.parentRefs ?? [];
    if (parents.length === 0) this.warn('WEFT_NOT_ATTACHED', 'spec.parentRefs', 'the route names no parent (Gateway or Service); it routes nothing');
    const gateways: string[] = [];
    /** Gateways the route is narrowed to some listener ports of (sectionName, port). */
    const narrowed: { ref: string; ports: number[] }[] = [];
    const services: { host: string; port?: number }[] = [];
    parents.forEach((p, i) => {
      const path = `spec.parentRefs[${i}]`;
      const kind = p.kind ?? 'Gateway';
      const group = p.group ?? (kind === 'Gateway' ? GATEWAY_GROUP : '');
      const ns = p.namespace ?? this.ns;
      if (kind === 'Gateway' && group === GATEWAY_GROUP) {
        const ref = `${ns}/${p.name}`;
        const allows = this.gatewayAllows(ref, p, path);
        const same = narrowed.find((n) => n.ref === ref);
        if (allows.ok && allows.ports && same) same.ports = [...new Set([...same.ports, ...allows.ports])].sort((a, b) => a - b);
        else if (allows.ok && allows.ports) narrowed.push({ ref, ports: allows.ports });
        else if (allows.ok && !gateways.includes(ref)) gateways.push(ref);
      } else if (kind === 'Service' && (group === '' || group === 'core')) {
        const host = serviceFqdn(p.name, ns, this.ctx.hosts.clusterDomain);
        if (!this.ctx.serviceHosts.has(host)) this.warn('WEFT_UNKNOWN_HOST', `${path}.name`, `parent Service ${ns}/${p.name} does not exist; the routes apply once it does`);
        services.push(p.port !== undefined ? { host, port: p.port } : { host });
      } else {
        this.unsupported(`${path}.kind`, `parent kind ${group ? `${group}/` : ''}${kind} is not supported; only Gateway and Service`);
      }
    });
    if (services.length && this.r.spec.hostnames?.length) {
      this.unsupported('spec.hostnames', 'hostnames do not narrow routes attached to a Service (mesh routing)');
    }
    const rules = this.rules().map((x) => x.rule);
    const sets: HttpRouteSet[] = [];
    const hosts = () => [...(this.r.spec.hostnames ?? ['*'])];
    // A gateway attached whole also takes the narrowed parents' ports: the route serves them all there.
    const whole = new Set(gateways);
    if (gateways.length) sets.push({ source: sourceOf(this.r), hosts: hosts(), attachTo: gateways, rules });
    for (const n of narrowed) {
      if (whole.has(n.ref)) continue;
      sets.push({ source: sourceOf(this.r), hosts: hosts(), attachTo: [n.ref], rules: onPorts(rules, n.ports) });
    }
    for (const s of services) {
      // A Service parent's port narrows the routes to traffic for that port.
      const portRules = s.port === undefined ? rules : onPorts(rules, [s.port]);
      const same = sets.find((x) => x.attachTo[0] === 'mesh' && x.rules === portRules);
      if (same) same.hosts.push(s.host);
      else sets.push({ source: sourceOf(this.r), hosts: [s.host], attachTo: ['mesh'], rules: portRules });
    }
    return sets;
  }
}

/** Rules that match only traffic for `ports`: each match once per port (no match: one per port). */
function onPorts(rules: HttpRule[], ports: readonly number[]): HttpRule[] {
  return rules.map((r) => ({ ...r, matches: (r.matches.length ? r.matches : [{}]).flatMap((m) => ports.map((port) => ({ ...m, port }))) }));
}

export function routesFromHttpRoute(r: Resource<HttpRouteSpec>, ctx: GatewayApiContext): HttpRouteSet[] {
  return new RouteTranslator(r, 'HTTPRoute', ctx).translate();
}

export function routesFromGrpcRoute(r: Resource<GrpcRouteSpec>, ctx: GatewayApiContext): HttpRouteSet[] {
  return new RouteTranslator(r, 'GRPCRoute', ctx).translate();
}
