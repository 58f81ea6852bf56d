// The HTTP connection manager's codecs: one node:http server (HTTP/1.1) and one
// node:http2 server (HTTP/2, prior knowledge or ALPN h2) that never listen; accepted
// sockets are handed to them. Both feed handleHttpRequest.
import http from 'node:http';
import http2 from 'node:http2';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import { handleHttpRequest, replyBeforeRouting, requestTarget, type ConnInfo, type HttpEnv } from './http-handler.js';
import { H1Downstream, H2Downstream, ignore } from './downstream.js';
import { handleConnect1, handleConnect2, handleUpgrade1 } from './http-tunnel.js';
import { HTTP_DEFAULTS } from './hcm-config.js';

const BAD_REQUEST = 'HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain\r\ncontent-length: 12\r\nconnection: close\r\n\r\nbad request\n';
const TOO_LARGE = 'HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\nconnection: close\r\n\r\n';
const TIMEOUT = 'HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\n\r\n';

export type HttpCodec = 'h1' | 'h2';

interface H1State {
  conn: ConnInfo;
  headersTimer: NodeJS.Timeout | undefined;
}

export class HttpEngine {
  private readonly h1: http.Server;
  private readonly h2: http2.Http2Server;
  private readonly h1Sockets = new Map<Duplex, H1State>();
  private readonly sessions = new Map<http2.ServerHttp2Session, ConnInfo>();
  private pendingConn: ConnInfo | undefined;

  constructor(private readonly env: HttpEnv) {
    this.h1 = http.createServer({ requestTimeout: 0, headersTimeout: 0, keepAliveTimeout: HTTP_DEFAULTS.keepAliveTimeoutMs, noDelay: true });
    this.h1.timeout = 0;
    this.h1.on('request', (req: http.IncomingMessage, res: http.ServerResponse) => this.onH1Request(req, res));
    // An expectation other than 100-continue: 417, as node answers it, but counted.
    this.h1.on('checkExpectation', (req: http.IncomingMessage, res: http.ServerResponse) => {
      const st = this.h1State(req.socket);
      if (st) replyBeforeRouting(this.env, st.conn, new H1Downstream(req, res), 417);
      else res.destroy();
    });
    this.h1.on('connect', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const st = this.h1State(req.socket);
      if (!st) return socket.destroy();
      handleConnect1(env, st.conn, req, socket, head);
    });
    this.h1.on('upgrade', (req: http.IncomingMessage, socket: Duplex, head: Buffer) => {
      const st = this.h1State(req.socket);
      if (!st) return socket.destroy();
      const t = requestTarget(req.url ?? '/', req.headers.host);
      handleUpgrade1(env, st.conn, req, socket, head, t.authority, t.path);
    });
    this.h1.on('clientError', (err: NodeJS.ErrnoException, socket: Duplex) => {
      const st = this.h1Sockets.get(socket);
      if (st) env.counters.inc(st.conn.hcm.names.badRequest);
      if (!socket.writable || err.code === 'ECONNRESET') {
        socket.destroy();
        return;
      }
      socket.end(err.code === 'HPE_HEADER_OVERFLOW' ? TOO_LARGE : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? TIMEOUT : BAD_REQUEST);
      setTimeout(() => socket.destroy(), 1000).unref();
    });

