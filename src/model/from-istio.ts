// Istio networking (Gateway, VirtualService) -> model GatewayServers, HttpRouteSets and L4RouteSets (tcp[], tls[]).

import { Buffer } from 'node:buffer';
import type { Finding, Resource } from '../resources/types.js';
import type {
  CorsPolicy as IstioCorsPolicy,
  Destination,
  GatewaySpec,
  HttpFaultInjection,
  HttpMatchRequest,
  HttpRoute,
  Headers,
  IstioStringMatch,
  L4MatchAttributes,
  TcpRoute,
  TlsRoute,
  VirtualServiceSpec,
} from '../resources/istio-networking.js';
import { parseDuration } from '../resources/duration.js';
import { expandHost, gatewayRef, type HostContext } from './hosts.js';
import { findingFor, ResourceTranslator, sourceOf } from './source.js';
import type {
  CorsPolicy,
  FaultPolicy,
  GatewayServer,
  HeaderOps,
  HttpMatch,
  HttpRouteSet,
  HttpRule,
  L4Match,
  L4Rule,
  L4RouteSet,
  MirrorPolicy,
  PortProtocol,
  RetryPolicy,
  RouteAction,
  StringMatch,
  WeightedDestination,
} from './types.js';

/** What the Istio translator needs to know about the rest of the mesh. */
export interface IstioContext {
  hosts: HostContext;
  /** FQDNs of known Services (destinations elsewhere get WEFT_UNKNOWN_HOST). */
  serviceHosts: ReadonlySet<string>;
  /** "<ns>/<name>" of known Gateways. */
  gateways: ReadonlySet<string>;
  findings: Finding[];
  /** Protocols of each known host's ports, to say when tcp/tls routes have no port to apply to. */
  serviceProtocols?: ReadonlyMap<string, readonly PortProtocol[]>;
}

// Istio's default when `retries` gives no retryOn.
// Istio keeps its default retriable status code (503) only when retryOn is not given.
const DEFAULT_RETRY_ON = ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes', '503'];
const DEFAULT_RETRY_ATTEMPTS = 2;

// ---- Gateway

const PROTOCOLS: Record<string, GatewayServer['port']['protocol']> = {
  HTTP: 'HTTP',
  HTTPS: 'HTTPS',
  HTTP2: 'HTTP2',
  GRPC: 'GRPC',
  TCP: 'TCP',
  TLS: 'TLS',
  // Istio has no Mongo filter in weft; it is opaque TCP.
  MONGO: 'TCP',
  'GRPC-WEB': 'HTTP',
};

const TLS_MODES: Record<string, NonNullable<GatewayServer['tls']>['mode'] | undefined> = {
  SIMPLE: 'SIMPLE',
  MUTUAL: 'MUTUAL',
  PASSTHROUGH: 'PASSTHROUGH',
  ISTIO_MUTUAL: 'ISTIO_MUTUAL',
};

export function gatewayServersFromIstio(r: Resource<GatewaySpec>, findings: Finding[]): GatewayServer[] {
  const gateway = `${r.metadata.namespace}/${r.metadata.name}`;
  const out: GatewayServer[] = [];
  r.spec.servers.forEach((s, i) => {
    const path = `spec.servers[${i}]`;
    if (s.port.protocol === 'GRPC-WEB') {
      findings.push(findingFor(r, 'warning', 'WEFT_UNSUPPORTED_FIELD', `${path}.port.protocol`, 'accepted, not acted on: gRPC-Web is not translated; the port is served as HTTP'));
    }
    const server: GatewayServer = {
      source: sourceOf(r),
      gateway,
      selector: { ...r.spec.selector },
      port: { number: s.port.number, protocol: PROTOCOLS[s.port.protocol]! },
      hosts: [...s.hosts],
      path,
    };
    if (s.port.name !== undefined) server.port.name = s.port.name;
    if (s.tls) {
      // Istio's default TLS mode is PASSTHROUGH (enum zero).
      const modeName = s.tls.mode ?? 'PASSTHROUGH';
      const mode = TLS_MODES[modeName];
      if (mode === undefined) {
        findings.push(findingFor(r, 'warning', 'WEFT_UNSUPPORTED_FIELD', `${path}.tls.mode`, `accepted, not acted on: TLS mode ${modeName} is not supported yet; this server is skipped`));
        return;
      }
      if (s.port.protocol === 'TLS' && mode !== 'PASSTHROUGH') {
        findings.push(findingFor(r, 'warning', 'WEFT_UNSUPPORTED_FIELD', `${path}.tls.mode`, `accepted, not acted on: a TLS server that terminates (mode ${modeName}) and then routes tcp[] is not supported yet; this server is skipped (PASSTHROUGH routes tls[] by SNI)`));
        return;
      }
      server.tls = { mode };
      if (s.tls.credentialName !== undefined) server.tls.credentialName = s.tls.credentialName;
      if (s.tls.httpsRedirect !== undefined) server.tls.httpsRedirect = s.tls.httpsRedirect;
    }
    out.push(server);
  });
  return out;
}

