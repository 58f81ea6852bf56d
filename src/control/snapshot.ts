// One proxy's generated configuration, checked against the protos and hashed,
// so versions are content hashes: unchanged config is never sent again.
//
// Sharing: a resource object is encoded (and hashed) once, memoized by its
// identity, and the bytes are reused for every proxy that gets the same object
// (the generator shares objects between proxies and interns them across models).
// A type's resources are a list of groups; a group (an array the generator
// shares) is sorted, indexed and digested once; versions are computed from the
// per-resource hashes and cached per subscription, never by re-hashing buffers.
import { createHash } from 'node:crypto';
import { TYPE, encode, type TypeUrl } from '../xds/codec.js';
import type { EnvoyObject, GeneratedConfig, GeneratedGroups } from './pipeline.js';
import { resourcesField } from './ads-wire.js';
import { vhdsRouteConfig } from '../xds/names.js';
import { virtualHostSubscribed } from '../xds/vhds.js';

export type XdsType = 'LDS' | 'CDS' | 'EDS' | 'RDS' | 'VHDS' | 'SDS';
export const XDS_TYPES: readonly XdsType[] = ['LDS', 'CDS', 'EDS', 'RDS', 'VHDS', 'SDS'];

export const TYPE_URL: Record<XdsType, TypeUrl> = {
  LDS: TYPE.listener,
  CDS: TYPE.cluster,
  EDS: TYPE.endpoint,
  RDS: TYPE.route,
  VHDS: TYPE.virtualHost,
  SDS: TYPE.secret,
};

/** Make-before-break (as Istio): clusters before their endpoints, listeners before their routes (and a route config before its VHDS virtual hosts). */
export const PUSH_ORDER: readonly XdsType[] = ['CDS', 'EDS', 'LDS', 'RDS', 'VHDS', 'SDS'];

const FIELD: Record<XdsType, keyof GeneratedConfig> = { LDS: 'listeners', CDS: 'clusters', EDS: 'endpoints', RDS: 'routes', VHDS: 'virtualHosts', SDS: 'secrets' };

export interface SnapshotResource {
  name: string;
  /** Object form with '@type', as sent (for the API's config view). */
  object: Record<string, unknown>;
  /** sha256 of the resource's protobuf encoding. */
  hash: string;
  /** The resource's version (delta xDS, and what deltas compare): the hash's first 64 bits. */
  version: string;
  /** The resource as google.protobuf.Any in protobufjs message form: encoded once, shared by every proxy. */
  any: { type_url: string; value: Uint8Array };
}

