// Collapses bursts of changes into one run: runs `delayMs` after the last
// trigger, but never later than `maxDelayMs` after the first one of a burst.
export class Debouncer {
  #timer: NodeJS.Timeout | undefined;
  #firstAt = 0;
  #closed = false;

  constructor(
    private readonly fn: () => void,
    private readonly delayMs: number,
    private readonly maxDelayMs: number,
  ) {}

  trigger(): void {
    if (this.#closed) return;
    const now = Date.now();
    if (this.#timer === undefined) this.#firstAt = now;
    else clearTimeout(this.#timer);
    const wait = Math.max(0, Math.min(this.delayMs, this.#firstAt + this.maxDelayMs - now));
    this.#timer = setTimeout(() => this.#fire(), wait);
  }

  get pending(): boolean {
    return this.#timer !== undefined;
  }

  /** Drops a pending run (the caller has just done the work itself). */
  cancel(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  close(): void {
    this.#closed = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  #fire(): void {
    this.#timer = undefined;
    this.fn();
  }
}
