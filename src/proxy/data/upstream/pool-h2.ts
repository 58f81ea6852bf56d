// One pooled HTTP/2 session per endpoint (mTLS with ALPN h2, or h2c), many concurrent
// streams over it. The session is replaced on GOAWAY, error or close; a replaced session
// is closed gracefully, so its in-flight streams finish. retire() (identity rotation)
// moves new streams to a fresh session, which handshakes with the new certificate.
// The cluster's commonHttpProtocolOptions apply as in Envoy: maxRequestsPerConnection
// retires a session once it has carried that many streams, idleTimeout closes a session
// that has had no stream for that long.
//
// Cancellation: the request's AbortSignal is NOT handed to node:http2. Node destroys a
// stream with RST_STREAM(CANCEL) whenever the signal fires before the stream's 'close'
// event, and the router aborts the signal when the downstream response closes, i.e.
// after nearly every successful request, when the upstream stream has already ended but
// not yet emitted 'close'. The server's nghttp2 counts every received RST_STREAM against
// its rapid-reset limit (burst 1000, then ~33/s) and answers with GOAWAY(INTERNAL_ERROR),
// which makes node destroy the whole session and every stream on it. So a stream is only
// cancelled while it is still doing something: not once the response has ended and the
// request has been sent.
import http2, { type ClientHttp2Session, type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import type { Readable } from 'node:stream';
import { abortError, type Dialer, type DialTarget } from './dial.js';
import { toH2Headers, toHeaderMap, trailersWhenDone } from './http-headers.js';
import type { PoolLimits } from './resilience-config.js';
import { UpstreamError, type HeaderMap, type RequestOptions, type UpstreamRequest, type UpstreamResponse } from './types.js';

export const H2_DEFAULTS = {
  /** Per-stream receive window (the 64 KiB default stalls large bodies on fast links). */
  streamWindowBytes: 1 << 20,
  /** Connection-level receive window. */
  sessionWindowBytes: 16 << 20,
  /** Close a session that has had no stream for this long (commonHttpProtocolOptions.idleTimeout overrides). */
  idleTimeoutMs: 5 * 60_000,
} as const;

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_CANCEL, NGHTTP2_FLAG_END_STREAM } = http2.constants;

interface Live {
  session: ClientHttp2Session;
  peerIdentity: string | undefined;
  /** Last stream id the server said it processed (from its GOAWAY); later streams are safe to retry. */
  goawayLastStreamId?: number;
  /** Streams opened on the session so far (maxRequestsPerConnection). */
  opened: number;
  /** Streams open now; the idle timer runs while this is 0. */
  active: number;
  idleTimer: NodeJS.Timeout | undefined;
  /** Carried its maxRequestsPerConnection: closes when its last stream does. */
  retiring: boolean;
}

export class H2Pool {
  private live: Live | undefined;
  private pending: Promise<Live> | undefined;
  private readonly sessions = new Set<ClientHttp2Session>();
  private closed = false;
  private readonly authority: string;

  private readonly maxStreams: number;
  private readonly idleMs: number;

  constructor(
    private readonly target: DialTarget,
    private readonly dialer: Dialer,
    limits?: PoolLimits,
  ) {
    this.authority = `${target.transport.kind === 'tls' ? 'https' : 'http'}://${target.key}`;
    this.maxStreams = limits?.maxRequestsPerConnection ?? 0;
    this.idleMs = limits?.idleTimeoutMs ?? H2_DEFAULTS.idleTimeoutMs;
  }

  request(req: UpstreamRequest, opts: RequestOptions | undefined): Promise<UpstreamResponse> {
    return this.requestOnce(req, opts, true);
  }

  private requestOnce(req: UpstreamRequest, opts: RequestOptions | undefined, mayRetry: boolean): Promise<UpstreamResponse> {
    const live = this.usable();
    if (live) return this.send(live, req, opts, mayRetry);
    if (this.closed) return Promise.reject(new UpstreamError('UF', `${this.target.key}: pool closed`));
    return this.connect().then((l) => {
      if (opts?.signal?.aborted) throw abortError(opts.signal);
      return this.send(l, req, opts, mayRetry);
    });
  }

  /**
   * A stream the server refused (REFUSED_STREAM, or past a GOAWAY's last stream id) was not
   * processed: it is sent once more when its body can be sent again (none, or a whole Buffer
   * buffered for retries), else it fails as UR.
   */
  private refused(req: UpstreamRequest, opts: RequestOptions | undefined, mayRetry: boolean, message: string): Promise<UpstreamResponse> {
    if (mayRetry && (req.body === null || Buffer.isBuffer(req.body))) return this.requestOnce(req, opts, false);
    return Promise.reject(new UpstreamError('UR', message));
  }

