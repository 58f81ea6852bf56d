// The one precedence rule between route sets, applied after every dialect translated.
//
// When route sets target the same host on the same attachment ("mesh" or a gateway):
//   1. Different dialects: a fixed order decides, most specific and explicit API first:
//        Istio VirtualService > Gateway API HTTPRoute/GRPCRoute > SMI TrafficSplit > Linkerd ServiceProfile.
//      A VirtualService is a full routing table written for this mesh model; an HTTPRoute
//      is one too, but the portable one; a TrafficSplit only weights backends; a
//      ServiceProfile mostly describes routes for metrics, retries and timeouts. A user
//      migrating from Istio keeps their VirtualServices in force while adding the rest.
//      The loser loses that host on that attachment (WEFT_ROUTE_SHADOWED names winner,
//      loser and host); a ServiceProfile's retry budget and route timeouts still apply as
//      per-service policy.
//   2. Same dialect: the first by namespace/name (the order the xDS generator uses) wins;
//      later ones are reported (WEFT_ROUTE_CONFLICT) and kept: their rules follow the
//      winner's, as Istio merges them.

import type { Finding } from '../resources/types.js';
import type { HttpRouteSet, L4RouteSet, ServiceHttpPolicy, SourceRef } from './types.js';

/** Dialect rank by source kind; lower wins. Unknown kinds rank last. */
const DIALECT_RANK: Record<string, number> = { VirtualService: 0, HTTPRoute: 1, GRPCRoute: 1, TrafficSplit: 2, ServiceProfile: 3 };
const rank = (s: SourceRef): number => DIALECT_RANK[s.kind] ?? 4;
const ref = (s: SourceRef): string => `${s.kind} ${s.namespace}/${s.name}`;
const byName = (a: SourceRef, b: SourceRef): number => {
  const x = `${a.namespace}/${a.name}`;
  const y = `${b.namespace}/${b.name}`;
  return x < y ? -1 : x > y ? 1 : 0;
};

/** A finding on the resource a SourceRef names (origin is "file:line"). */
export function findingForSource(s: SourceRef, code: string, path: string, message: string): Finding {
  const f: Finding = { code, severity: 'warning', message, path, resource: { kind: s.kind, namespace: s.namespace, name: s.name } };
  const m = s.origin ? /^(.*):(\d+)$/.exec(s.origin) : null;
  if (m) {
    f.file = m[1]!;
    f.line = Number(m[2]);
  }
  return f;
}

/** Where a route set declares its hosts, for findings. */
function hostsPath(s: SourceRef): string {
  switch (s.kind) {
    case 'ServiceProfile':
      return 'metadata.name';
    case 'TrafficSplit':
      return 'spec.service';
    case 'HTTPRoute':
    case 'GRPCRoute':
      return 'spec.parentRefs';
    default:
      return 'spec.hosts';
  }
}

export interface PrecedenceResult {
  routes: HttpRouteSet[];
  policies: ServiceHttpPolicy[];
}

/** What precedence needs of a route set: who wrote it, which hosts it claims, where. */
interface ClaimingSet {
  source: SourceRef;
  hosts: string[];
  attachTo: string[];
  rules: ReadonlyArray<{ matches: ReadonlyArray<{ port?: number }> }>;
}

/**
 * The rule above over one kind of route sets: per set, the (attachment, host) keys it
 * lost. `onShadowed` may add a clause to the finding (what of the loser still applies).
 */
function decideClaims<T extends ClaimingSet>(sets: readonly T[], findings: Finding[], onShadowed?: (loser: T, host: string) => string): Set<string>[] {
  // (attachment, host) -> indexes of the sets claiming it.
  const claims = new Map<string, number[]>();
  sets.forEach((set, i) => {
    for (const a of set.attachTo) for (const h of set.hosts) claims.set(`${a}\u0000${h}`, [...(claims.get(`${a}\u0000${h}`) ?? []), i]);
  });
  const lost = sets.map(() => new Set<string>());
  for (const [key, idx] of claims) {
    if (idx.length < 2) continue;
    const [target, host] = key.split('\u0000') as [string, string];
    const order = [...idx].sort((a, b) => rank(sets[a]!.source) - rank(sets[b]!.source) || byName(sets[a]!.source, sets[b]!.source) || a - b);
    const winner = sets[order[0]!]!;
    for (const i of order.slice(1)) {
      const loser = sets[i]!;
      if (`${loser.source.namespace}/${loser.source.name}` === `${winner.source.namespace}/${winner.source.name}` && loser.source.kind === winner.source.kind) continue;
      if (portsDisjoint(winner, loser)) continue;
      if (rank(loser.source) === rank(winner.source)) {
        findings.push(findingForSource(loser.source, 'WEFT_ROUTE_CONFLICT', hostsPath(loser.source), `host "${host}" on ${target} is already routed by ${ref(winner.source)}, which takes precedence`));
        continue;
      }
      lost[i]!.add(key);
      const kept = onShadowed ? onShadowed(loser, host) : '';
      findings.push(
        findingForSource(
          loser.source,
          'WEFT_ROUTE_SHADOWED',
          hostsPath(loser.source),
          `routes for host "${host}" on ${target} are shadowed by ${ref(winner.source)} (precedence: VirtualService > HTTPRoute/GRPCRoute > TrafficSplit > ServiceProfile); ${ref(loser.source)} does not route it${kept}`,
        ),
      );
    }
  }
  return lost;
}

