// How much the ADS server writes at once, across all streams. Each stream has at
// most one response in flight (ads-connection.ts); this bounds their sum, so a
// push to 2,000 proxies of ~1 MB each does not hold 2 GB of framed copies waiting
// for the clients to read them. A stream that wants to write while the budget is
// spent waits in FIFO order and, when its turn comes, writes its newest config.
//
// A write counts until grpc-js reports it flushed, or for at most `stallMs`: a
// client that stops reading keeps its one message (its stream sends nothing more)
// but no longer holds back everyone else.
//
// Streams that have already been sent something go first: a proxy half way through
// its initial sync (CDS sent, EDS next) finishes before proxies that have nothing
// start, so after a restart proxies become ready one after the other instead of
// all at the end, and config changes reach running proxies before new ones.

export const FLOW_DEFAULTS = {
  /** Bytes of responses in flight (written, not yet flushed) before new writes wait. */
  maxInFlightBytes: 64 * 1024 * 1024,
  /** After this long without being flushed a write stops counting against the budget. */
  stallMs: 5000,
} as const;

interface Charge {
  bytes: number;
  at: number;
  released: boolean;
}

export class WriteBudget {
  #inFlight = 0;
  #pumping = false;
  /** Queued turns: streams that have been sent something, then the others (each FIFO). */
  readonly #waitingFirst = new Set<() => void>();
  readonly #waiting = new Set<() => void>();
  readonly #charges = new Set<Charge>();
  #sweep: NodeJS.Timeout | undefined;

  constructor(
    readonly limitBytes: number = FLOW_DEFAULTS.maxInFlightBytes,
    readonly stallMs: number = FLOW_DEFAULTS.stallMs,
  ) {}

  /** Bytes of writes that started and have neither flushed nor stalled. */
  get inFlightBytes(): number {
    return this.#inFlight;
  }

  /** Streams waiting for their turn to write. */
  get waiting(): number {
    return this.#waitingFirst.size + this.#waiting.size;
  }

  /** Whether a write may start now: room left and nobody queued before it. */
  mayStart(): boolean {
    return this.#inFlight < this.limitBytes && this.waiting === 0;
  }

  /** Queues `turn` to run when there is room; `first` for a stream that has been sent something. */
  wait(turn: () => void, first = false): void {
    (first ? this.#waitingFirst : this.#waiting).add(turn);
  }

  /** Leaves the queue (a closed stream). */
  cancel(turn: () => void): void {
    this.#waitingFirst.delete(turn);
    this.#waiting.delete(turn);
  }

  /** Counts a started write; returns its release (idempotent), to call once it is flushed or failed. */
  charge(bytes: number): () => void {
    const c: Charge = { bytes, at: Date.now(), released: false };
    this.#inFlight += bytes;
    this.#charges.add(c);
    this.#sweep ??= setInterval(() => this.#releaseStalled(), Math.max(10, this.stallMs / 2)).unref();
    return () => this.#release(c);
  }

  /** Stops the stall timer (the server is closing). */
  close(): void {
    if (this.#sweep) clearInterval(this.#sweep);
    this.#sweep = undefined;
    this.#waitingFirst.clear();
    this.#waiting.clear();
  }

  #release(c: Charge): void {
    if (c.released) return;
    c.released = true;
    this.#inFlight -= c.bytes;
    this.#charges.delete(c);
    this.#pump();
  }

  /** Releases writes not flushed in time; the timer stops once nothing is in flight (not per write: a push makes thousands). */
  #releaseStalled(): void {
    const old = Date.now() - this.stallMs;
    for (const c of [...this.#charges]) if (c.at <= old) this.#release(c);
    if (this.#charges.size === 0 && this.#sweep) {
      clearInterval(this.#sweep);
      this.#sweep = undefined;
    }
  }

  /** Gives queued streams their turn while there is room (a turn may write nothing). */
  #pump(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    try {
      while (this.#inFlight < this.limitBytes && this.waiting > 0) {
        const queue = this.#waitingFirst.size > 0 ? this.#waitingFirst : this.#waiting;
        const turn = queue.values().next().value!;
        queue.delete(turn);
        turn();
      }
    } finally {
      this.#pumping = false;
    }
  }
}
