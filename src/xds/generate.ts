// The xDS generator's entry: MeshModel + one proxy -> the Envoy v3 resources it
// runs on. Pure and deterministic (canonical input order, output sorted by name),
// so the control plane can hash each type and push only on change.
//
// Sharing (control plane at scale): most resources do not depend on the proxy.
// Per model (memo keyed by the model object's identity) the generator keeps what
// it built, keyed by what each resource actually depends on:
//   - outbound clusters + ClusterLoadAssignments (EDS clusters only): the set of referenced targets
//     (for sidecars: the http_proxy key below), same objects for every proxy;
//   - http_proxy (and the SNI internal listeners/clusters of tls[] routes): the proxy's
//     namespace (short names, sourceNamespace) plus, only when some mesh route matches on
//     sourceLabels, the values of those label keys;
//   - inbound listeners: the container ports and their protocols; inbound clusters
//     also the app address;
//   - ROOTCA: the roots.
// A router's credential secrets (gateway certificates from Secrets) are its own group,
// sent only when the caller says the router may have them (ctx.gatewayCredentials).
// Objects are also interned across models by content (JSON), so an unchanged
// resource keeps its identity and the control plane never re-encodes it
// (src/control/snapshot.ts memoizes encodings by object identity). Generated
// objects are shared: callers must treat them as immutable.
import type { L4RouteSet, MeshModel, PortProtocol, Workload } from '../model/types.js';
import type { EnvoyObject } from '../proxy/types.js';
import { canonicalModel, attachedRouteSets, type OutboundTarget, type ServiceTarget } from './mesh.js';
import { sortBy } from './envoy.js';
import { virtualOutboundListener, inboundListener, containerPorts, inboundProtocol } from './listeners.js';
import { httpProxyRouteConfig } from './routes.js';
import { inboundCluster, outboundCluster, outboundTargets } from './clusters.js';
import { loadAssignment } from './endpoints.js';
import { targetClusterName } from './passthrough.js';
import { rootCaSecret } from './secrets.js';
import { gatewayResources } from './gateway.js';
import { l4SourceLabelKeys, meshL4Sets, type SidecarL4 } from './l4-routes.js';

export interface ProxyResources {
  listeners: EnvoyObject[];
  routes: EnvoyObject[];
  clusters: EnvoyObject[];
  endpoints: EnvoyObject[];
  secrets: EnvoyObject[];
}

/**
 * A proxy's resources as groups: each group is an array shared (same instance) by
 * every proxy with the same dependency key, sorted by name; names are disjoint
 * across the groups of one type. Flattened and sorted, it is `ProxyResources`.
 */
export interface ProxyResourceGroups {
  listeners: EnvoyObject[][];
  routes: EnvoyObject[][];
  clusters: EnvoyObject[][];
  endpoints: EnvoyObject[][];
  secrets: EnvoyObject[][];
}

export interface GenerateContext {
  /** PEM roots distributed as the ROOTCA secret. */
  rootCertsPem: string[];
  /** Kubernetes cluster domain, for services whose hostname the model left empty. Default cluster.local. */
  clusterDomain?: string;
  /**
   * Send a router the credential secrets (certificates and private keys from Secrets) its
   * listeners reference. Only for a router the control plane authenticated as that
   * workload; otherwise its TLS servers have no certificate. Never applies to sidecars.
   */
  gatewayCredentials?: boolean;
}

/** Route sets bound to sidecars. */
const MESH = 'mesh';

function byName(items: EnvoyObject[], key = 'name'): EnvoyObject[] {
  return sortBy(items, (o) => String(o[key]));
}

// ---- interning across models (content-equal objects keep their identity)

interface Interned {
  json: string;
  obj: EnvoyObject;
}
let internPrev = new Map<string, Interned>();
let internCur = new Map<string, Interned>();

function newGeneration(): void {
  internPrev = internCur;
  internCur = new Map();
}

function intern(key: string, obj: EnvoyObject): EnvoyObject {
  const json = JSON.stringify(obj);
  const hit = internCur.get(key) ?? internPrev.get(key);
  if (hit && hit.json === json) {
    internCur.set(key, hit);
    return hit.obj;
  }
  internCur.set(key, { json, obj });
  return obj;
}

// ---- per-model cache

interface OutboundGroups {
  clusters: EnvoyObject[];
  endpoints: EnvoyObject[];
}