export class SnapshotError extends Error {
  readonly code = 'WEFT_ERR_XDS_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

/** Counters for tests and the bench: how much encoding the memo saved; how many proxy-own lists were merged (read). */
export const snapshotStats = { encodes: 0, encodeHits: 0, merges: 0 };

function resourceName(type: XdsType, obj: Record<string, unknown>): string {
  const name = type === 'EDS' ? obj['clusterName'] : obj['name'];
  if (typeof name !== 'string' || name === '') throw new SnapshotError(`${type} resource without ${type === 'EDS' ? 'clusterName' : 'name'}`);
  return name;
}

const encoded = new WeakMap<object, SnapshotResource>();

/** Encodes one resource, once per object (throws SnapshotError naming it when it does not fit its proto). */
export function snapshotResource(type: XdsType, raw: EnvoyObject): SnapshotResource {
  const hit = encoded.get(raw);
  if (hit) {
    snapshotStats.encodeHits++;
    return hit;
  }
  const obj = raw as Record<string, unknown>;
  const name = resourceName(type, obj);
  const url = TYPE_URL[type];
  const { ['@type']: _ignored, ...fields } = obj;
  let bytes: Uint8Array;
  try {
    bytes = encode(url, fields);
  } catch (e) {
    throw new SnapshotError(`${type} ${name}: ${e instanceof Error ? e.message : String(e)}`);
  }
  snapshotStats.encodes++;
  const hash = createHash('sha256').update(bytes).digest('hex');
  const r: SnapshotResource = {
    name,
    object: { '@type': url, ...fields },
    hash,
    version: hash.slice(0, 16),
    any: { type_url: url, value: bytes },
  };
  encoded.set(raw, r);
  return r;
}

const byNameOrder = (a: SnapshotResource, b: SnapshotResource): number => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function digest(resources: readonly SnapshotResource[]): string {
  const h = createHash('sha256');
  for (const r of resources) h.update(`${r.name}\0${r.hash}\n`);
  return h.digest('hex').slice(0, 16);
}

/** The resources picked for one subscription, with their version. Shared by every proxy with the same subscription. */
export interface Selection {
  /** Sorted by name (of a proxy's own multi-group set: merged when first read). */
  readonly resources: SnapshotResource[];
  /** How many (without merging them). */
  readonly size: number;
  readonly version: string;
  /** Made from a set shared by every proxy with the same groups (so worth caching what is derived from it). */
  readonly shared: boolean;
  /** When the selection is whole groups (a wildcard): they, whose encoded runs make its response without a copy per resource. */
  readonly groups?: readonly EncodedGroup[];
}

export interface EncodedGroup {
  /** Sorted by name. */
  readonly resources: readonly SnapshotResource[];
  readonly byName: ReadonlyMap<string, SnapshotResource>;
  /** The group's resources as DiscoveryResponse.resources entries (ads-wire.ts resourcesField), made once. */
  readonly body: Buffer;
}

/** One group of resources (sorted by name, indexed, digested and encoded once). */
class Group implements EncodedGroup {
  readonly resources: SnapshotResource[];
  readonly byName = new Map<string, SnapshotResource>();
  #digest: string | undefined;
  #body: Buffer | undefined;
  constructor(type: XdsType, items: readonly EnvoyObject[]) {
    this.resources = items.map((o) => snapshotResource(type, o)).sort(byNameOrder);
    for (const r of this.resources) {
      if (this.byName.has(r.name)) throw new SnapshotError(`${type} resource ${r.name} generated twice`);
      this.byName.set(r.name, r);
    }
  }
  get digest(): string {
    return (this.#digest ??= digest(this.resources));
  }
  get body(): Buffer {
    return (this.#body ??= resourcesField(this.resources));
  }
}

const groupMemo = new WeakMap<readonly EnvoyObject[], Map<XdsType, Group>>();

function groupOf(type: XdsType, items: readonly EnvoyObject[]): Group {
  let m = groupMemo.get(items);
  if (!m) groupMemo.set(items, (m = new Map()));
  let g = m.get(type);
  if (!g) m.set(type, (g = new Group(type, items)));
  return g;
}

/** A proxy's resources of one type: one or more disjoint groups. */
export class ResourceSet {
  readonly #groups: Group[];
  #all: Selection | undefined;
  readonly #named = new Map<string, Selection>();

  readonly #shared: boolean;

  constructor(type: XdsType, groups: readonly Group[], shared: boolean) {
    this.#shared = shared;
    this.#groups = [...groups];
    if (this.#groups.length > 1) {
      // Names must be disjoint across groups: look each name of the smaller groups up in the others.
      const largest = this.#groups.reduce((a, b) => (b.resources.length > a.resources.length ? b : a));
      for (const g of this.#groups) {
        if (g === largest) continue;
        for (const n of g.byName.keys()) if (this.#groups.some((o) => o !== g && o.byName.has(n))) throw new SnapshotError(`${type} resource ${n} generated twice`);
      }
    }
  }

  get size(): number {
    let n = 0;
    for (const g of this.#groups) n += g.resources.length;
    return n;
  }

  get(name: string): SnapshotResource | undefined {
    for (const g of this.#groups) {
      const r = g.byName.get(name);
      if (r) return r;
    }
    return undefined;
  }

  values(): SnapshotResource[] {
    return this.all().resources;
  }

  /** Every resource, sorted by name (the wildcard subscription). */
  all(): Selection {
    if (this.#all) return this.#all;
    const gs = this.#groups;
    if (gs.length === 1) return (this.#all = { resources: gs[0]!.resources, size: gs[0]!.resources.length, version: gs[0]!.digest, shared: this.#shared, groups: gs });
    // A proxy's own set (CDS: its inbound group and its namespace's). Responses are made of
    // the groups' runs, so the merged list (each group is sorted: a linear merge) is made
    // only when something reads it (the API's config view, a diff by name): at 2,000
    // proxies these lists were ~16 MB of the control plane's heap.
    let merged: SnapshotResource[] | undefined;
    return (this.#all = {
      get resources(): SnapshotResource[] {
        if (!merged) {
          snapshotStats.merges++;
          merged = gs.map((g) => g.resources).reduce(mergeSorted);
        }
        return merged;
      },
      size: this.size,
      version: createHash('sha256').update(gs.map((g) => g.digest).join('\n')).digest('hex').slice(0, 16),
      shared: this.#shared,
      groups: gs,
    });
  }

  /**
   * VHDS: the virtual hosts `names` subscribe, by their route config's name or their own
   * (vhds.ts). Every resource subscribed (the usual case: a proxy subscribes its route
   * config) is the whole set.
   */
  selectVirtualHosts(names: readonly string[], key: string): Selection {
    const k = `vhds\u0000${key}`;
    let s = this.#named.get(k);
    if (!s) {
      const all = this.all();
      const wanted = new Set(names);
      const resources = all.resources.filter((r) => virtualHostSubscribed(wanted, r.name));
      s = resources.length === all.size ? all : { resources, size: resources.length, version: digest(resources), shared: this.#shared };
      this.#named.set(k, s);
    }
    return s;
  }

  /** `names` sorted and unique; `key` identifies them (e.g. their join), so equal subscriptions share the result. */
  select(names: readonly string[] | null, key?: string): Selection {
    if (names === null) return this.all();
    const k = key ?? names.join('\n');
    let s = this.#named.get(k);
    if (!s) {
      const resources: SnapshotResource[] = [];
      for (const n of names) {
        const r = this.get(n);
        if (r) resources.push(r);
      }
      s = { resources, size: resources.length, version: digest(resources), shared: this.#shared };
      this.#named.set(k, s);
    }
    return s;
  }
}

const routeConfigsMemo = new WeakMap<Selection, ReadonlySet<string>>();

/** VHDS: the route configs a selection's virtual hosts belong to (a subscribed route config name is not itself a resource). */
export function virtualHostConfigs(sel: Selection): ReadonlySet<string> {
  let c = routeConfigsMemo.get(sel);
  if (!c) routeConfigsMemo.set(sel, (c = new Set(sel.resources.map((r) => vhdsRouteConfig(r.name)))));
  return c;
}

/** Resources by type. */
export type ProxySnapshot = Record<XdsType, ResourceSet>;

/** Encodes every resource (throws SnapshotError naming the resource when one does not fit its proto). */
export function buildSnapshot(gen: GeneratedConfig): ProxySnapshot {
  const out = {} as ProxySnapshot;
  for (const type of XDS_TYPES) out[type] = resourceSet(type, [gen[FIELD[type]] ?? []]);
  return out;
}

function mergeSorted(a: SnapshotResource[], b: SnapshotResource[]): SnapshotResource[] {
  const out: SnapshotResource[] = new Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  while (i < a.length && j < b.length) out[k++] = byNameOrder(a[i]!, b[j]!) <= 0 ? a[i++]! : b[j++]!;
  while (i < a.length) out[k++] = a[i++]!;
  while (j < b.length) out[k++] = b[j++]!;
  return out;
}

/** Sets by their groups (in order): a set is made once per combination and reused by every proxy, and every model, that has it. */
interface SetMemo {
  next: WeakMap<Group, SetMemo>;
  set?: ResourceSet;
}
const setMemo = new WeakMap<Group, SetMemo>();

/**
 * A type's set, memoized by its groups, so its selections (and versions) are computed once for
 * every proxy and model with the same groups. One made of a single group is shared by
 * every proxy of a namespace; one with a proxy's own group (CDS with its inbound cluster)
 * is that proxy's, across models while its groups stay the same.
 */
function resourceSet(type: XdsType, items: readonly (readonly EnvoyObject[])[]): ResourceSet {
  const groups = items.map((g) => groupOf(type, g));
  if (groups.length === 0) return new ResourceSet(type, groups, false);
  let node: SetMemo | undefined = setMemo.get(groups[0]!);
  if (!node) setMemo.set(groups[0]!, (node = { next: new WeakMap() }));
  for (const g of groups.slice(1)) {
    let n: SetMemo | undefined = node.next.get(g);
    if (!n) node.next.set(g, (n = { next: new WeakMap() }));
    node = n;
  }
  // Only single-group sets count as shared (their encoded responses are cached: snapshot consumers, ads-connection.ts).
  return (node.set ??= new ResourceSet(type, groups, groups.length === 1));
}

/** The same from groups the generator shares between proxies (src/xds/generate.ts generateGroupsForProxy). */
export function buildSnapshotFromGroups(gen: GeneratedGroups): ProxySnapshot {
  const out = {} as ProxySnapshot;
  for (const type of XDS_TYPES) out[type] = resourceSet(type, gen[FIELD[type]] ?? []);
  return out;
}

/** What a delta (incremental) response carries to move a proxy from what it holds to a selection. */
export interface Delta {
  /** New or changed resources, sorted by name (of a whole multi-group selection: merged when first read). */
  readonly resources: readonly SnapshotResource[];
  /** How many (without merging them). */
  readonly count: number;
  /** Names the proxy holds that the selection does not have. */
  readonly removed: readonly string[];
  /** The same object for every proxy moving between the same two shared selections (so its response is encoded once). */
  readonly shared: boolean;
  /** When the delta is a whole wildcard selection (a first response): its groups, whose encoded runs are reused. */
  readonly groups?: readonly EncodedGroup[];
}

const EMPTY_DELTA: Delta = { resources: [], count: 0, removed: [], shared: true };
const wholeMemo = new WeakMap<Selection, Delta>();
const deltaMemo = new WeakMap<Selection, WeakMap<Selection, Delta>>();
const groupDeltaMemo = new WeakMap<EncodedGroup, WeakMap<EncodedGroup, Delta>>();

/**
 * The delta from `held` (the selection the proxy holds; undefined: nothing) to `next`.
 * Memoized per pair: every proxy of a namespace moving between the same two selections
 * gets the same Delta. A proxy's own sets (CDS: its inbound group and its namespace's)
 * are compared group by group, so the namespace's part is computed once for all of them.
 */
export function deltaBetween(held: Selection | undefined, next: Selection): Delta {
  if (held === next) return EMPTY_DELTA;
  if (!held) {
    let d = wholeMemo.get(next);
    if (!d)
      wholeMemo.set(
        next,
        (d = {
          get resources(): readonly SnapshotResource[] {
            return next.resources;
          },
          count: next.size,
          removed: [],
          shared: next.shared,
          ...(next.groups ? { groups: next.groups } : {}),
        }),
      );
    return d;
  }
  let m = deltaMemo.get(held);
  if (!m) deltaMemo.set(held, (m = new WeakMap()));
  let d = m.get(next);
  if (!d) m.set(next, (d = computeDelta(held, next)));
  return d;
}

function computeDelta(held: Selection, next: Selection): Delta {
  const hg = held.groups;
  const ng = next.groups;
  if (!hg || !ng || hg.length !== ng.length || ng.length < 2) return { ...diffAgainst(versionsOf(held.resources), next.resources), shared: held.shared && next.shared };
  const parts = ng.map((g, i) => groupDelta(hg[i]!, g));
  // A resource may have moved between groups: it is removed from one and added to another.
  const removed = parts.flatMap((p) => p.removed).filter((n) => !ng.some((g) => g.byName.has(n)));
  const resources = parts.map((p) => p.resources as SnapshotResource[]).reduce(mergeSorted);
  return { resources, count: resources.length, removed, shared: false };
}

function groupDelta(a: EncodedGroup, b: EncodedGroup): Delta {
  if (a === b) return EMPTY_DELTA;
  let m = groupDeltaMemo.get(a);
  if (!m) groupDeltaMemo.set(a, (m = new WeakMap()));
  let d = m.get(b);
  if (!d) m.set(b, (d = { ...diffAgainst(versionsOf(a.resources), b.resources), shared: true }));
  return d;
}

function versionsOf(resources: readonly SnapshotResource[]): Map<string, string> {
  const versions = new Map<string, string>();
  for (const r of resources) versions.set(r.name, r.version);
  return versions;
}

/** `next`'s resources whose version differs from `held` (name -> version), and the held names `next` lacks. */
function diffAgainst(held: ReadonlyMap<string, string>, next: readonly SnapshotResource[]): { resources: SnapshotResource[]; count: number; removed: string[] } {
  const resources: SnapshotResource[] = [];
  const kept = new Set<string>();
  for (const r of next) {
    const v = held.get(r.name);
    if (v !== undefined) kept.add(r.name);
    if (v !== r.version) resources.push(r);
  }
  const removed: string[] = [];
  if (kept.size < held.size) for (const n of held.keys()) if (!kept.has(n)) removed.push(n);
  return { resources, count: resources.length, removed };
}

/**
 * The delta from what a reconnecting proxy says it holds (delta xDS initial_resource_versions:
 * name -> the version it was sent) to `next`: made for that one stream.
 */
export function deltaFromVersions(held: ReadonlyMap<string, string>, next: Selection): Delta {
  return { ...diffAgainst(held, next.resources), shared: false };
}
