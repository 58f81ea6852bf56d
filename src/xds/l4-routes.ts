// xDS for tcp[] and tls[] routes (model L4RouteSets), shared by sidecars and gateways:
// which rules apply on a proxy and port, the tcp_proxy filter a rule becomes, and the
// filter chains of TLS passthrough routed by SNI (Envoy filterChainMatch.serverNames).
//
// Sidecars (weft's outbound is an HTTP proxy, so TCP arrives as `CONNECT host:port`):
//   - tcp[] on an opaque TCP port: the port's virtual host in `http_proxy` gets one
//     CONNECT route (`connectMatcher`) to the first applicable rule's cluster or
//     weightedClusters.
//   - tls[] on a TLS/HTTPS port: the CONNECT route goes to the STATIC cluster
//     `tls_sni|<port>|<fqdn>`, whose one endpoint is the internal listener of that name
//     (Envoy `envoyInternalAddress` / `internalListener`). Its filter chains match the SNI
//     of the ClientHello inside the tunnel and tcp_proxy the raw TLS bytes (no
//     termination) to the rule's destinations; the last chain (any TLS) goes where a tcp[]
//     rule or, without one, the service itself says.
import type { L4Match, L4RouteSet, L4Rule, MeshModel, Service, ServicePort, Workload } from '../model/types.js';
import type { EnvoyObject } from '../proxy/types.js';
import { parseSubnet } from '../resources/schema.js';
import { LISTENER, outboundClusterName } from './names.js';
import { ANY, duration, EXT, filter, nonEmpty, wrapped } from './envoy.js';
import { tcpProxyFilter, tlsInspector } from './listeners.js';
import { fqdnOf, resolveDestination, type OutboundTarget } from './mesh.js';
import { coveringRouteSets } from './routes.js';
import { CLUSTER_DEFAULTS } from './clusters.js';
import { labelsMatch } from '../model/labels.js';

/** Where L4 rules are being applied. */
export interface L4Context {
  model: MeshModel;
  /** The sidecar or gateway workload: source conditions are decided against it. */
  proxy: Workload;
  /** The service port (sidecar) or server port (gateway) connections arrive for. */
  port: number;
  /** Sidecars never see a destination IP (they route CONNECT by name): matches on it never apply there. */
  sidecar: boolean;
  clusterDomain?: string | undefined;
  /** Collects every upstream the rules point at, by cluster name. */
  targets?: Map<string, OutboundTarget>;
}

export interface WeightedCluster {
  name: string;
  weight: number;
}

/** A match that can fire on this proxy and port (conditions on the source are decided here). */
export function l4Applicable(m: L4Match, ctx: L4Context): boolean {
  if (m.port !== undefined && m.port !== ctx.port) return false;
  if (m.sourceNamespace !== undefined && m.sourceNamespace !== ctx.proxy.namespace) return false;
  if (m.sourceLabels && !labelsMatch(m.sourceLabels, ctx.proxy.labels)) return false;
  if (ctx.sidecar && m.destinationSubnets?.length) return false;
  return true;
}

/** The clusters of a rule's destinations, registered as targets. */
export function ruleClusters(rule: L4Rule, ctx: L4Context): WeightedCluster[] {
  return rule.destinations.map((d) => {
    const t = resolveDestination(ctx.model, d, ctx.port, ctx.clusterDomain);
    const name = outboundClusterName(t.port, t.fqdn, t.subset);
    ctx.targets?.set(name, t);
    return { name, weight: d.weight };
  });
}

/**
 * tcp_proxy to one cluster or to weightedClusters. TcpProxy weights are plain uint32 of
 * at least 1, so zero-weight destinations are left out; one left is a plain `cluster`.
 */
export function weightedTcpProxy(statPrefix: string, clusters: readonly WeightedCluster[]): EnvoyObject {
  const live = clusters.filter((c) => c.weight > 0);
  const use = live.length ? live : clusters.slice(0, 1);
  if (use.length === 1) return tcpProxyFilter(use[0]!.name, use[0]!.name);
  return filter(EXT.tcpProxy, ANY.tcpProxy, { statPrefix, weightedClusters: { clusters: use.map((c) => ({ name: c.name, weight: c.weight })) } });
}

