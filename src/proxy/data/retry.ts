// The retry stage: Envoy's route retry policy (retryOn conditions, numRetries,
// perTryTimeout, retriable status codes, jittered exponential backoff) over one
// upstream cluster, bounded by the cluster's retry budget. Only request bodies fully
// buffered under the retry buffer limit are replayed; a larger body goes once.
import type { Readable } from 'node:stream';
import type { EnvoyObject } from '../types.js';
import type { ClusterManager, HeaderMap, UpstreamRequest, UpstreamResponse, UpstreamFailure } from './upstream/types.js';
import { UpstreamError } from './upstream/types.js';
import { Cancel, type CancelSignal } from './upstream/cancel.js';
import { durationMs, num, obj, str } from '../../xds/object-form.js';
import type { Counters } from './stats.js';
import type { RetryBudget } from './retry-budget.js';

export const RETRY_DEFAULTS = {
  /** Envoy's default retry back-off base interval; the maximum is 10x the base. */
  backoffBaseMs: 25,
  /** Request bodies up to this size are buffered so a retry can replay them. */
  bufferLimitBytes: 64 * 1024,
  /** numRetries when the policy does not say (Envoy's). */
  numRetries: 1,
} as const;

const GRPC_CONDITIONS = { cancelled: 1, 'deadline-exceeded': 4, 'resource-exhausted': 8, internal: 13, unavailable: 14 } as const;
type GrpcCondition = keyof typeof GRPC_CONDITIONS;

export type RetryOn =
  | '5xx'
  | 'gateway-error'
  | 'connect-failure'
  | 'reset'
  | 'refused-stream'
  | 'retriable-status-codes'
  | 'retriable-4xx'
  | GrpcCondition;

const KNOWN: ReadonlySet<string> = new Set<RetryOn>([
  '5xx',
  'gateway-error',
  'connect-failure',
  'reset',
  'refused-stream',
  'retriable-status-codes',
  'retriable-4xx',
  ...(Object.keys(GRPC_CONDITIONS) as GrpcCondition[]),
]);

export interface RetryPolicy {
  numRetries: number;
  retryOn: ReadonlySet<RetryOn>;
  /** 0 = only the route timeout bounds an attempt. */
  perTryTimeoutMs: number;
  retriableStatusCodes: ReadonlySet<number>;
  /** gRPC status codes (grpc-status of a trailers-only answer) that are retried. */
  grpcCodes: ReadonlySet<number>;
  backoffBaseMs: number;
  backoffMaxMs: number;
}

/** An Envoy RetryPolicy (object form) -> what the stage runs; undefined when absent. */
export function compileRetry(p: EnvoyObject | undefined): RetryPolicy | undefined {
  if (!p) return undefined;
  const on = new Set<RetryOn>();
  const grpc = new Set<number>();
  for (const part of (str(p.retryOn) ?? '').split(',')) {
    const t = part.trim();
    if (!KNOWN.has(t)) continue;
    on.add(t as RetryOn);
    if (t in GRPC_CONDITIONS) grpc.add(GRPC_CONDITIONS[t as GrpcCondition]);
  }
  const codes = new Set<number>();
  if (Array.isArray(p.retriableStatusCodes)) for (const c of p.retriableStatusCodes) if (typeof c === 'number') codes.add(c);
  const backoff = obj(p.retryBackOff);
  // Envoy: a base interval under 1 ms is rounded up to 1 ms (other durations truncate).
  const setBase = durationMs(backoff?.baseInterval);
  const base = setBase === undefined ? RETRY_DEFAULTS.backoffBaseMs : Math.max(1, setBase);
  return {
    numRetries: num(p.numRetries) ?? RETRY_DEFAULTS.numRetries,
    retryOn: on,
    perTryTimeoutMs: durationMs(p.perTryTimeout) ?? 0,
    retriableStatusCodes: codes,
    grpcCodes: grpc,
    backoffBaseMs: base,
    backoffMaxMs: durationMs(backoff?.maxInterval) ?? base * 10,
  };
}

