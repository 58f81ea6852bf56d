// One request through the HTTP path, for HTTP/1.1 and HTTP/2 alike: route it, send it
// upstream (timeout, retries), stream the answer back with trailers.
import { Readable } from 'node:stream';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { ClusterManager, HeaderMap, UpstreamRequest, UpstreamResponse } from './upstream/types.js';
import { UpstreamError, type UpstreamFailure } from './upstream/types.js';
import type { CompiledRoute, CompiledRouteConfig, RetryPolicy, RouteDecision } from './router.js';
import { routeRequest, weightedEntry } from './router.js';
import type { HcmConfig } from './hcm-config.js';
import { HTTP_DEFAULTS } from './hcm-config.js';
import type { Counters } from './stats.js';
import { addForwardingHeaders, applyMutations, downstreamResponseHeaders, upstreamRequestHeaders } from './headers.js';

/** What the HTTP path needs from the rest of the data plane. */
export interface HttpEnv {
  counters: Counters;
  clusterManager(): ClusterManager;
  routeConfig(name: string): CompiledRouteConfig | undefined;
  ownIdentity(): string | undefined;
  draining(): boolean;
  requestStarted(): void;
  requestDone(): void;
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

/** The parts of a downstream request both HTTP versions share. */
export interface DownReq extends Readable {
  method?: string;
  url?: string;
  headers: IncomingHttpHeaders;
}

/** The parts of a downstream response both http.ServerResponse and Http2ServerResponse share. */
export interface DownRes {
  headersSent: boolean;
  writableEnded: boolean;
  writeHead(status: number, headers?: OutgoingHttpHeaders): unknown;
  write(chunk: Buffer | string): boolean;
  end(chunk?: Buffer | string): unknown;
  addTrailers(headers: OutgoingHttpHeaders): void;
  destroy(err?: Error): unknown;
  on(event: 'close' | 'drain' | 'error', fn: (...args: unknown[]) => void): unknown;
  once(event: 'close' | 'drain' | 'error', fn: (...args: unknown[]) => void): unknown;
  emit(event: string | symbol, ...args: unknown[]): boolean;
  removeListener(event: string, fn: (...args: unknown[]) => void): unknown;
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

export function localReply(res: DownRes, status: number, body: string, extra?: OutgoingHttpHeaders): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const h: OutgoingHttpHeaders = { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), ...extra };
  res.writeHead(status, h);
  res.end(body);
}

