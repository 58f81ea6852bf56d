// The xDS client's bookkeeping, without sockets: the accepted snapshot, per-type
// version/nonce/counters, candidate snapshots for a response, and the resource
// names to subscribe to given what has been accepted.
//
// Semantics (xDS SotW): LDS and CDS responses carry the full state (the type is
// replaced); RDS, EDS and SDS responses carry the named resources they hold
// (merged by name; names not subscribed to are ignored). Delta xDS: every
// response adds, replaces and removes by name, and each resource has a version.
// When an accepted LDS/CDS stops referencing a route config, cluster load
// assignment or secret, it is dropped in that same candidate; so are the VHDS
// virtual hosts of a route config that is gone or no longer sent with `vhds`.
// VHDS (delta only) subscribes by route config name: the virtual hosts it holds are
// named "<route config>/<virtual host>".
import { TYPE, type TypeUrl } from '../../xds/codec.js';
import { SECRET, vhdsRouteConfig } from '../../xds/names.js';
import type { EnvoyObject, XdsSnapshot } from '../types.js';
import { XdsResponseError } from './errors.js';
import { edsNames, rdsNames, sdsNames, vhdsNames } from './xds-refs.js';
import { virtualHostSubscribed } from '../../xds/vhds.js';

export type XdsKind = 'LDS' | 'RDS' | 'VHDS' | 'CDS' | 'EDS' | 'SDS';
export const KINDS: readonly XdsKind[] = ['CDS', 'LDS', 'SDS', 'EDS', 'RDS', 'VHDS'];
export const KIND_URL: Record<XdsKind, TypeUrl> = {
  LDS: TYPE.listener,
  RDS: TYPE.route,
  VHDS: TYPE.virtualHost,
  CDS: TYPE.cluster,
  EDS: TYPE.endpoint,
  SDS: TYPE.secret,
};
const URL_KIND = new Map<string, XdsKind>(Object.entries(KIND_URL).map(([k, u]) => [u, k as XdsKind]));
export function kindOf(typeUrl: string): XdsKind | undefined {
  return URL_KIND.get(typeUrl);
}

export interface TypeStatus {
  /** Last accepted version ('' before any). */
  version: string;
  /** Nonce of the last response received on the current stream. */
  nonce: string;
  lastUpdate?: Date;
  lastAttempt?: Date;
  accepted: number;
  rejected: number;
  resources: number;
  /** '*' for wildcard (LDS, CDS), else the names subscribed. */
  subscribed: '*' | string[];
  lastError?: string;
}

type SnapshotKey = Exclude<keyof XdsSnapshot, 'vhdsPending'>;
const KIND_KEY: Record<XdsKind, SnapshotKey> = { LDS: 'listeners', RDS: 'routes', VHDS: 'virtualHosts', CDS: 'clusters', EDS: 'endpoints', SDS: 'secrets' };

/** What a snapshot holds of a kind (an older snapshot may have no virtual hosts at all). */
function held(s: XdsSnapshot, kind: XdsKind): Map<string, EnvoyObject> {
  return s[KIND_KEY[kind]] ?? EMPTY_MAP;
}
const EMPTY_MAP: Map<string, EnvoyObject> = new Map();

function resourceName(kind: XdsKind, r: EnvoyObject): unknown {
  return kind === 'EDS' ? r['clusterName'] : r['name'];
}

export function emptySnapshot(): XdsSnapshot {
  return { listeners: new Map(), routes: new Map(), virtualHosts: new Map(), clusters: new Map(), endpoints: new Map(), secrets: new Map() };
}

const EMPTY_VERSIONS: ReadonlyMap<string, string> = new Map();

/** The kinds subscribed by name (as the accepted config refers to them). */
export type NamedKind = 'RDS' | 'VHDS' | 'EDS' | 'SDS';

/** The virtual hosts whose route config is still held and sent with `vhds`. */
function vhostsOf(vhosts: Map<string, EnvoyObject>, routes: Map<string, EnvoyObject>): Map<string, EnvoyObject> {
  if (vhosts.size === 0) return vhosts;
  const configs = vhdsNames(routes.values());
  const out = new Map<string, EnvoyObject>();
  for (const [n, v] of vhosts) if (configs.has(vhdsRouteConfig(n))) out.set(n, v);
  return out.size === vhosts.size ? vhosts : out;
}

function pick<V>(m: Map<string, V>, keep: Set<string>): Map<string, V> {
  const out = new Map<string, V>();
  for (const [k, v] of m) if (keep.has(k)) out.set(k, v);
  return out;
}

function sameSet(a: readonly string[], b: Set<string>): boolean {
  return a.length === b.size && a.every((x) => b.has(x));
}

