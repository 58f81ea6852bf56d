// One request through the HTTP path, for HTTP/1.1 and HTTP/2 alike. The per-request
// stages run in Envoy's filter order: route selection, fault (delay/abort), CORS, then
// the router: mirror copies fired, retry/timeout over the upstream, the answer streamed
// back with trailers. Each stage lives in its own module; this file only sequences them.
import type { Readable, Writable } from 'node:stream';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import { ignore, type Downstream } from './downstream.js';
import { Cancel } from './upstream/cancel.js';
import type { ClusterManager, UpstreamFailure, UpstreamRequest, UpstreamResponse } from './upstream/types.js';
import type { CompiledRoute, CompiledRouteConfig, RouteDecision } from './router.js';
import { routeRequest } from './router.js';
import type { HcmConfig } from './hcm-config.js';
import type { Counters } from './stats.js';
import { applyMutations, downstreamResponseHeaders, routedRequestHeaders } from './headers.js';
import { abortReply, decideFault, delayThen } from './fault.js';
import { decideCors } from './cors.js';
import { BodyCopy, MIRROR_DEFAULTS, sampleMirrors, sendMirrors } from './mirror.js';
import { flagOf, sendWithRetries, type RetryContext } from './retry.js';
import type { RetryBudget } from './retry-budget.js';
import { addSetCookie, computeHashKey } from './hash-key.js';

/** What the HTTP path needs from the rest of the data plane. */
export interface HttpEnv {
  counters: Counters;
  clusterManager(): ClusterManager;
  routeConfig(name: string): CompiledRouteConfig | undefined;
  ownIdentity(): string | undefined;
  draining(): boolean;
  requestStarted(): void;
  requestDone(): void;
  /** Uniform in [0, 1): fault and mirror sampling, retry jitter (seedable for tests). */
  random: () => number;
  /** The retry budget of a cluster (weft.retry_budget), if it has one. */
  retryBudget(cluster: string): RetryBudget | undefined;
}

/** Per downstream connection. */
export interface ConnInfo {
  listener: string;
  hcm: HcmConfig;
  tls: boolean;
  peerIdentity: string | undefined;
  /** The HTTP/1.1 request in progress (for idle/request timeouts). */
  current: ActiveRequest | undefined;
}

export interface ActiveRequest {
  /** The stream went idle or over its request timeout: answer 408 if possible, then reset. */
  timeout(): void;
}

const FLAG_STATUS: Record<UpstreamFailure, number> = { UH: 503, UF: 503, UR: 503, UT: 504, UO: 503, NC: 503 };
const FLAG_TEXT: Record<UpstreamFailure | 'NR', string> = {
  UH: 'no healthy upstream',
  UF: 'upstream connect error',
  UR: 'upstream reset',
  UT: 'upstream request timeout',
  UO: 'upstream overflow',
  NC: 'cluster not found',
  NR: 'route not found',
};

export function localReply(ds: Downstream, status: number, body: string, extra?: OutgoingHttpHeaders): void {
  if (ds.headersSent) {
    ds.destroy();
    return;
  }
  const h: OutgoingHttpHeaders = { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...extra };
  ds.reply(status, h, body);
}

function flagReply(ds: Downstream, flag: UpstreamFailure | 'NR', cluster: string | undefined): void {
  const status = flag === 'NR' ? 404 : FLAG_STATUS[flag];
  localReply(ds, status, cluster ? `${FLAG_TEXT[flag]}: ${cluster}\n` : `${FLAG_TEXT[flag]}\n`, { 'x-weft-flags': flag });
}

/** authority and path of a request target; absolute-form ("http://host:port/p") carries its own authority. */
export function requestTarget(url: string, hostHeader: string | undefined): { authority: string; path: string } {
  if (url.charCodeAt(0) !== 47 /* '/' */) {
    const s = url.indexOf('://');
    if (s > 0) {
      const slash = url.indexOf('/', s + 3);
      const q = url.indexOf('?', s + 3);
      const end = slash < 0 ? (q < 0 ? url.length : q) : q >= 0 && q < slash ? q : slash;
      const authority = url.slice(s + 3, end);
      const rest = url.slice(end);
      return { authority, path: rest === '' ? '/' : rest.charCodeAt(0) === 63 ? `/${rest}` : rest };
    }
  }
  return { authority: hostHeader ?? '', path: url || '/' };
}

