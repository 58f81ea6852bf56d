// One proxy's ADS stream (state of the world): per type, the subscription,
// what was last sent (version, nonce, resources), what was ACKed, the last NACK.
//
// Writes: at most one response is in flight per stream (written, not yet flushed
// by grpc-js); what the stream should send next is kept as a set of wanted types,
// and each is computed from the newest snapshot when its turn comes. So a slow
// reader holds one message, not a queue, and after a burst of changes gets the
// newest version, never the ones in between. A shared WriteBudget (ads-flow.ts)
// bounds the bytes in flight across all streams.
import type * as grpc from '@grpc/grpc-js';
import type { DiscoveryRequest } from '../xds/ads-service.js';
import { TYPE_SHORT, type TypeUrl } from '../xds/codec.js';
import { encodeDiscoveryResponse, framedResponse, markShared, resourcesField, type AdsEncoding, type WireDiscoveryRequest } from './ads-wire.js';
import type { WriteBudget } from './ads-flow.js';
import { SubscriptionTable, sameNames, type Subscription } from './ads-subscriptions.js';
import type { ProxyType } from '../xds/names.js';
import { withoutPrivateKeys } from '../xds/secrets.js';
import type { ControlMetrics } from './metrics.js';
import type { Logger } from './log.js';
import { PUSH_ORDER, TYPE_URL, XDS_TYPES, changedResources, type ProxySnapshot, type Selection, type SnapshotResource, type XdsType } from './snapshot.js';

export type SyncStatus = 'SYNCED' | 'STALE' | 'NOT SENT';

export interface TypeStatus {
  sentVersion?: string;
  ackedVersion?: string;
  status: SyncStatus;
  lastError?: string;
}

export interface ProxyStatus {
  id: string;
  pod: string;
  namespace: string;
  type: ProxyType;
  connectedAt: string;
  /** False while the proxy's workload is not in the registry (nothing is sent until it is). */
  workloadKnown: boolean;
  types: Record<XdsType, TypeStatus>;
}

export interface ProxyNode {
  id: string;
  type: ProxyType;
  ip: string;
  pod: string;
  namespace: string;
}

/** Responses are written already encoded (ads-wire.ts ADS_SERVER_SERVICE). */
export type AdsStream = grpc.ServerDuplexStream<DiscoveryRequest, Buffer>;

/**
 * Types whose SotW responses may carry only the resources that changed (the xDS
 * spec: only LDS and CDS responses must hold the full state; a weft proxy merges
 * EDS by name). An endpoint change then sends one ClusterLoadAssignment, not all.
 */
const PARTIAL_TYPES: ReadonlySet<XdsType> = new Set(['EDS']);

interface TypeState {
  /** What the stream asked for (shared with streams asking the same); undefined until its first request. */
  sub?: Subscription;
  /** What was last sent (the full selection, even when only changes were written). */
  sentSelection?: Selection;
  sentVersion?: string;
  sentNonce?: string;
  sentResources: SnapshotResource[];
  ackedVersion?: string;
  lastError?: string;
}

/** Streams of every server in the process share equal subscriptions (they are immutable). */
const sharedSubscriptions = new SubscriptionTable();

let connectionSeq = 0;
/** Nonces are unique in the process: a response encoded once for many streams carries one. */
let nonceSeq = 0;

interface Encoded {
  version: string;
  nonce: string;
  buf: Buffer;
}

/**
 * Responses made of shared resource lists (a namespace's EDS, RDS, LDS, the same EDS change)
 * are encoded and framed once and that frame written to every stream as it is (ads-wire.ts
 * writeFramedResponses; grpc-js copies it only where that hook is not in place).
 * Keyed by the list, so they go when it does; per-proxy lists (CDS with its inbound cluster)
 * are encoded per write and not kept.
 */
const sharedResponses = new WeakMap<readonly SnapshotResource[], Encoded>();

function response(type: XdsType, sel: Selection, resources: SnapshotResource[], shared: boolean, lastNonce: string | undefined): Encoded {
  const version = sel.version;
  if (shared) {
    const hit = sharedResponses.get(resources);
    // Never the same nonce twice in a row on a stream (a re-request of an unchanged version).
    if (hit && hit.version === version && hit.nonce !== lastNonce) return hit;
  }
  const nonce = String(++nonceSeq);
  // Whole groups (a proxy's CDS: its own inbound group and its namespace's): their runs, each made once.
  const body = resources === sel.resources && sel.groups ? sel.groups.map((g) => g.body) : [resourcesField(resources)];
  const e = { version, nonce, buf: encodeDiscoveryResponse(version, TYPE_URL[type], nonce, body) };
  if (shared) {
    sharedResponses.set(resources, e);
    markShared(e.buf); // worth compressing once for every stream that reads gzip
  }
  return e;
}

