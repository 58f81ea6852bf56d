// One proxy's delta (incremental) ADS stream. The proxy subscribes and
// unsubscribes by name and ACKs by nonce alone; each response carries only the
// resources that are new or changed since what the proxy holds, and the names it
// must drop. So an ACK costs nothing to read (a SotW ACK repeats every EDS name:
// ~49 KB at 1,000 services) and a change of one route or cluster sends that one.
//
// What a proxy holds is kept as the Selection last sent (shared by every proxy of
// the namespace), not a per-proxy map: deltas between two selections are memoized
// (snapshot.ts deltaBetween), so 2,000 proxies moving between the same two get one
// Delta and one encoded response. Only a reconnecting proxy's
// initial_resource_versions are a map of its own, until its first response.
//
// One response per type awaits its ACK at a time: what changes meanwhile waits and
// coalesces (the newest config is sent on the ACK). A NACK leaves the proxy where it
// was: the server takes it to hold what it held before, and the rejected config is
// not sent again until the config changes (as SotW).
import type * as grpc from '@grpc/grpc-js';
import type { DeltaDiscoveryRequest } from '../xds/ads-service.js';
import { markShared } from './ads-wire.js';
import { deltaGroupBody, deltaResourcesField, encodeDeltaResponse } from './ads-delta-wire.js';
import { WILDCARD_TYPES, updatedNames } from './ads-subscriptions.js';
import { AdsConnection, nextNonce, type ConnectionDeps, type ProxyNode, type TypeStateBase } from './ads-stream.js';
import { TYPE_URL, deltaBetween, deltaFromVersions, virtualHostConfigs, type Delta, type ProxySnapshot, type Selection, type SnapshotResource, type XdsType } from './snapshot.js';

export type DeltaStream = grpc.ServerDuplexStream<DeltaDiscoveryRequest, Buffer>;

/** What the proxy holds: the selection last sent, or (reconnected) the versions it said it has, or nothing. */
type Held = Selection | ReadonlyMap<string, string> | undefined;

interface DeltaTypeState extends TypeStateBase {
  /** Asked for at least once on this stream. */
  started: boolean;
  held: Held;
  /** The response awaiting its ACK, and what the proxy held before it (a NACK returns there). */
  pending?: { nonce: string; before: Held; sel: Selection };
  /** A write was wanted while a response awaited its ACK (true: a request asked for an answer). */
  deferred?: boolean;
  /** Names subscribed again since the last response: sent whatever the proxy held before. */
  resend?: Set<string>;
  /** Names newly subscribed since the last response: the proxy is told of those that do not exist. */
  check?: Set<string>;
  lastNonce?: string;
}

interface Encoded {
  nonce: string;
  buf: Buffer;
}

/** Responses for shared deltas (every proxy moving between the same two selections), encoded once. */
const sharedResponses = new WeakMap<Delta, Encoded>();

export class DeltaConnection extends AdsConnection<DeltaTypeState> {
  readonly protocol = 'delta';
  constructor(node: ProxyNode, stream: DeltaStream, deps: ConnectionDeps) {
    super(node, stream, deps, () => ({ started: false, held: undefined }));
  }

  handleRequest(req: DeltaDiscoveryRequest): void {
    if (this.closed) return;
    const type = this.typeOf(req.typeUrl);
    if (!type) return;
    const st = this.types.get(type)!;
    if (req.responseNonce) this.#answered(type, st, req);
    const first = !st.started;
    st.started = true;
    if (first && req.initialResourceVersions && Object.keys(req.initialResourceVersions).length > 0) st.held = new Map(Object.entries(req.initialResourceVersions));
    const subscribe = req.resourceNamesSubscribe ?? [];
    const unsubscribe = req.resourceNamesUnsubscribe ?? [];
    if (!first && subscribe.length === 0 && unsubscribe.length === 0) return; // an ACK or NACK only
    this.#resubscribe(type, st, first, subscribe, unsubscribe);
    // A first request is answered (even with nothing: the proxy then knows it has all); a new
    // name is answered with it; an unsubscribe is not (the proxy drops the resource itself).
    if (first || subscribe.length > 0) this.enqueue(type, true);
  }

