// A request's cancellation. The upstream side reads only the part of AbortSignal below,
// so an AbortSignal still fits (mirrors use AbortSignal.timeout), but the router makes one
// of these per request instead of an AbortController: no EventTarget, no Event objects, and
// listeners in a plain array (an AbortController and its signal cost about 2% of a
// sidecar's CPU per request, for a cancel that rarely happens).

export interface CancelSignal {
  readonly aborted: boolean;
  readonly reason: unknown;
  addEventListener(type: 'abort', fn: () => void, opts?: { once?: boolean }): void;
  removeEventListener(type: 'abort', fn: () => void): void;
}

/** Controller and signal in one: hand the object itself to whatever takes a CancelSignal. */
export class Cancel implements CancelSignal {
  aborted = false;
  reason: unknown = undefined;
  private fns: (() => void)[] | undefined = undefined;

  /** As AbortSignal: a listener added after the abort is never called; every listener runs once. */
  addEventListener(_type: 'abort', fn: () => void): void {
    if (!this.aborted) (this.fns ??= []).push(fn);
  }

  removeEventListener(_type: 'abort', fn: () => void): void {
    const f = this.fns;
    if (!f) return;
    const i = f.lastIndexOf(fn);
    if (i >= 0) f.splice(i, 1);
  }

  /** The listeners run synchronously, in the order they were added. The default reason is AbortController's. */
  abort(reason?: unknown): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason ?? new DOMException('This operation was aborted', 'AbortError');
    const f = this.fns;
    this.fns = undefined;
    if (f) for (const fn of f) fn();
  }
}
