// One proxy's ADS stream (state of the world): per type, the subscription,
// what was last sent (version, nonce, resources), what was ACKed, the last NACK.
import type * as grpc from '@grpc/grpc-js';
import type { DiscoveryRequest, DiscoveryResponse } from '../xds/ads-service.js';
import { TYPE_SHORT, type TypeUrl } from '../xds/codec.js';
import type { ProxyType } from '../xds/names.js';
import type { ControlMetrics } from './metrics.js';
import type { Logger } from './log.js';
import { PUSH_ORDER, TYPE_URL, XDS_TYPES, selectResources, type ProxySnapshot, type SnapshotResource, type XdsType } from './snapshot.js';

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

interface TypeState {
  /** A request for this type has been seen. */
  subscribed: boolean;
  /** null = wildcard. */
  names: string[] | null;
  sentVersion?: string;
  sentNonce?: string;
  sentResources: SnapshotResource[];
  ackedVersion?: string;
  lastError?: string;
}

function normalizeNames(type: XdsType, names: readonly string[] | undefined): string[] | null {
  const list = names ?? [];
  if (WILDCARD_TYPES.has(type) && (list.length === 0 || list.includes('*'))) return null;
  return [...new Set(list)].sort();
}

function sameNames(a: string[] | null, b: string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

let connectionSeq = 0;

export class ProxyConnection {
  readonly seq = ++connectionSeq;
  readonly connectedAt = new Date();
  readonly #stream: AdsStream;
  readonly #metrics: ControlMetrics;
  readonly #log: Logger;
  readonly #types = new Map<XdsType, TypeState>();
  #nonceSeq = 0;
  #snapshot: ProxySnapshot | undefined;
  #closed = false;
  readonly #unknownTypesLogged = new Set<string>();

  constructor(
    readonly node: ProxyNode,
    stream: AdsStream,
    deps: { metrics: ControlMetrics; log: Logger },
  ) {
    this.#stream = stream;
    this.#metrics = deps.metrics;
    this.#log = deps.log;
    for (const t of XDS_TYPES) this.#types.set(t, { subscribed: false, names: null, sentResources: [] });
  }

  get hasSnapshot(): boolean {
    return this.#snapshot !== undefined;
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
        st.names = names;
        this.#send(type, false);
      }
      return;
    }
    // A first request for the type (or a re-request): subscribe and answer.
    st.subscribed = true;
    st.names = names;
    this.#send(type, true);
  }

  /** New generated config: sends, in make-before-break order, each subscribed type whose content changed. */
  setSnapshot(snapshot: ProxySnapshot): void {
    this.#snapshot = snapshot;
    for (const type of PUSH_ORDER) if (this.#types.get(type)!.subscribed) this.#send(type, false);
  }

  #send(type: XdsType, force: boolean): void {
    const snapshot = this.#snapshot;
    if (!snapshot || this.#closed) return;
    const st = this.#types.get(type)!;
    const sel = selectResources(snapshot[type], st.names);
    // Never open with an empty answer to an empty named subscription.
    if (st.names !== null && st.names.length === 0 && st.sentVersion === undefined) return;
    if (!force && sel.version === st.sentVersion) return;
    const nonce = `${this.seq}-${++this.#nonceSeq}`;
    st.sentVersion = sel.version;
    st.sentNonce = nonce;
    st.sentResources = sel.resources;
    this.#metrics.xdsPushes.inc({ type });
    this.#stream.write({ versionInfo: sel.version, resources: sel.resources.map((r) => r.object), typeUrl: TYPE_URL[type], nonce });
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

  /** The resources last sent, by type. */
  config(): Record<XdsType, Record<string, unknown>[]> {
    const out = {} as Record<XdsType, Record<string, unknown>[]>;
    for (const t of XDS_TYPES) out[t] = this.#types.get(t)!.sentResources.map((r) => r.object);
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
