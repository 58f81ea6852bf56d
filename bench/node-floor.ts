// The Node floor: the least a Node.js proxy pair can do for the mesh's shape, to tell
// what weft costs from what Node itself costs. No routing, no stats, no retries, no
// policy: the same sockets, TLS and protocol libraries as weft (node:http, node:http2,
// undici), nothing else.
//
//   client -> A (plaintext in: HTTP/1.1 :8080, h2c :8081 and :8082)
//          -> mTLS (TLS 1.3, client certificate, ALPN http/1.1 or h2) -> B :9443 -> app
//
// Usage: node dist/bench/node-floor.js a|b --listen HOST --peer HOST:PORT --certs DIR
//   role a: --peer is B;  role b: --peer is the app host (ports 8080/8081/8082 as in upstream.ts)
import fs from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import path from 'node:path';
import tls from 'node:tls';
import { Pool } from 'undici';

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'upgrade', 'proxy-connection', 'host']);
/** A tells B which app port the request is for (the app listens on three). */
const PORT_HEADER = 'x-floor-app-port';

function arg(name: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i > 0 ? process.argv[i + 1] : undefined;
  if (!v) throw new Error(`--${name} is required`);
  return v;
}

function h1Headers(h: http.IncomingHttpHeaders | http2.IncomingHttpHeaders): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const k in h) if (k.charCodeAt(0) !== 58 && !HOP_BY_HOP.has(k) && h[k] !== undefined) out[k] = h[k] as string | string[];
  return out;
}

/** An HTTP/1.1 request forwarded through an undici pool; either side going away ends the other. */
function forwardH1(pool: Pool, req: http.IncomingMessage, res: http.ServerResponse, extra: Record<string, string>): void {
  req.on('error', () => {});
  const body = req.method === 'GET' || req.method === 'HEAD' ? null : req;
  pool.request({ method: req.method as 'GET', path: req.url ?? '/', headers: { ...h1Headers(req.headers), ...extra }, body }).then(
    (up) => {
      up.body.on('error', () => res.destroy());
      res.on('close', () => up.body.destroy());
      res.writeHead(up.statusCode, h1Headers(up.headers));
      up.body.pipe(res);
    },
    () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    },
  );
}

/** An HTTP/2 stream forwarded to an HTTP/2 session, trailers (gRPC) included. */
function forwardH2(session: () => http2.ClientHttp2Session, down: http2.ServerHttp2Stream, headers: http2.IncomingHttpHeaders, extra: Record<string, string>): void {
  const out: http2.OutgoingHttpHeaders = { ...extra };
  for (const k in headers) if (!HOP_BY_HOP.has(k) && k !== PORT_HEADER) out[k] = headers[k];
  const up = session().request(out);
  down.pipe(up);
  up.on('response', (h) => {
    // The client may have gone (a load generator stopping with streams in flight).
    if (down.destroyed || down.closed) return void up.destroy();
    let trailers: http2.OutgoingHttpHeaders | undefined;
    up.on('trailers', (t) => (trailers = { ...t }));
    down.respond(h, { waitForTrailers: true });
    // No trailers from upstream: an empty HEADERS frame ends the stream (close() would reset it).
    down.on('wantTrailers', () => down.sendTrailers(trailers ?? {}));
    up.pipe(down);
  });
  up.on('error', () => down.destroy());
  down.on('error', () => up.destroy());
}

/** One HTTP/2 session, reconnected when it goes away. */
function sessionTo(authority: string, opts: http2.SecureClientSessionOptions | http2.ClientSessionOptions): () => http2.ClientHttp2Session {
  let s: http2.ClientHttp2Session | undefined;
  return () => {
    if (!s || s.closed || s.destroyed) {
      s = http2.connect(authority, opts);
      s.on('error', () => {});
    }
    return s;
  };
}

function roleA(listen: string, peer: string, certs: string): void {
  const tls = { key: fs.readFileSync(path.join(certs, 'a.key')), cert: fs.readFileSync(path.join(certs, 'a.crt')), ca: fs.readFileSync(path.join(certs, 'ca.crt')), servername: 'haproxy-b' };
  const [peerHost, peerPort] = peer.split(':') as [string, string];
  const pool = new Pool(`https://${peer}`, { connections: 256, connect: { ...tls, ALPNProtocols: ['http/1.1'] } });
  http
    .createServer({ noDelay: true }, (req, res) => forwardH1(pool, req, res, { host: peerHost, [PORT_HEADER]: '8080' }))
    .listen(8080, listen);
  const toB = sessionTo(`https://${peerHost}:${peerPort}`, { ...tls, ALPNProtocols: ['h2'] });
  for (const port of [8081, 8082]) {
    const srv = http2.createServer();
    srv.on('stream', (stream, headers) => forwardH2(toB, stream, headers, { [PORT_HEADER]: String(port) }));
    srv.listen(port, listen);
  }
}

function roleB(listen: string, app: string, certs: string): void {
  const pool = new Pool(`http://${app}:8080`, { connections: 256 });
  const h2c = new Map([8081, 8082].map((p) => [String(p), sessionTo(`http://${app}:${p}`, {})]));
  // TLS first, then the protocol ALPN chose: the same shape as weft's inbound listener.
  const h2 = http2.createServer();
  h2.on('stream', (stream, headers) => {
    const to = h2c.get(String(headers[PORT_HEADER]));
    if (!to) return stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
    forwardH2(to, stream, headers, {});
  });
  const h1 = http.createServer({ noDelay: true }, (req, res) => forwardH1(pool, req, res, { host: app }));
  tls
    .createServer(
      {
        key: fs.readFileSync(path.join(certs, 'b.key')),
        cert: fs.readFileSync(path.join(certs, 'b.crt')),
        ca: fs.readFileSync(path.join(certs, 'ca.crt')),
        requestCert: true,
        rejectUnauthorized: true,
        ALPNProtocols: ['h2', 'http/1.1'],
        noDelay: true,
      },
      (socket) => (socket.alpnProtocol === 'h2' ? h2 : h1).emit('connection', socket),
    )
    .listen(9443, listen);
}

const role = process.argv[2];
if (role === 'a') roleA(arg('listen'), arg('peer'), arg('certs'));
else if (role === 'b') roleB(arg('listen'), arg('peer'), arg('certs'));
else throw new Error('usage: node-floor.js a|b --listen HOST --peer HOST:PORT --certs DIR');
