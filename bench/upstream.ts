// The bench's upstream app: one process serving
//   HTTP/1.1 on PORT           GET /  -> 13-byte body, GET /1k -> 1024-byte body
//   HTTP/2 (h2c) on PORT + 1   the same paths
//   gRPC (h2c) on PORT + 2     /bench.Bench/Unary: the request is a 4-byte big-endian
//                              size; the reply is that many bytes (<= 65536)
// The gRPC service is a hand-written definition with raw Buffer (de)serializers,
// so no proto file is loaded.
//
// Usage: node dist/bench/upstream.js [--host H] [--port P]   (defaults $POD_IP or 127.0.0.1, 8080)
// Prints "ready <host> <port>" on stdout once all three listen.
import http from 'node:http';
import http2 from 'node:http2';
import * as grpc from '@grpc/grpc-js';
import { pathToFileURL } from 'node:url';

export const SMALL_BODY = Buffer.from('hello, weft!\n');
export const KB_BODY = Buffer.alloc(1024, 'x');
const MAX_GRPC_REPLY = 65536;

export const BENCH_GRPC_SERVICE = {
  unary: {
    path: '/bench.Bench/Unary',
    requestStream: false,
    responseStream: false,
    requestSerialize: (b: Buffer) => b,
    requestDeserialize: (b: Buffer) => b,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  },
} satisfies grpc.ServiceDefinition;

/** A request body for /bench.Bench/Unary asking for `size` bytes. */
export function grpcRequest(size: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(size);
  return b;
}

function pathOf(url: string | undefined): string {
  if (!url) return '/';
  // Absolute-form (a proxy client that forwarded as-is): keep the path.
  if (url.charCodeAt(0) !== 47 /* / */) {
    const i = url.indexOf('/', url.indexOf('//') + 2);
    return i < 0 ? '/' : url.slice(i);
  }
  return url;
}

function bodyFor(path: string): Buffer | undefined {
  if (path === '/' || path.startsWith('/?')) return SMALL_BODY;
  if (path === '/1k' || path.startsWith('/1k?')) return KB_BODY;
  if (path === '/health' || path === '/healthz') return SMALL_BODY;
  return undefined;
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

async function main(): Promise<void> {
  const host = arg('--host') ?? process.env['POD_IP'] ?? '127.0.0.1';
  const port = Number(arg('--port') ?? process.env['PORT'] ?? 8080);

  const h1 = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
    const body = bodyFor(pathOf(req.url));
    req.resume();
    if (!body) {
      res.writeHead(404, { 'content-length': '0' });
      res.end();
      return;
    }
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': String(body.length) });
    res.end(body);
  });
  h1.headersTimeout = 60_000;
  h1.requestTimeout = 0;

  const h2 = http2.createServer({ settings: { maxConcurrentStreams: 1000 } });
  h2.on('stream', (stream, headers) => {
    const body = bodyFor(String(headers[':path'] ?? '/'));
    if (!body) {
      stream.respond({ ':status': 404 }, { endStream: true });
      return;
    }
    stream.respond({ ':status': 200, 'content-type': 'text/plain', 'content-length': body.length });
    stream.end(body);
  });
  h2.on('sessionError', () => {});

  const g = new grpc.Server({ 'grpc.max_concurrent_streams': 1000 });
  const replies = new Map<number, Buffer>();
  g.addService(BENCH_GRPC_SERVICE, {
    unary: (call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => {
      const req = call.request;
      const size = req.length >= 4 ? Math.min(req.readUInt32BE(0), MAX_GRPC_REPLY) : 0;
      let reply = replies.get(size);
      if (!reply) replies.set(size, (reply = Buffer.alloc(size, 'g')));
      cb(null, reply);
    },
  });

  await new Promise<void>((resolve, reject) => {
    h1.once('error', reject);
    h1.listen(port, host, () => resolve());
  });
  await new Promise<void>((resolve, reject) => {
    h2.once('error', reject);
    h2.listen(port + 1, host, () => resolve());
  });
  await new Promise<void>((resolve, reject) =>
    g.bindAsync(`${host}:${port + 2}`, grpc.ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
  process.stdout.write(`ready ${host} ${port}\n`);
  const stop = (): void => {
    h1.close();
    h2.close();
    g.forceShutdown();
    setTimeout(() => process.exit(0), 200).unref();
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().catch((e: unknown) => {
    process.stderr.write(`upstream: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(1);
  });
}
