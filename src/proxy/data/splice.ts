// Joins two byte streams both ways with backpressure (pipe), half-close, an idle timer
// and byte counts; destroying either side destroys the other.
import type { Duplex } from 'node:stream';

export interface SpliceOptions {
  /** Close both sides after this long without bytes in either direction (0 = never). */
  idleTimeoutMs: number;
  onIdleTimeout?: () => void;
  /** Called once when both sides are closed, with bytes a->b and b->a. */
  onClose?: (aToB: number, bToA: number) => void;
}

export function splice(a: Duplex, b: Duplex, opts: SpliceOptions): void {
  let aToB = 0;
  let bToA = 0;
  let closed = 0;
  let timer: NodeJS.Timeout | undefined;
  if (opts.idleTimeoutMs > 0) {
    timer = setTimeout(() => {
      opts.onIdleTimeout?.();
      a.destroy();
      b.destroy();
    }, opts.idleTimeoutMs);
    timer.unref();
  }
  a.on('data', (c: Buffer) => {
    aToB += c.length;
    timer?.refresh();
  });
  b.on('data', (c: Buffer) => {
    bToA += c.length;
    timer?.refresh();
  });
  const onClose = (): void => {
    closed++;
    if (closed === 1) {
      // One side is gone: give the other its pending bytes, then close it.
      if (!a.destroyed) a.end();
      if (!b.destroyed) b.end();
      setTimeout(() => {
        a.destroy();
        b.destroy();
      }, 1000).unref();
    }
    if (closed === 2) {
      if (timer) clearTimeout(timer);
      opts.onClose?.(aToB, bToA);
    }
  };
  a.once('close', onClose);
  b.once('close', onClose);
  a.on('error', () => b.destroy());
  b.on('error', () => a.destroy());
  a.pipe(b);
  b.pipe(a);
}
