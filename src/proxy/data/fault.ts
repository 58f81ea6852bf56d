// The fault stage (envoy.filters.http.fault, per route): delay a share of requests by a
// fixed time and abort a share with an HTTP or gRPC status. Deciding is pure (given the
// random draws); the HTTP path runs the delay and the abort.
import type { EnvoyObject } from '../types.js';
import { durationMs, num, obj } from '../../xds/object-form.js';
import type { CancelSignal } from './upstream/cancel.js';

export interface FaultConfig {
  delay: { probability: number; ms: number } | undefined;
  abort: { probability: number; httpStatus: number; grpcStatus: number | undefined } | undefined;
}

export class FaultConfigError extends Error {
  readonly code = 'WEFT_ERR_FAULT_CONFIG';
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'FaultConfigError';
  }
}

const DENOMINATORS: Record<string, number> = { HUNDRED: 100, TEN_THOUSAND: 10_000, MILLION: 1_000_000 };
const DENOMINATOR_BY_INDEX = [100, 10_000, 1_000_000];

/** envoy.type.v3.FractionalPercent (object form) -> a probability in [0, 1]; absent = 0. */
export function fraction(v: unknown): number {
  const o = obj(v);
  if (!o) return 0;
  const n = num(o.numerator) ?? 0;
  const d = typeof o.denominator === 'number' ? DENOMINATOR_BY_INDEX[o.denominator] : DENOMINATORS[typeof o.denominator === 'string' ? o.denominator : 'HUNDRED'];
  return d ? Math.min(1, Math.max(0, n / d)) : 0;
}

/** An HTTPFault (object form) -> the stage's config; undefined when it injects nothing. */
export function compileFault(field: string, c: EnvoyObject): FaultConfig | undefined {
  const d = obj(c.delay);
  const a = obj(c.abort);
  let delay: FaultConfig['delay'];
  let abort: FaultConfig['abort'];
  if (d) {
    if (obj(d.headerDelay)) throw new FaultConfigError(`${field}.delay.headerDelay`, 'header-controlled delays are not supported');
    const ms = durationMs(d.fixedDelay);
    if (ms === undefined) throw new FaultConfigError(`${field}.delay.fixedDelay`, 'missing');
    delay = { probability: fraction(d.percentage), ms };
  }
  if (a) {
    const httpStatus = num(a.httpStatus);
    const grpcStatus = num(a.grpcStatus);
    if (obj(a.headerAbort)) throw new FaultConfigError(`${field}.abort.headerAbort`, 'header-controlled aborts are not supported');
    if (httpStatus === undefined && grpcStatus === undefined) throw new FaultConfigError(`${field}.abort`, 'one of httpStatus, grpcStatus is required');
    if (httpStatus !== undefined && (httpStatus < 200 || httpStatus >= 600)) throw new FaultConfigError(`${field}.abort.httpStatus`, `${httpStatus} is not in [200, 600)`);
    abort = { probability: fraction(a.percentage), httpStatus: httpStatus ?? 200, grpcStatus };
  }
  if ((!delay || delay.probability === 0) && (!abort || abort.probability === 0)) return undefined;
  return { delay, abort };
}

export interface FaultOutcome {
  /** 0 = no delay. */
  delayMs: number;
  abort: { httpStatus: number; grpcStatus: number | undefined } | undefined;
}

const NONE: FaultOutcome = { delayMs: 0, abort: undefined };

/** What to inject into one request: delay and abort are drawn independently (Envoy's). */
export function decideFault(f: FaultConfig, random: () => number): FaultOutcome {
  const delayMs = f.delay && f.delay.probability > 0 && random() < f.delay.probability ? f.delay.ms : 0;
  const abort = f.abort && f.abort.probability > 0 && random() < f.abort.probability ? f.abort : undefined;
  return delayMs === 0 && !abort ? NONE : { delayMs, abort };
}

/**
 * Wait `ms`, then run `next`, unless the client goes away first (`signal`): the timer is
 * cancelled and `next` never runs. The timer does not keep the process alive.
 */
export function delayThen(ms: number, signal: CancelSignal, next: () => void): void {
  if (signal.aborted) return;
  const onAbort = (): void => clearTimeout(t);
  const t = setTimeout(() => {
    signal.removeEventListener('abort', onAbort);
    next();
  }, ms);
  t.unref();
  signal.addEventListener('abort', onAbort, { once: true });
}

/** The local answer for an abort: status, headers and body. gRPC aborts are trailers-only answers. */
export function abortReply(abort: NonNullable<FaultOutcome['abort']>): { status: number; headers: Record<string, string | number>; body: string } {
  if (abort.grpcStatus !== undefined) {
    return { status: 200, headers: { 'content-type': 'application/grpc', 'grpc-status': abort.grpcStatus, 'grpc-message': 'fault filter abort' }, body: '' };
  }
  const body = 'fault filter abort';
  return { status: abort.httpStatus, headers: { 'content-type': 'text/plain', 'content-length': body.length }, body };
}