/** Applies the rule above; `policies` are the per-service policies translators produced (extended for shadowed profiles). */
export function applyPrecedence(routes: readonly HttpRouteSet[], policies: readonly ServiceHttpPolicy[], findings: Finding[]): PrecedenceResult {
  const outPolicies = policies.map((p) => ({ ...p }));
  const lost = decideClaims(routes, findings, (loser, host) => (loser.source.kind === 'ServiceProfile' ? keepProfilePolicy(loser, host, outPolicies) : ''));
  return { routes: routes.flatMap((set, i) => without(set, lost[i]!)), policies: outPolicies };
}

/**
 * The same rule for tcp[] and tls[] route sets, each protocol on its own (a host's TCP
 * and TLS routing never collide: they serve different ports).
 */
export function applyL4Precedence(sets: readonly L4RouteSet[], findings: Finding[]): L4RouteSet[] {
  const out: L4RouteSet[] = [];
  for (const protocol of ['tcp', 'tls'] as const) {
    const of = sets.filter((s) => s.protocol === protocol);
    const lost = decideClaims(of, findings);
    out.push(...of.flatMap((set, i) => without(set, lost[i]!)));
  }
  return out;
}

/** The ports a set's rules are limited to (every match names one: HTTPRoute sectionName, Service parent port), else undefined: any port. */
function portsOf(set: ClaimingSet): Set<number> | undefined {
  if (set.rules.length === 0) return undefined;
  const out = new Set<number>();
  for (const r of set.rules) {
    if (r.matches.length === 0) return undefined;
    for (const m of r.matches) {
      if (m.port === undefined) return undefined;
      out.add(m.port);
    }
  }
  return out;
}

/** Sets for different ports of the same host (a redirect on the http listener, the backend on https) do not compete. */
function portsDisjoint(a: ClaimingSet, b: ClaimingSet): boolean {
  const pa = portsOf(a);
  const pb = portsOf(b);
  return pa !== undefined && pb !== undefined && ![...pa].some((p) => pb.has(p));
}

/** Records a shadowed profile's route timeouts on its service policy; returns the clause for the finding. */
function keepProfilePolicy(profile: HttpRouteSet, host: string, policies: ServiceHttpPolicy[]): string {
  const timeouts = profile.rules.filter((r) => r.timeoutMs !== undefined && r.name !== undefined).map((r) => ({ route: r.name!, matches: r.matches, timeoutMs: r.timeoutMs! }));
  let policy = policies.find((p) => p.host === host && p.source.kind === profile.source.kind && p.source.namespace === profile.source.namespace && p.source.name === profile.source.name);
  if (!policy && timeouts.length === 0) return '';
  if (!policy) {
    policy = { source: profile.source, host };
    policies.push(policy);
  }
  if (timeouts.length) policy.routeTimeouts = timeouts;
  const parts = [policy.retryBudget ? 'its retry budget' : '', timeouts.length ? 'its route timeouts' : ''].filter(Boolean).join(' and ');
  return `; ${parts} still apply as per-service policy`;
}

/** A route set minus the (attachment, host) pairs it lost; split per attachment when they differ. */
function without<T extends ClaimingSet>(set: T, lost: ReadonlySet<string>): T[] {
  if (lost.size === 0) return [set];
  const out: T[] = [];
  for (const a of set.attachTo) {
    const hosts = set.hosts.filter((h) => !lost.has(`${a}\u0000${h}`));
    if (hosts.length === 0) continue;
    const same = out.find((s) => s.hosts.join('\u0000') === hosts.join('\u0000'));
    if (same) same.attachTo.push(a);
    else out.push({ ...set, hosts, attachTo: [a] });
  }
  return out;
}