function first(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** Whether an upstream answer is retried under the policy. */
export function retriableResponse(policy: RetryPolicy, status: number, headers: HeaderMap): boolean {
  const on = policy.retryOn;
  if (status >= 500 && on.has('5xx')) return true;
  if ((status === 502 || status === 503 || status === 504) && on.has('gateway-error')) return true;
  if (status === 409 && on.has('retriable-4xx')) return true;
  if (on.has('retriable-status-codes') && policy.retriableStatusCodes.has(status)) return true;
  if (policy.grpcCodes.size > 0) {
    const g = first(headers['grpc-status']);
    if (g !== undefined && policy.grpcCodes.has(Number(g))) return true;
  }
  return false;
}

/** Whether a failure to get an answer is retried; `refused` marks an HTTP/2 REFUSED_STREAM. */
export function retriableFailure(policy: RetryPolicy, flag: UpstreamFailure, refused: boolean): boolean {
  const on = policy.retryOn;
  if (refused && on.has('refused-stream')) return true;
  if (flag === 'UF' || flag === 'UH') return on.has('connect-failure') || on.has('5xx') || on.has('gateway-error');
  if (flag === 'UR') return on.has('reset') || on.has('5xx') || on.has('gateway-error');
  if (flag === 'UT') return on.has('5xx') || on.has('gateway-error');
  return false;
}

/** Envoy's jittered exponential back-off: uniform in [0, min(base x 2^n, max)) before retry n (0-based). */
export function backoffMs(policy: RetryPolicy, retry: number, random: number): number {
  const ceiling = Math.min(policy.backoffBaseMs * 2 ** Math.min(retry, 30), policy.backoffMaxMs);
  return Math.floor(random * ceiling);
}

/** The response flag of an error from the cluster manager. */
export function flagOf(err: unknown): UpstreamFailure {
  if (err instanceof UpstreamError) return err.flag;
  const code = (err as { code?: string } | undefined)?.code;
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND') return 'UF';
  return 'UR';
}

function isRefusedStream(err: unknown): boolean {
  const e = err as { code?: string; name?: string; message?: string } | undefined;
  return e?.name === 'RefusedStream' || e?.code === 'ERR_HTTP2_STREAM_ERROR' && /REFUSED_STREAM/.test(e.message ?? '') || /REFUSED_STREAM/.test(e?.message ?? '');
}

/**
 * Reads up to the limit: the whole body (replayable), or, past the limit, the same stream
 * with what was read put back in front (`unshift`), to be sent once. Events, not an async
 * iterator: this runs for every request with a body under a retry policy (every gRPC call
 * under Istio's default policy).
 */
export function bufferBody(body: Readable, limit: number): Promise<{ buf: Buffer } | { stream: Readable }> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = (): void => {
      body.off('data', onData);
      body.off('end', onEnd);
      body.off('error', onError);
      body.off('close', onClose);
    };
    const onData = (c: Buffer): void => {
      chunks.push(c);
      size += c.length;
      if (size <= limit) return;
      cleanup();
      body.pause();
      body.unshift(chunks.length === 1 ? c : Buffer.concat(chunks, size));
      resolve({ stream: body });
    };
    const onEnd = (): void => {
      cleanup();
      resolve({ buf: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) });
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(err);
    };
    // The client went away before the body ended ('close' without 'end').
    const onClose = (): void => {
      cleanup();
      reject(Object.assign(new Error('request body closed before its end'), { code: 'ERR_STREAM_PREMATURE_CLOSE' }));
    };
    body.on('data', onData);
    body.on('end', onEnd);
    body.on('error', onError);
    body.on('close', onClose);
  });
}

/** Per-cluster retry counters (Envoy's names), built once per cluster. */
export interface RetryStatNames {
  retry: string;
  retrySuccess: string;
  budgetExhausted: string;
}

const statNames = new Map<string, RetryStatNames>();

export function retryStatNames(cluster: string): RetryStatNames {
  let n = statNames.get(cluster);
  if (!n) {
    const p = `cluster.${cluster}.`;
    n = { retry: `${p}upstream_rq_retry`, retrySuccess: `${p}upstream_rq_retry_success`, budgetExhausted: `${p}retry_budget_exhausted` };
    if (statNames.size > 10_000) statNames.clear();
    statNames.set(cluster, n);
  }
  return n;
}

function sleep(ms: number, signal: CancelSignal): Promise<void> {
  if (ms <= 0) return signal.aborted ? Promise.reject(signal.reason) : Promise.resolve();
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason);
    };
    const t = setTimeout(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** One attempt: the cluster manager's request under the request's signal and, when set, a per-try timeout. */
function attempt(cm: ClusterManager, cluster: string, req: UpstreamRequest, signal: CancelSignal, perTryMs: number, hashKey: string | undefined): Promise<UpstreamResponse> {
  const opts = hashKey !== undefined ? { signal, hashKey } : { signal };
  if (perTryMs <= 0) return cm.request(cluster, req, opts);
  const ac = new Cancel();
  const onAbort = (): void => ac.abort(signal.reason);
  signal.addEventListener('abort', onAbort, { once: true });
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    ac.abort(new UpstreamError('UT', `per-try timeout to ${cluster}`));
  }, perTryMs);
  const done = (): void => {
    clearTimeout(timer);
    signal.removeEventListener('abort', onAbort);
  };
  return cm.request(cluster, req, { ...opts, signal: ac }).then(
    (up) => {
      // The per-try timeout covers the whole answer, body included (Envoy's).
      up.body.once('close', done);
      up.body.once('end', done);
      return up;
    },
    (err: unknown) => {
      done();
      throw timedOut && !signal.aborted ? new UpstreamError('UT', `per-try timeout to ${cluster}`) : err;
    },
  );
}

