// The downstream side of one HTTP exchange, as the request handler (http-handler.ts) sees
// it: the request (method, headers, body) and the ways to answer. HTTP/1.1 wraps node:http's
// IncomingMessage/ServerResponse; HTTP/2 works on the raw ServerHttp2Stream (no compat
// Http2ServerRequest/Response pair per stream: those cost ~0.1 ms of a sidecar's CPU per
// request and aborted every request at its close).
import http2, { type ServerHttp2Stream } from 'node:http2';
import type { IncomingHttpHeaders, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { Readable, Writable } from 'node:stream';
import type { HeaderMap } from './upstream/types.js';

export interface Downstream {
  readonly h2: boolean;
  readonly method: string;
  /** Lower-case names; HTTP/2 pseudo-headers included. */
  readonly headers: IncomingHttpHeaders;
  /** The request body, or null when the request has none. */
  readonly body: Readable | null;
  readonly remoteAddress: string | undefined;
  /** The response head has been sent (or committed). */
  readonly headersSent: boolean;
  /** The whole response has been written. */
  readonly ended: boolean;
  /** Called with every response head before it goes (flags, added headers); may change the headers. */
  onHead: ((status: number, headers: OutgoingHttpHeaders) => void) | undefined;
  /** Called once a response head has been written (stats): a head the protocol rejected is not an answer. */
  onHeadWritten: ((status: number) => void) | undefined;
  /** A complete answer: head and an optional body. */
  reply(status: number, headers: OutgoingHttpHeaders, body?: string): void;
  /** The head of a streamed answer: the body goes to `sink`, then `finish()`. Throws on headers the protocol rejects. */
  respond(status: number, headers: OutgoingHttpHeaders): void;
  /** Where a streamed answer's body is written (not ended: finish() does that). */
  readonly sink: Writable;
  /** Ends a streamed answer, with trailers when the protocol can carry them. */
  finish(trailers: HeaderMap): void;
  /** Reset: HTTP/2 RST_STREAM, HTTP/1.1 closes the connection. */
  destroy(): void;
  /** Read and drop what is left of the request body (local answers). */
  discardBody(): void;
  /** Once, when the exchange is over, complete or not. */
  onClose(fn: () => void): void;
}

/** For 'error' events whose consequence ('close') is handled elsewhere, and other no-op callbacks of the HTTP side. */
export function ignore(): void {}

function hasTrailers(t: HeaderMap): boolean {
  for (const _ in t) return true;
  return false;
}

/** Trailers without pseudo-headers. */
function trailerHeaders(t: HeaderMap): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const k in t) if (k.charCodeAt(0) !== 58) out[k] = t[k];
  return out;
}

export class H1Downstream implements Downstream {
  readonly h2 = false;
  readonly body: Readable | null;
  onHead: Downstream['onHead'] = undefined;
  onHeadWritten: Downstream['onHeadWritten'] = undefined;

  constructor(
    private readonly req: IncomingMessage,
    private readonly res: ServerResponse,
  ) {
    req.on('error', ignore);
    res.on('error', ignore);
    const h = req.headers;
    const cl = h['content-length'];
    this.body = h['transfer-encoding'] !== undefined || (cl !== undefined && cl !== '0') ? req : null;
  }

  get method(): string {
    return this.req.method ?? 'GET';
  }
  get headers(): IncomingHttpHeaders {
    return this.req.headers;
  }
  get remoteAddress(): string | undefined {
    return this.req.socket?.remoteAddress;
  }
  get headersSent(): boolean {
    return this.res.headersSent;
  }
  get ended(): boolean {
    return this.res.writableEnded;
  }
  get sink(): Writable {
    return this.res;
  }

  reply(status: number, headers: OutgoingHttpHeaders, body?: string): void {
    this.respond(status, headers);
    this.res.end(body);
  }

  respond(status: number, headers: OutgoingHttpHeaders): void {
    this.onHead?.(status, headers);
    this.res.writeHead(status, headers);
    this.onHeadWritten?.(status);
  }