  private usable(): Live | undefined {
    const l = this.live;
    if (l && !l.session.closed && !l.session.destroyed) return l;
    this.live = undefined;
    return undefined;
  }

  /** One connect shared by every request that arrives while it is under way. */
  private connect(): Promise<Live> {
    if (this.pending) return this.pending;
    const tls = this.target.transport.kind === 'tls';
    const p = this.dialer.dial(this.target, tls ? ['h2'] : undefined).then((d) => {
      if (tls && d.alpn !== 'h2') {
        d.socket.destroy();
        throw new UpstreamError('UF', `${this.target.cluster} ${this.target.key}: server did not negotiate h2 (got ${d.alpn ?? 'none'})`);
      }
      const session = http2.connect(this.authority, {
        createConnection: () => d.socket,
        settings: { initialWindowSize: H2_DEFAULTS.streamWindowBytes, enablePush: false },
      });
      const live: Live = { session, peerIdentity: d.peerIdentity, opened: 0, active: 0, idleTimer: undefined, retiring: false };
      this.track(live);
      if (this.closed) session.close();
      else this.live = live;
      return live;
    });
    this.pending = p;
    const clear = (): void => {
      if (this.pending === p) this.pending = undefined;
    };
    p.then(clear, clear);
    return p;
  }

  private track(live: Live): void {
    const s = live.session;
    this.sessions.add(s);
    const drop = (): void => {
      if (this.live === live) this.live = undefined;
    };
    s.on('error', drop); // the session is destroyed; its streams see their own errors
    s.on('goaway', (_code: number, lastStreamId: number) => {
      // Node closes the session gracefully after a NO_ERROR GOAWAY and destroys it after any other.
      live.goawayLastStreamId = Math.min(lastStreamId, live.goawayLastStreamId ?? lastStreamId);
      drop();
    });
    s.once('close', () => {
      drop();
      this.sessions.delete(s);
    });
    s.once('connect', () => {
      try {
        s.setLocalWindowSize(H2_DEFAULTS.sessionWindowBytes);
      } catch {
        // the session may already be closing
      }
    });
    s.once('close', () => clearTimeout(live.idleTimer));
    this.idleFrom(live);
  }

  /** No stream open: close the session after the idle timeout unless one opens first. */
  private idleFrom(live: Live): void {
    if (this.idleMs <= 0) return;
    live.idleTimer = setTimeout(() => {
      if (this.live === live) this.live = undefined;
      live.session.close();
    }, this.idleMs);
    live.idleTimer.unref();
  }

  private streamOpened(live: Live, stream: ClientHttp2Stream): void {
    live.opened++;
    if (live.active++ === 0) clearTimeout(live.idleTimer);
    stream.once('close', () => {
      if (--live.active > 0 || live.session.closed) return;
      if (live.retiring) live.session.close();
      else this.idleFrom(live);
    });
    // The last stream this session may carry: later requests open a new session; this one
    // closes once its streams are done (closing now could get this stream refused).
    if (this.maxStreams > 0 && live.opened >= this.maxStreams) {
      if (this.live === live) this.live = undefined;
      live.retiring = true;
    }
  }