interface ModelCache {
  model: MeshModel;
  meshRoutes: ReturnType<typeof attachedRouteSets>;
  /** tcp[]/tls[] route sets bound to sidecars. */
  meshL4: L4RouteSet[];
  /** Label keys some mesh route matches on (sourceLabels), sorted; empty when none. */
  sourceLabelKeys: string[];
  /** Workloads by namespace, then by "key=value" of each label (model order kept). */
  byLabel: Map<string, Map<string, Workload[]>>;
  clusterDomain: string | undefined;
  sidecar: Map<string, { routes: EnvoyObject[]; targets: Map<string, OutboundTarget>; outbound: OutboundGroups; internal: SidecarL4 }>;
  outbound: Map<string, OutboundGroups>;
  outboundByName: Map<string, { cluster: EnvoyObject; endpoints?: EnvoyObject }>;
  protocols: Map<string, PortProtocol[]>;
  inboundListeners: Map<string, EnvoyObject[]>;
  inboundClusters: Map<string, EnvoyObject[]>;
  secrets: Map<string, EnvoyObject[]>;
}

const caches = new WeakMap<MeshModel, Map<string, ModelCache>>();

function modelCache(input: MeshModel, clusterDomain: string | undefined): ModelCache {
  let byDomain = caches.get(input);
  if (!byDomain) caches.set(input, (byDomain = new Map()));
  const dk = clusterDomain ?? '';
  let c = byDomain.get(dk);
  if (c) return c;
  newGeneration();
  const model = canonicalModel(input);
  const meshRoutes = attachedRouteSets(model, new Set([MESH]));
  const meshL4 = meshL4Sets(model);
  const keys = new Set<string>(l4SourceLabelKeys(meshL4));
  for (const r of meshRoutes) for (const rule of r.rules) for (const m of rule.matches) for (const k of Object.keys(m.sourceLabels ?? {})) keys.add(k);
  const byLabel = new Map<string, Map<string, Workload[]>>();
  for (const w of model.workloads) {
    let ns = byLabel.get(w.namespace);
    if (!ns) byLabel.set(w.namespace, (ns = new Map()));
    for (const [k, v] of Object.entries(w.labels)) {
      const lk = `${k}=${v}`;
      const list = ns.get(lk);
      if (list) list.push(w);
      else ns.set(lk, [w]);
    }
  }
  c = {
    model,
    meshRoutes,
    meshL4,
    sourceLabelKeys: [...keys].sort(),
    byLabel,
    clusterDomain,
    sidecar: new Map(),
    outbound: new Map(),
    outboundByName: new Map(),
    protocols: new Map(),
    inboundListeners: new Map(),
    inboundClusters: new Map(),
    secrets: new Map(),
  };
  byDomain.set(dk, c);
  return c;
}

/**
 * The model as the cluster/endpoint builders see it for one service: only the
 * workloads that can be selected by it (same namespace, carrying the selector's
 * first label), in model order. They filter by the full selector themselves, so
 * the result is the same as over the whole model, without scanning every workload.
 */
function modelForService(c: ModelCache, target: ServiceTarget): MeshModel {
  const sel = Object.entries(target.service.selector);
  const first = sel[0];
  const workloads = first ? c.byLabel.get(target.service.namespace)?.get(`${first[0]}=${first[1]}`) ?? [] : [];
  return { ...c.model, workloads };
}

/**
 * A target's cluster and, when the cluster is EDS, its ClusterLoadAssignment. STATIC and
 * DNS clusters carry their endpoints inline and ORIGINAL_DST ones (PassthroughCluster)
 * have none: the proxy subscribes EDS only for EDS clusters (src/proxy/core/xds-refs.ts).
 */
function outboundFor(c: ModelCache, target: ServiceTarget): { cluster: EnvoyObject; endpoints?: EnvoyObject } {
  const name = targetClusterName(target);
  let hit = c.outboundByName.get(name);
  if (!hit) {
    const m = modelForService(c, target);
    const cluster = intern(`cds:${name}`, outboundCluster(m, target));
    hit = cluster['type'] === 'EDS' ? { cluster, endpoints: intern(`eds:${name}`, loadAssignment(m, target)) } : { cluster };
    c.outboundByName.set(name, hit);
  }
  return hit;
}

/** Outbound clusters and endpoints for a set of targets (already sorted by name by outboundTargets). */
function outboundGroups(c: ModelCache, referenced: ReadonlyMap<string, OutboundTarget>): OutboundGroups {
  const targets = outboundTargets(c.model, referenced, c.clusterDomain);
  const key = targets.map(targetClusterName).join('\n');
  let g = c.outbound.get(key);
  if (!g) {
    const clusters: EnvoyObject[] = [];
    const endpoints: EnvoyObject[] = [];
    for (const t of targets) {
      const o = outboundFor(c, t);
      clusters.push(o.cluster);
      if (o.endpoints) endpoints.push(o.endpoints);
    }
    g = { clusters: byName(clusters), endpoints: byName(endpoints, 'clusterName') };
    c.outbound.set(key, g);
  }
  return g;
}

/** What a sidecar's http_proxy (and so its outbound targets) depends on. */
function sidecarKey(c: ModelCache, proxy: Workload): string {
  if (c.sourceLabelKeys.length === 0) return proxy.namespace;
  return [proxy.namespace, ...c.sourceLabelKeys.map((k) => (k in proxy.labels ? `${k}=${proxy.labels[k]}` : `${k}\u0001`))].join('\u0000');
}