  finish(trailers: HeaderMap): void {
    if (this.res.writableEnded) return;
    if (hasTrailers(trailers)) {
      try {
        this.res.addTrailers(trailerHeaders(trailers));
      } catch {
        // trailers the downstream cannot carry are dropped
      }
    }
    this.res.end();
  }

  destroy(): void {
    this.res.destroy();
  }

  discardBody(): void {
    this.req.resume();
  }

  onClose(fn: () => void): void {
    this.res.once('close', fn);
  }
}

const { NGHTTP2_CANCEL } = http2.constants;

/** Sends the stored trailers once node asks for them ('wantTrailers'). */
function sendStoredTrailers(this: ServerHttp2Stream & { weftTrailers?: OutgoingHttpHeaders }): void {
  // No trailers: an empty DATA frame with END_STREAM (node's answer to empty trailers).
  this.sendTrailers(this.weftTrailers ?? {});
}

export class H2Downstream implements Downstream {
  readonly h2 = true;
  readonly method: string;
  readonly body: Readable | null;
  onHead: Downstream['onHead'] = undefined;
  onHeadWritten: Downstream['onHeadWritten'] = undefined;
  headersSent = false;
  ended = false;
  /** respond() asked node to wait for trailers: finish() must send them. */
  private trailing = false;

  constructor(
    readonly stream: ServerHttp2Stream,
    readonly headers: IncomingHttpHeaders,
  ) {
    this.method = String(headers[':method'] ?? 'GET');
    this.body = stream.endAfterHeaders ? null : stream;
  }

  get remoteAddress(): string | undefined {
    return this.stream.session?.socket?.remoteAddress;
  }
  get sink(): Writable {
    return this.stream;
  }

  /** Closed (reset, or closed by us) even if not yet destroyed: node's respond() would throw. */
  private gone(): boolean {
    return this.stream.destroyed || this.stream.closed;
  }

  private head(status: number, headers: OutgoingHttpHeaders, endStream: boolean, waitForTrailers: boolean): void {
    this.onHead?.(status, headers);
    headers[':status'] = status;
    this.stream.respond(headers, { endStream, waitForTrailers });
    this.headersSent = true;
    this.onHeadWritten?.(status);
  }

  /** node ends HEAD answers and 204, 205 and 304 at their head: no body, no trailers. */
  private bodyless(status: number): boolean {
    return this.method === 'HEAD' || status === 204 || status === 205 || status === 304;
  }

  reply(status: number, headers: OutgoingHttpHeaders, body?: string): void {
    const s = this.stream;
    if (this.gone()) return;
    const empty = body === undefined || body.length === 0 || this.bodyless(status);
    // A body-less answer is one HEADERS frame with END_STREAM (gRPC's trailers-only form).
    this.head(status, headers, empty, false);
    this.ended = true;
    if (!empty) s.end(body);
  }

  respond(status: number, headers: OutgoingHttpHeaders): void {
    if (this.gone()) {
      // Nobody to answer: the exchange is over (its 'close' tears the upstream down).
      this.headersSent = true;
      this.ended = true;
      return;
    }
    const bodyless = this.bodyless(status);
    this.trailing = !bodyless;
    this.head(status, headers, bodyless, !bodyless);
    if (bodyless) this.ended = true;
  }

  /** CONNECT's 200: the stream stays open both ways as the tunnel (no END_STREAM, no trailers). */
  establishTunnel(): void {
    if (!this.gone()) this.head(200, {}, false, false);
  }

  finish(trailers: HeaderMap): void {
    const s = this.stream;
    if (this.ended || this.gone()) return;
    this.ended = true;
    if (this.trailing) {
      if (hasTrailers(trailers)) (s as { weftTrailers?: OutgoingHttpHeaders }).weftTrailers = trailerHeaders(trailers);
      s.once('wantTrailers', sendStoredTrailers);
    }
    s.end();
  }

  destroy(): void {
    if (this.gone()) return;
    this.stream.close(NGHTTP2_CANCEL);
  }

  discardBody(): void {
    this.stream.resume();
  }

  onClose(fn: () => void): void {
    this.stream.once('close', fn);
  }
}