  private send(live: Live, req: UpstreamRequest, opts: RequestOptions | undefined, mayRetry: boolean): Promise<UpstreamResponse> {
    const signal = opts?.signal;
    if (signal?.aborted) return Promise.reject(abortError(signal));
    let stream: ClientHttp2Stream;
    try {
      // No `signal` here: see the note at the top of the file.
      stream = live.session.request(toH2Headers(req), { endStream: req.body === null });
    } catch (err) {
      // The session closed between the check and the request.
      if (this.live === live) this.live = undefined;
      return this.refused(req, opts, mayRetry, `${this.target.key}: session closed: ${(err as Error).message}`);
    }
    this.streamOpened(live, stream);
    if (signal) {
      const onAbort = (): void => {
        // A stream that has finished both ways closes by itself; resetting it would only spend the server's reset budget.
        if (stream.destroyed || stream.closed || finishedBothWays(stream)) return;
        if (!stream.pending) stream.close(NGHTTP2_CANCEL); // RST_STREAM(CANCEL); a pending stream has sent nothing yet
        stream.destroy(abortError(signal)); // the body's consumer sees the abort as an error, as before
      };
      signal.addEventListener('abort', onAbort, { once: true });
      stream.once('close', () => signal.removeEventListener('abort', onAbort));
    }
    if (Buffer.isBuffer(req.body)) stream.end(req.body);
    else if (req.body) sendBody(req.body, stream);
    /** The server's GOAWAY says it never processed this stream: as safe to retry as REFUSED_STREAM. */
    const unprocessed = (): boolean => live.goawayLastStreamId !== undefined && (stream.id === undefined || stream.id > live.goawayLastStreamId);
    return new Promise<UpstreamResponse>((resolve, reject) => {
      const cleanup = (): void => {
        stream.off('response', onResponse);
        stream.off('error', onError);
        stream.off('close', onClose);
      };
      const onError = (err: Error): void => {
        cleanup();
        stream.on('error', noop);
        if (signal?.aborted) reject(abortError(signal));
        else if (stream.rstCode === NGHTTP2_REFUSED_STREAM || unprocessed()) resolve(this.refused(req, opts, mayRetry, `${this.target.key}: stream refused`));
        else reject(new UpstreamError('UR', `${this.target.cluster} ${this.target.key}: stream reset: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
      };
      const onClose = (): void => {
        cleanup();
        if (signal?.aborted) reject(abortError(signal));
        else if (stream.rstCode === NGHTTP2_REFUSED_STREAM || unprocessed()) resolve(this.refused(req, opts, mayRetry, `${this.target.key}: stream refused`));
        else reject(new UpstreamError('UR', `${this.target.cluster} ${this.target.key}: stream closed before a response (code ${stream.rstCode ?? 0})`));
      };
      const onResponse = (headers: IncomingHttpHeaders & { ':status'?: number }, flags: number): void => {
        cleanup();
        // The consumer owns the body now; keep an unconsumed error from crashing the process.
        stream.on('error', noop);
        let trailers: HeaderMap | undefined;
        stream.once('trailers', (t: IncomingHttpHeaders) => {
          trailers = toHeaderMap(t);
        });
        resolve({
          status: headers[':status'] ?? 502,
          headers: toHeaderMap(headers),
          body: stream,
          trailers: trailersWhenDone(stream, () => trailers),
          endedAtHead: (flags & NGHTTP2_FLAG_END_STREAM) !== 0, // node's endAfterHeaders is not set on client streams
          endpoint: this.target.key,
          peerIdentity: live.peerIdentity,
        });
      };
      stream.once('response', onResponse);
      stream.once('error', onError);
      stream.once('close', onClose);
    });
  }

  /** New streams go to a new session; the current one finishes its streams and closes. */
  retire(): void {
    const l = this.live;
    this.live = undefined;
    l?.session.close();
  }

  /** Graceful: no new streams; resolves when every session has closed (destroyed after graceMs). */
  close(graceMs: number): Promise<void> {
    this.closed = true;
    this.live = undefined;
    const waits: Promise<void>[] = [];
    for (const s of this.sessions) {
      waits.push(
        new Promise<void>((resolve) => {
          if (s.destroyed) return resolve();
          s.once('close', () => resolve());
          const t = setTimeout(() => s.destroy(), graceMs);
          t.unref();
          s.once('close', () => clearTimeout(t));
          s.close();
        }),
      );
    }
    if (this.pending) waits.push(this.pending.then(() => undefined, () => undefined));
    return Promise.all(waits).then(() => undefined);
  }
}

/**
 * The request body into the stream: a body error cancels the stream, and a stream that
 * closes first (the server answered before reading the whole request, RFC 9113 8.1) leaves
 * the rest of the body to be read and dropped, not destroyed: the body may be the
 * downstream HTTP/2 stream itself, whose answer is still being forwarded. Not pipeline():
 * its per-call AbortController's abort() builds a DOMException, about 3% of a sidecar's
 * CPU for gRPC, where every request has a body.
 */
function sendBody(body: Readable, stream: ClientHttp2Stream): void {
  const onBodyError = (): void => {
    if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
  };
  body.once('error', onBodyError);
  stream.once('close', () => {
    body.off('error', onBodyError);
    if (!body.readableEnded && !body.destroyed) {
      body.unpipe(stream);
      body.on('error', noop);
      body.resume();
    }
  });
  body.pipe(stream);
}

/** Both END_STREAMs have been seen (nghttp2 has closed the stream or is about to): nothing left to cancel. */
function finishedBothWays(stream: ClientHttp2Stream): boolean {
  if (stream.readableEnded && stream.writableFinished) return true;
  const st = stream.state as { localClose?: number; remoteClose?: number };
  return st.localClose === 1 && st.remoteClose === 1;
}

function noop(): void {}