/** Envoy CidrRange list for destinationSubnets (filterChainMatch.prefixRanges). */
export function prefixRanges(subnets: readonly string[]): EnvoyObject[] {
  return subnets.flatMap((s) => {
    const p = parseSubnet(s);
    return p ? [{ addressPrefix: p.address, prefixLen: wrapped(p.prefixLen) }] : [];
  });
}

/** The first rule with an applicable match (or no matches at all) and its clusters; undefined when none applies. */
export function firstTcpRule(rules: readonly L4Rule[], ctx: L4Context): WeightedCluster[] | undefined {
  const rule = rules.find((r) => r.matches.length === 0 || r.matches.some((m) => l4Applicable(m, ctx)));
  return rule ? ruleClusters(rule, ctx) : undefined;
}

/** One filter chain a set of L4 rules produces: its match and destinations. */
export interface L4Chain {
  /** Empty: any SNI (or, for TCP, no SNI condition). */
  serverNames: string[];
  /** Empty: any destination address. */
  destinationSubnets: string[];
  clusters: WeightedCluster[];
}

/**
 * tls[] rules -> SNI chains, in rule order. A (subnets, SNI) pair claimed by an earlier
 * rule stays with it (Envoy rejects two chains with one match). `narrow` maps an SNI
 * pattern to the names this listener serves (a gateway server's hosts), or undefined.
 */
export function sniChains(rules: readonly L4Rule[], ctx: L4Context, narrow: (sni: string) => string | undefined = (s) => s): L4Chain[] {
  const claimed = new Set<string>();
  const out: L4Chain[] = [];
  for (const rule of rules) {
    // Per destination-subnet set of this rule: the names it claims.
    const bySubnets = new Map<string, { subnets: string[]; names: string[]; any: boolean }>();
    for (const m of rule.matches) {
      if (!l4Applicable(m, ctx)) continue;
      const subnets = [...(m.destinationSubnets ?? [])].sort();
      const sk = subnets.join(',');
      let g = bySubnets.get(sk);
      if (!g) bySubnets.set(sk, (g = { subnets, names: [], any: false }));
      for (const sni of m.sniHosts ?? []) {
        const n = narrow(sni);
        if (n === undefined) continue;
        const name = n === '*' ? '' : n;
        const key = `${sk}|${name}`;
        if (claimed.has(key)) continue;
        claimed.add(key);
        if (name === '') g.any = true;
        else g.names.push(name);
      }
    }
    let clusters: WeightedCluster[] | undefined;
    for (const g of bySubnets.values()) {
      if (!g.names.length && !g.any) continue;
      clusters ??= ruleClusters(rule, ctx);
      if (g.names.length) out.push({ serverNames: [...g.names].sort(), destinationSubnets: g.subnets, clusters });
      if (g.any) out.push({ serverNames: [], destinationSubnets: g.subnets, clusters });
    }
  }
  return out;
}

/** tcp[] rules -> chains by destination subnets, in rule order; the first match without subnets ends the list. */
export function tcpChains(rules: readonly L4Rule[], ctx: L4Context): L4Chain[] {
  const claimed = new Set<string>();
  const out: L4Chain[] = [];
  for (const rule of rules) {
    const matches = rule.matches.length ? rule.matches.filter((m) => l4Applicable(m, ctx)) : [{}];
    for (const m of matches) {
      const subnets = [...(m.destinationSubnets ?? [])].sort();
      const key = subnets.join(',');
      if (claimed.has(key)) continue;
      claimed.add(key);
      out.push({ serverNames: [], destinationSubnets: subnets, clusters: ruleClusters(rule, ctx) });
    }
    if (claimed.has('')) break;
  }
  return out;
}

/** An L4 chain as an Envoy filter chain; `tls` adds transportProtocol: tls (the chain serves TLS bytes only). */
export function l4FilterChain(c: L4Chain, statPrefix: string, tls: boolean, name: string): EnvoyObject {
  const match = {
    ...nonEmpty('serverNames', c.serverNames),
    ...nonEmpty('prefixRanges', prefixRanges(c.destinationSubnets)),
    ...(tls ? { transportProtocol: 'tls' } : {}),
  };
  return { ...(Object.keys(match).length ? { filterChainMatch: match } : {}), filters: [weightedTcpProxy(statPrefix, c.clusters)], name };
}