// ---- VirtualService

function stringMatch(m: IstioStringMatch | undefined, ignoreCase = false): StringMatch | undefined {
  if (!m) return undefined;
  if (m.exact !== undefined) return ignoreCase ? { kind: 'exact', value: m.exact, ignoreCase } : { kind: 'exact', value: m.exact };
  if (m.prefix !== undefined) return ignoreCase ? { kind: 'prefix', value: m.prefix, ignoreCase } : { kind: 'prefix', value: m.prefix };
  // Istio applies ignoreUriCase to exact and prefix matches only.
  if (m.regex !== undefined) return { kind: 'regex', value: m.regex };
  return undefined;
}

/** Header and query matches: an empty StringMatch means "present". */
function presenceOr(m: IstioStringMatch): StringMatch {
  return stringMatch(m) ?? { kind: 'present' };
}

function httpMatch(m: HttpMatchRequest): HttpMatch {
  const out: HttpMatch = {};
  const path = stringMatch(m.uri, m.ignoreUriCase === true);
  if (path) out.path = path;
  const method = stringMatch(m.method);
  if (method) out.method = method;
  const authority = stringMatch(m.authority);
  if (authority) out.authority = authority;
  const scheme = stringMatch(m.scheme);
  if (scheme) out.scheme = scheme;
  const headers = [
    ...Object.entries(m.headers ?? {}).map(([name, sm]) => ({ name: name.toLowerCase(), match: presenceOr(sm) })),
    ...Object.entries(m.withoutHeaders ?? {}).map(([name, sm]) => ({ name: name.toLowerCase(), match: presenceOr(sm), invert: true })),
  ];
  if (headers.length > 0) out.headers = headers;
  const query = Object.entries(m.queryParams ?? {}).map(([name, sm]) => ({ name, match: presenceOr(sm) }));
  if (query.length > 0) out.queryParams = query;
  if (m.port !== undefined) out.port = m.port;
  if (m.sourceLabels !== undefined) out.sourceLabels = { ...m.sourceLabels };
  if (m.sourceNamespace !== undefined) out.sourceNamespace = m.sourceNamespace;
  return out;
}

function headerOps(...ops: (Headers['request'] | undefined)[]): HeaderOps | undefined {
  const present = ops.filter((o): o is NonNullable<typeof o> => o !== undefined);
  if (present.length === 0) return undefined;
  const out: HeaderOps = {};
  for (const o of present) {
    if (o.set) out.set = { ...out.set, ...o.set };
    if (o.add) out.add = { ...out.add, ...o.add };
    if (o.remove) out.remove = [...(out.remove ?? []), ...o.remove];
  }
  return out;
}

function retryPolicy(r: NonNullable<HttpRoute['retries']>, path: string): RetryPolicy {
  const attempts = r.attempts ?? DEFAULT_RETRY_ATTEMPTS;
  const retryOn =
    r.retryOn === undefined
      ? [...DEFAULT_RETRY_ON]
      : r.retryOn
          .split(',')
          .map((s) => s.trim())
          .filter((s) => s !== '');
  const policy: RetryPolicy = { attempts, retryOn: attempts === 0 ? [] : retryOn };
  if (r.perTryTimeout !== undefined) policy.perTryTimeoutMs = parseDuration(r.perTryTimeout, `${path}.perTryTimeout`);
  return policy;
}