export function decide(env: HttpEnv, conn: ConnInfo, authority: string, path: string, method: string, headers: IncomingHttpHeaders): RouteDecision | undefined {
  const hcm = conn.hcm;
  const rc = hcm.routes.kind === 'inline' ? hcm.routes.config : env.routeConfig(hcm.routes.name);
  if (!rc) return undefined;
  return routeRequest(rc, { authority, path, method, headers, tls: conn.tls });
}

/** One request in flight: what the stages share. */
interface Flight {
  env: HttpEnv;
  conn: ConnInfo;
  ds: Downstream;
  /** Cancels the upstream side: the client went away, or a timeout fired. */
  cancel: Cancel;
  done: boolean;
  /** Response flags the stages add (x-weft-flags), e.g. DI for an injected delay. */
  flags: string | undefined;
  /** Headers a stage adds to whatever response goes downstream (CORS). */
  extraHeaders: Record<string, string> | undefined;
  /** Stops the route timeout (set by the router stage when the route has one). */
  clearTimer: () => void;
  /** The upstream answer's body while it streams down: destroyed if the downstream goes first. */
  upBody: Readable | undefined;
}

/** Counts a downstream request: in total and by whether it came over mTLS. */
function countRequest(env: HttpEnv, conn: ConnInfo): void {
  const names = conn.hcm.names;
  env.counters.inc(names.rqTotal);
  env.counters.inc(conn.peerIdentity !== undefined ? names.rqMtls : names.rqPlaintext);
}

/** Counts a response's class (1xx..5xx). */
export function countStatus(env: HttpEnv, conn: ConnInfo, status: number): void {
  const cls = (status / 100) | 0;
  if (cls >= 1 && cls <= 5) env.counters.inc(conn.hcm.names.rqClass[cls]!);
}

/**
 * Answers a request before it is routed, counted as every request is: an expectation other
 * than 100-continue gets 417 (as node's own servers answer it), HTTP/1.1 or HTTP/2.
 */
export function replyBeforeRouting(env: HttpEnv, conn: ConnInfo, ds: Downstream, status: number): void {
  countRequest(env, conn);
  countStatus(env, conn, status);
  ds.reply(status, { 'content-length': 0 });
}

/** Handle one downstream request (HTTP/1.1 or HTTP/2). */
export function handleHttpRequest(env: HttpEnv, conn: ConnInfo, ds: Downstream, authority: string, path: string): void {
  const counters = env.counters;
  const names = conn.hcm.names;
  countRequest(env, conn);
  env.requestStarted();
  const h2 = ds.h2;
  const fl: Flight = { env, conn, ds, cancel: new Cancel(), done: false, flags: undefined, extraHeaders: undefined, clearTimer: ignore, upBody: undefined };
  // Add what the stages ask for to whichever head answers; count its class once it is written.
  ds.onHead = (status, headers) => {
    if (fl.extraHeaders) Object.assign(headers, fl.extraHeaders);
    if (fl.flags) {
      const prev = headers['x-weft-flags'];
      headers['x-weft-flags'] = prev === undefined ? fl.flags : `${fl.flags},${String(prev)}`;
    }
    if (!h2 && env.draining()) headers.connection = 'close';
  };
  ds.onHeadWritten = (status) => countStatus(env, conn, status);
  // Only HTTP/1.1 (idle timeout, conn.current) and a request timeout need the timeout hook.
  const requestTimeoutMs = conn.hcm.requestTimeoutMs;
  const active: ActiveRequest | undefined =
    h2 && requestTimeoutMs <= 0
      ? undefined
      : {
          timeout: () => {
            counters.inc(names.rqIdleTimeout);
            fl.cancel.abort();
            if (!ds.headersSent) localReply(ds, 408, 'request timeout\n', h2 ? undefined : { connection: 'close' });
            else ds.destroy();
          },
        };
  if (!h2) conn.current = active;
  const rt = active && requestTimeoutMs > 0 ? setTimeout(active.timeout, requestTimeoutMs) : undefined;
  ds.onClose(() => {
    fl.done = true;
    env.requestDone();
    if (rt) clearTimeout(rt);
    if (active && conn.current === active) conn.current = undefined;
    // Cancel the upstream only when the downstream went away before its response was complete;
    // after a complete response there is nothing to cancel (and an HTTP/2 upstream must not be reset).
    if (!fl.cancel.aborted && !ds.ended) fl.cancel.abort();
    fl.clearTimer();
    const b = fl.upBody;
    if (b && !b.readableEnded) b.destroy();
  });

  const decision = decide(env, conn, authority, path, ds.method, ds.headers);
  if (!decision || decision.kind === 'none') {
    counters.inc(names.noRoute);
    flagReply(ds, 'NR', undefined);
    return;
  }
  // Fault stage: an injected delay holds the request (not its body) before anything else runs.
  const fault = decision.route.fault;
  if (fault) {
    const f = decideFault(fault, env.random);
    if (f.delayMs > 0) {
      counters.inc(names.faultDelays);
      fl.flags = 'DI';
      delayThen(f.delayMs, fl.cancel, () => (f.abort ? injectAbort(fl, f.abort) : afterFault(fl, decision)));
      return;
    }
    if (f.abort) return injectAbort(fl, f.abort);
  }
  afterFault(fl, decision);
}

