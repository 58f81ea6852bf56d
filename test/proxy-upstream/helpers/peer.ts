// A stand-in for a peer sidecar's inbound side: one TLS listener that requires a client
// certificate from the test root and dispatches by ALPN — h2 to an HTTP/2 server,
// http/1.1 to an HTTP/1.1 server (Upgrade echoes), weft-tcp to a byte echo.
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import tls from 'node:tls';
import type { WorkloadCertificate } from '../../../src/proxy/types.js';
import type { TestCa } from '../../helpers/pki.js';

export interface Peer {
  address: string;
  port: number;
  /** TLS connections accepted, with the client certificate each presented. */
  connections: Array<{ alpn: string; clientFingerprint: string; clientSan: string }>;
  h2: http2.Http2Server;
  close(): Promise<void>;
}

export async function startPeer(ca: TestCa, leaf: WorkloadCertificate, address = '127.0.0.1'): Promise<Peer> {
  const h2 = http2.createServer();
  const h1 = http.createServer();
  const connections: Peer['connections'] = [];
  const sockets = new Set<tls.TLSSocket>();
  h2.on('stream', (stream, headers) => {
    const path = String(headers[':path']);
    if (path.startsWith('/goaway')) {
      // Tell the client to go away, then still answer this stream a little later.
      stream.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, stream.id);
      setTimeout(() => {
        stream.respond({ ':status': 200 });
        stream.end('after goaway');
      }, 100);
      return;
    }
    if (path.startsWith('/slow')) {
      setTimeout(() => {
        stream.respond({ ':status': 200 });
        stream.end('slow done');
      }, 300);
      return;
    }
    stream.respond({ ':status': 200, 'x-server': leaf.identity, 'x-path': path });
    stream.end(`hello ${path}`);
  });
  h1.on('upgrade', (req, socket, head) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: ${req.headers.upgrade}\r\nConnection: Upgrade\r\nx-path: ${req.url}\r\n\r\n`);
    if (head.length) socket.write(head);
    socket.pipe(socket);
  });
  h1.on('request', (req, res) => res.end('plain h1'));
  const server = tls.createServer({
    key: leaf.keyPem,
    cert: leaf.certChainPem,
    ca: ca.certPem,
    requestCert: true,
    rejectUnauthorized: true,
    ALPNProtocols: ['h2', 'http/1.1', 'weft-tcp'],
  });
  server.on('secureConnection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    const alpn = socket.alpnProtocol || '';
    const pc = socket.getPeerCertificate();
    connections.push({ alpn, clientFingerprint: pc.fingerprint256, clientSan: pc.subjectaltname ?? '' });
    if (alpn === 'h2') h2.emit('connection', socket);
    else if (alpn === 'http/1.1') h1.emit('connection', socket);
    else socket.pipe(socket);
  });
  server.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => server.listen(0, address, resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    address,
    port,
    connections,
    h2,
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}
