// Test helpers for the downstream data path: a ClusterManager double (named as such: it
// forwards each cluster to a local test server over plain HTTP/TCP, no load balancing or
// pools), the listener/route builders (shared, in test/helpers/envoy.ts), and snapshots.
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import type { EnvoyObject, ProxyIdentityInfo, XdsSnapshot } from '../../src/proxy/types.js';
import type { ClusterManager, HeaderMap, RequestOptions, UpstreamRequest, UpstreamResponse } from '../../src/proxy/data/upstream/types.js';
import { UpstreamError } from '../../src/proxy/data/upstream/types.js';

/** Test double for ClusterManager: cluster name -> "host:port" of a local server. */
/** Response headers as the proxy's undici pools give them: a repeated header is an array, whatever its name (node's client joins or drops repeats). */
function asUndiciHeaders(distinct: NodeJS.Dict<string[]>): HeaderMap {
  const out: HeaderMap = {};
  for (const k in distinct) {
    const v = distinct[k]!;
    out[k] = v.length === 1 ? v[0]! : v;
  }
  return out;
}

export class TestClusterManager implements ClusterManager {
  readonly targets = new Map<string, string>();
  readonly counts: Record<string, number> = {};
  /** maxRetries circuit breakers by cluster (concurrent retries allowed); clusters not listed have none. */
  readonly retryCaps = new Map<string, number>();
  private readonly retriesInFlight = new Map<string, number>();

  retryPermit(cluster: string): (() => void) | undefined {
    const cap = this.retryCaps.get(cluster);
    if (cap === undefined) return () => {};
    const busy = this.retriesInFlight.get(cluster) ?? 0;
    if (busy >= cap) {
      const key = `cluster.${cluster}.upstream_rq_retry_overflow`;
      this.counts[key] = (this.counts[key] ?? 0) + 1;
      return undefined;
    }
    this.retriesInFlight.set(cluster, busy + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.retriesInFlight.set(cluster, (this.retriesInFlight.get(cluster) ?? 1) - 1);
    };
  }

  /** Retries holding a permit now, by cluster. */
  retriesHeld(cluster: string): number {
    return this.retriesInFlight.get(cluster) ?? 0;
  }
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 });

  update(): void {}

  has(cluster: string): boolean {
    return this.targets.has(cluster);
  }

  private target(cluster: string): { host: string; port: number } {
    const t = this.targets.get(cluster);
    if (!t) throw new UpstreamError('NC', `no cluster ${cluster}`);
    const i = t.lastIndexOf(':');
    return { host: t.slice(0, i), port: Number(t.slice(i + 1)) };
  }

  request(cluster: string, req: UpstreamRequest, opts?: RequestOptions): Promise<UpstreamResponse> {
    const { host, port } = this.target(cluster);
    const key = `cluster.${cluster}.upstream_rq_total`;
    this.counts[key] = (this.counts[key] ?? 0) + 1;
    return new Promise((resolve, reject) => {
      const headers: http.OutgoingHttpHeaders = { ...req.headers, host: req.authority };
      if (req.upgrade) {
        headers.connection = 'Upgrade';
        headers.upgrade = req.upgrade;
      }
      const r = http.request({ host, port, method: req.method, path: req.path, headers, agent: req.upgrade ? false : this.agent, signal: opts?.signal as AbortSignal | undefined });
      r.on('error', (err: NodeJS.ErrnoException) => reject(err.code === 'ECONNREFUSED' ? new UpstreamError('UF', err.message) : err.name === 'AbortError' ? new UpstreamError('UT', 'aborted') : new UpstreamError('UR', err.message)));
      r.on('response', (res) => {
        const trailers = new Promise<HeaderMap>((ok) => res.once('end', () => ok(res.trailers as HeaderMap)));
        resolve({ status: res.statusCode ?? 502, headers: asUndiciHeaders(res.headersDistinct), body: res, trailers, endpoint: `${host}:${port}` });
      });
      r.on('upgrade', (res, socket: Duplex, head: Buffer) => {
        if (head.length > 0) socket.unshift(head);
        resolve({ status: 101, headers: res.headers as HeaderMap, body: res, trailers: Promise.resolve({}), upgradedSocket: socket, endpoint: `${host}:${port}` });
      });
      if (Buffer.isBuffer(req.body)) r.end(req.body);
      else if (req.body) req.body.pipe(r);
      else r.end();
    });
  }

  connect(cluster: string): Promise<{ socket: Duplex; endpoint: string }> {
    const { host, port } = this.target(cluster);
    return new Promise((resolve, reject) => {
      const s = net.connect(port, host);
      s.once('connect', () => resolve({ socket: s, endpoint: `${host}:${port}` }));
      s.once('error', (err) => reject(new UpstreamError('UF', err.message)));
    });
  }

  stats(): Record<string, number> {
    return { ...this.counts };
  }

  async close(): Promise<void> {
    this.agent.destroy();
  }
}