// ---- sidecars

/** What the sidecar's CONNECT handling of one service port adds beside its virtual host. */
export interface SidecarL4 {
  /** Internal listeners (tls[] by SNI) and the STATIC clusters that reach them. */
  listeners: EnvoyObject[];
  clusters: EnvoyObject[];
}

/** A CONNECT route (Envoy: connectMatcher + upgradeConfigs CONNECT) to one cluster or weighted clusters. */
function connectRoute(clusters: readonly WeightedCluster[]): EnvoyObject {
  const target =
    clusters.length === 1
      ? { cluster: clusters[0]!.name }
      : { weightedClusters: { clusters: clusters.map((c) => ({ name: c.name, weight: wrapped(c.weight) })) } };
  return { name: 'connect', match: { connectMatcher: {} }, route: { ...target, timeout: duration(0), upgradeConfigs: [{ upgradeType: 'CONNECT', connectConfig: {} }] } };
}

/** A STATIC cluster whose one endpoint is an internal listener (Envoy envoyInternalAddress). */
export function internalListenerCluster(name: string): EnvoyObject {
  return {
    name,
    type: 'STATIC',
    connectTimeout: duration(CLUSTER_DEFAULTS.connectTimeoutMs),
    loadAssignment: { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address: { envoyInternalAddress: { serverListenerName: name } } } }] }] },
  };
}

function isTlsPort(sp: ServicePort): boolean {
  return sp.protocol === 'tls' || sp.protocol === 'https';
}

/**
 * The CONNECT routes of a non-HTTP service port under its mesh tcp[] / tls[] rules;
 * undefined when no rule applies (the port keeps its default route). Internal listeners
 * and clusters for SNI routing are added to `out`.
 */
export function sidecarConnectRoutes(service: Service, sp: ServicePort, sets: readonly L4RouteSet[], ctx: Omit<L4Context, 'port' | 'sidecar'>, out: SidecarL4): EnvoyObject[] | undefined {
  if (!sets.length) return undefined;
  const fqdn = fqdnOf(service, ctx.clusterDomain);
  const c: L4Context = { ...ctx, port: sp.port, sidecar: true };
  const covering = (protocol: 'tcp' | 'tls') => coveringRouteSets(sets.filter((s) => s.protocol === protocol), fqdn).flatMap((s) => s.rules);
  // Istio: tcp[] applies to ports that are not HTTP; on TLS ports after tls[].
  const tcp = firstTcpRule(covering('tcp'), c);
  const sni = isTlsPort(sp) ? sniChains(covering('tls'), c) : [];
  if (!sni.length) return tcp ? [connectRoute(tcp)] : undefined;
  const name = LISTENER.tlsSni(sp.port, fqdn);
  const chains = sni.map((ch, i) => l4FilterChain(ch, name, true, ch.serverNames.length ? `sni:${ch.serverNames.join(',')}` : `sni:*#${i}`));
  if (!sni.some((ch) => ch.serverNames.length === 0)) {
    const fallback = tcp ?? [{ name: outboundClusterName(sp.port, fqdn), weight: 100 }];
    chains.push(l4FilterChain({ serverNames: [], destinationSubnets: [], clusters: fallback }, name, true, 'default'));
  }
  out.listeners.push({ name, internalListener: {}, listenerFilters: [tlsInspector()], filterChains: chains, trafficDirection: 'OUTBOUND' });
  out.clusters.push(internalListenerCluster(name));
  return [connectRoute([{ name, weight: 100 }])];
}

/** The L4 route sets bound to sidecars. */
export function meshL4Sets(model: MeshModel): L4RouteSet[] {
  return (model.l4Routes ?? []).filter((s) => s.attachTo.includes('mesh'));
}

/** Label keys the mesh L4 rules match on (sourceLabels): part of what a sidecar's config depends on. */
export function l4SourceLabelKeys(sets: readonly L4RouteSet[]): string[] {
  const keys = new Set<string>();
  for (const s of sets) for (const r of s.rules) for (const m of r.matches) for (const k of Object.keys(m.sourceLabels ?? {})) keys.add(k);
  return [...keys];
}