/** gRPC status names (Istio's abort.grpcStatus) -> codes. */
const GRPC_CODES: Record<string, number> = {
  OK: 0,
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  OUT_OF_RANGE: 11,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  DATA_LOSS: 15,
  UNAUTHENTICATED: 16,
};

/** A CORS origin pattern; exact "*" allows every origin. */
function originMatch(m: IstioStringMatch): StringMatch | undefined {
  if (m.exact === '*') return { kind: 'prefix', value: '' };
  return stringMatch(m);
}

class VirtualServiceTranslator extends ResourceTranslator<VirtualServiceSpec> {
  constructor(
    r: Resource<VirtualServiceSpec>,
    private readonly ctx: IstioContext,
  ) {
    super(r, ctx.findings);
  }

  private destinationHost(host: string, path: string): string {
    const fqdn = expandHost(host, this.ns, this.ctx.hosts);
    if (!this.ctx.serviceHosts.has(fqdn)) {
      this.warn('WEFT_UNKNOWN_HOST', path, `destination host "${host}" (${fqdn}) matches no Service; the route is kept and answers 503`);
    }
    return fqdn;
  }

  /** Route destinations with their weights, as Istio reads them. */
  private destinations(route: readonly { destination: Destination; weight?: number }[], path: string): WeightedDestination[] {
    const out = route.map((d, j) => {
      const dest: WeightedDestination = {
        host: this.destinationHost(d.destination.host, `${path}.route[${j}].destination.host`),
        // A single destination takes all traffic; otherwise an absent weight is 0 (Istio).
        weight: d.weight ?? (route.length === 1 ? 100 : 0),
      };
      if (d.destination.port?.number !== undefined) dest.port = d.destination.port.number;
      if (d.destination.subset !== undefined) dest.subset = d.destination.subset;
      return dest;
    });
    if (out.every((d) => d.weight === 0)) {
      // No weights given at all: split evenly rather than send nothing.
      for (const d of out) d.weight = 1;
    }
    return out;
  }

  private action(h: HttpRoute, path: string): RouteAction | undefined {
    if (h.redirect) {
      const red: RouteAction = { kind: 'redirect', responseCode: h.redirect.redirectCode ?? 301 };
      if (h.redirect.uri !== undefined) red.uri = h.redirect.uri;
      if (h.redirect.authority !== undefined) red.authority = h.redirect.authority;
      if (h.redirect.scheme !== undefined) red.scheme = h.redirect.scheme;
      if (h.redirect.port !== undefined) red.port = h.redirect.port;
      return red;
    }
    if (h.directResponse) {
      const d: RouteAction = { kind: 'direct', status: h.directResponse.status };
      const body = h.directResponse.body;
      if (body?.string !== undefined) d.body = body.string;
      else if (body?.bytes !== undefined) d.body = Buffer.from(body.bytes, 'base64').toString('utf8');
      return d;
    }
    if (!h.route) {
      this.warn('WEFT_UNSUPPORTED_FIELD', path, 'accepted, not acted on: a delegating rule is not supported yet; the rule is skipped');
      return undefined;
    }
    const fwd: RouteAction = { kind: 'forward', destinations: this.destinations(h.route, path) };
    if (h.rewrite) {
      const rw: NonNullable<typeof fwd.rewrite> = {};
      if (h.rewrite.uri !== undefined) rw.uriPrefix = h.rewrite.uri;
      if (h.rewrite.uriRegexRewrite) rw.uriRegex = { ...h.rewrite.uriRegexRewrite };
      if (h.rewrite.authority !== undefined) rw.authority = h.rewrite.authority;
      fwd.rewrite = rw;
    }
    return fwd;
  }

