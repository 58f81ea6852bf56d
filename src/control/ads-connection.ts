// One proxy's ADS stream, state of the world: per type, the subscription, what
// was last sent (version, nonce, resources), what was ACKed, the last NACK. The
// write scheduling (one response in flight, coalescing, the budget) is
// ads-stream.ts's; the delta variant is ads-delta.ts.
import type * as grpc from '@grpc/grpc-js';
import type { DiscoveryRequest } from '../xds/ads-service.js';
import { encodeDiscoveryResponse, markShared, resourcesField, type WireDiscoveryRequest } from './ads-wire.js';
import { sameNames } from './ads-subscriptions.js';
import { AdsConnection, nextNonce, type ConnectionDeps, type ProxyNode, type TypeStateBase } from './ads-stream.js';
import { TYPE_URL, deltaBetween, type ProxySnapshot, type Selection, type SnapshotResource, type XdsType } from './snapshot.js';

/** Responses are written already encoded (ads-wire.ts ADS_SERVER_SERVICE). */
export type AdsStream = grpc.ServerDuplexStream<DiscoveryRequest, Buffer>;

/**
 * Types whose SotW responses may carry only the resources that changed (the xDS
 * spec: only LDS and CDS responses must hold the full state; a weft proxy merges
 * EDS by name). An endpoint change then sends one ClusterLoadAssignment, not all.
 */
const PARTIAL_TYPES: ReadonlySet<XdsType> = new Set(['EDS']);

interface TypeState extends TypeStateBase {
  sentNonce?: string;
}

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

/** A response of the whole selection, or (`part`) of the resources that changed in it. */
function response(type: XdsType, sel: Selection, part: SnapshotResource[] | undefined, shared: boolean, lastNonce: string | undefined): Encoded {
  const version = sel.version;
  // A shared selection is one group: its resources are a plain list, the key its responses are kept by.
  const key = part ?? (shared ? sel.resources : undefined);
  if (shared && key) {
    const hit = sharedResponses.get(key);
    // Never the same nonce twice in a row on a stream (a re-request of an unchanged version).
    if (hit && hit.version === version && hit.nonce !== lastNonce) return hit;
  }
  const nonce = nextNonce();
  // Whole groups (a proxy's CDS: its own inbound group and its namespace's): their runs, each made once.
  const body = !part && sel.groups ? sel.groups.map((g) => g.body) : [resourcesField(part ?? sel.resources)];
  const e = { version, nonce, buf: encodeDiscoveryResponse(version, TYPE_URL[type], nonce, body) };
  if (shared && key) {
    sharedResponses.set(key, e);
    markShared(e.buf); // worth compressing once for every stream that reads gzip
  }
  return e;
}

/** The resource_names of a request as raw bytes, when the server's decoder kept them. */
function namesBytesOf(req: DiscoveryRequest): Buffer | undefined {
  return (req as Partial<WireDiscoveryRequest>).resourceNamesBytes;
}

/** A proxy's state-of-the-world ADS stream. */
export class ProxyConnection extends AdsConnection<TypeState> {
  readonly protocol = 'sotw';
  constructor(node: ProxyNode, stream: AdsStream, deps: ConnectionDeps) {
    super(node, stream, deps, () => ({}));
  }

  handleRequest(req: DiscoveryRequest): void {
    if (this.closed) return;
    const type = this.typeOf(req.typeUrl);
    if (!type) return;
    const st = this.types.get(type)!;
    if (req.responseNonce) {
      if (req.responseNonce !== st.sentNonce) return; // stale: answers an older response
      if (req.errorDetail) {
        st.lastError = req.errorDetail.message ?? `error code ${req.errorDetail.code ?? 'unknown'}`;
        this.metrics.xdsRejects.inc({ type });
        this.log('warn', `proxy ${this.node.id} rejected ${type} version ${st.sentVersion ?? ''} (nonce ${req.responseNonce}): ${st.lastError}`);
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
        st.sent = undefined; // the subscription changed: answer with all of it
        this.enqueue(type, false);
      }
      return;
    }
    // A first request for the type (or a re-request): subscribe and answer.
    this.#subscribe(st, type, req);
    this.enqueue(type, true);
  }

  /** Points the type at the (shared) subscription of this request's names. */
  #subscribe(st: TypeState, type: XdsType, req: DiscoveryRequest): void {
    const prev = st.sub;
    st.sub = this.subs.acquire(type, namesBytesOf(req), () => req.resourceNames);
    if (prev) this.subs.release(prev);
  }

  protected writeType(type: XdsType, snapshot: ProxySnapshot, force: boolean): boolean {
    const st = this.types.get(type)!;
    const sub = st.sub!;
    // Never open with an empty answer to an empty named subscription.
    if (sub.names !== null && sub.names.length === 0 && st.sentVersion === undefined) return false;
    const sel = snapshot[type].select(sub.names, sub.key);
    if (!force && sel.version === st.sentVersion) return false;
    let part: SnapshotResource[] | undefined; // undefined: the whole selection
    let shared = sel.shared;
    if (!force && PARTIAL_TYPES.has(type) && st.sent) {
      // Only what changed, unless something was removed (then all of it: SotW has no removal).
      const d = deltaBetween(st.sent, sel);
      if (d.count > 0 && d.removed.length === 0) {
        part = d.resources as SnapshotResource[];
        shared = d.shared; // memoized per pair of shared selections: the same list for every proxy
      }
    }
    // The resources' Any bytes are encoded once (shared by every proxy); the envelope too when the list is shared.
    const { buf, nonce } = response(type, sel, part, shared, st.sentNonce);
    st.sentVersion = sel.version;
    st.sentNonce = nonce;
    st.sent = sel;
    this.send(type, buf);
    return true;
  }
}
