// What every proxy's ADS stream shares, state of the world (ads-connection.ts) or
// delta (ads-delta.ts): its node, the newest snapshot, and the write scheduling.
//
// Writes: at most one response is in flight per stream (written, not yet flushed
// by grpc-js); what the stream should send next is kept as a set of wanted types,
// and each is computed from the newest snapshot when its turn comes. So a slow
// reader holds one message, not a queue, and after a burst of changes gets the
// newest version, never the ones in between. A shared WriteBudget (ads-flow.ts)
// bounds the bytes in flight across all streams.
import { TYPE_SHORT, type TypeUrl } from '../xds/codec.js';
import { virtualHostsByRouteConfig, withVirtualHosts } from '../xds/vhds.js';
import { framedResponse, type AdsEncoding } from './ads-wire.js';
import type { WriteBudget } from './ads-flow.js';
import type { ProxyType } from '../xds/names.js';
import { withoutPrivateKeys } from '../xds/secrets.js';
import type { ControlMetrics } from './metrics.js';
import { SubscriptionTable, type Subscription } from './ads-subscriptions.js';
import type { Logger } from './log.js';
import { PUSH_ORDER, XDS_TYPES, type ProxySnapshot, type Selection, type XdsType } from './snapshot.js';

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
  /** The ADS variant the proxy's stream speaks. */
  protocol: AdsProtocol;
  connectedAt: string;
  /** False while the proxy's workload is not in the registry (nothing is sent until it is). */
  workloadKnown: boolean;
  /** Every type but VHDS always; VHDS once the proxy asked for it (only a proxy sent route configs with vhds does). */
  types: Record<Exclude<XdsType, 'VHDS'>, TypeStatus> & { VHDS?: TypeStatus };
}

export interface ProxyNode {
  id: string;
  type: ProxyType;
  ip: string;
  pod: string;
  namespace: string;
}

/** State of the world (StreamAggregatedResources) or incremental (DeltaAggregatedResources). */
export type AdsProtocol = 'sotw' | 'delta';

/** The part of a grpc-js server stream a connection writes to (responses already encoded: ads-wire.ts). */
export interface ResponseStream {
  write(message: Buffer, cb: () => void): unknown;
  end(): void;
}

/** Per type, what both variants keep: the subscription, what was sent and ACKed, the last NACK. */
export interface TypeStateBase {
  /** What the stream asked for (shared with streams asking the same); undefined until its first request. */
  sub?: Subscription;
  sentVersion?: string;
  ackedVersion?: string;
  lastError?: string;
  /** What the proxy was last sent (its whole state, however little went on the wire). */
  sent?: Selection;
}

export interface ConnectionDeps {
  metrics: ControlMetrics;
  log: Logger;
  budget: WriteBudget;
  /** The encoding this stream's client reads (ads-wire.ts encodingFor), when the framed-write hook is in place. */
  encoding?: AdsEncoding | undefined;
  /** Where equal subscriptions are shared (default: the process's). */
  subscriptions?: SubscriptionTable;
}

let connectionSeq = 0;

/** Streams of every server in the process share equal subscriptions (they are immutable). */
export const sharedSubscriptions = new SubscriptionTable();

/** Nonces are unique in the process: a response encoded once for many streams carries one. */
let nonceSeq = 0;
export const nextNonce = (): string => String(++nonceSeq);

