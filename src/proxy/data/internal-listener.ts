// Envoy internal listeners inside one proxy: a cluster whose endpoints are
// `envoyInternalAddress: {serverListenerName}` connects, in memory, to the listener of that
// name (one with `internalListener` and no address), which runs the connection through
// its own filter chains. The sidecar uses this to route the TLS inside a CONNECT tunnel
// by SNI (src/xds/l4-routes.ts). The upstream dialer (upstream/dial.ts) opens such
// endpoints through ListenerManager.openInternal; this module has the in-memory pipe.
import { Duplex } from 'node:stream';

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