export class XdsState {
  private committed: XdsSnapshot = emptySnapshot();
  private readonly types = new Map<XdsKind, TypeStatus>();
  private readonly resourceVersions = new Map<XdsKind, Map<string, string>>();
  /** Route configs whose VHDS virtual hosts have been answered since they were subscribed. */
  private readonly vhdsAnswered = new Set<string>();

  constructor() {
    for (const k of KINDS) {
      this.types.set(k, { version: '', nonce: '', accepted: 0, rejected: 0, resources: 0, subscribed: k === 'LDS' || k === 'CDS' ? '*' : [] });
    }
  }

  /** The accepted snapshot. Its maps are never mutated after commit. */
  get snapshot(): XdsSnapshot {
    return this.committed;
  }

  type(kind: XdsKind): TypeStatus {
    return this.types.get(kind)!;
  }

  /** Checks the resources of a SotW response and builds the snapshot that would result. Throws XdsResponseError. */
  candidate(kind: XdsKind, resources: EnvoyObject[]): XdsSnapshot {
    const incoming = this.checked(kind, resources.map((r) => ({ resource: r })));
    if (kind === 'LDS' || kind === 'CDS') return this.with(kind, incoming);
    return this.with(kind, this.merged(kind, incoming, []));
  }

  /**
   * The same for a delta response: its resources (each with the name and version the
   * Resource wrapper gives) replace or add to what is held, `removed` are dropped. Returns
   * the snapshot and the kind's per-resource versions after it (for commit and for
   * initial_resource_versions on a new stream).
   */
  deltaCandidate(kind: XdsKind, resources: { name?: string; version?: string; resource?: EnvoyObject }[], removed: readonly string[]): { snapshot: XdsSnapshot; versions: Map<string, string> } {
    const incoming = this.checked(kind, resources);
    const snapshot = this.with(kind, this.merged(kind, incoming, removed));
    const versions = new Map(this.versions(kind));
    for (const n of removed) versions.delete(n);
    const names = [...incoming.keys()]; // in the response's order (checked refuses duplicates)
    resources.forEach((r, i) => versions.set(names[i]!, r.version ?? ''));
    return { snapshot, versions };
  }

  /** Each resource checked (type, name, no duplicates), by name. */
  private checked(kind: XdsKind, resources: { name?: string; resource?: EnvoyObject }[]): Map<string, EnvoyObject> {
    const url = KIND_URL[kind];
    const incoming = new Map<string, EnvoyObject>();
    resources.forEach((entry, i) => {
      const r = entry.resource;
      if (!r) throw new XdsResponseError(`resources[${i}]${entry.name ? ` (${entry.name})` : ''}: no resource`);
      const t = r['@type'];
      if (t !== undefined && t !== url) throw new XdsResponseError(`resources[${i}]: type ${String(t)} in a ${kind} response`);
      const name = resourceName(kind, r);
      if (typeof name !== 'string' || name === '') throw new XdsResponseError(`resources[${i}]: ${kind === 'EDS' ? 'clusterName' : 'name'} is missing`);
      if (entry.name !== undefined && entry.name !== '' && entry.name !== name) throw new XdsResponseError(`resources[${i}]: named "${entry.name}" but the ${kind} resource is "${name}"`);
      if (incoming.has(name)) throw new XdsResponseError(`resources[${i}]: duplicate ${kind} resource "${name}"`);
      incoming.set(name, r);
    });
    return incoming;
  }

  /**
   * What is held of a kind with `incoming` put in and `removed` taken out. For named kinds
   * resources not subscribed to are ignored (as Envoy does): a server that reads an
   * unsubscribe (empty names) as a wildcard cannot bring them back.
   */
  private merged(kind: XdsKind, incoming: Map<string, EnvoyObject>, removed: readonly string[]): Map<string, EnvoyObject> {
    const sub = this.type(kind).subscribed;
    const wanted = sub === '*' ? undefined : new Set(sub);
    const merged = new Map(held(this.committed, kind));
    for (const n of removed) merged.delete(n);
    // A virtual host is subscribed by its route config's name (or by its own).
    const isWanted = kind === 'VHDS' ? (n: string) => virtualHostSubscribed(wanted!, n) : (n: string) => !wanted || wanted.has(n);
    for (const [n, r] of incoming) if (isWanted(n)) merged.set(n, r);
    return merged;
  }