  private fault(f: HttpFaultInjection, path: string): FaultPolicy | undefined {
    const out: FaultPolicy = {};
    if (f.delay) {
      const percent = f.delay.percentage?.value ?? f.delay.percent;
      if (f.delay.fixedDelay === undefined) {
        this.warn('WEFT_UNSUPPORTED_FIELD', `${path}.delay`, 'accepted, not acted on: only fixedDelay delays are implemented');
      } else {
        if (percent === undefined) this.warn('WEFT_NO_PERCENTAGE', `${path}.delay.percentage`, 'no percentage given: no request is delayed (Istio)');
        out.delay = { percent: percent ?? 0, fixedDelayMs: parseDuration(f.delay.fixedDelay, `${path}.delay.fixedDelay`) };
      }
    }
    if (f.abort) {
      const percent = f.abort.percentage?.value;
      if (percent === undefined) this.warn('WEFT_NO_PERCENTAGE', `${path}.abort.percentage`, 'no percentage given: no request is aborted (Istio)');
      if (f.abort.httpStatus !== undefined) {
        out.abort = { percent: percent ?? 0, httpStatus: f.abort.httpStatus };
      } else if (f.abort.grpcStatus !== undefined) {
        const code = GRPC_CODES[f.abort.grpcStatus.toUpperCase()] ?? (/^\d+$/.test(f.abort.grpcStatus) ? Number(f.abort.grpcStatus) : undefined);
        if (code === undefined) this.warn('WEFT_INVALID_FIELD', `${path}.abort.grpcStatus`, `unknown gRPC status "${f.abort.grpcStatus}"; the abort is skipped`);
        else out.abort = { percent: percent ?? 0, grpcStatus: code };
      } else if (f.abort.http2Error !== undefined) {
        this.warn('WEFT_UNSUPPORTED_FIELD', `${path}.abort.http2Error`, 'accepted, not acted on: HTTP/2 error aborts are not supported yet');
      }
    }
    return out.delay || out.abort ? out : undefined;
  }

  private mirror(d: Destination, percent: number, path: string): MirrorPolicy {
    const m: MirrorPolicy = { host: this.destinationHost(d.host, `${path}.host`), percent };
    if (d.port?.number !== undefined) m.port = d.port.number;
    if (d.subset !== undefined) m.subset = d.subset;
    return m;
  }

  private mirrors(h: HttpRoute, path: string): MirrorPolicy[] {
    const out: MirrorPolicy[] = [];
    if (h.mirror) out.push(this.mirror(h.mirror, h.mirrorPercentage?.value ?? h.mirrorPercent ?? 100, `${path}.mirror`));
    (h.mirrors ?? []).forEach((m, j) => out.push(this.mirror(m.destination, m.percentage?.value ?? 100, `${path}.mirrors[${j}].destination`)));
    return out;
  }

  private cors(c: IstioCorsPolicy, path: string): CorsPolicy {
    const origins: StringMatch[] = [];
    (c.allowOrigins ?? []).forEach((m, j) => {
      const sm = originMatch(m);
      if (sm) origins.push(sm);
      else this.warn('WEFT_INVALID_FIELD', `${path}.allowOrigins[${j}]`, 'an empty origin match allows nothing; skipped');
    });
    for (const o of c.allowOrigin ?? []) origins.push(o === '*' ? { kind: 'prefix', value: '' } : { kind: 'exact', value: o });
    const out: CorsPolicy = {
      allowOrigins: origins,
      allowMethods: [...(c.allowMethods ?? [])],
      allowHeaders: [...(c.allowHeaders ?? [])],
      exposeHeaders: [...(c.exposeHeaders ?? [])],
    };
    if (c.maxAge !== undefined) out.maxAgeMs = parseDuration(c.maxAge, `${path}.maxAge`);
    if (c.allowCredentials !== undefined) out.allowCredentials = c.allowCredentials;
    if (c.unmatchedPreflights === 'IGNORE') out.forwardNotMatchingPreflights = false;
    return out;
  }