function injectAbort(fl: Flight, abort: Parameters<typeof abortReply>[0]): void {
  fl.env.counters.inc(fl.conn.hcm.names.faultAborts);
  const a = abortReply(abort);
  const ds = fl.ds;
  ds.discardBody();
  if (ds.headersSent) return ds.destroy();
  ds.reply(a.status, { ...a.headers, 'x-weft-flags': 'FI' }, a.body);
}

/** CORS, then the router. */
function afterFault(fl: Flight, decision: Exclude<RouteDecision, { kind: 'none' }>): void {
  const { ds } = fl;
  const cors = decision.route.cors;
  if (cors) {
    const c = decideCors(cors, ds.method, ds.headers);
    if (c.kind === 'preflight') {
      ds.discardBody();
      ds.reply(200, { ...c.headers, 'content-length': 0 });
      return;
    }
    if (c.kind === 'actual') fl.extraHeaders = c.headers;
  }
  if (decision.kind === 'direct') {
    const h: OutgoingHttpHeaders = { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(decision.body) };
    applyMutations(h, decision.route.responseHeaders);
    ds.reply(decision.status, h, decision.body);
    return;
  }
  if (decision.kind === 'redirect') {
    const h: OutgoingHttpHeaders = { location: decision.location, 'content-length': 0 };
    applyMutations(h, decision.route.responseHeaders);
    ds.reply(decision.status, h);
    return;
  }
  route(fl, decision);
}

/** The router stage: headers, mirrors, timeout, retries, upstream. */
function route(fl: Flight, decision: Extract<RouteDecision, { kind: 'route' }>): void {
  const { env, conn, ds } = fl;
  const counters = env.counters;
  const names = conn.hcm.names;
  const cm = env.clusterManager();
  if (!cm.has(decision.cluster)) {
    counters.inc(names.noCluster);
    flagReply(ds, 'NC', decision.cluster);
    return;
  }
  const headers = routedRequestHeaders(ds.headers, decision, conn.tls, env.ownIdentity(), conn.peerIdentity);

  const action = decision.action;
  const timeoutMs = action.timeoutMs;
  let timedOut = false;
  if (timeoutMs > 0) {
    const timer = setTimeout(() => {
      timedOut = true;
      counters.inc(names.rqTimeout);
      fl.cancel.abort();
      if (!ds.headersSent) flagReply(ds, 'UT', decision.cluster);
      else ds.destroy();
    }, timeoutMs);
    fl.clearTimer = () => clearTimeout(timer);
  }

  const base: UpstreamRequest = {
    method: ds.method,
    path: decision.path,
    authority: decision.authority,
    scheme: conn.tls ? 'https' : 'http',
    headers,
    body: null,
  };
  let body: Readable | null = ds.body;
  const mirrors = action.mirrors.length > 0 ? sampleMirrors(action.mirrors, env.random) : undefined;
  if (mirrors) body = mirror(fl, cm, mirrors, base, body, timeoutMs);

  const ctx: RetryContext = {
    cm,
    cluster: decision.cluster,
    counters,
    hcmRetryStat: names.rqRetry,
    budget: env.retryBudget(decision.cluster),
    signal: fl.cancel,
    random: env.random,
  };
  // Consistent hashing: the route's hashPolicy over this request (and a generated sticky cookie to set).
  const hashed = action.hashPolicy ? computeHashKey(action.hashPolicy, { headers: ds.headers, path: decision.path, sourceIp: ds.remoteAddress }) : undefined;
  if (hashed?.hashKey !== undefined) ctx.hashKey = hashed.hashKey;
  void sendWithRetries(ctx, base, body, action.retry).then(
    (up) => {
      if (fl.done || timedOut) {
        up.body.destroy();
        return;
      }
      if (hashed?.setCookie) addSetCookie(up.headers, hashed.setCookie);
      writeResponse(fl, up, decision.route, decision.cluster);
    },
    (err: unknown) => {
      fl.clearTimer();
      if (fl.done || timedOut) return;
      flagReply(ds, flagOf(err), decision.cluster);
    },
  );
}