export interface RetryContext {
  cm: ClusterManager;
  cluster: string;
  counters: Counters;
  /** http.<prefix>.upstream_rq_retry */
  hcmRetryStat: string;
  budget: RetryBudget | undefined;
  signal: CancelSignal;
  random: () => number;
  hashKey?: string;
}

/**
 * Send the request under the policy (no policy or numRetries 0: once). Resolves with the
 * answer to give downstream (possibly a retriable one when retries ran out or the budget
 * refused one); rejects with the last failure.
 */
export async function sendWithRetries(ctx: RetryContext, base: UpstreamRequest, body: Readable | null, policy: RetryPolicy | undefined): Promise<UpstreamResponse> {
  const { cm, cluster, signal } = ctx;
  ctx.budget?.recordRequest();
  if (!policy || policy.numRetries <= 0) {
    base.body = body;
    return attempt(cm, cluster, base, signal, policy?.perTryTimeoutMs ?? 0, ctx.hashKey);
  }
  let replay: Buffer | undefined;
  if (body) {
    // A body declared larger than the buffer limit cannot be replayed: it goes once, streamed, unbuffered.
    const declared = base.headers['content-length'];
    if (typeof declared === 'string' && Number(declared) > RETRY_DEFAULTS.bufferLimitBytes) {
      base.body = body;
      return attempt(cm, cluster, base, signal, policy.perTryTimeoutMs, ctx.hashKey);
    }
    const b = await bufferBody(body, RETRY_DEFAULTS.bufferLimitBytes);
    if ('stream' in b) {
      base.body = b.stream;
      return attempt(cm, cluster, base, signal, policy.perTryTimeoutMs, ctx.hashKey);
    }
    replay = b.buf;
  }
  const names = retryStatNames(cluster);
  // The permit of the retry in flight (the cluster's maxRetries circuit breaker), released when it ends.
  let permit: (() => void) | undefined;
  const endRetry = (): void => {
    permit?.();
    permit = undefined;
  };
  try {
    for (let n = 0; ; n++) {
      const last = n >= policy.numRetries;
      const req: UpstreamRequest = n === 0 ? base : { ...base, headers: { ...base.headers } };
      req.body = replay ?? null;
      try {
        const up = await attempt(cm, cluster, req, signal, policy.perTryTimeoutMs, ctx.hashKey);
        endRetry();
        const again = !last && retriableResponse(policy, up.status, up.headers);
        if (!again || !(permit = takeRetry(ctx, names))) {
          if (n > 0 && !retriableResponse(policy, up.status, up.headers)) ctx.counters.inc(names.retrySuccess);
          return up;
        }
        up.body.on('error', () => {});
        up.body.destroy();
      } catch (err) {
        endRetry();
        if (signal.aborted) throw err;
        const flag = flagOf(err);
        if (last || !retriableFailure(policy, flag, isRefusedStream(err)) || !(permit = takeRetry(ctx, names))) throw err;
      }
      ctx.counters.inc(ctx.hcmRetryStat);
      ctx.counters.inc(names.retry);
      await sleep(backoffMs(policy, n, ctx.random()), signal);
    }
  } finally {
    endRetry();
  }
}

const NO_BREAKER = (): void => {};

/**
 * Whether one more retry may go: the cluster's maxRetries circuit breaker must have room
 * (the cluster manager counts an overflow) and the retry budget must allow it. Returns the
 * breaker permit to release when the retry ends, or undefined for no retry.
 */
function takeRetry(ctx: RetryContext, names: RetryStatNames): (() => void) | undefined {
  const permit = ctx.cm.retryPermit ? ctx.cm.retryPermit(ctx.cluster) : NO_BREAKER;
  if (!permit) return undefined;
  if (!ctx.budget || ctx.budget.tryRetry()) return permit;
  permit();
  ctx.counters.inc(names.budgetExhausted);
  return undefined;
}
