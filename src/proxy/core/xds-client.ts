// The ADS client: one stream to the control plane, wildcard LDS and CDS, then
// RDS/EDS/SDS by name as accepted resources refer to them, and (delta) VHDS by the
// name of each route config sent with `vhds`. Each response becomes
// a candidate snapshot for the data plane: applied -> ACK and commit; rejected ->
// NACK and the old config stays. The stream reconnects forever with backoff;
// meanwhile the last good config keeps serving.
//
// Delta xDS (DeltaAggregatedResources) by default: subscriptions change by name,
// an ACK is its nonce alone, responses carry what changed and what to drop, and a
// new stream says what it holds (initial_resource_versions) so nothing unchanged
// is sent again. Against a control plane without it (UNIMPLEMENTED) the client
// speaks state of the world (StreamAggregatedResources), where on reconnect the
// accepted versions are sent again.
import grpc from '@grpc/grpc-js';
import { ADS_SERVICE, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type DiscoveryRequest, type DiscoveryResponse } from '../../xds/ads-service.js';
import type { DataPlane, EnvoyObject, XdsSnapshot } from '../types.js';
import { Backoff } from './backoff.js';
import { controlClient, readTokenFile, type ControlTarget } from './control-channel.js';
import { errorMessage } from './errors.js';
import { silentLogger, type Logger } from './log.js';
import { buildNode, type NodeInfo, type XdsNode } from './xds-node.js';
import { KIND_URL, KINDS, XdsState, kindOf, type TypeStatus, type XdsKind } from './xds-state.js';

/** google.rpc.Code INVALID_ARGUMENT, sent in NACKs. */
const INVALID_ARGUMENT = 3;

export interface XdsClientOptions {
  target: ControlTarget;
  node: NodeInfo;
  dataPlane: Pick<DataPlane, 'apply'>;
  /** When set, the bearer token is sent as `authorization` metadata on the stream. */
  tokenFile?: string;
  /** Reconnect backoff (defaults 100 ms .. 5 s). */
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  logger?: Logger;
  /** The ADS variant to speak (default delta; falls back to sotw where the control plane has no delta). */
  protocol?: XdsProtocol;
}

export type XdsProtocol = 'delta' | 'sotw';

export interface XdsStatus {
  nodeId: string;
  address: string;
  /** The ADS variant of the current (or last) stream. */
  protocol: XdsProtocol;
  connected: boolean;
  lastConnected?: Date;
  lastDisconnected?: Date;
  lastStreamError?: string;
  types: Record<XdsKind, TypeStatus>;
}

export type XdsEvent =
  | { type: 'ack'; kind: XdsKind; version: string; nonce: string }
  | { type: 'nack'; kind: XdsKind; nonce: string; message: string }
  | { type: 'connected' }
  | { type: 'disconnected'; reason: string };

type Call = grpc.ClientDuplexStream<DiscoveryRequest | DeltaDiscoveryRequest, DiscoveryResponse | DeltaDiscoveryResponse>;

export class XdsClient {
  private readonly state = new XdsState();
  private readonly node: XdsNode;
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private readonly listeners: Array<(e: XdsEvent) => void> = [];
  private client: grpc.Client | undefined;
  private call: Call | undefined;
  /** Stream generation: responses and events of an older stream are ignored. */
  private gen = 0;
  /** The generation whose stream has been sent the node (in its first request). */
  private nodeSentGen = 0;
  /** The variant of the current stream. */
  private protocol: XdsProtocol;
  /** The control plane answered delta with UNIMPLEMENTED: state of the world until that stream ends. */
  private sotwFallback = false;
  private queue: Promise<void> = Promise.resolve();
  private reconnectTimer: NodeJS.Timeout | undefined;
  private started = false;
  private stopped = false;
  private connected = false;
  private lastConnected: Date | undefined;
  private lastDisconnected: Date | undefined;
  private lastStreamError: string | undefined;
  private readonly counters = { connects: 0, disconnects: 0, ack: 0, nack: 0 };

  constructor(private readonly opts: XdsClientOptions) {
    this.node = buildNode(opts.node);
    this.backoff = new Backoff({ initialMs: opts.backoffInitialMs ?? 100, maxMs: opts.backoffMaxMs ?? 5000 });
    this.log = (opts.logger ?? silentLogger).child({ component: 'xds' });
    this.protocol = opts.protocol ?? 'delta';
  }

