// A real loopback HTTP/1.1 upstream for the proxy suites: answers its name with a set
// status after an optional delay, and counts connections (opened, closed) and requests. Tests may change
// `status` and `delayMs` while it runs.
import http from 'node:http';
import net, { type AddressInfo } from 'node:net';

export interface Backend {
  name: string;
  port: number;
  status: number;
  delayMs: number;
  connections: number;
  closed: number;
  requests: number;
  server: http.Server;
}

export async function backend(name: string, opts: { status?: number; delayMs?: number } = {}): Promise<Backend> {
  const b: Backend = { name, port: 0, status: opts.status ?? 200, delayMs: opts.delayMs ?? 0, connections: 0, closed: 0, requests: 0, server: http.createServer() };
  b.server.on('request', (_req, res) => {
    b.requests++;
    const answer = (): void => {
      res.statusCode = b.status;
      res.end(name);
    };
    if (b.delayMs > 0) setTimeout(answer, b.delayMs);
    else answer();
  });
  b.server.on('connection', (socket) => {
    b.connections++;
    socket.on('close', () => b.closed++);
  });
  b.server.keepAliveTimeout = 10_000;
  await new Promise<void>((r) => b.server.listen(0, '127.0.0.1', r));
  b.port = (b.server.address() as AddressInfo).port;
  return b;
}

export async function stopBackend(b: Backend): Promise<void> {
  b.server.closeAllConnections();
  await new Promise<void>((r) => b.server.close(() => r()));
}

/** A port with nothing listening (connections are refused). */
export async function deadPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}
