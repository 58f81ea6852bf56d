// One proxy's ADS stream (state of the world): per type, the subscription,
// what was last sent (version, nonce, resources), what was ACKed, the last NACK.
import type * as grpc from '@grpc/grpc-js';
import type { DiscoveryRequest, DiscoveryResponse } from '../xds/ads-service.js';
import { TYPE_SHORT, type TypeUrl } from '../xds/codec.js';
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

export type AdsStream = grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;

/** Types whose empty subscription means "all" (Envoy's wildcard); the others list names. */
const WILDCARD_TYPES: ReadonlySet<XdsType> = new Set(['LDS', 'CDS']);

/**
 * Types whose SotW responses may carry only the resources that changed (the xDS
 * spec: only LDS and CDS responses must hold the full state; a weft proxy merges
 * EDS by name). An endpoint change then sends one ClusterLoadAssignment, not all.
 */
const PARTIAL_TYPES: ReadonlySet<XdsType> = new Set(['EDS']);

interface TypeState {
  /** A request for this type has been seen. */
  subscribed: boolean;
  /** null = wildcard. */
  names: string[] | null;
  /** `names` joined: the key under which equal subscriptions share a selection. */
  namesKey: string;
  /** What was last sent (the full selection, even when only changes were written). */
  sentSelection?: Selection;
  sentVersion?: string;
  sentNonce?: string;
  sentResources: SnapshotResource[];
  ackedVersion?: string;
  lastError?: string;
}

function normalizeNames(type: XdsType, names: readonly string[] | undefined): string[] | null {
  const list = names ?? [];
  if (WILDCARD_TYPES.has(type) && (list.length === 0 || list.includes('*'))) return null;
  // Fast path: clients usually send names sorted and unique (EDS ACKs carry every cluster).
  let sorted = true;
  for (let i = 1; i < list.length && sorted; i++) sorted = list[i - 1]! < list[i]!;
  if (sorted) return [...list];
  return [...new Set(list)].sort();
}

function setNames(st: TypeState, names: string[] | null): void {
  st.names = names;
  st.namesKey = names === null ? '' : names.join('\n');
}

function sameNames(a: string[] | null, b: string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

let connectionSeq = 0;

export class ProxyConnection {
  readonly seq = ++connectionSeq;
  /** Set at stream start: a router authenticated as its workload gets its gateway credentials. */
  gatewayCredentials = false;
  readonly connectedAt = new Date();
  readonly #stream: AdsStream;
  readonly #metrics: ControlMetrics;
  readonly #log: Logger;
  readonly #types = new Map<XdsType, TypeState>();
  #nonceSeq = 0;
  #snapshot: ProxySnapshot | undefined;
  #closed = false;
  /** The stream's buffer is full (write returned false): pushes wait for 'drain'. */
  #blocked = false;
  /** Types a push skipped while blocked. */
  readonly #deferred = new Set<XdsType>();
  readonly #unknownTypesLogged = new Set<string>();

  constructor(
    readonly node: ProxyNode,
    stream: AdsStream,
    deps: { metrics: ControlMetrics; log: Logger },
  ) {
    this.#stream = stream;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    for (const t of XDS_TYPES) this.#types.set(t, { subscribed: false, names: null, namesKey: '', sentResources: [] });
  }

  get hasSnapshot(): boolean {
    return this.#snapshot !== undefined;
  }

  get snapshot(): ProxySnapshot | undefined {
    return this.#snapshot;
  }

  /** True while the stream is not draining (a slow client): pushes are deferred until it drains. */
  get blocked(): boolean {
    return this.#blocked;
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
    const names = normalizeNames(type, req.resourceNames);
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
      if (!sameNames(names, st.names)) {
        setNames(st, names);
        st.sentSelection = undefined; // the subscription changed: answer with all of it
        this.#send(type, false);
      }
      return;
    }
    // A first request for the type (or a re-request): subscribe and answer.
    st.subscribed = true;
    setNames(st, names);
    this.#send(type, true);
  }

  /** New generated config: sends, in make-before-break order, each subscribed type whose content changed. */
  setSnapshot(snapshot: ProxySnapshot): void {
    this.#snapshot = snapshot;
    for (const type of PUSH_ORDER) {
      if (!this.#types.get(type)!.subscribed) continue;
      if (this.#blocked) this.#deferred.add(type);
      else this.#send(type, false);
    }
  }

  #onDrain = (): void => {
    this.#blocked = false;
    if (this.#closed) return;
    const types = PUSH_ORDER.filter((t) => this.#deferred.has(t));
    this.#deferred.clear();
    for (const t of types) {
      if (this.#blocked) {
        this.#deferred.add(t);
        continue;
      }
      this.#send(t, false);
    }
  };

  #send(type: XdsType, force: boolean): void {
    const snapshot = this.#snapshot;
    if (!snapshot || this.#closed) return;
    const st = this.#types.get(type)!;
    // Never open with an empty answer to an empty named subscription.
    if (st.names !== null && st.names.length === 0 && st.sentVersion === undefined) return;
    const sel = snapshot[type].select(st.names, st.namesKey);
    if (!force && sel.version === st.sentVersion) return;
    let resources: SnapshotResource[] = sel.resources;
    if (!force && PARTIAL_TYPES.has(type) && st.sentSelection) {
      const changed = changedResources(st.sentSelection, sel);
      if (changed && changed.length > 0) resources = changed;
    }
    const nonce = `${this.seq}-${++this.#nonceSeq}`;
    st.sentVersion = sel.version;
    st.sentNonce = nonce;
    st.sentSelection = sel;
    st.sentResources = sel.resources;
    this.#metrics.xdsPushes.inc({ type });
    // Resources go as Any with their bytes encoded once (shared by every proxy); only the envelope is encoded per write.
    const ok = this.#stream.write({ versionInfo: sel.version, resources: resources.map((r) => r.any), typeUrl: TYPE_URL[type], nonce });
    if (!ok && !this.#blocked) {
      this.#blocked = true;
      this.#stream.once('drain', this.#onDrain);
    }
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
    this.#closed = true;
    try {
      this.#stream.end();
    } catch {
      // already gone
    }
  }

  get closed(): boolean {
    return this.#closed;
  }

  markClosed(): void {
    this.#closed = true;
  }
}