/**
 * Fire the mirror copies (never awaited). Without a body they go now; with one, the
 * primary reads the body through a copy and the mirrors go when it has ended (within
 * the buffer limit, else not at all). Returns the body the primary should read.
 */
function mirror(fl: Flight, cm: ClusterManager, clusters: string[], base: UpstreamRequest, body: Readable | null, timeoutMs: number): Readable | null {
  const { env } = fl;
  const stats = fl.conn.hcm.names.mirror;
  if (!body) {
    // Sent before the primary, and sendMirrors copies what it sends: no copy needed here.
    sendMirrors(cm, clusters, base, null, timeoutMs, env.counters, stats);
    return null;
  }
  // The primary goes first and may change its request (body, headers) before the body has ended.
  const copy: UpstreamRequest = { ...base, headers: { ...base.headers } };
  const tee = new BodyCopy(MIRROR_DEFAULTS.bodyLimitBytes, (buf) => {
    if (buf) sendMirrors(cm, clusters, copy, buf, timeoutMs, env.counters, stats);
  });
  body.on('error', (err: Error) => tee.destroy(err));
  body.pipe(tee);
  return tee;
}

function writeResponse(fl: Flight, up: UpstreamResponse, route: CompiledRoute, cluster: string): void {
  const ds = fl.ds;
  const headers = downstreamResponseHeaders(up.headers);
  applyMutations(headers, route.responseHeaders);
  const src = up.body;
  // A trailers-only answer from an HTTP/2 upstream (gRPC's error form: grpc-status in its one
  // HEADERS frame, END_STREAM on it) stays one HEADERS frame downstream, not HEADERS and an
  // empty DATA frame: some gRPC clients read the latter as a stream without a status.
  try {
    if (up.endedAtHead === true) {
      fl.clearTimer();
      src.resume();
      ds.reply(up.status, headers);
      return;
    }
    ds.respond(up.status, headers);
  } catch (err) {
    // The upstream's head cannot be carried downstream (e.g. a repeated content-type, which
    // HTTP/2 forbids): nothing was written, so the client gets a 502 saying why (Envoy's UPE).
    src.destroy();
    fl.clearTimer();
    if (ds.headersSent) ds.destroy();
    else localReply(ds, 502, `upstream protocol error: ${cluster}: ${err instanceof Error ? err.message : String(err)}\n`, { 'x-weft-flags': 'UPE' });
    return;
  }
  fl.upBody = src;
  src.on('error', () => ds.destroy());
  src.on('end', () => {
    fl.clearTimer();
    up.trailers.then(
      (t) => ds.finish(t),
      () => ds.finish({}),
    );
  });
  // An answer without a body (HEAD, 204, 304) is complete at its head: drain what the upstream sends.
  if (ds.ended) src.resume();
  else forward(src, ds.sink);
}

/**
 * The answer's body into the downstream, with backpressure. What pipe() does here, without
 * its listeners on both streams and their removal at the end; the downstream's close
 * destroys `src` (handleHttpRequest), so nothing waits on a 'drain' that never comes.
 */
function forward(src: Readable, sink: Writable): void {
  const resume = (): void => void src.resume();
  src.on('data', (chunk: Buffer) => {
    if (!sink.write(chunk)) {
      src.pause();
      sink.once('drain', resume);
    }
  });
}
