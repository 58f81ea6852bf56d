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
// Credential secrets (from Secrets: a router's gateway certificates, and for any proxy the
// client certificates and CAs of its clusters' DestinationRule TLS, looked up in the proxy's
// namespace) are their own group, sent only when the caller says the proxy may have them
// (ctx.credentials); they depend on the proxy's namespace and its set of clusters.
// Objects are also interned across models by content (JSON), so an unchanged
// resource keeps its identity and the control plane never re-encodes it
// (src/control/snapshot.ts memoizes encodings by object identity). Generated
// objects are shared: callers must treat them as immutable.
//
// Incremental (a registry-only change, e.g. one endpoint): when a new model equals
// the previous one except for its workloads (same JSON without them), its cache
// starts from the previous one: routes, inbound protocols and every outbound
// cluster/assignment whose candidate workloads are the same objects are reused
// as they are (not regenerated, not interned again); only the services whose
// workloads changed are built anew. Any other change (the store's) still reuses each
// outbound cluster/assignment whose inputs are the same (its service with its policies,
// trust domain, retry budget: outboundKey; and the same workload objects), so a
// VirtualService edit rebuilds the routes, not 1,000 clusters. Inbound listeners/clusters
// and the ROOTCA secret are pure functions of their keys and are kept across models.
import type { ClientTlsPolicy, L4RouteSet, MeshModel, PortProtocol, Service, Workload } from '../model/types.js';
import type { EnvoyObject } from '../proxy/types.js';
import { canonicalModel, attachedRouteSets, type OutboundTarget, type ServiceTarget } from './mesh.js';
import { sortBy } from './envoy.js';
import { virtualOutboundListener, inboundListener, containerPorts, inboundProtocol } from './listeners.js';
import { httpProxyRouteConfig } from './routes.js';
import { inboundCluster, outboundCluster, outboundTargets } from './clusters.js';
import { loadAssignment } from './endpoints.js';
import { targetClusterName } from './passthrough.js';
import { vhdsResourceName } from './names.js';
import { credentialSecrets, rootCaSecret } from './secrets.js';
import { clusterPolicyOf } from './cluster-policy.js';
import { resolveClientCredential, usesClientCredential } from '../model/credentials.js';
import { gatewayResources } from './gateway.js';
import { l4SourceLabelKeys, meshL4Sets, type SidecarL4 } from './l4-routes.js';
import { retryBudgetOf } from './retry-budget.js';