/** The resource_names of a request as raw bytes, when the server's decoder kept them. */
function namesBytesOf(req: DiscoveryRequest): Buffer | undefined {
  return (req as Partial<WireDiscoveryRequest>).resourceNamesBytes;
}

export class ProxyConnection {
  readonly seq = ++connectionSeq;
  /** Set at stream start: a router or sidecar authenticated as its workload gets its credential secrets. */
  credentials = false;
  readonly connectedAt = new Date();
  readonly #stream: AdsStream;
  readonly #metrics: ControlMetrics;
  readonly #log: Logger;
  readonly #budget: WriteBudget;
  readonly #encoding: AdsEncoding | undefined;
  readonly #subs: SubscriptionTable;
  readonly #types = new Map<XdsType, TypeState>();
  #snapshot: ProxySnapshot | undefined;
  #closed = false;
  /** Types to send when this stream may write next; true = even if the version is unchanged (a request). */
  readonly #want = new Map<XdsType, boolean>();
  /** Releases the budget of the response in flight; set from write to flush. */
  #inFlight: (() => void) | undefined;
  /** Queued in the budget for a turn. */
  #waiting = false;
  /** Something has been written (the budget serves such streams first). */
  #sentAny = false;
  readonly #unknownTypesLogged = new Set<string>();

  constructor(
    readonly node: ProxyNode,
    stream: AdsStream,
    deps: { metrics: ControlMetrics; log: Logger; budget: WriteBudget; subscriptions?: SubscriptionTable; encoding?: AdsEncoding | undefined },
  ) {
    this.#stream = stream;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    this.#budget = deps.budget;
    this.#encoding = deps.encoding;
    this.#subs = deps.subscriptions ?? sharedSubscriptions;
    for (const t of XDS_TYPES) this.#types.set(t, { sentResources: [] });
  }

  get hasSnapshot(): boolean {
    return this.#snapshot !== undefined;
  }

  get snapshot(): ProxySnapshot | undefined {
    return this.#snapshot;
  }

  /** True while a response is written and not yet flushed (later ones wait and coalesce). */
  get blocked(): boolean {
    return this.#inFlight !== undefined;
  }

  handleRequest(req: DiscoveryRequest): void {
    if (this.#closed) return;
    const type = TYPE_SHORT[(req.typeUrl ?? '') as TypeUrl] as XdsType | undefined;
    if (!type) {
      const url = req.typeUrl ?? '(none)';
      if (!this.#unknownTypesLogged.has(url)) {
        this.#unknownTypesLogged.add(url);
        this.#log('warn', `proxy ${this.node.id} asked for unsupported type ${url}; ignored`);
      }
      return;
    }
    const st = this.#types.get(type)!;
    if (req.responseNonce) {
      if (req.responseNonce !== st.sentNonce) return; // stale: answers an older response
      if (req.errorDetail) {
        st.lastError = req.errorDetail.message ?? `error code ${req.errorDetail.code ?? 'unknown'}`;
        this.#metrics.xdsRejects.inc({ type });
        this.#log('warn', `proxy ${this.node.id} rejected ${type} version ${st.sentVersion ?? ''} (nonce ${req.responseNonce}): ${st.lastError}`);
        return;
      }
      st.ackedVersion = req.versionInfo ?? '';
      st.lastError = undefined;
      // An ACK usually repeats the subscription byte for byte: then nothing to decode or compare.
      const bytes = namesBytesOf(req);
      if (bytes && st.sub?.bytes && bytes.equals(st.sub.bytes)) return;
      const prev = st.sub;
      this.#subscribe(st, type, req);
      if (!prev || !sameNames(prev.names, st.sub!.names)) {
        st.sentSelection = undefined; // the subscription changed: answer with all of it
        this.#enqueue(type, false);
      }
      return;
    }
    // A first request for the type (or a re-request): subscribe and answer.
    this.#subscribe(st, type, req);
    this.#enqueue(type, true);
  }

  /** Points the type at the (shared) subscription of this request's names. */
  #subscribe(st: TypeState, type: XdsType, req: DiscoveryRequest): void {
    const prev = st.sub;
    st.sub = this.#subs.acquire(type, namesBytesOf(req), () => req.resourceNames);
    if (prev) this.#subs.release(prev);
  }

  /** New generated config: sends, in make-before-break order, each subscribed type whose content changed. */
  setSnapshot(snapshot: ProxySnapshot): void {
    this.#snapshot = snapshot;
    for (const type of PUSH_ORDER) if (this.#types.get(type)!.sub && !this.#want.has(type)) this.#want.set(type, false);
    this.#flush();
  }

  #enqueue(type: XdsType, force: boolean): void {
    this.#want.set(type, force || (this.#want.get(type) ?? false));
    this.#flush();
  }

