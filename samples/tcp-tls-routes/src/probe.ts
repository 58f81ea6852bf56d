// The sample's client app, run in the mesh with
//   weft exec sleep -- node dist/samples/tcp-tls-routes/src/probe.js tcp echo:9000 200
//   weft exec sleep -- node dist/samples/tcp-tls-routes/src/probe.js tls api.external.test:443 eu.api.external.test 20
// It connects as any app behind weft's sidecar does: `CONNECT host:port` to the proxy in
// $HTTP_PROXY, then reads the server's greeting (tcp) or starts TLS with the given SNI and
// reads the greeting (tls). Prints JSON: greetings counted by their first word, and errors.
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { fileURLToPath } from 'node:url';

export interface ProxyAddress {
  host: string;
  port: number;
}

/** $HTTP_PROXY (http://host:port) as an address. */
export function proxyFromEnv(env: NodeJS.ProcessEnv = process.env): ProxyAddress {
  const raw = env.HTTP_PROXY ?? env.http_proxy;
  if (!raw) throw new Error('HTTP_PROXY is not set: run this with `weft exec <pod> -- ...`');
  const u = new URL(raw);
  return { host: u.hostname, port: Number(u.port || 80) };
}

function withTimeout<T>(p: Promise<T>, ms: number, what: string, onTimeout: () => void): Promise<T> {
  let t: NodeJS.Timeout;
  return Promise.race([
    p.finally(() => clearTimeout(t)),
    new Promise<T>((_, reject) => {
      t = setTimeout(() => {
        onTimeout();
        reject(new Error(`${what}: no answer within ${ms} ms`));
      }, ms);
    }),
  ]);
}

/** CONNECT target through the proxy; resolves with the socket once the proxy answered 200. */
export function openTunnel(proxy: ProxyAddress, target: string, timeoutMs = 10_000): Promise<net.Socket> {
  const socket = net.connect(proxy.port, proxy.host);
  const done = new Promise<net.Socket>((resolve, reject) => {
    // Read the answer in paused mode ('readable' + read()), never with a 'data' listener:
    // a socket left flowing after its listener is removed emits the unshifted bytes after
    // the 200 (a server-first greeting sharing its segment) on the next tick, to no one.
    // Paused, they wait in the buffer for the caller's reader.
    let head = Buffer.alloc(0);
    const onReadable = (): void => {
      let c: Buffer | null;
      while ((c = socket.read() as Buffer | null) !== null) head = Buffer.concat([head, c]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('readable', onReadable);
      const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
      if (!/^HTTP\/1\.[01] 200/.test(status)) {
        socket.destroy();
        reject(new Error(`CONNECT ${target}: ${status} ${head.subarray(end + 4).toString('utf8').trim()}`));
        return;
      }
      const rest = head.subarray(end + 4);
      if (rest.length) socket.unshift(rest);
      resolve(socket);
    };
    socket.on('readable', onReadable);
    socket.once('error', reject);
    socket.once('close', () => reject(new Error(`CONNECT ${target}: closed by the proxy`)));
    socket.write(`CONNECT ${target} HTTP/1.1\r\nhost: ${target}\r\n\r\n`);
  });
  return withTimeout(done, timeoutMs, `CONNECT ${target}`, () => socket.destroy());
}

/** The first line the peer sends. */
export function firstLine(stream: Duplex, timeoutMs = 10_000): Promise<string> {
  const p = new Promise<string>((resolve, reject) => {
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => {
      buf += c;
      const nl = buf.indexOf('\n');
      if (nl >= 0) resolve(buf.slice(0, nl));
    });
    stream.once('error', reject);
    stream.once('close', () => reject(new Error('closed before a greeting')));
  });
  return withTimeout(p, timeoutMs, 'greeting', () => stream.destroy());
}

/** TLS inside a tunnel, with an SNI. The sample's servers are self-signed: the point here is routing, not trust. */
export function startTls(socket: net.Socket, servername: string): tls.TLSSocket {
  return tls.connect({ socket, servername, rejectUnauthorized: false });
}

export interface ProbeResult {
  counts: Record<string, number>;
  errors: string[];
}

/** `count` connections, `concurrency` at a time: greetings counted by their first word. */
export async function probe(proxy: ProxyAddress, kind: 'tcp' | 'tls', target: string, sni: string | undefined, count: number, concurrency = 4): Promise<ProbeResult> {
  const out: ProbeResult = { counts: {}, errors: [] };
  let next = 0;
  const one = async (): Promise<void> => {
    const socket = await openTunnel(proxy, target);
    const stream = kind === 'tls' ? startTls(socket, sni ?? target.split(':')[0]!) : socket;
    try {
      const who = (await firstLine(stream)).split(' ')[0]!;
      out.counts[who] = (out.counts[who] ?? 0) + 1;
    } finally {
      stream.destroy();
    }
  };
  const worker = async (): Promise<void> => {
    while (next < count) {
      next++;
      await one().catch((err: unknown) => out.errors.push((err as Error).message));
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker));
  return out;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [kind, target, ...rest] = process.argv.slice(2);
  if ((kind !== 'tcp' && kind !== 'tls') || !target) {
    console.error('usage: probe.js tcp HOST:PORT [COUNT] | probe.js tls HOST:PORT SNI [COUNT]');
    process.exit(2);
  }
  const sni = kind === 'tls' ? rest.shift() : undefined;
  const count = Number(rest[0] ?? (kind === 'tcp' ? 100 : 10));
  const result = await probe(proxyFromEnv(), kind, target, sni, count);
  console.log(JSON.stringify(result));
  process.exit(result.errors.length ? 1 : 0);
}
