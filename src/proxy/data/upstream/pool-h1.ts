// HTTP/1.1 to one endpoint with keep-alive connection reuse.
//
// Built on undici's Pool rather than node:http's Agent: undici parses with llhttp in
// WASM, skips the IncomingMessage/ClientRequest object graph per request, and in
// undici's own benchmarks serves about twice the requests per second of http.Agent with
// keepAlive on the same sockets. Connections come from our Dialer (one code path for
// connect timeout, TLS, SAN checks and cx counters).
import { Pool, poolRequest } from './undici-pool.js';
import { abortError, type Dialer, type DialTarget } from './dial.js';
import type { CancelSignal } from './cancel.js';
import { toHeaderMap, trailersWhenDone } from './http-headers.js';
import type { PoolLimits } from './resilience-config.js';
import { UpstreamError, type HeaderMap, type RequestOptions, type UpstreamRequest, type UpstreamResponse } from './types.js';

export interface H1PoolOptions extends PoolLimits {
  /** The cluster's maxConnections breaker: no one endpoint opens more. */
  maxConnections: number;
}

export const H1_DEFAULTS = {
  /** Upper bound of concurrent connections to one endpoint. */
  maxConnections: 1024,
  /** Idle keep-alive connections close after this long unless the server says less. */
  keepAliveTimeoutMs: 4_000,
} as const;

export class H1Pool {
  private readonly pool: Pool;
  private peerIdentity: string | undefined;
  /** maxRequestsPerConnection 1: every connection closes after its request. */
  private readonly oneShot: boolean;

  constructor(
    private readonly target: DialTarget,
    dialer: Dialer,
    opts?: H1PoolOptions,
  ) {
    const tls = target.transport.kind === 'tls';
    const idle = opts?.idleTimeoutMs ?? H1_DEFAULTS.keepAliveTimeoutMs;
    this.oneShot = opts?.maxRequestsPerConnection === 1;
    this.pool = new Pool(`${tls ? 'https' : 'http'}://${target.key}`, {
      connections: Math.max(1, Math.min(H1_DEFAULTS.maxConnections, opts?.maxConnections ?? Infinity)),
      pipelining: 1,
      // commonHttpProtocolOptions.idleTimeout: idle connections close after it (a server's shorter keep-alive hint still wins).
      keepAliveTimeout: idle,
      keepAliveMaxTimeout: Math.max(idle, H1_DEFAULTS.keepAliveTimeoutMs),
      // commonHttpProtocolOptions.maxRequestsPerConnection (0 = unlimited). undici closes a
      // connection once it has sent *more* than maxRequestsPerClient, hence N - 1; N = 1 is
      // `reset` on every request (undici reads 0 as "no limit").
      ...(opts && opts.maxRequestsPerConnection > 1 ? { maxRequestsPerClient: opts.maxRequestsPerConnection - 1 } : {}),
      // Request and idle timeouts belong to the router's timeout stage (it aborts via the signal).
      headersTimeout: 0,
      bodyTimeout: 0,
      connect: (_opts, callback) => {
        dialer.dial(target, tls ? ['http/1.1'] : undefined).then(
          (d) => {
            this.peerIdentity = d.peerIdentity;
            callback(null, d.socket);
          },
          (err: Error) => callback(err, null),
        );
      },
    });
  }

  async request(req: UpstreamRequest, opts: RequestOptions | undefined): Promise<UpstreamResponse> {
    const signal = opts?.signal;
    const headers: Record<string, string | string[]> = { ...req.headers, host: req.authority };
    // undici does not implement Expect: 100-continue; the body is sent straight away instead.
    if ('expect' in headers) delete headers['expect'];
    let data;
    try {
      data = await poolRequest(this.pool, { method: req.method, path: req.path, headers, body: req.body ?? undefined, signal, reset: this.oneShot });
    } catch (err) {
      throw this.mapError(err, signal);
    }
    const body = data.body;
    body.on('error', noop); // the consumer owns the body; keep an unconsumed error from crashing the process
    const trailers = data.trailers;
    return {
      status: data.statusCode,
      headers: toHeaderMap(data.headers),
      body,
      trailers: trailersWhenDone(body, (): HeaderMap => toHeaderMap(trailers)),
      endpoint: this.target.key,
      peerIdentity: this.peerIdentity,
    };
  }

  private mapError(err: unknown, signal: CancelSignal | undefined): Error {
    if (signal?.aborted) return abortError(signal);
    if (err instanceof UpstreamError) return err;
    const e = err as Error & { code?: string };
    if (e.code === 'UND_ERR_CONNECT_TIMEOUT' || e.code === 'ECONNREFUSED') return new UpstreamError('UF', `${this.target.cluster} ${this.target.key}: ${e.message}`);
    return new UpstreamError('UR', `${this.target.cluster} ${this.target.key}: ${e.code ?? ''} ${e.message}`.trim());
  }

  /** Graceful: queued and in-flight requests finish; destroyed after graceMs. */
  close(graceMs: number): Promise<void> {
    const t = setTimeout(() => void this.pool.destroy().catch(noop), graceMs);
    t.unref();
    return this.pool.close().then(
      () => clearTimeout(t),
      () => clearTimeout(t),
    );
  }
}

function noop(): void {}