  get nodeId(): string {
    return this.node.id;
  }

  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    void this.connect();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.gen++;
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = undefined;
    this.teardown();
    await this.queue;
  }

  /** The accepted config. */
  snapshot(): XdsSnapshot {
    return this.state.snapshot;
  }

  /** LDS and CDS each applied at least once. */
  synced(): { lds: boolean; cds: boolean } {
    return this.state.synced;
  }

  onEvent(listener: (e: XdsEvent) => void): void {
    this.listeners.push(listener);
  }

  status(): XdsStatus {
    const types = {} as Record<XdsKind, TypeStatus>;
    for (const k of KINDS) {
      const t = this.state.type(k);
      types[k] = { ...t, subscribed: t.subscribed === '*' ? '*' : [...t.subscribed] };
    }
    return {
      nodeId: this.node.id,
      address: this.opts.target.address,
      protocol: this.protocol,
      connected: this.connected,
      lastConnected: this.lastConnected,
      lastDisconnected: this.lastDisconnected,
      lastStreamError: this.lastStreamError,
      types,
    };
  }

  stats(): Record<string, number> {
    const out: Record<string, number> = {
      'xds.connected': this.connected ? 1 : 0,
      'xds.stream_connects': this.counters.connects,
      'xds.stream_disconnects': this.counters.disconnects,
      'xds.ack': this.counters.ack,
      'xds.nack': this.counters.nack,
    };
    for (const k of KINDS) {
      const t = this.state.type(k);
      const p = `xds.${k.toLowerCase()}`;
      out[`${p}.update_success`] = t.accepted;
      out[`${p}.update_rejected`] = t.rejected;
      out[`${p}.resources`] = t.resources;
      out[`${p}.last_update_seconds`] = t.lastUpdate ? Math.floor(t.lastUpdate.getTime() / 1000) : 0;
    }
    return out;
  }

  private emit(e: XdsEvent): void {
    for (const l of this.listeners) {
      try {
        l(e);
      } catch (err) {
        this.log.error('xds event listener threw', { error: errorMessage(err) });
      }
    }
  }

  private teardown(): void {
    const call = this.call;
    const client = this.client;
    this.call = undefined;
    this.client = undefined;
    if (call) {
      call.removeAllListeners('data');
      call.on('error', () => {});
      call.cancel();
    }
    client?.close();
    if (this.connected) {
      this.connected = false;
      this.lastDisconnected = new Date();
    }
  }

  private async connect(): Promise<void> {
    if (this.stopped) return;
    const gen = ++this.gen;
    const md = new grpc.Metadata();
    if (this.opts.tokenFile) {
      try {
        md.set('authorization', `Bearer ${await readTokenFile(this.opts.tokenFile)}`);
      } catch (err) {
        this.broken(gen, errorMessage(err));
        return;
      }
      if (gen !== this.gen) return;
    }
    const protocol = (this.protocol = this.opts.protocol === 'sotw' || this.sotwFallback ? 'sotw' : 'delta');
    const m = protocol === 'delta' ? ADS_SERVICE.deltaAggregatedResources : ADS_SERVICE.streamAggregatedResources;
    let call: Call;
    try {
      // Held before the call is made, so that teardown closes the channel if making the call throws.
      const client = (this.client = controlClient(this.opts.target));
      call = this.call = client.makeBidiStreamRequest(m.path, m.requestSerialize as (v: unknown) => Buffer, m.responseDeserialize, md, {}) as Call;
    } catch (err) {
      this.broken(gen, errorMessage(err));
      return;
    }
    this.state.resetNonces();
    call.on('data', (res: DiscoveryResponse | DeltaDiscoveryResponse) => {
      if (gen !== this.gen) return;
      if (!this.connected) {
        this.connected = true;
        this.lastConnected = new Date();
        this.counters.connects++;
        this.backoff.reset();
        this.emit({ type: 'connected' });
        this.log.info('ADS stream up', { address: this.opts.target.address, protocol });
      }
      this.queue = this.queue.then(() => (protocol === 'delta' ? this.handleDelta(gen, res as DeltaDiscoveryResponse) : this.handle(gen, res as DiscoveryResponse)));
    });
    const ended = (code: grpc.status, details: string): void => {
      if (protocol === 'delta' && code === grpc.status.UNIMPLEMENTED && gen === this.gen && !this.connected && !this.stopped) {
        this.log.info('the control plane does not serve delta xDS; speaking state of the world', { address: this.opts.target.address });
        this.sotwFallback = true;
        this.gen++;
        this.teardown();
        void this.connect();
        return;
      }
      this.broken(gen, details);
    };
    call.on('error', (err: grpc.ServiceError) => ended(err.code, `${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`));
    call.on('status', (st: grpc.StatusObject) => ended(st.code, `stream closed: ${grpc.status[st.code] ?? st.code} ${st.details}`));
    call.on('end', () => this.broken(gen, 'stream ended by control plane'));

    if (protocol === 'delta') {
      // Wildcard LDS and CDS (a first request naming nothing), with what is held of each.
      this.sendDelta('CDS', { initial: true });
      this.sendDelta('LDS', { initial: true });
    } else {
      // Subscriptions, with the versions already accepted so an unchanged control plane can skip resending.
      this.send('CDS');
      this.send('LDS');
    }
    this.updateSubscriptions(true);
  }

  private broken(gen: number, reason: string): void {
    if (gen !== this.gen || this.stopped) return;
    this.gen++;
    const wasConnected = this.connected;
    this.teardown();
    // A control plane upgraded meanwhile may serve delta: the next stream asks again.
    if (wasConnected) this.sotwFallback = false;
    this.lastStreamError = reason;
    if (wasConnected) {
      this.counters.disconnects++;
      this.emit({ type: 'disconnected', reason });
      this.log.warn('ADS stream down; serving the last accepted config', { reason });
    }
    const delay = this.backoff.next();
    if (this.backoff.attempts <= 1 || this.backoff.attempts % 20 === 0) {
      this.log.info('ADS reconnect scheduled', { reason, delayMs: delay, attempt: this.backoff.attempts });
    }
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = undefined;
      void this.connect();
    }, delay);
    this.reconnectTimer.unref();
  }

  private request(kind: XdsKind, extra?: Pick<DiscoveryRequest, 'versionInfo' | 'errorDetail'>): DiscoveryRequest {
    const t = this.state.type(kind);
    const req: DiscoveryRequest = {
      versionInfo: extra?.versionInfo ?? t.version,
      // The node in a stream's first request only (Envoy's set_node_on_first_message_only): the
      // control plane reads it once per stream, and every ACK would otherwise carry it, labels and all.
      ...(this.nodeSentGen !== this.gen ? { node: this.node } : {}),
      resourceNames: t.subscribed === '*' ? [] : [...t.subscribed],
      typeUrl: KIND_URL[kind],
      responseNonce: t.nonce,
    };
    if (extra?.errorDetail) req.errorDetail = extra.errorDetail;
    return req;
  }

  private send(kind: XdsKind, extra?: Pick<DiscoveryRequest, 'versionInfo' | 'errorDetail'>): void {
    const call = this.call;
    if (!call) return;
    try {
      call.write(this.request(kind, extra));
      this.nodeSentGen = this.gen;
    } catch (err) {
      this.log.warn('ADS write failed', { kind, error: errorMessage(err) });
    }
  }

  /**
   * One delta request: `initial` (a new stream) says what is held of the kind; an ACK or
   * NACK is the response's nonce (with the error); subscribe and unsubscribe are names.
   */
  private sendDelta(kind: XdsKind, p: { initial?: boolean; subscribe?: string[]; unsubscribe?: string[]; nonce?: string; errorDetail?: DeltaDiscoveryRequest['errorDetail'] }): void {
    const call = this.call;
    if (!call) return;
    const req: DeltaDiscoveryRequest = { typeUrl: KIND_URL[kind] };
    if (this.nodeSentGen !== this.gen) req.node = this.node;
    if (p.subscribe?.length) req.resourceNamesSubscribe = p.subscribe;
    if (p.unsubscribe?.length) req.resourceNamesUnsubscribe = p.unsubscribe;
    if (p.initial) {
      const held = this.state.versions(kind);
      if (held.size > 0) req.initialResourceVersions = Object.fromEntries(held);
    }
    if (p.nonce) req.responseNonce = p.nonce;
    if (p.errorDetail) req.errorDetail = p.errorDetail;
    try {
      call.write(req);
      this.nodeSentGen = this.gen;
    } catch (err) {
      this.log.warn('ADS write failed', { kind, error: errorMessage(err) });
    }
  }

  /** Subscribes RDS/VHDS/EDS/SDS to what the accepted config references; `initial` also (re)sends unchanged non-empty ones. */
  private updateSubscriptions(initial: boolean): void {
    for (const kind of ['SDS', 'EDS', 'RDS', 'VHDS'] as const) {
      if (kind === 'VHDS' && this.protocol !== 'delta') continue; // VHDS is delta xDS only
      const before = this.state.type(kind).subscribed;
      const changed = this.state.subscribe(kind, this.state.desired(kind));
      if (this.protocol === 'delta') {
        const now = this.state.type(kind).subscribed;
        if (now === '*' || before === '*') continue; // named kinds are never wildcard here
        if (initial) {
          if (now.length > 0) this.sendDelta(kind, { initial: true, subscribe: now });
        } else if (changed) {
          const had = new Set(before);
          const has = new Set(now);
          this.sendDelta(kind, { subscribe: now.filter((n) => !had.has(n)), unsubscribe: before.filter((n) => !has.has(n)) });
        }
        continue;
      }
      const t = this.state.type(kind);
      const nonEmpty = t.subscribed !== '*' && t.subscribed.length > 0;
      // An empty list is only meaningful as an unsubscribe (never as a first request: that would be a wildcard).
      if ((initial && nonEmpty) || (!initial && changed && (nonEmpty || t.accepted > 0 || t.nonce !== ''))) this.send(kind);
    }
  }

  private async handleDelta(gen: number, res: DeltaDiscoveryResponse): Promise<void> {
    const resources = (res.resources ?? []) as { name?: string; version?: string; resource?: EnvoyObject }[];
    const removed = res.removedResources ?? [];
    await this.applyResponse(gen, res.typeUrl ?? '', res.nonce ?? '', res.systemVersionInfo ?? '', {
      candidate: (kind) => this.state.deltaCandidate(kind, resources, removed),
      ack: (kind, nonce) => this.sendDelta(kind, { nonce }),
      nack: (kind, nonce, errorDetail) => this.sendDelta(kind, { nonce, errorDetail }),
      logged: { resources: resources.length, removed: removed.length },
    });
  }

  private async handle(gen: number, res: DiscoveryResponse): Promise<void> {
    const resources = (res.resources ?? []) as EnvoyObject[];
    await this.applyResponse(gen, res.typeUrl, res.nonce ?? '', res.versionInfo ?? '', {
      candidate: (kind) => ({ snapshot: this.state.candidate(kind, resources) }),
      ack: (kind) => this.send(kind),
      nack: (kind, _nonce, errorDetail) => this.send(kind, { versionInfo: this.state.type(kind).version, errorDetail }),
      logged: { resources: resources.length },
    });
  }

  /**
   * One response of either variant: the candidate snapshot goes to the data plane; applied,
   * it is committed and ACKed (a listener or cluster change updates the subscriptions);
   * rejected, it is NACKed and the last accepted config stays. A type weft does not know is NACKed.
   */
  private async applyResponse(
    gen: number,
    typeUrl: string,
    nonce: string,
    version: string,
    v: {
      candidate: (kind: XdsKind) => { snapshot: XdsSnapshot; versions?: Map<string, string> };
      ack: (kind: XdsKind, nonce: string) => void;
      nack: (kind: XdsKind, nonce: string, errorDetail: { code: number; message: string }) => void;
      logged: Record<string, number>;
    },
  ): Promise<void> {
    if (gen !== this.gen) return; // from a stream that is gone; the new stream resyncs
    const kind = kindOf(typeUrl);
    if (!kind) {
      this.log.warn('ADS response of unknown type', { typeUrl });
      this.call?.write({ typeUrl, responseNonce: nonce, errorDetail: { code: INVALID_ARGUMENT, message: `type ${typeUrl} is not supported` } });
      this.counters.nack++;
      return;
    }
    this.state.type(kind).nonce = nonce;
    try {
      const { snapshot, versions } = v.candidate(kind);
      await this.opts.dataPlane.apply(snapshot);
      this.state.commit(kind, snapshot, version, undefined, versions);
    } catch (err) {
      const message = errorMessage(err);
      this.state.reject(kind, message);
      this.counters.nack++;
      this.log.warn('xDS update rejected; keeping the last accepted config', { kind, version, nonce, error: message });
      if (gen === this.gen) v.nack(kind, nonce, { code: INVALID_ARGUMENT, message });
      this.emit({ type: 'nack', kind, nonce, message });
      return;
    }
    this.counters.ack++;
    this.log.debug('xDS update applied', { kind, version, ...v.logged });
    if (gen === this.gen) {
      v.ack(kind, nonce);
      if (kind === 'LDS' || kind === 'CDS' || kind === 'RDS') this.updateSubscriptions(false);
    }
    this.emit({ type: 'ack', kind, version, nonce });
  }
}
