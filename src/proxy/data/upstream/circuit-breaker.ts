// A cluster's circuit breakers (Envoy's DEFAULT-priority thresholds): requests in flight,
// HTTP/1.1 connections busy, requests waiting for one, and retries in flight. Over a
// limit the answer is immediate (UpstreamError 'UO'), never an unbounded queue: the only
// queue is the pending one, bounded by maxPendingRequests.
import type { BreakerLimits } from './resilience-config.js';
import { RESILIENCE_DEFAULTS } from './resilience-config.js';
import type { ClusterStats } from './stats.js';
import { UpstreamError } from './types.js';
import { abortError } from './dial.js';
import type { CancelSignal } from './cancel.js';

interface Waiter {
  resolve: () => void;
  reject: (err: Error) => void;
  signal: CancelSignal | undefined;
  onAbort: (() => void) | undefined;
  done: boolean;
}

export class CircuitBreaker {
  private limits: BreakerLimits = { ...RESILIENCE_DEFAULTS.breakers };
  /** Requests in flight (every protocol, queued ones included). */
  requests = 0;
  /** HTTP/1.1 requests holding a connection. */
  connections = 0;
  /** HTTP/1.1 requests waiting for a connection. */
  pending = 0;
  retries = 0;
  private queue: Waiter[] = [];
  private head = 0;

  constructor(
    private readonly cluster: string,
    private readonly stats: ClusterStats,
  ) {}

  setLimits(limits: BreakerLimits): void {
    this.limits = limits;
    this.dispatch();
  }

  get maxConnections(): number {
    return this.limits.maxConnections;
  }

  /** Admit one request (maxRequests); false = overflow, counted. */
  tryRequest(): boolean {
    if (this.requests >= this.limits.maxRequests) {
      this.stats.rqPendingOverflow++;
      return false;
    }
    this.requests++;
    return true;
  }

  releaseRequest(): void {
    this.requests--;
  }

  overflow(what: string): UpstreamError {
    return new UpstreamError('UO', `${this.cluster}: ${what} circuit breaker open`);
  }

  /**
   * An HTTP/1.1 connection slot: true = take it now; a promise = queued (resolves when a
   * slot frees, rejects on abort); false = overflow (counted).
   */
  acquireConnection(signal: CancelSignal | undefined): true | false | Promise<void> {
    if (this.connections < this.limits.maxConnections && this.pending === 0) {
      this.connections++;
      return true;
    }
    this.stats.cxOverflow++;
    if (this.pending >= this.limits.maxPendingRequests) {
      this.stats.rqPendingOverflow++;
      return false;
    }
    if (signal?.aborted) return Promise.reject(abortError(signal));
    this.pending++;
    this.stats.rqPendingTotal++;
    return new Promise<void>((resolve, reject) => {
      const w: Waiter = { resolve, reject, signal, onAbort: undefined, done: false };
      if (signal) {
        w.onAbort = () => {
          if (w.done) return;
          w.done = true;
          this.pending--;
          reject(abortError(signal));
        };
        signal.addEventListener('abort', w.onAbort, { once: true });
      }
      this.queue.push(w);
    });
  }

  releaseConnection(): void {
    this.connections--;
    this.dispatch();
  }

  /** Hand free slots to waiters in arrival order. */
  private dispatch(): void {
    while (this.connections < this.limits.maxConnections && this.head < this.queue.length) {
      const w = this.queue[this.head++]!;
      if (w.done) continue;
      w.done = true;
      if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
      this.pending--;
      this.connections++;
      w.resolve();
    }
    if (this.head === this.queue.length) {
      this.queue = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  /** A permit for one retry (maxRetries): call the returned function when the retry ends; undefined = overflow (counted). */
  tryRetry(): (() => void) | undefined {
    if (this.retries >= this.limits.maxRetries) {
      this.stats.rqRetryOverflow++;
      return undefined;
    }
    this.retries++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.retries--;
    };
  }

  /** Fail every waiter (cluster removed). */
  close(): void {
    for (let i = this.head; i < this.queue.length; i++) {
      const w = this.queue[i]!;
      if (w.done) continue;
      w.done = true;
      if (w.onAbort) w.signal!.removeEventListener('abort', w.onAbort);
      this.pending--;
      w.reject(new UpstreamError('UH', `${this.cluster}: cluster removed`));
    }
    this.queue = [];
    this.head = 0;
  }

  render(p: string, out: Record<string, number>): void {
    const l = this.limits;
    out[`${p}circuit_breakers.default.cx_open`] = this.connections >= l.maxConnections ? 1 : 0;
    out[`${p}circuit_breakers.default.rq_pending_open`] = this.pending >= l.maxPendingRequests ? 1 : 0;
    out[`${p}circuit_breakers.default.rq_open`] = this.requests >= l.maxRequests ? 1 : 0;
    out[`${p}circuit_breakers.default.rq_retry_open`] = this.retries >= l.maxRetries ? 1 : 0;
    out[`${p}circuit_breakers.default.remaining_cx`] = Math.max(0, l.maxConnections - this.connections);
    out[`${p}circuit_breakers.default.remaining_pending`] = Math.max(0, l.maxPendingRequests - this.pending);
    out[`${p}circuit_breakers.default.remaining_rq`] = Math.max(0, l.maxRequests - this.requests);
    out[`${p}circuit_breakers.default.remaining_retries`] = Math.max(0, l.maxRetries - this.retries);
    out[`${p}upstream_rq_active`] = this.requests;
    out[`${p}upstream_rq_pending_active`] = this.pending;
  }
}