    this.h2 = http2.createServer({ settings: { enableConnectProtocol: false } });
    this.h2.on('session', (session: http2.ServerHttp2Session) => {
      const conn = this.pendingConn;
      if (!conn) return session.destroy();
      this.sessions.set(session, conn);
      session.on('error', ignore);
      session.once('close', () => this.sessions.delete(session));
      session.setTimeout(conn.hcm.streamIdleTimeoutMs, () => session.close());
      if (env.draining()) session.close();
    });
    this.h2.on('sessionError', ignore);
    // The raw stream API (no 'request' listener, so node builds no compat objects).
    this.h2.on('stream', (stream: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders) => this.onH2Stream(stream, headers));
  }

  /** Serve HTTP on an accepted (and, for TLS, handshaken) socket whose first bytes may be unshifted back. */
  serve(socket: Duplex, conn: ConnInfo, codec: HttpCodec): void {
    if (codec === 'h2') {
      this.env.counters.inc(conn.hcm.names.cx2);
      this.pendingConn = conn;
      try {
        this.h2.emit('connection', socket);
      } finally {
        this.pendingConn = undefined;
      }
      return;
    }
    this.env.counters.inc(conn.hcm.names.cx1);
    const st: H1State = { conn, headersTimer: undefined };
    st.headersTimer = setTimeout(() => {
      if (!socket.destroyed) socket.end(TIMEOUT);
      setTimeout(() => socket.destroy(), 1000).unref();
    }, conn.hcm.requestHeadersTimeoutMs);
    st.headersTimer.unref();
    this.h1Sockets.set(socket, st);
    const s = socket as Socket;
    s.setTimeout?.(conn.hcm.streamIdleTimeoutMs);
    s.on('timeout', () => {
      const cur = st.conn.current;
      if (cur) {
        cur.timeout();
        setTimeout(() => socket.destroy(), 1000).unref();
      } else socket.destroy();
    });
    socket.once('close', () => {
      if (st.headersTimer) clearTimeout(st.headersTimer);
      this.h1Sockets.delete(socket);
    });
    socket.on('error', () => socket.destroy());
    this.h1.emit('connection', socket);
    if (this.env.draining()) this.closeIfIdle(socket);
  }

  private h1State(socket: Duplex): H1State | undefined {
    const st = this.h1Sockets.get(socket);
    if (st?.headersTimer) {
      clearTimeout(st.headersTimer);
      st.headersTimer = undefined;
    }
    return st;
  }

  private onH1Request(req: http.IncomingMessage, res: http.ServerResponse): void {
    const st = this.h1State(req.socket);
    if (!st) {
      res.destroy();
      return;
    }
    (req.socket as Socket).setTimeout?.(st.conn.hcm.streamIdleTimeoutMs);
    const t = requestTarget(req.url ?? '/', req.headers.host);
    handleHttpRequest(this.env, st.conn, new H1Downstream(req, res), t.authority, t.path);
  }

  private onH2Stream(stream: http2.ServerHttp2Stream, h: http2.IncomingHttpHeaders): void {
    stream.on('error', ignore);
    const conn = this.sessions.get(stream.session as http2.ServerHttp2Session);
    if (!conn) {
      stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      return;
    }
    const ds = new H2Downstream(stream, h);
    // As node's compat layer did: Expect 100-continue is answered at once, any other expectation with 417.
    const expect = h.expect;
    if (expect !== undefined) {
      if (expect !== '100-continue') {
        replyBeforeRouting(this.env, conn, ds, 417);
        return;
      }
      stream.additionalHeaders({ ':status': 100 });
    }
    if (ds.method === 'CONNECT') {
      handleConnect2(this.env, conn, ds);
      return;
    }
    stream.setTimeout(conn.hcm.streamIdleTimeoutMs, () => {
      if (!ds.headersSent) ds.reply(408, { 'content-length': 0 });
      else stream.close(http2.constants.NGHTTP2_CANCEL);
    });
    handleHttpRequest(this.env, conn, ds, String(h[':authority'] ?? h.host ?? ''), String(h[':path'] ?? '/'));
  }

  private closeIfIdle(socket: Duplex): void {
    const st = this.h1Sockets.get(socket);
    if (st && !st.conn.current) socket.destroy();
  }

  /** Draining: GOAWAY on HTTP/2 sessions, close idle HTTP/1.1 connections (busy ones close after their response). */
  drain(): void {
    for (const session of this.sessions.keys()) {
      try {
        session.close();
      } catch {
        session.destroy();
      }
    }
    for (const socket of this.h1Sockets.keys()) this.closeIfIdle(socket);
  }

  destroyAll(): void {
    for (const session of this.sessions.keys()) session.destroy();
    for (const socket of this.h1Sockets.keys()) socket.destroy();
  }
}