  private rule(h: HttpRoute, i: number): HttpRule | undefined {
    const path = `spec.http[${i}]`;
    const action = this.action(h, path);
    if (!action) return undefined;
    const rule: HttpRule = { matches: (h.match ?? []).map(httpMatch), action };
    if (h.name !== undefined) rule.name = h.name;
    if (h.timeout !== undefined) rule.timeoutMs = parseDuration(h.timeout, `${path}.timeout`);
    if (h.retries) rule.retries = retryPolicy(h.retries, `${path}.retries`);
    const fault = h.fault ? this.fault(h.fault, `${path}.fault`) : undefined;
    if (fault) rule.fault = fault;
    const mirrors = this.mirrors(h, path);
    if (mirrors.length > 0) rule.mirrors = mirrors;
    if (h.corsPolicy) rule.cors = this.cors(h.corsPolicy, `${path}.corsPolicy`);
    // Per-destination header operations fold into the rule when there is one destination.
    const single = h.route?.length === 1 ? h.route[0]!.headers : undefined;
    const many = (h.route?.length ?? 0) > 1 ? h.route!.findIndex((d) => d.headers !== undefined) : -1;
    if (many >= 0) {
      this.warn('WEFT_UNSUPPORTED_FIELD', `${path}.route[${many}].headers`, 'accepted, not acted on: per-destination headers with several destinations are not supported yet');
    }
    const req = headerOps(h.headers?.request, single?.request);
    if (req) rule.requestHeaders = req;
    const res = headerOps(h.headers?.response, single?.response);
    if (res) rule.responseHeaders = res;
    return rule;
  }

  translate(): HttpRouteSet[] {
    const spec = this.r.spec;
    const hosts = this.hosts();
    const attachTo = this.attachTo();
    attachTo.forEach((g, i) => this.checkGateway(g, `spec.gateways[${i}]`));
    const http = spec.http ?? [];
    // A VirtualService with only tcp[]/tls[] claims no HTTP routing for its hosts.
    if (http.length === 0) return [];
    const items = http.map((h, i) => ({ rule: this.rule(h, i), written: h.match }));
    return this.perAttachment('http', attachTo, items).map(({ targets, rules }) => ({ source: sourceOf(this.r), hosts: [...hosts], attachTo: targets, rules }));
  }

  /** tcp[] and tls[] -> L4 route sets (spec.gateways are checked by translate()). */
  translateL4(): L4RouteSet[] {
    const spec = this.r.spec;
    const hosts = this.hosts();
    const attachTo = this.attachTo();
    const out: L4RouteSet[] = [];
    const sections = [
      ['tcp', spec.tcp ?? []],
      ['tls', spec.tls ?? []],
    ] as const;
    for (const [protocol, written] of sections) {
      if (written.length === 0) continue;
      const items = written.map((t: TcpRoute | TlsRoute, i: number) => ({ rule: this.l4Rule(t, protocol, i, attachTo), written: t.match }));
      for (const { targets, rules } of this.perAttachment(protocol, attachTo, items)) {
        out.push({ source: sourceOf(this.r), protocol, hosts: [...hosts], attachTo: targets, rules });
      }
      if (attachTo.includes('mesh') || written.some((t) => t.match?.some((m) => m.gateways?.includes('mesh')))) this.checkPorts(protocol);
    }
    return out;
  }

  private hosts(): string[] {
    return this.r.spec.hosts.map((h) => expandHost(h, this.ns, this.ctx.hosts));
  }

  private attachTo(): string[] {
    return (this.r.spec.gateways ?? ['mesh']).map((g) => gatewayRef(g, this.ns));
  }

  private l4Rule(t: TcpRoute | TlsRoute, protocol: 'tcp' | 'tls', i: number, attachTo: readonly string[]): L4Rule {
    const path = `spec.${protocol}[${i}]`;
    const written: readonly (L4MatchAttributes & { sniHosts?: string[] })[] = t.match ?? [];
    const matches = written.map((m, j): L4Match => {
      const out: L4Match = {};
      if (m.port !== undefined) out.port = m.port;
      if (m.destinationSubnets?.length) {
        out.destinationSubnets = [...m.destinationSubnets];
        const targets = m.gateways ? m.gateways.map((g) => gatewayRef(g, this.ns)) : attachTo;
        if (targets.includes('mesh')) {
          this.warn(
            'WEFT_UNSUPPORTED_FIELD',
            `${path}.match[${j}].destinationSubnets`,
            'accepted, not acted on for sidecars: a sidecar routes CONNECT tunnels by host name and never sees a destination IP, so this match does not apply there (gateways honour it)',
          );
        }
      }
      if (m.sourceLabels !== undefined) out.sourceLabels = { ...m.sourceLabels };
      if (m.sourceNamespace !== undefined) out.sourceNamespace = m.sourceNamespace;
      if (m.sniHosts) out.sniHosts = m.sniHosts.map((h) => h.toLowerCase());
      return out;
    });
    return { matches, destinations: this.destinations(t.route, path) };
  }