export abstract class AdsConnection<S extends TypeStateBase = TypeStateBase> {
  readonly seq = ++connectionSeq;
  abstract readonly protocol: AdsProtocol;
  /** Set at stream start: a router or sidecar authenticated as its workload gets its credential secrets. */
  credentials = false;
  /** The proxy reads VHDS (a delta stream whose node lists VHDS_FEATURE): its sidecar routes go that way. */
  vhds = false;
  readonly connectedAt = new Date();
  protected readonly metrics: ControlMetrics;
  protected readonly log: Logger;
  protected readonly types = new Map<XdsType, S>();
  protected readonly subs: SubscriptionTable;
  readonly #stream: ResponseStream;
  readonly #budget: WriteBudget;
  readonly #encoding: AdsEncoding | undefined;
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
    stream: ResponseStream,
    deps: ConnectionDeps,
    initial: () => S,
  ) {
    this.subs = deps.subscriptions ?? sharedSubscriptions;
    for (const t of XDS_TYPES) this.types.set(t, initial());
    this.#stream = stream;
    this.metrics = deps.metrics;
    this.log = deps.log;
    this.#budget = deps.budget;
    this.#encoding = deps.encoding;
  }

  /** Handles one request off the stream (already decoded). */
  abstract handleRequest(req: unknown): void;
  /** Sends one subscribed type if there is something to send (or `force`); false when nothing was written. */
  protected abstract writeType(type: XdsType, snapshot: ProxySnapshot, force: boolean): boolean;

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

  get closed(): boolean {
    return this.#closed;
  }

  /** The type a request names, or undefined (logged once per type URL) when weft does not serve it. */
  protected typeOf(typeUrl: string | undefined): XdsType | undefined {
    const type = TYPE_SHORT[(typeUrl ?? '') as TypeUrl] as XdsType | undefined;
    if (type) return type;
    const url = typeUrl || '(none)';
    if (!this.#unknownTypesLogged.has(url)) {
      this.#unknownTypesLogged.add(url);
      this.log('warn', `proxy ${this.node.id} asked for unsupported type ${url}; ignored`);
    }
    return undefined;
  }

  /** New generated config: sends, in make-before-break order, each subscribed type whose content changed. */
  setSnapshot(snapshot: ProxySnapshot): void {
    this.#snapshot = snapshot;
    for (const type of PUSH_ORDER) if (this.types.get(type)!.sub && !this.#want.has(type)) this.#want.set(type, false);
    this.#flush();
  }

  /** Asks for `type` to be written when this stream may write next (`force`: even if unchanged). */
  protected enqueue(type: XdsType, force: boolean): void {
    if (this.#closed) return;
    this.#want.set(type, force || (this.#want.get(type) ?? false));
    this.#flush();
  }

  /** Writes one encoded response (made by ads-wire.ts), charged to the budget until flushed. */
  protected send(type: XdsType, message: Buffer): void {
    this.metrics.xdsPushes.inc({ type });
    this.#sentAny = true;
    // What goes on the wire: the compressed frame where this stream reads gzip (made once, here or by an earlier stream).
    const release = this.#budget.charge((this.#encoding && framedResponse(message, this.#encoding)?.length) || message.length);
    const done = (): void => {
      release();
      if (this.#inFlight !== done) return;
      this.#inFlight = undefined;
      this.#flush();
    };
    this.#inFlight = done;
    this.#stream.write(message, done);
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
    const snapshot = this.#snapshot;
    if (!snapshot) return;
    for (const type of PUSH_ORDER) {
      const force = this.#want.get(type);
      if (force === undefined) continue;
      this.#want.delete(type);
      if (this.types.get(type)!.sub && this.writeType(type, snapshot, force)) return;
    }
  }

  status(workloadKnown: boolean): ProxyStatus {
    const types = {} as Record<XdsType, TypeStatus>;
    for (const t of XDS_TYPES) {
      const st = this.types.get(t)!;
      if (t === 'VHDS' && !st.sub && st.sentVersion === undefined) continue;
      types[t] = typeStatusOf(st.sentVersion, st.ackedVersion, st.lastError);
    }
    return {
      id: this.node.id,
      pod: this.node.pod,
      namespace: this.node.namespace,
      type: this.node.type,
      protocol: this.protocol,
      connectedAt: this.connectedAt.toISOString(),
      workloadKnown,
      types,
    };
  }

  /** The resources last sent, by type; secrets without their private keys. */
  config(): Record<XdsType, Record<string, unknown>[]> {
    const out = {} as Record<XdsType, Record<string, unknown>[]>;
    for (const t of XDS_TYPES) out[t] = (this.types.get(t)!.sent?.resources ?? []).map((r) => (t === 'SDS' ? withoutPrivateKeys(r.object) : r.object));
    // Route configs as the proxy routes on them: with the virtual hosts sent over VHDS.
    if (out.VHDS.length > 0) {
      const byConfig = virtualHostsByRouteConfig(out.VHDS.map((v) => [String(v['name']), v]));
      out.RDS = out.RDS.map((rc) => (rc['vhds'] ? withVirtualHosts(rc, byConfig.get(String(rc['name']))) : rc));
    }
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

  /** The stream is gone: give back its place in the budget (a cancelled write never reports flushed). */
  markClosed(): void {
    if (!this.#closed)
      for (const st of this.types.values())
        if (st.sub) {
          this.subs.release(st.sub);
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

/** A type's status from what was sent and acknowledged. */
function typeStatusOf(sentVersion: string | undefined, ackedVersion: string | undefined, lastError: string | undefined): TypeStatus {
  const status: SyncStatus = sentVersion === undefined ? 'NOT SENT' : ackedVersion === sentVersion && !lastError ? 'SYNCED' : 'STALE';
  return {
    ...(sentVersion !== undefined ? { sentVersion } : {}),
    ...(ackedVersion !== undefined ? { ackedVersion } : {}),
    status,
    ...(lastError !== undefined ? { lastError } : {}),
  };
}