function flagReply(res: DownRes, flag: UpstreamFailure | 'NR', cluster: string | undefined): void {
  const status = flag === 'NR' ? 404 : FLAG_STATUS[flag];
  localReply(res, status, cluster ? `${FLAG_TEXT[flag]}: ${cluster}\n` : `${FLAG_TEXT[flag]}\n`, { 'x-weft-flags': flag });
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

export function decide(env: HttpEnv, hcm: HcmConfig, authority: string, path: string, method: string, headers: IncomingHttpHeaders): RouteDecision | undefined {
  const rc = hcm.routes.kind === 'inline' ? hcm.routes.config : env.routeConfig(hcm.routes.name);
  if (!rc) return undefined;
  return routeRequest(rc, { authority, path, method, headers });
}

function hasBody(req: DownReq, h2: boolean): boolean {
  if (h2) {
    const stream = (req as unknown as { stream?: { endAfterHeaders?: boolean } }).stream;
    return !(stream?.endAfterHeaders ?? false);
  }
  const cl = req.headers['content-length'];
  return req.headers['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0');
}

/** Reads up to the retry buffer limit: the whole body (replayable) or a stream that continues where it stopped. */
async function bufferForRetry(req: DownReq): Promise<{ buf: Buffer } | { stream: Readable }> {
  const chunks: Buffer[] = [];
  let size = 0;
  const it = req[Symbol.asyncIterator]();
  for (;;) {
    const n = await it.next();
    if (n.done) return { buf: Buffer.concat(chunks, size) };
    const c = n.value as Buffer;
    chunks.push(c);
    size += c.length;
    if (size > HTTP_DEFAULTS.retryBufferLimitBytes) {
      const rest = (async function* (): AsyncGenerator<Buffer> {
        yield* chunks;
        for (;;) {
          const m = await it.next();
          if (m.done) return;
          yield m.value as Buffer;
        }
      })();
      return { stream: Readable.from(rest, { objectMode: false }) };
    }
  }
}

function retriable(policy: RetryPolicy, status: number | undefined, flag: UpstreamFailure | undefined): boolean {
  const on = policy.retryOn;
  if (status !== undefined) {
    if (status >= 500 && on.has('5xx')) return true;
    if ((status === 502 || status === 503 || status === 504) && on.has('gateway-error')) return true;
    return on.has('retriable-status-codes') && policy.retriableStatusCodes.has(status);
  }
  if (flag === 'UF' || flag === 'UH') return on.has('connect-failure') || on.has('5xx') || on.has('gateway-error');
  if (flag === 'UR') return on.has('reset') || on.has('5xx') || on.has('gateway-error');
  if (flag === 'UT') return on.has('5xx') || on.has('gateway-error');
  return false;
}

function flagOf(err: unknown): UpstreamFailure {
  if (err instanceof UpstreamError) return err.flag;
  const code = (err as { code?: string } | undefined)?.code;
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENOTFOUND') return 'UF';
  return 'UR';
}

/** Handle one downstream request (HTTP/1.1 or HTTP/2 compat objects). */
export function handleHttpRequest(env: HttpEnv, conn: ConnInfo, req: DownReq, res: DownRes, h2: boolean, authority: string, path: string): void {
  const counters = env.counters;
  const names = conn.hcm.names;
  counters.inc(names.rqTotal);
  counters.inc(conn.peerIdentity !== undefined ? names.rqMtls : names.rqPlaintext);
  env.requestStarted();
  const method = req.method ?? 'GET';
  const origWriteHead = res.writeHead;
  // Count the response class once, whoever answers.
  res.writeHead = function (this: DownRes, status: number, headers?: OutgoingHttpHeaders): unknown {
    const cls = (status / 100) | 0;
    if (cls >= 1 && cls <= 5) counters.inc(names.rqClass[cls]!);
    if (env.draining() && !h2 && headers) headers.connection = 'close';
    return origWriteHead.call(this, status, headers);
  };
  const ac = new AbortController();
  let done = false;
  res.once('close', () => {
    done = true;
    env.requestDone();
    if (conn.current === active) conn.current = undefined;
    if (!ac.signal.aborted) ac.abort();
  });
  res.on('error', () => {});
  req.on('error', () => {});
  const active: ActiveRequest = {
    timeout: () => {
      counters.inc(names.rqIdleTimeout);
      ac.abort();
      if (!res.headersSent) localReply(res, 408, 'request timeout\n', { connection: 'close' });
      else res.destroy();
    },
  };
  if (!h2) conn.current = active;

  const decision = decide(env, conn.hcm, authority, path, method, req.headers);
  if (!decision || decision.kind === 'none') {
    counters.inc(names.noRoute);
    flagReply(res, 'NR', undefined);
    return;
  }
  if (decision.kind === 'direct') {
    const h: OutgoingHttpHeaders = { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(decision.body) };
    applyMutations(h, decision.route.responseHeaders);
    res.writeHead(decision.status, h);
    res.end(decision.body);
    return;
  }
  if (decision.kind === 'redirect') {
    const h: OutgoingHttpHeaders = { location: decision.location, 'content-length': 0 };
    applyMutations(h, decision.route.responseHeaders);
    res.writeHead(decision.status, h);
    res.end();
    return;
  }
  const cm = env.clusterManager();
  if (!cm.has(decision.cluster)) {
    counters.inc(names.noCluster);
    flagReply(res, 'NC', decision.cluster);
    return;
  }
  const headers = upstreamRequestHeaders(req.headers);
  addForwardingHeaders(headers, conn.tls, env.ownIdentity(), conn.peerIdentity);
  applyMutations(headers, decision.route.requestHeaders);
  const w = weightedEntry(decision.route, decision.cluster);
  if (w) applyMutations(headers, w.headers);

  const action = decision.route.action;
  const timeoutMs = action.type === 'route' ? action.timeoutMs : 0;
  const retry = action.type === 'route' ? action.retry : undefined;
  let timer: NodeJS.Timeout | undefined;
  let timedOut = false;
  if (timeoutMs > 0) {
    timer = setTimeout(() => {
      timedOut = true;
      counters.inc(names.rqTimeout);
      ac.abort();
      if (!res.headersSent) flagReply(res, 'UT', decision.cluster);
      else res.destroy();
    }, timeoutMs);
  }
  if (conn.hcm.requestTimeoutMs > 0) {
    const rt = setTimeout(active.timeout, conn.hcm.requestTimeoutMs);
    res.once('close', () => clearTimeout(rt));
  }
  const clear = (): void => {
    if (timer) clearTimeout(timer);
  };
  res.once('close', clear);

  const body = hasBody(req, h2);
  const base: UpstreamRequest = {
    method,
    path: decision.path,
    authority: decision.authority,
    scheme: conn.tls ? 'https' : 'http',
    headers,
    body: null,
  };
  void forward(env, cm, decision.cluster, decision.route, base, body ? req : null, retry, ac.signal, names.rqRetry).then(
    (up) => {
      if (done || timedOut) {
        up.body.destroy();
        return;
      }
      writeResponse(res, up, decision.route, clear);
    },
    (err: unknown) => {
      clear();
      if (done || timedOut) return;
      flagReply(res, flagOf(err), decision.cluster);
    },
  );
}

async function forward(
  env: HttpEnv,
  cm: ClusterManager,
  cluster: string,
  _route: CompiledRoute,
  base: UpstreamRequest,
  body: DownReq | null,
  retry: RetryPolicy | undefined,
  signal: AbortSignal,
  retryStat: string,
): Promise<UpstreamResponse> {
  if (!retry || retry.numRetries <= 0) {
    base.body = body;
    return cm.request(cluster, base, { signal });
  }
  let replay: Buffer | undefined;
  if (body) {
    const b = await bufferForRetry(body);
    if ('stream' in b) {
      base.body = b.stream;
      return cm.request(cluster, base, { signal });
    }
    replay = b.buf;
  }
  for (let attempt = 0; ; attempt++) {
    const last = attempt >= retry.numRetries;
    const perTry = retry.perTryTimeoutMs > 0 ? AbortSignal.any([signal, AbortSignal.timeout(retry.perTryTimeoutMs)]) : signal;
    const req: UpstreamRequest = { ...base, headers: { ...base.headers }, body: replay ? Readable.from([replay]) : null };
    try {
      const up = await cm.request(cluster, req, { signal: perTry });
      if (last || !retriable(retry, up.status, undefined)) return up;
      up.body.destroy();
    } catch (err) {
      if (signal.aborted) throw err;
      const flag = perTry.aborted ? 'UT' : flagOf(err);
      if (last || !retriable(retry, undefined, flag)) throw perTry.aborted ? new UpstreamError('UT', `per-try timeout to ${cluster}`) : err;
    }
    env.counters.inc(retryStat);
  }
}

function writeResponse(res: DownRes, up: UpstreamResponse, route: CompiledRoute, clear: () => void): void {
  const headers = downstreamResponseHeaders(up.headers);
  applyMutations(headers, route.responseHeaders);
  try {
    res.writeHead(up.status, headers);
  } catch {
    up.body.destroy();
    res.destroy();
    return;
  }
  const src = up.body;
  src.on('error', () => res.destroy());
  res.once('close', () => {
    if (!src.readableEnded) src.destroy();
  });
  src.on('end', () => {
    clear();
    up.trailers.then(
      (t) => finish(res, t),
      () => finish(res, {}),
    );
  });
  src.pipe(res as unknown as NodeJS.WritableStream, { end: false });
}

function finish(res: DownRes, trailers: HeaderMap): void {
  if (res.writableEnded) return;
  let any = false;
  for (const _ in trailers) {
    any = true;
    break;
  }
  if (any) {
    const t: OutgoingHttpHeaders = {};
    for (const k in trailers) if (k.charCodeAt(0) !== 58) t[k] = trailers[k];
    try {
      res.addTrailers(t);
    } catch {
      // trailers the downstream cannot carry are dropped
    }
  }
  res.end();
}
