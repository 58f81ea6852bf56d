// Linkerd ServiceProfile -> one HttpRouteSet for the profiled service (attached to "mesh")
// and its per-service policy (retry budget).

import type { Finding, Resource } from '../resources/types.js';
import type { ProfileRoute, RequestMatch, ResponseMatch, ServiceProfileSpec } from '../resources/linkerd.js';
import { parseDuration } from '../resources/duration.js';
import { integerWeights } from '../resources/quantity.js';
import { expandHost, type HostContext } from './hosts.js';
import { findingFor, sourceOf } from './source.js';
import type { HttpMatch, HttpRouteSet, HttpRule, RetryPolicy, ServiceHttpPolicy, WeightedDestination } from './types.js';

export interface LinkerdContext {
  hosts: HostContext;
  serviceHosts: ReadonlySet<string>;
  findings: Finding[];
}

/** Linkerd's defaults: a route without `timeout` times out after 10 s; retries draw from this budget. */
export const LINKERD_DEFAULT_TIMEOUT_MS = 10_000;
export const LINKERD_DEFAULT_BUDGET = { retryRatio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 } as const;
/**
 * Linkerd bounds retries by the budget alone; Envoy-style policies need a count. Three
 * retries per request leaves the budget as the real limit for any sane ratio.
 */
export const LINKERD_RETRY_ATTEMPTS = 3;
/** Bound on the OR-of-ANDs a condition expands to, so a pathological condition cannot blow up. */
const MAX_MATCHES = 16;

// ---- conditions -> disjunctive normal form -> HttpMatch[]

interface Literal {
  field: 'method' | 'path';
  value: string;
  negated: boolean;
}
/** OR of ANDs of literals: [] is false, [[]] is true. */
type Dnf = Literal[][];

function and(a: Dnf, b: Dnf): Dnf {
  return a.flatMap((x) => b.map((y) => [...x, ...y]));
}

function not(d: Dnf): Dnf {
  // not (A1 or A2 ...) = (not A1) and (not A2) ...; not (l1 and l2) = (not l1) or (not l2).
  return d.reduce<Dnf>((acc, conj) => and(acc, conj.map((l) => [{ ...l, negated: !l.negated }])), [[]]);
}

class TooComplex extends Error {}

function dnf(c: RequestMatch): Dnf {
  // The fields set in one condition must all hold.
  let out: Dnf = [[]];
  const add = (d: Dnf): void => {
    out = and(out, d);
    if (out.length > MAX_MATCHES) throw new TooComplex();
  };
  if (c.method !== undefined) add([[{ field: 'method', value: c.method.toUpperCase(), negated: false }]]);
  if (c.pathRegex !== undefined) add([[{ field: 'path', value: c.pathRegex, negated: false }]]);
  for (const sub of c.all ?? []) add(dnf(sub));
  if (c.any) add(c.any.flatMap(dnf));
  if (c.not) add(not(dnf(c.not)));
  return out;
}

/** A path regex as a `:path` header matcher, which also sees the query string. */
const pathHeader = (re: string): string => `(?:${re})(?:\\?.*)?`;

/** One AND of literals -> one HttpMatch; undefined when it can never hold (two different methods). */
function conjunctionMatch(conj: Literal[]): HttpMatch | undefined {
  const m: HttpMatch = {};
  const headers: NonNullable<HttpMatch['headers']> = [];
  const methods = new Set(conj.filter((l) => l.field === 'method' && !l.negated).map((l) => l.value));
  if (methods.size > 1) return undefined;
  const [method] = methods;
  if (method !== undefined) m.method = { kind: 'exact', value: method };
  for (const l of conj) {
    if (l.field === 'method' && l.negated) {
      if (l.value === method) return undefined;
      headers.push({ name: ':method', match: { kind: 'exact', value: l.value }, invert: true });
    } else if (l.field === 'path' && !l.negated && m.path === undefined) {
      m.path = { kind: 'regex', value: l.value };
    } else if (l.field === 'path') {
      // A second path condition, or a negated one: the :path pseudo-header carries it.
      headers.push({ name: ':path', match: { kind: 'regex', value: pathHeader(l.value) }, ...(l.negated ? { invert: true } : {}) });
    }
  }
  if (headers.length) m.headers = headers;
  return m;
}

// ---- retries

/** Status codes a response class marks as failures: 5xx are always failures in Linkerd; others are listed. */
function failureCodes(m: ResponseMatch): number[] | undefined {
  if (m.all || m.any || m.not) return undefined;
  const min = m.status?.min ?? 100;
  const max = m.status?.max ?? 599;
  const codes: number[] = [];
  for (let c = Math.max(min, 100); c <= Math.min(max, 599); c++) if (c < 500) codes.push(c);
  return codes;
}

class ProfileTranslator {
  constructor(
    private readonly r: Resource<ServiceProfileSpec>,
    private readonly ctx: LinkerdContext,
  ) {}

  private warn(code: string, path: string, message: string): void {
    this.ctx.findings.push(findingFor(this.r, 'warning', code, path, message));
  }