  /** Writes the next wanted response if this stream may write now; otherwise waits its turn. */
  #flush(): void {
    if (this.#closed || this.#inFlight || this.#waiting || this.#want.size === 0 || !this.#snapshot) return;
    if (this.#budget.mayStart()) this.#writeNext();
    else {
      this.#waiting = true;
      this.#budget.wait(this.#turn, this.#sentAny);
    }
  }

  readonly #turn = (): void => {
    this.#waiting = false;
    if (!this.#closed && !this.#inFlight) this.#writeNext();
  };

  /** Writes the first wanted type (push order) that has something to send, computed from the newest snapshot. */
  #writeNext(): void {
    for (const type of PUSH_ORDER) {
      const force = this.#want.get(type);
      if (force === undefined) continue;
      this.#want.delete(type);
      if (this.#write(type, force)) return;
    }
  }

  /** Sends one type if its selection changed (or `force`); false when there was nothing to send. */
  #write(type: XdsType, force: boolean): boolean {
    const snapshot = this.#snapshot;
    if (!snapshot || this.#closed) return false;
    const st = this.#types.get(type)!;
    const sub = st.sub;
    if (!sub) return false;
    // Never open with an empty answer to an empty named subscription.
    if (sub.names !== null && sub.names.length === 0 && st.sentVersion === undefined) return false;
    const sel = snapshot[type].select(sub.names, sub.key);
    if (!force && sel.version === st.sentVersion) return false;
    let resources: SnapshotResource[] = sel.resources;
    let shared = sel.shared;
    if (!force && PARTIAL_TYPES.has(type) && st.sentSelection) {
      const changed = changedResources(st.sentSelection, sel);
      if (changed && changed.length > 0) {
        resources = changed;
        shared &&= st.sentSelection.shared; // the diff is memoized per pair of selections
      }
    }
    // The resources' Any bytes are encoded once (shared by every proxy); the envelope too when the list is shared.
    const { buf, nonce } = response(type, sel, resources, shared, st.sentNonce);
    st.sentVersion = sel.version;
    st.sentNonce = nonce;
    st.sentSelection = sel;
    st.sentResources = sel.resources;
    this.#metrics.xdsPushes.inc({ type });
    this.#sentAny = true;
    // What goes on the wire: the compressed frame where this stream reads gzip (made once, here or by an earlier stream).
    const release = this.#budget.charge((this.#encoding && framedResponse(buf, this.#encoding)?.length) || buf.length);
    const done = (): void => {
      release();
      if (this.#inFlight !== done) return;
      this.#inFlight = undefined;
      this.#flush();
    };
    this.#inFlight = done;
    this.#stream.write(buf, done);
    return true;
  }

  status(workloadKnown: boolean): ProxyStatus {
    const types = {} as Record<XdsType, TypeStatus>;
    for (const t of XDS_TYPES) {
      const st = this.#types.get(t)!;
      const status: SyncStatus = st.sentVersion === undefined ? 'NOT SENT' : st.ackedVersion === st.sentVersion && !st.lastError ? 'SYNCED' : 'STALE';
      types[t] = {
        ...(st.sentVersion !== undefined ? { sentVersion: st.sentVersion } : {}),
        ...(st.ackedVersion !== undefined ? { ackedVersion: st.ackedVersion } : {}),
        status,
        ...(st.lastError !== undefined ? { lastError: st.lastError } : {}),
      };
    }
    return {
      id: this.node.id,
      pod: this.node.pod,
      namespace: this.node.namespace,
      type: this.node.type,
      connectedAt: this.connectedAt.toISOString(),
      workloadKnown,
      types,
    };
  }

  /** The resources last sent, by type; secrets without their private keys. */
  config(): Record<XdsType, Record<string, unknown>[]> {
    const out = {} as Record<XdsType, Record<string, unknown>[]>;
    for (const t of XDS_TYPES) out[t] = this.#types.get(t)!.sentResources.map((r) => (t === 'SDS' ? withoutPrivateKeys(r.object) : r.object));
    return out;
  }

  /** Ends the stream with status OK. */
  close(): void {
    if (this.#closed) return;
    this.markClosed();
    try {
      this.#stream.end();
    } catch {
      // already gone
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** The stream is gone: give back its place in the budget (a cancelled write never reports flushed). */
  markClosed(): void {
    if (!this.#closed)
      for (const st of this.#types.values())
        if (st.sub) {
          this.#subs.release(st.sub);
          st.sub = undefined;
        }
    this.#closed = true;
    this.#want.clear();
    if (this.#waiting) this.#budget.cancel(this.#turn);
    this.#waiting = false;
    const inFlight = this.#inFlight;
    this.#inFlight = undefined;
    inFlight?.();
  }
}