export interface ProxyResources {
  listeners: EnvoyObject[];
  routes: EnvoyObject[];
  /** VHDS (only for a proxy that reads it: GenerateContext.vhds). */
  virtualHosts?: EnvoyObject[];
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
  virtualHosts?: EnvoyObject[][];
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
   * Send the proxy the credential secrets (certificates, private keys and CAs from Secrets
   * in its namespace) its gateway listeners and its clusters' DestinationRule TLS reference.
   * Only for a proxy the control plane authenticated as that workload; otherwise its TLS
   * servers have no certificate and those clusters fail their connections (UF).
   */
  credentials?: boolean;
  /**
   * The proxy reads VHDS (delta xDS; weft's proxies say so in client_features): a sidecar's
   * http_proxy goes as a route config with `vhds` and its virtual hosts as VirtualHost
   * resources, so a change of one service's routes sends that one virtual host (~1 KB)
   * instead of the whole route config (~300 KB at 1,000 services).
   */
  vhds?: boolean;
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

/** Caches whose values depend only on their keys, kept for two generations like the intern tables. */
class KeyedCache<V> {
  #prev = new Map<string, V>();
  #cur = new Map<string, V>();
  get(key: string, make: () => V): V {
    let v = this.#cur.get(key);
    if (v === undefined) {
      v = this.#prev.get(key) ?? make();
      this.#cur.set(key, v);
    }
    return v;
  }
  roll(): void {
    this.#prev = this.#cur;
    this.#cur = new Map();
  }
}
const pureInboundListeners = new KeyedCache<EnvoyObject[]>();
const pureInboundClusters = new KeyedCache<EnvoyObject[]>();
const pureSecrets = new KeyedCache<EnvoyObject[]>();

function newGeneration(): void {
  internPrev = internCur;
  internCur = new Map();
  pureInboundListeners.roll();
  pureInboundClusters.roll();
  pureSecrets.roll();
}

/** An object reused without being generated again stays interned (so a later model that does generate it gets the same one). */
function keepInterned(key: string, obj: EnvoyObject): void {
  const hit = internCur.get(key) ?? internPrev.get(key);
  if (hit?.obj === obj) internCur.set(key, hit);
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
  /** The distinct DestinationRule TLS policies of these clusters that take a Secret (credentialName), and their key. */
  clientTls: { key: string; list: ClientTlsWithCredential[] };
}

type ClientTlsWithCredential = ClientTlsPolicy & { credentialName: string };

interface OutboundEntry {
  cluster: EnvoyObject;
  endpoints?: EnvoyObject;
  /** The candidate workloads it was built from (modelForService), to tell whether a later model can reuse it. */
  workloads: readonly Workload[];
  /** Everything else it was built from (outboundKey), so a later model whose routes alone changed reuses it. */
  depKey: string;
}

interface SidecarShared {
  routes: EnvoyObject[];
  /** The same routes for proxies that read VHDS (made when one first asks). */
  vhds?: { routes: EnvoyObject[]; virtualHosts: EnvoyObject[] };
  targets: Map<string, OutboundTarget>;
  outbound: OutboundGroups;
  /** The SNI internal listeners and clusters of tls[] routes. */
  internal: SidecarL4;
}

interface ModelCache {
  model: MeshModel;
  /** The model without its workloads, as JSON: equal keys mean only workloads differ. */
  baseKey: string;
  /** The previous model's cache when only workloads differ (its entries are reused where their inputs are the same). */
  base: ModelCache | undefined;
  /** The previous model's cache in any case: its arrays are kept when their members are the same (interned) objects. */
  prev: ModelCache | undefined;
  meshRoutes: ReturnType<typeof attachedRouteSets>;
  /** tcp[]/tls[] route sets bound to sidecars. */
  meshL4: L4RouteSet[];
  /** Label keys some mesh route matches on (sourceLabels), sorted; empty when none. */
  sourceLabelKeys: string[];
  /** Workloads by namespace, then by "key=value" of each label (model order kept). */
  byLabel: Map<string, Map<string, Workload[]>>;
  clusterDomain: string | undefined;
  sidecar: Map<string, SidecarShared>;
  outbound: Map<string, OutboundGroups>;
  outboundByName: Map<string, OutboundEntry>;
  /** Depends on services only: shared with the previous cache when only workloads differ. */
  protocols: Map<string, PortProtocol[]>;
  /** Services by namespace, then by "key=value" of their selector's first label (built when first needed). */
  servicesByLabel?: Map<string, Map<string, Service[]>>;
  serviceOrder?: Map<Service, number>;
  /** Client credential secrets by proxy namespace and OutboundGroups.clientTls key. */
  clientSecrets: Map<string, EnvoyObject[]>;
  /** Services as JSON (outboundKey), each made once per model. */
  serviceJson: Map<Service, string>;
}

const caches = new WeakMap<MeshModel, Map<string, ModelCache>>();
/** The newest cache per cluster domain, the base of the next model's. */
const latest = new Map<string, ModelCache>();

/** Values that are not plain JSON data must not hide from the base key: Maps and Sets are spelled out. */
function plainReplacer(_k: string, v: unknown): unknown {
  if (v instanceof Map) return { '\u0000map': [...v] };
  if (v instanceof Set) return { '\u0000set': [...v] };
  return v;
}

function sameItems<T>(a: readonly T[], b: readonly T[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function modelCache(input: MeshModel, clusterDomain: string | undefined): ModelCache {
  let byDomain = caches.get(input);
  if (!byDomain) caches.set(input, (byDomain = new Map()));
  const dk = clusterDomain ?? '';
  let c = byDomain.get(dk);
  if (c) return c;
  const model = canonicalModel(input);
  const baseKey = JSON.stringify({ ...model, workloads: [] }, plainReplacer);
  const prev = latest.get(dk);
  const base = prev && prev.baseKey === baseKey ? prev : undefined;
  if (!base) newGeneration();
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
    baseKey,
    base,
    prev,
    meshRoutes,
    meshL4,
    sourceLabelKeys: [...keys].sort(),
    byLabel,
    clusterDomain,
    sidecar: new Map(),
    outbound: new Map(),
    outboundByName: new Map(),
    protocols: base ? base.protocols : new Map(),
    clientSecrets: new Map(),
    serviceJson: new Map(),
  };
  // Only one level of reuse: what the previous cache kept of its own previous one is not needed any more.
  if (prev) prev.base = prev.prev = undefined;
  byDomain.set(dk, c);
  latest.set(dk, c);
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
function outboundFor(c: ModelCache, target: ServiceTarget): OutboundEntry {
  const name = targetClusterName(target);
  let hit = c.outboundByName.get(name);
  if (!hit) {
    const m = modelForService(c, target);
    const old = c.base?.outboundByName.get(name);
    if (old && sameItems(old.workloads, m.workloads)) hit = old;
    else {
      // A store change that leaves this target's service, policies and workloads as they were
      // (a VirtualService edit) reuses its cluster and endpoints: only what changed is built.
      const depKey = outboundKey(c, target);
      const before = c.prev?.outboundByName.get(name);
      if (before && before.depKey === depKey && sameItems(before.workloads, m.workloads)) {
        hit = before;
        keepInterned(`cds:${name}`, before.cluster);
        if (before.endpoints) keepInterned(`eds:${name}`, before.endpoints);
      } else {
        const cluster = intern(`cds:${name}`, outboundCluster(m, target));
        hit = { cluster, workloads: m.workloads, depKey, ...(cluster['type'] === 'EDS' ? { endpoints: intern(`eds:${name}`, loadAssignment(m, target)) } : {}) };
      }
    }
    c.outboundByName.set(name, hit);
  }
  return hit;
}

/**
 * What an outbound cluster and its endpoints are built from besides the candidate workloads
 * (outboundCluster, loadAssignment): the target with its service (ports, DestinationRule
 * policies, ServiceEntry endpoints), the trust domain and the service's retry budget.
 */
function outboundKey(c: ModelCache, target: ServiceTarget): string {
  let svc = c.serviceJson.get(target.service);
  if (svc === undefined) c.serviceJson.set(target.service, (svc = JSON.stringify(target.service, plainReplacer)));
  const budget = retryBudgetOf(c.model, target.fqdn);
  return `${c.model.trustDomain}\u0000${target.fqdn}\u0000${target.port}\u0000${target.subset}\u0000${JSON.stringify(target.servicePort)}\u0000${svc}\u0000${budget ? JSON.stringify(budget) : ''}`;
}

/** Outbound clusters and endpoints for a set of targets (already sorted by name by outboundTargets). */
function outboundGroups(c: ModelCache, referenced: ReadonlyMap<string, OutboundTarget>): OutboundGroups {
  const targets = outboundTargets(c.model, referenced, c.clusterDomain);
  const key = targets.map(targetClusterName).join('\n');
  let g = c.outbound.get(key);
  if (!g) {
    const clusters: EnvoyObject[] = [];
    const endpoints: EnvoyObject[] = [];
    const clientTls = new Map<string, ClientTlsWithCredential>();
    for (const t of targets) {
      const o = outboundFor(c, t);
      clusters.push(o.cluster);
      if (o.endpoints) endpoints.push(o.endpoints);
      const tls = clusterPolicyOf(t.service, t.port, t.subset)?.tls;
      if (usesClientCredential(tls)) clientTls.set(`${tls.mode}\u0001${tls.credentialName}\u0001${tls.insecureSkipVerify === true}`, tls);
    }
    const tlsKeys = [...clientTls.keys()].sort();
    g = { clusters: byName(clusters), endpoints: byName(endpoints, 'clusterName'), clientTls: { key: tlsKeys.join('\u0000'), list: tlsKeys.map((k) => clientTls.get(k)!) } };
    // Keep the previous arrays when their members are the same objects (unchanged or interned):
    // the control plane then reuses their encoded, indexed and digested groups as they are.
    const old = c.prev?.outbound.get(key);
    if (old && sameItems(old.clusters, g.clusters)) g.clusters = old.clusters;
    if (old && sameItems(old.endpoints, g.endpoints)) g.endpoints = old.endpoints;
    c.outbound.set(key, g);
  }
  return g;
}

/** What a sidecar's http_proxy (and so its outbound targets) depends on. */
function sidecarKey(c: ModelCache, proxy: Workload): string {
  if (c.sourceLabelKeys.length === 0) return proxy.namespace;
  return [proxy.namespace, ...c.sourceLabelKeys.map((k) => (k in proxy.labels ? `${k}=${proxy.labels[k]}` : `${k}\u0001`))].join('\u0000');
}

function sidecarShared(c: ModelCache, proxy: Workload): SidecarShared {
  const key = sidecarKey(c, proxy);
  let s = c.sidecar.get(key);
  if (!s) {
    // Routes, their targets and the SNI internal listeners depend on the model without its workloads.
    const old = c.base?.sidecar.get(key);
    if (old) s = { routes: old.routes, ...(old.vhds ? { vhds: old.vhds } : {}), targets: old.targets, outbound: outboundGroups(c, old.targets), internal: old.internal };
    else {
      const targets = new Map<string, OutboundTarget>();
      const internal: SidecarL4 = { listeners: [], clusters: [] };
      const generated = httpProxyRouteConfig(c.model, proxy, c.meshRoutes, c.clusterDomain, targets, { sets: c.meshL4, out: internal });
      internal.listeners = byName(internal.listeners.map((l) => intern(`lds:${key}:${String(l['name'])}`, l)));
      internal.clusters = byName(internal.clusters.map((cl) => intern(`cds:${key}:${String(cl['name'])}`, cl)));
      const route = intern(`rds:${key}:${String(generated['name'])}`, generated);
      const before = c.prev?.sidecar.get(key)?.routes;
      s = { routes: before?.[0] === route ? before : [route], targets, outbound: outboundGroups(c, targets), internal };
    }
    c.sidecar.set(key, s);
  }
  return s;
}

/**
 * A sidecar's routes as VHDS: the route config with `vhds` (over ADS) and no virtual hosts
 * of its own, and each virtual host as a resource. Each is interned, so a virtual host
 * whose routes did not change keeps its identity (and encoding) across models.
 */
function sidecarVhds(c: ModelCache, key: string, s: SidecarShared): { routes: EnvoyObject[]; virtualHosts: EnvoyObject[] } {
  if (s.vhds) return s.vhds;
  const rc = s.routes[0]!;
  const name = String(rc['name']);
  const { virtualHosts, ...rest } = rc;
  const hosts = ((virtualHosts as EnvoyObject[] | undefined) ?? []).map((vh) => {
    const full = vhdsResourceName(name, String(vh['name']));
    return intern(`vhds:${key}:${full}`, { ...vh, name: full });
  });
  const route = intern(`rds-vhds:${key}:${name}`, { ...rest, vhds: { configSource: { ads: {}, resourceApiVersion: 'V3' } } });
  const sorted = byName(hosts);
  const before = c.prev?.sidecar.get(key)?.vhds;
  return (s.vhds = {
    routes: before?.routes[0] === route ? before.routes : [route],
    virtualHosts: before && sameItems(before.virtualHosts, sorted) ? before.virtualHosts : sorted,
  });
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
  if (!p) {
    const m = modelForWorkload(c, proxy);
    c.protocols.set(key, (p = ports.map((port) => inboundProtocol(m, proxy, port))));
  }
  return p;
}

/**
 * The model as inboundProtocol sees it for one workload: only the services that can
 * select it (same namespace, the selector's first label among its labels), in model
 * order. It checks the full selector itself, so the answer is the same as over every
 * service, without scanning them all for each workload.
 */
function modelForWorkload(c: ModelCache, proxy: Workload): MeshModel {
  if (!c.servicesByLabel) {
    const idx = new Map<string, Map<string, Service[]>>();
    for (const svc of c.model.services) {
      const first = Object.entries(svc.selector)[0];
      if (!first) continue; // an empty selector selects nothing
      let ns = idx.get(svc.namespace);
      if (!ns) idx.set(svc.namespace, (ns = new Map()));
      const k = `${first[0]}=${first[1]}`;
      const list = ns.get(k);
      if (list) list.push(svc);
      else ns.set(k, [svc]);
    }
    c.servicesByLabel = idx;
  }
  const ns = c.servicesByLabel.get(proxy.namespace);
  const candidates: Service[] = [];
  if (ns) for (const [k, v] of Object.entries(proxy.labels)) candidates.push(...(ns.get(`${k}=${v}`) ?? []));
  // Each service is listed under one key (its first label), so there are no duplicates; back to model order.
  if (candidates.length > 1) {
    c.serviceOrder ??= new Map(c.model.services.map((svc, i) => [svc, i]));
    candidates.sort((a, b) => c.serviceOrder!.get(a)! - c.serviceOrder!.get(b)!);
  }
  return { ...c.model, services: candidates };
}

function sidecarInbound(c: ModelCache, proxy: Workload): { listeners: EnvoyObject[]; clusters: EnvoyObject[] } {
  const ports = containerPorts(proxy);
  const protocols = inboundProtocols(c, proxy, ports);
  const lk = ports.map((p, i) => `${p}/${protocols[i]}`).join(',');
  // Both are functions of their keys alone (ports, protocols, app address): kept across models.
  const listeners = pureInboundListeners.get(lk, () =>
    byName([virtualOutboundListener(), ...ports.map((p, i) => inboundListener(p, protocols[i]!))].map((l) => intern(`lds:${lk}:${String(l['name'])}`, l))),
  );
  const ck = `${lk}@${proxy.appAddress}`;
  const clusters = pureInboundClusters.get(ck, () => byName(ports.map((p, i) => intern(`cds-in:${ck}:${p}`, inboundCluster(p, protocols[i]!, proxy.appAddress)))));
  return { listeners, clusters };
}

/**
 * The client credential secrets of a proxy's clusters (DestinationRule TLS with
 * credentialName), from the Secrets in the proxy's namespace. One that does not resolve
 * is left out (a WEFT_MISSING_CREDENTIAL finding): that cluster fails closed. One SDS name
 * holds one secret: a certificate (here or in `taken`, the gateway's) keeps "<x>-cacert"
 * over x's CA, whose cluster then fails closed (WEFT_CREDENTIAL_CLASH, as the model decides it).
 */
function clientCredentialSecrets(c: ModelCache, namespace: string, groups: OutboundGroups, taken: ReadonlyMap<string, EnvoyObject> = new Map()): EnvoyObject[] {
  if (groups.clientTls.list.length === 0) return [];
  const key = `${namespace}\u0002${groups.clientTls.key}`;
  let out = taken.size === 0 ? c.clientSecrets.get(key) : undefined;
  if (!out) {
    const wanted = groups.clientTls.list.flatMap((tls) => {
      const r = resolveClientCredential(c.model, tls, namespace);
      return r.ok ? credentialSecrets(tls.credentialName, undefined, r.credential.cert, r.credential.ca?.pem) : [];
    });
    const byName = new Map<string, EnvoyObject>();
    // Certificates first: they keep a name a CA would take too.
    for (const sec of [...wanted.filter((s) => s['tlsCertificate']), ...wanted.filter((s) => !s['tlsCertificate'])]) {
      const name = sec['name'] as string;
      if (!byName.has(name) && !taken.has(name)) byName.set(name, intern(`sds:${namespace}:${name}`, sec));
    }
    out = sortBy([...byName.values()], (s) => s['name'] as string);
    if (taken.size === 0) c.clientSecrets.set(key, out);
  }
  return out;
}

function secretsFor(roots: string[]): EnvoyObject[] {
  const key = roots.join('\u0000');
  return pureSecrets.get(key, () => [intern(`sds:${key}`, rootCaSecret(roots))]);
}

/** One proxy's resources as shared groups (see ProxyResourceGroups). */
export function generateGroupsForProxy(input: MeshModel, proxy: Workload, ctx: GenerateContext): ProxyResourceGroups {
  const c = modelCache(input, ctx.clusterDomain);
  const secrets = [secretsFor(ctx.rootCertsPem)];
  if (proxy.proxyType === 'router') {
    const targets = new Map<string, OutboundTarget>();
    const gw = gatewayResources(c.model, proxy, c.clusterDomain, targets);
    const out = outboundGroups(c, targets);
    if (ctx.credentials) {
      // One group: gateway and client credentials may share SDS names (same Secret, same content).
      const own = new Map(gw.secrets.map((s) => [s['name'] as string, intern(`sds:${proxy.namespace}:${String(s['name'])}`, s)]));
      const all = [...own.values(), ...clientCredentialSecrets(c, proxy.namespace, out, own)];
      if (all.length) secrets.push(byName(all));
    }
    return { listeners: [byName(gw.listeners)], routes: [byName(gw.routes)], clusters: [out.clusters], endpoints: [out.endpoints], secrets };
  }
  const shared = sidecarShared(c, proxy);
  const inbound = sidecarInbound(c, proxy);
  // SNI internal listeners (tls[] routes) and their clusters only when some exist: most proxies keep one listener group.
  const internal = shared.internal;
  if (ctx.credentials) {
    const client = clientCredentialSecrets(c, proxy.namespace, shared.outbound);
    if (client.length) secrets.push(client);
  }
  const vhds = ctx.vhds ? sidecarVhds(c, sidecarKey(c, proxy), shared) : undefined;
  return {
    listeners: internal.listeners.length ? [inbound.listeners, internal.listeners] : [inbound.listeners],
    routes: [vhds ? vhds.routes : shared.routes],
    ...(vhds ? { virtualHosts: [vhds.virtualHosts] } : {}),
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
    ...(g.virtualHosts ? { virtualHosts: byName(g.virtualHosts.flat()) } : {}),
    clusters: byName(g.clusters.flat()),
    endpoints: byName(g.endpoints.flat(), 'clusterName'),
    secrets: byName(g.secrets.flat()),
  };
}