  /** An ACK or NACK: of the response awaiting one, else stale (answers an older response) and ignored. */
  #answered(type: XdsType, st: DeltaTypeState, req: DeltaDiscoveryRequest): void {
    const pending = st.pending;
    if (!pending || req.responseNonce !== pending.nonce) return;
    st.pending = undefined;
    if (req.errorDetail) {
      st.lastError = req.errorDetail.message ?? `error code ${req.errorDetail.code ?? 'unknown'}`;
      st.held = pending.before;
      this.metrics.xdsRejects.inc({ type });
      this.log('warn', `proxy ${this.node.id} rejected ${type} version ${pending.sel.version} (nonce ${pending.nonce}): ${st.lastError}`);
    } else {
      st.ackedVersion = pending.sel.version;
      st.lastError = undefined;
    }
    const deferred = st.deferred;
    st.deferred = undefined;
    if (deferred !== undefined) this.enqueue(type, deferred);
  }

  /**
   * Applies a request's subscribe and unsubscribe lists. Wildcard: the first request of
   * LDS or CDS naming nothing (xDS's legacy wildcard), or '*' subscribed; '*' unsubscribed
   * ends it (the names subscribed in that request remain).
   */
  #resubscribe(type: XdsType, st: DeltaTypeState, first: boolean, subscribe: readonly string[], unsubscribe: readonly string[]): void {
    const prev = st.sub;
    let wildcard = prev ? prev.names === null : first && subscribe.length === 0 && WILDCARD_TYPES.has(type);
    if (subscribe.includes('*')) wildcard = true;
    if (unsubscribe.includes('*')) wildcard = false;
    const named = subscribe.filter((n) => n !== '*');
    st.sub = this.subs.acquireNames(type, wildcard ? null : updatedNames(prev?.names ?? [], named, unsubscribe));
    if (prev) this.subs.release(prev);
    for (const n of unsubscribe) {
      st.resend?.delete(n);
      st.check?.delete(n);
    }
    if (named.length > 0) {
      st.check ??= new Set();
      for (const n of named) st.check.add(n);
      // Sent again whatever was held: a proxy that unsubscribed a name dropped it. Not on a
      // first request: a reconnecting proxy said what it holds (initial_resource_versions).
      if (!first) {
        st.resend ??= new Set();
        for (const n of named) st.resend.add(n);
      }
    }
  }

  protected writeType(type: XdsType, snapshot: ProxySnapshot, force: boolean): boolean {
    const st = this.types.get(type)!;
    const sub = st.sub!;
    if (sub.names !== null && sub.names.length === 0 && st.sentVersion === undefined && !st.check) return false; // nothing asked yet
    if (st.pending) {
      st.deferred = (st.deferred ?? false) || force;
      return false;
    }
    const set = snapshot[type];
    const sel = type === 'VHDS' && sub.names !== null ? set.selectVirtualHosts(sub.names, sub.key) : set.select(sub.names, sub.key);
    if (!force && !st.resend && !st.check && sel.version === st.sentVersion) return false;
    const held = st.held;
    const d = held instanceof Map ? deltaFromVersions(held, sel) : deltaBetween(held as Selection | undefined, sel);
    // Names (re)subscribed: sent even if held before; those that do not exist are named as removed.
    const extra: SnapshotResource[] = [];
    const absent: string[] = [];
    if (st.resend?.size) {
      const inDelta = new Set(d.resources.map((r) => r.name));
      for (const n of st.resend) {
        const r = set.get(n);
        if (r && !inDelta.has(n)) extra.push(r);
      }
    }
    // When every subscribed name exists (the usual case), none is absent: no lookups.
    if (st.check?.size && !(sub.names !== null && sel.size === sub.names.length)) {
      const removedAlready = d.removed.length > 0 ? new Set(d.removed) : undefined;
      // A VHDS route config name is not a resource: its virtual hosts are.
      const configs = type === 'VHDS' ? virtualHostConfigs(sel) : undefined;
      for (const n of st.check) if (!set.get(n) && !removedAlready?.has(n) && !configs?.has(n)) absent.push(n);
    }
    // The delta as memoized, or with resent names added (then this stream's own).
    const resources = extra.length > 0 ? [...d.resources, ...extra] : undefined;
    const count = d.count + extra.length;
    const removed = absent.length > 0 ? [...d.removed, ...absent] : d.removed;
    st.resend = undefined;
    st.check = undefined;
    if (!force && count === 0 && removed.length === 0) {
      // The proxy already holds this selection: nothing on the wire.
      if (st.ackedVersion === st.sentVersion) st.ackedVersion = sel.version;
      st.held = sel;
      st.sentVersion = sel.version;
      st.sent = sel;
      return false;
    }
    // A memoized delta as it is (a reconnect's own is never shared); not the empty one every pair shares.
    const shareable = d.shared && !resources && absent.length === 0 && (count > 0 || removed.length > 0);
    const { nonce, buf } = this.#encode(type, sel, d, resources, removed, shareable, st.lastNonce);
    st.pending = { nonce, before: held, sel };
    st.held = sel;
    st.lastNonce = nonce;
    st.sentVersion = sel.version;
    st.sent = sel;
    this.send(type, buf);
    return true;
  }

  /** `resources`: the delta's with resent names added; undefined: the delta's own (its groups' runs when it is a whole selection). */
  #encode(type: XdsType, sel: Selection, d: Delta, resources: readonly SnapshotResource[] | undefined, removed: readonly string[], shareable: boolean, lastNonce: string | undefined): Encoded {
    if (shareable) {
      const hit = sharedResponses.get(d);
      if (hit && hit.nonce !== lastNonce) return hit;
    }
    const nonce = nextNonce();
    const body = !resources && d.groups ? d.groups.map(deltaGroupBody) : [deltaResourcesField(resources ?? d.resources)];
    const e = { nonce, buf: encodeDeltaResponse(sel.version, TYPE_URL[type], nonce, body, removed) };
    if (shareable) {
      sharedResponses.set(d, e);
      markShared(e.buf);
    }
    return e;
  }
}