function sidecarShared(c: ModelCache, proxy: Workload) {
  const key = sidecarKey(c, proxy);
  let s = c.sidecar.get(key);
  if (!s) {
    const targets = new Map<string, OutboundTarget>();
    const internal: SidecarL4 = { listeners: [], clusters: [] };
    const route = httpProxyRouteConfig(c.model, proxy, c.meshRoutes, c.clusterDomain, targets, { sets: c.meshL4, out: internal });
    internal.listeners = byName(internal.listeners.map((l) => intern(`lds:${key}:${String(l['name'])}`, l)));
    internal.clusters = byName(internal.clusters.map((cl) => intern(`cds:${key}:${String(cl['name'])}`, cl)));
    s = { routes: [intern(`rds:${key}:${String(route['name'])}`, route)], targets, outbound: outboundGroups(c, targets), internal };
    c.sidecar.set(key, s);
  }
  return s;
}

function labelsKey(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join('\u0000');
}

/** The protocol of each container port (inboundProtocol), shared by workloads with the same namespace, labels and ports. */
function inboundProtocols(c: ModelCache, proxy: Workload, ports: number[]): PortProtocol[] {
  const key = `${proxy.namespace}\u0002${labelsKey(proxy.labels)}\u0002${JSON.stringify(proxy.ports)}`;
  let p = c.protocols.get(key);
  if (!p) c.protocols.set(key, (p = ports.map((port) => inboundProtocol(c.model, proxy, port))));
  return p;
}

function sidecarInbound(c: ModelCache, proxy: Workload): { listeners: EnvoyObject[]; clusters: EnvoyObject[] } {
  const ports = containerPorts(proxy);
  const protocols = inboundProtocols(c, proxy, ports);
  const lk = ports.map((p, i) => `${p}/${protocols[i]}`).join(',');
  let listeners = c.inboundListeners.get(lk);
  if (!listeners) {
    const list = [virtualOutboundListener(), ...ports.map((p, i) => inboundListener(p, protocols[i]!))];
    listeners = byName(list.map((l) => intern(`lds:${lk}:${String(l['name'])}`, l)));
    c.inboundListeners.set(lk, listeners);
  }
  const ck = `${lk}@${proxy.appAddress}`;
  let clusters = c.inboundClusters.get(ck);
  if (!clusters) {
    clusters = byName(ports.map((p, i) => intern(`cds-in:${ck}:${p}`, inboundCluster(p, protocols[i]!, proxy.appAddress))));
    c.inboundClusters.set(ck, clusters);
  }
  return { listeners, clusters };
}

function secretsFor(c: ModelCache, roots: string[]): EnvoyObject[] {
  const key = roots.join('\u0000');
  let s = c.secrets.get(key);
  if (!s) c.secrets.set(key, (s = [intern(`sds:${key}`, rootCaSecret(roots))]));
  return s;
}

/** One proxy's resources as shared groups (see ProxyResourceGroups). */
export function generateGroupsForProxy(input: MeshModel, proxy: Workload, ctx: GenerateContext): ProxyResourceGroups {
  const c = modelCache(input, ctx.clusterDomain);
  const secrets = [secretsFor(c, ctx.rootCertsPem)];
  if (proxy.proxyType === 'router') {
    const targets = new Map<string, OutboundTarget>();
    const gw = gatewayResources(c.model, proxy, c.clusterDomain, targets);
    const out = outboundGroups(c, targets);
    if (ctx.gatewayCredentials && gw.secrets.length) secrets.push(gw.secrets.map((s) => intern(`sds:${proxy.namespace}:${String(s['name'])}`, s)));
    return { listeners: [byName(gw.listeners)], routes: [byName(gw.routes)], clusters: [out.clusters], endpoints: [out.endpoints], secrets };
  }
  const shared = sidecarShared(c, proxy);
  const inbound = sidecarInbound(c, proxy);
  // SNI internal listeners (tls[] routes) and their clusters only when some exist: most proxies keep one listener group.
  const internal = shared.internal;
  return {
    listeners: internal.listeners.length ? [inbound.listeners, internal.listeners] : [inbound.listeners],
    routes: [shared.routes],
    clusters: internal.clusters.length ? [inbound.clusters, shared.outbound.clusters, internal.clusters] : [inbound.clusters, shared.outbound.clusters],
    endpoints: [shared.outbound.endpoints],
    secrets,
  };
}

export function generateForProxy(input: MeshModel, proxy: Workload, ctx: GenerateContext): ProxyResources {
  const g = generateGroupsForProxy(input, proxy, ctx);
  return {
    listeners: byName(g.listeners.flat()),
    routes: byName(g.routes.flat()),
    clusters: byName(g.clusters.flat()),
    endpoints: byName(g.endpoints.flat(), 'clusterName'),
    secrets: byName(g.secrets.flat()),
  };
}