  private destinations(host: string): WeightedDestination[] {
    const overrides = this.r.spec.dstOverrides ?? [];
    if (overrides.length === 0) return [{ host, weight: 100 }];
    const weights = integerWeights(overrides.map((o) => o.weight));
    const out = overrides.map((o, i): WeightedDestination => {
      // Authorities are "host[:port]".
      const m = /^(.*?)(?::(\d+))?$/.exec(o.authority)!;
      const fqdn = expandHost(m[1]!, this.r.metadata.namespace, this.ctx.hosts);
      if (!this.ctx.serviceHosts.has(fqdn)) this.warn('WEFT_UNKNOWN_HOST', `spec.dstOverrides[${i}].authority`, `"${o.authority}" matches no Service; its share answers 503`);
      const d: WeightedDestination = { host: fqdn, weight: weights[i]! };
      if (m[2] !== undefined) d.port = Number(m[2]);
      return d;
    });
    if (out.every((d) => d.weight === 0)) {
      this.warn('WEFT_INVALID_FIELD', 'spec.dstOverrides', 'every weight is 0; traffic goes to the service itself');
      return [{ host, weight: 100 }];
    }
    return out;
  }

  private retries(route: ProfileRoute, path: string): RetryPolicy {
    const retryOn = new Set<string>(['5xx']);
    route.responseClasses?.forEach((rc, k) => {
      if (!rc.isFailure) return;
      const codes = failureCodes(rc.condition);
      if (codes === undefined) {
        this.warn('WEFT_UNSUPPORTED_FIELD', `${path}.responseClasses[${k}].condition`, `accepted, not acted on: route "${route.name}": only status ranges decide retries; all/any/not response conditions are not`);
        return;
      }
      for (const c of codes) retryOn.add(String(c));
    });
    const b = this.r.spec.retryBudget;
    const attempts = b && b.retryRatio === 0 && b.minRetriesPerSecond === 0 ? 0 : LINKERD_RETRY_ATTEMPTS;
    return { attempts, retryOn: attempts === 0 ? [] : [...retryOn] };
  }

  private rule(route: ProfileRoute, i: number, destinations: WeightedDestination[]): HttpRule | undefined {
    const path = `spec.routes[${i}]`;
    let conj: Dnf;
    try {
      conj = dnf(route.condition);
    } catch (e) {
      if (!(e instanceof TooComplex)) throw e;
      this.warn('WEFT_UNSUPPORTED_FIELD', `${path}.condition`, `accepted, not acted on: route "${route.name}": the condition expands to more than ${MAX_MATCHES} alternatives; the route is skipped`);
      return undefined;
    }
    const matches = conj.flatMap((c) => conjunctionMatch(c) ?? []);
    if (matches.length === 0) {
      this.warn('WEFT_INVALID_FIELD', `${path}.condition`, `route "${route.name}": the condition can never match; the route is skipped`);
      return undefined;
    }
    const rule: HttpRule = {
      name: route.name,
      // [[]] (no condition fields) matches everything.
      matches: matches.some((m) => Object.keys(m).length === 0) ? [] : matches,
      action: { kind: 'forward', destinations: destinations.map((d) => ({ ...d })) },
      timeoutMs: route.timeout !== undefined ? parseDuration(route.timeout, `${path}.timeout`) : LINKERD_DEFAULT_TIMEOUT_MS,
    };
    if (route.isRetryable) rule.retries = this.retries(route, path);
    return rule;
  }

  translate(): { routes: HttpRouteSet; policy?: ServiceHttpPolicy } {
    const host = expandHost(this.r.metadata.name, this.r.metadata.namespace, this.ctx.hosts);
    if (!this.ctx.serviceHosts.has(host)) {
      this.warn('WEFT_UNKNOWN_HOST', 'metadata.name', `a ServiceProfile is named after the FQDN of its service; "${this.r.metadata.name}" (${host}) matches no Service`);
    }
    const destinations = this.destinations(host);
    const rules = (this.r.spec.routes ?? []).flatMap((route, i) => this.rule(route, i, destinations) ?? []);
    // Requests no route matches still reach the service (through dstOverrides).
    rules.push({ matches: [], action: { kind: 'forward', destinations } });
    const routes: HttpRouteSet = { source: sourceOf(this.r), hosts: [host], attachTo: ['mesh'], rules };
    const b = this.r.spec.retryBudget;
    const retryable = this.r.spec.routes?.some((r) => r.isRetryable) ?? false;
    if (!b && !retryable) return { routes };
    // Linkerd applies its default budget whenever a route is retryable.
    const retryBudget = b ? { retryRatio: b.retryRatio, minRetriesPerSecond: b.minRetriesPerSecond, ttlMs: parseDuration(b.ttl, 'spec.retryBudget.ttl') } : { ...LINKERD_DEFAULT_BUDGET };
    return { routes, policy: { source: sourceOf(this.r), host, retryBudget } };
  }
}

export function fromServiceProfile(r: Resource<ServiceProfileSpec>, ctx: LinkerdContext): { routes: HttpRouteSet; policy?: ServiceHttpPolicy } {
  return new ProfileTranslator(r, ctx).translate();
}