/** mulberry32: a small seeded PRNG, uniform in [0, 1) (weighted draws and sampling the same on every run). */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function info(ip = '127.0.0.1', identity = 'spiffe://cluster.local/ns/default/sa/proxy'): ProxyIdentityInfo {
  return { type: 'sidecar', pod: 'p', namespace: 'default', serviceAccount: 'proxy', identity, ip, listenAddress: ip, labels: {}, trustDomain: 'cluster.local' };
}

export { catchAllRoutes, hcm, HCM_TYPE, listener, TCP_TYPE, TLS_TYPE } from '../helpers/envoy.js';

export function snapshot(listeners: EnvoyObject[], routes: EnvoyObject[] = [], secrets: EnvoyObject[] = []): XdsSnapshot {
  return {
    listeners: new Map(listeners.map((l) => [String(l.name), l])),
    routes: new Map(routes.map((r) => [String(r.name), r])),
    clusters: new Map(),
    endpoints: new Map(),
    secrets: new Map(secrets.map((s) => [String(s.name), s])),
  };
}

/** What the xDS generator made for one proxy (generateForProxy), as the snapshot ADS would deliver. */
export function generatedSnapshot(res: Record<'listeners' | 'routes' | 'clusters' | 'endpoints' | 'secrets', EnvoyObject[]>): XdsSnapshot {
  const byName = (list: EnvoyObject[], key = 'name') => new Map(list.map((o) => [String(o[key]), o]));
  return { listeners: byName(res.listeners), routes: byName(res.routes), clusters: byName(res.clusters), endpoints: byName(res.endpoints, 'clusterName'), secrets: byName(res.secrets) };
}

export function listen(server: net.Server, host = '127.0.0.1'): Promise<string> {
  return new Promise((resolve) => server.listen(0, host, () => resolve(`${host}:${(server.address() as net.AddressInfo).port}`)));
}

export function portOf(addr: string): number {
  return Number(addr.slice(addr.lastIndexOf(':') + 1));
}

/** An HTTP/1.1 test app: echoes method, url, headers; /stream streams N bytes; /slow waits; /echo pipes the body back. */
export function testApp(): http.Server {
  return http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    if (url.pathname === '/echo') {
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      req.pipe(res);
      return;
    }
    if (url.pathname === '/count') {
      let n = 0;
      req.on('data', (c: Buffer) => (n += c.length));
      req.on('end', () => res.end(JSON.stringify({ bytes: n })));
      return;
    }
    if (url.pathname === '/stream') {
      const total = Number(url.searchParams.get('n') ?? 0);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      let sent = 0;
      res.writeHead(200, { 'content-type': 'application/octet-stream' });
      const write = (): void => {
        while (sent < total) {
          const c = chunk.subarray(0, Math.min(chunk.length, total - sent));
          sent += c.length;
          if (!res.write(c)) return void res.once('drain', write);
        }
        res.end();
      };
      write();
      return;
    }
    if (url.pathname === '/two-content-types') {
      // Valid HTTP/1.1 on the wire; HTTP/2 forbids a repeated content-type.
      res.writeHead(200, { 'content-type': ['text/plain', 'text/html'] });
      res.end('two');
      return;
    }
    if (url.pathname === '/trailers') {
      res.writeHead(200, { 'content-type': 'text/plain', trailer: 'x-checksum' });
      res.write('body');
      res.addTrailers({ 'x-checksum': 'abc' });
      res.end();
      return;
    }
    if (url.pathname === '/slow') {
      const t = setTimeout(() => res.end('slow done'), Number(url.searchParams.get('ms') ?? 500));
      res.on('close', () => clearTimeout(t));
      return;
    }
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers }));
    });
  });
}