  /** tcp[] applies to opaque TCP ports, tls[] to TLS and HTTPS ports (Istio): say so when a known host has none. */
  private checkPorts(protocol: 'tcp' | 'tls'): void {
    const protocols = this.ctx.serviceProtocols;
    if (!protocols) return;
    this.hosts().forEach((host, i) => {
      const ports = protocols.get(host);
      if (!ports) return;
      const fits = protocol === 'tls' ? ports.some((p) => p === 'tls' || p === 'https') : ports.some((p) => p === 'tcp' || p === 'tls' || p === 'https');
      if (fits) return;
      const wanted = protocol === 'tls' ? 'TLS or HTTPS' : 'opaque TCP (or TLS)';
      this.warn('WEFT_ROUTE_UNUSED', `spec.hosts[${i}]`, `${protocol} routes apply to ${wanted} ports; ${host} has none (ports: ${ports.join(', ')}), so sidecars do not use them`);
    });
  }

  /**
   * match[].gateways overrides the top-level gateways for that match: one route set per
   * target, each keeping the rule order and only the matches that apply there. Without
   * such overrides, one set for every target.
   */
  private perAttachment<R extends { matches: unknown[] }>(
    section: 'http' | 'tcp' | 'tls',
    attachTo: string[],
    items: { rule: R | undefined; written: readonly { gateways?: string[] }[] | undefined }[],
  ): { targets: string[]; rules: R[] }[] {
    const present = (x: (typeof items)[number]): x is { rule: R; written: (typeof items)[number]['written'] } => x.rule !== undefined;
    if (!items.some((x) => x.written?.some((m) => m.gateways !== undefined))) return [{ targets: attachTo, rules: items.filter(present).map((x) => x.rule) }];
    const targets = new Set(attachTo);
    items.forEach(({ written }, i) =>
      written?.forEach((m, j) =>
        m.gateways?.forEach((g, k) => {
          const ref = gatewayRef(g, this.ns);
          if (!targets.has(ref)) this.checkGateway(ref, `spec.${section}[${i}].match[${j}].gateways[${k}]`);
          targets.add(ref);
        }),
      ),
    );
    return [...targets].map((target) => {
      const rules: R[] = [];
      for (const { rule, written } of items.filter(present)) {
        const ms = written ?? [];
        if (ms.length === 0) {
          if (attachTo.includes(target)) rules.push(rule);
          continue;
        }
        const keep = ms.flatMap((m, j) => {
          const applies = m.gateways ? m.gateways.map((g) => gatewayRef(g, this.ns)).includes(target) : attachTo.includes(target);
          return applies ? [rule.matches[j]] : [];
        });
        if (keep.length > 0) rules.push({ ...rule, matches: keep });
      }
      return { targets: [target], rules };
    });
  }

  private checkGateway(ref: string, path: string): void {
    if (ref !== 'mesh' && !this.ctx.gateways.has(ref)) {
      this.warn('WEFT_UNKNOWN_GATEWAY', path, `gateway "${ref}" matches no Gateway; the routes for it apply once it exists`);
    }
  }
}

export function routesFromIstio(r: Resource<VirtualServiceSpec>, ctx: IstioContext): HttpRouteSet[] {
  return new VirtualServiceTranslator(r, ctx).translate();
}

/** A VirtualService's tcp[] and tls[] routes (call after routesFromIstio, which reports its gateways). */
export function l4RoutesFromIstio(r: Resource<VirtualServiceSpec>, ctx: IstioContext): L4RouteSet[] {
  return new VirtualServiceTranslator(r, ctx).translateL4();
}