  /** The accepted snapshot with a kind's resources replaced; a listener or cluster change drops what is no longer referenced. */
  private with(kind: XdsKind, resources: Map<string, EnvoyObject>): XdsSnapshot {
    const s = this.committed;
    const next: XdsSnapshot = { ...s };
    switch (kind) {
      case 'LDS':
        next.listeners = resources;
        next.routes = pick(s.routes, rdsNames(resources.values()));
        next.virtualHosts = vhostsOf(held(s, 'VHDS'), next.routes);
        next.secrets = pick(s.secrets, this.secretNames(resources, s.clusters));
        break;
      case 'RDS':
        next.routes = resources;
        next.virtualHosts = vhostsOf(held(s, 'VHDS'), resources);
        break;
      case 'CDS':
        next.clusters = resources;
        next.endpoints = pick(s.endpoints, edsNames(resources.values()));
        next.secrets = pick(s.secrets, this.secretNames(s.listeners, resources));
        break;
      default:
        next[KIND_KEY[kind]] = resources;
    }
    const pending = this.vhdsPending(next.routes, kind === 'VHDS');
    if (pending) next.vhdsPending = pending;
    else delete next.vhdsPending;
    return next;
  }

  /** Route configs with `vhds` not yet answered over VHDS (`answering`: this candidate is a VHDS response, which answers what is subscribed). */
  private vhdsPending(routes: Map<string, EnvoyObject>, answering: boolean): Set<string> | undefined {
    const sub = this.type('VHDS').subscribed;
    let out: Set<string> | undefined;
    for (const n of vhdsNames(routes.values())) {
      if (this.vhdsAnswered.has(n) || (answering && sub !== '*' && sub.includes(n))) continue;
      (out ??= new Set()).add(n);
    }
    return out;
  }

  /** Per-resource versions of a kind (delta xDS), of the resources held. */
  versions(kind: XdsKind): ReadonlyMap<string, string> {
    return this.resourceVersions.get(kind) ?? EMPTY_VERSIONS;
  }

  private secretNames(listeners: Map<string, EnvoyObject>, clusters: Map<string, EnvoyObject>): Set<string> {
    const names = sdsNames(listeners.values(), clusters.values());
    names.delete(SECRET.workload);
    names.add(SECRET.root);
    return names;
  }

  /** Accepts a candidate; `versions`: the kind's per-resource versions (delta xDS). */
  commit(kind: XdsKind, snapshot: XdsSnapshot, version: string, now = new Date(), versions?: Map<string, string>): void {
    this.committed = snapshot;
    if (versions) this.resourceVersions.set(kind, versions);
    // A cluster or listener change may have dropped resources of other kinds: their versions go too.
    for (const [k, vs] of this.resourceVersions) {
      const has = held(snapshot, k);
      for (const n of [...vs.keys()]) if (!has.has(n)) vs.delete(n);
    }
    const st = this.type(kind);
    if (kind === 'VHDS' && st.subscribed !== '*') for (const n of st.subscribed) this.vhdsAnswered.add(n);
    st.version = version;
    st.lastUpdate = now;
    st.lastAttempt = now;
    st.accepted++;
    st.lastError = undefined;
    for (const k of KINDS) this.type(k).resources = held(snapshot, k).size;
  }

  reject(kind: XdsKind, message: string, now = new Date()): void {
    const st = this.type(kind);
    st.rejected++;
    st.lastAttempt = now;
    st.lastError = message;
  }

  /** Names to subscribe to for RDS, VHDS, EDS, SDS given the accepted snapshot. */
  desired(kind: NamedKind): Set<string> {
    const s = this.committed;
    if (kind === 'RDS') return rdsNames(s.listeners.values());
    if (kind === 'VHDS') return vhdsNames(s.routes.values());
    if (kind === 'EDS') return edsNames(s.clusters.values());
    return this.secretNames(s.listeners, s.clusters);
  }

  /** Sets the subscription for a named type; true when it changed. */
  subscribe(kind: NamedKind, names: Set<string>): boolean {
    const st = this.type(kind);
    const cur = st.subscribed === '*' ? [] : st.subscribed;
    if (sameSet(cur, names)) return false;
    st.subscribed = [...names].sort();
    // A route config subscribed again later waits for its virtual hosts again.
    if (kind === 'VHDS') for (const n of [...this.vhdsAnswered]) if (!names.has(n)) this.vhdsAnswered.delete(n);
    return true;
  }

  /** Forget per-stream state (nonces) when a new stream starts. */
  resetNonces(): void {
    for (const k of KINDS) this.type(k).nonce = '';
  }

  /** LDS and CDS each applied at least once. */
  get synced(): { lds: boolean; cds: boolean } {
    return { lds: this.type('LDS').accepted > 0, cds: this.type('CDS').accepted > 0 };
  }
}
