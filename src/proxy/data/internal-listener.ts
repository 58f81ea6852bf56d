// Envoy internal listeners inside one proxy: a cluster whose endpoints are
// `envoyInternalAddress: {serverListenerName}` connects, in memory, to the listener of that
// name (one with `internalListener` and no address), which runs the connection through
// its own filter chains. The sidecar uses this to route the TLS inside a CONNECT tunnel
// by SNI (src/xds/l4-routes.ts). The wrapper below keeps such clusters away from the
// upstream cluster manager, which only dials sockets.
import { Duplex } from 'node:stream';
import type { ClusterStatus, EnvoyObject } from '../types.js';
import { arr, obj, str } from '../../xds/object-form.js';
import type { ClusterManager, OutlierEjection, RequestOptions, UpstreamRequest, UpstreamResponse } from './upstream/types.js';
import { UpstreamError } from './upstream/types.js';

/** One end of an in-memory byte stream; what one end writes, the other reads (with backpressure). */
class PairEnd extends Duplex {
  peer!: PairEnd;
  /** The peer's write callback, held while this end's read buffer is full. */
  private waiting: (() => void) | undefined;

  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    if (this.peer.destroyed) {
      cb(new Error('the other end of the internal connection is closed'));
      return;
    }
    if (this.peer.push(chunk)) cb();
    else this.peer.waiting = cb;
  }

  override _read(): void {
    const cb = this.waiting;
    this.waiting = undefined;
    cb?.();
  }

  override _final(cb: (err?: Error | null) => void): void {
    if (!this.peer.destroyed) this.peer.push(null);
    cb();
  }

  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    const w = this.waiting;
    this.waiting = undefined;
    w?.();
    if (!this.peer.destroyed) this.peer.destroy();
    cb(err);
  }
}

/** Two connected in-memory duplex streams (Node 20 has no stream.duplexPair). */
export function duplexPair(): [Duplex, Duplex] {
  const a = new PairEnd();
  const b = new PairEnd();
  a.peer = b;
  b.peer = a;
  return [a, b];
}

/** What the downstream side knows about an internal connection. */
export interface InternalConnectionMeta {
  /** The CONNECT target that led here; ORIGINAL_DST clusters behind the listener connect to it. */
  originalDestination?: string | undefined;
}

/** Opens a connection to an internal listener by name: the client end, or undefined when there is none. */
export type InternalConnector = (listener: string, meta: InternalConnectionMeta) => Duplex | undefined;

/** The internal listener a cluster reaches: its endpoints all name one envoyInternalAddress. */
export function internalListenerOf(cluster: EnvoyObject): string | undefined {
  const endpoints = arr(obj(cluster.loadAssignment)?.endpoints).flatMap((e) => arr(e.lbEndpoints));
  const names = endpoints.map((lb) => str(obj(obj(obj(lb.endpoint)?.address)?.envoyInternalAddress)?.serverListenerName));
  if (names.length === 0 || names.some((n) => n === undefined)) return undefined;
  return names[0];
}

/**
 * The data plane's ClusterManager: clusters that reach internal listeners are served
 * here (connect only), every other cluster by the upstream cluster manager.
 */
export class InternalAwareClusterManager implements ClusterManager {
  private internal = new Map<string, string>();
  private readonly counts = new Map<string, { cxTotal: number; cxNone: number }>();

  constructor(
    readonly upstream: ClusterManager,
    private readonly open: InternalConnector,
  ) {}

  update(clusters: Map<string, EnvoyObject>, endpoints: Map<string, EnvoyObject>, secrets: Map<string, EnvoyObject>): void {
    const internal = new Map<string, string>();
    const rest = new Map<string, EnvoyObject>();
    for (const [name, c] of clusters) {
      const listener = internalListenerOf(c);
      if (listener !== undefined) internal.set(name, listener);
      else rest.set(name, c);
    }
    this.upstream.update(rest, endpoints, secrets);
    this.internal = internal;
    for (const name of this.counts.keys()) if (!internal.has(name)) this.counts.delete(name);
  }

  has(cluster: string): boolean {
    return this.internal.has(cluster) || this.upstream.has(cluster);
  }

  request(cluster: string, req: UpstreamRequest, opts?: RequestOptions): Promise<UpstreamResponse> {
    if (this.internal.has(cluster)) return Promise.reject(new UpstreamError('UF', `${cluster}: an internal listener cluster carries CONNECT tunnels and TCP, not HTTP requests`));
    return this.upstream.request(cluster, req, opts);
  }

  connect(cluster: string, opts?: RequestOptions): Promise<{ socket: Duplex; endpoint: string; peerIdentity?: string }> {
    const listener = this.internal.get(cluster);
    if (listener === undefined) return this.upstream.connect(cluster, opts);
    let c = this.counts.get(cluster);
    if (!c) this.counts.set(cluster, (c = { cxTotal: 0, cxNone: 0 }));
    c.cxTotal++;
    const socket = this.open(listener, { originalDestination: opts?.originalDestination });
    if (!socket) {
      c.cxNone++;
      return Promise.reject(new UpstreamError('UH', `${cluster}: internal listener ${listener} is not configured`));
    }
    return Promise.resolve({ socket, endpoint: `internal:${listener}` });
  }

  stats(): Record<string, number> {
    const out = this.upstream.stats();
    for (const [name, c] of this.counts) {
      out[`cluster.${name}.upstream_cx_total`] = c.cxTotal;
      out[`cluster.${name}.upstream_cx_none_healthy`] = c.cxNone;
    }
    return out;
  }

  retryPermit(cluster: string): (() => void) | undefined {
    return this.upstream.retryPermit ? this.upstream.retryPermit(cluster) : () => {};
  }

  outlierStatus(): Record<string, OutlierEjection[]> {
    return this.upstream.outlierStatus?.() ?? {};
  }

  clusterStatus(): ClusterStatus[] {
    return this.upstream.clusterStatus?.() ?? [];
  }

  close(): Promise<void> {
    return this.upstream.close();
  }
}
