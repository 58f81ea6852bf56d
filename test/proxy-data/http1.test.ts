import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { Readable } from 'node:stream';
import { once } from 'node:events';
import { request as undiciRequest, Agent } from 'undici';
import { createDataPlane } from '../../src/proxy/data/index.js';
import type { DataPlane } from '../../src/proxy/types.js';
import { TestClusterManager, info, hcm, listener, snapshot, catchAllRoutes, listen, testApp, portOf } from './helpers.js';
import { TestIdentity } from '../helpers/pki.js';

let app: http.Server;
let echo: net.Server;
let wsApp: http.Server;
let dp: DataPlane;
let cm: TestClusterManager;
let proxy: string;
let outbound: string;
const agent = new Agent({ keepAliveTimeout: 1000 });
let appAborted = 0;

before(async () => {
  app = testApp();
  app.on('request', (_req, res: http.ServerResponse) => res.on('close', () => { if (!res.writableFinished) appAborted++; }));
  echo = net.createServer((s) => { s.on('error', () => {}); s.pipe(s); });
  wsApp = http.createServer((_q, r) => r.end('not upgraded'));
  wsApp.on('upgrade', (req: http.IncomingMessage, socket: net.Socket) => {
    socket.write(`HTTP/1.1 101 Switching Protocols\r\nupgrade: ${req.headers.upgrade}\r\nconnection: Upgrade\r\nx-app: ws\r\nx-seen-subset: ${String(req.headers['x-subset'])}\r\n\r\n`);
    socket.pipe(socket);
  });
  cm = new TestClusterManager();
  cm.targets.set('inbound|9080||', await listen(app));
  cm.targets.set('outbound|9080||reviews.default.svc.cluster.local', cm.targets.get('inbound|9080||')!);
  cm.targets.set('outbound|7000||echo.default.svc.cluster.local', await listen(echo));
  cm.targets.set('outbound|80||ws.default.svc.cluster.local', await listen(wsApp));
  dp = createDataPlane(info(), new TestIdentity(), { clusterManager: cm });
  const inline = {
    name: 'inline',
    virtualHosts: [{ name: 'all', domains: ['*'], routes: [
      { match: { prefix: '/old' }, redirect: { pathRedirect: '/new', responseCode: 'FOUND' } },
      { match: { prefix: '/direct' }, directResponse: { status: 200, body: { inlineString: 'hello direct' } }, responseHeadersToAdd: [{ header: { key: 'x-direct', value: '1' } }] },
      { match: { prefix: '/slow' }, route: { cluster: 'inbound|9080||', timeout: { nanos: 100_000_000 } } },
      { match: { prefix: '/nc' }, route: { cluster: 'missing' } },
      { match: { prefix: '/' }, route: { cluster: 'inbound|9080||' }, requestHeadersToAdd: [{ header: { key: 'x-added', value: 'yes' } }], responseHeadersToAdd: [{ header: { key: 'x-resp', value: 'r' } }] },
    ] }],
  };
  const httpProxy = {
    name: 'http_proxy',
    virtualHosts: [
      { name: 'reviews', domains: ['reviews:9080', 'reviews.default.svc.cluster.local:9080'], routes: [{ match: { prefix: '/' }, route: { cluster: 'outbound|9080||reviews.default.svc.cluster.local' } }] },
      { name: 'echo', domains: ['echo:7000'], routes: [{ match: { prefix: '/' }, route: { cluster: 'outbound|7000||echo.default.svc.cluster.local' } }] },
      // Weighted (one cluster) so the Upgrade path is seen applying the drawn cluster's header mutations.
      { name: 'ws', domains: ['ws', 'ws:80'], routes: [{ match: { prefix: '/' }, route: { weightedClusters: { clusters: [{ name: 'outbound|80||ws.default.svc.cluster.local', weight: { value: 100 }, requestHeadersToAdd: [{ header: { key: 'x-subset', value: 'v1' } }] }] } } }] },
    ],
  };
  await dp.apply(snapshot(
    [
      listener('inbound|9080', '127.0.0.1', 0, [{ filters: [hcm(inline, { streamIdleTimeout: { seconds: 2 } })] }]),
      listener('virtualOutbound', '0.0.0.0', 0, [{ filters: [hcm({ rds: 'http_proxy' })] }]),
    ],
    [httpProxy, catchAllRoutes('unused')],
  ));
  proxy = dp.boundListeners()['inbound|9080']!;
  outbound = dp.boundListeners().virtualOutbound!;
});

after(async () => {
  await dp.close();
  await agent.close();
  await cm.close();
  app.close();
  echo.close();
  wsApp.close();
});

function get(addr: string, path: string, headers: http.OutgoingHttpHeaders = {}): Promise<{ status: number; headers: http.IncomingHttpHeaders; body: string }> {
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port: portOf(addr), path, headers, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    r.on('error', reject);
    r.end();
  });
}

test('plaintext HTTP/1.1 through an inline route: forwarding headers, hop-by-hop removed, XFCC stripped', async () => {
  const res = await get(proxy, '/hello?x=1', { 'x-forwarded-client-cert': 'By=evil', 'keep-alive': 'timeout=5', connection: 'keep-alive, x-hop', 'x-hop': '1' });
  assert.equal(res.status, 200);
  assert.equal(res.headers['x-resp'], 'r');
  const seen = JSON.parse(res.body) as { url: string; headers: Record<string, string> };
  assert.equal(seen.url, '/hello?x=1');
  assert.equal(seen.headers['x-forwarded-proto'], 'http');
  assert.match(seen.headers['x-request-id']!, /^[0-9a-f-]{36}$/);
  assert.equal(seen.headers['x-added'], 'yes');
  assert.equal(seen.headers['x-forwarded-client-cert'], undefined);
  assert.equal(seen.headers['x-hop'], undefined);
  assert.equal(seen.headers['keep-alive'], undefined);
  const s = dp.stats();
  assert.ok(s['http.test.downstream_rq_2xx']! >= 1);
  assert.ok(s['inbound.9080.rq_plaintext']! >= 1);
  assert.ok(s['listener.inbound|9080.downstream_cx_total']! >= 1);
  assert.ok(s['cluster.inbound|9080||.upstream_rq_total']! >= 1);
});

test('an expectation other than 100-continue is answered 417 and counted as a request with a 4xx', async () => {
  const before = dp.stats();
  const res = await get(proxy, '/x', { expect: 'something-else' });
  assert.equal(res.status, 417);
  const after = dp.stats();
  assert.equal(after['http.test.downstream_rq_4xx']! - (before['http.test.downstream_rq_4xx'] ?? 0), 1);
  assert.equal(after['http.test.downstream_rq_total']! - before['http.test.downstream_rq_total']!, 1);
  const ok = await get(proxy, '/hello', { expect: '100-continue' });
  assert.equal(ok.status, 200, '100-continue still goes through');
});

test('10 MB streamed both ways, chunked upload, keep-alive, trailers', async () => {
  const size = 10 * 1024 * 1024;
  const chunk = Buffer.alloc(256 * 1024, 0x62);
  let sent = 0;
  const body = new Readable({
    read() {
      if (sent >= size) return void this.push(null);
      sent += chunk.length;
      this.push(chunk);
    },
  });
  const up = await undiciRequest(`http://${proxy}/echo`, { method: 'POST', body, dispatcher: agent });
  assert.equal(up.statusCode, 200);
  let got = 0;
  for await (const c of up.body) got += (c as Buffer).length;
  assert.equal(got, size);

  const down = await undiciRequest(`http://${proxy}/stream?n=${size}`, { dispatcher: agent });
  let n = 0;
  for await (const c of down.body) n += (c as Buffer).length;
  assert.equal(n, size);

  const tr = await new Promise<http.IncomingMessage>((resolve) => http.get({ host: '127.0.0.1', port: portOf(proxy), path: '/trailers', agent: false }, resolve));
  tr.resume();
  await once(tr, 'end');
  assert.equal(tr.headers['transfer-encoding'], 'chunked');
  assert.equal(tr.trailers['x-checksum'], 'abc');
});

test('absolute-form proxy requests are routed by the URI authority, including :port domains', async () => {
  const res = await get(outbound, 'http://reviews:9080/productpage?u=1', { host: 'reviews:9080' });
  assert.equal(res.status, 200);
  const seen = JSON.parse(res.body) as { url: string; headers: Record<string, string> };
  assert.equal(seen.url, '/productpage?u=1');
  assert.equal(seen.headers.host, 'reviews:9080');
  const fqdn = await get(outbound, 'http://reviews.default.svc.cluster.local:9080/x', { host: 'wrong' });
  assert.equal(fqdn.status, 200);
  const nr = await get(outbound, 'http://nowhere:1/x', { host: 'nowhere:1' });
  assert.equal(nr.status, 404);
  assert.equal(nr.headers['x-weft-flags'], 'NR');
});

test('no cluster -> 503 NC; redirect; direct response', async () => {
  const nc = await get(proxy, '/nc');
  assert.equal(nc.status, 503);
  assert.equal(nc.headers['x-weft-flags'], 'NC');
  assert.match(nc.body, /missing/);
  const r = await get(proxy, '/old/x');
  assert.equal(r.status, 302);
  assert.equal(r.headers.location, `http://${proxy}/new`);
  const d = await get(proxy, '/direct');
  assert.deepEqual([d.status, d.body, d.headers['x-direct']], [200, 'hello direct', '1']);
});

test('CONNECT tunnel to a TCP service', async () => {
  const s = net.connect(portOf(outbound), '127.0.0.1');
  s.write('CONNECT echo:7000 HTTP/1.1\r\nhost: echo:7000\r\n\r\n');
  let buf = '';
  s.setEncoding('utf8');
  s.on('data', (c: string) => (buf += c));
  while (!buf.includes('\r\n\r\n')) await once(s, 'data');
  assert.match(buf, /^HTTP\/1.1 200 Connection Established/);
  buf = '';
  s.write('ping-through-tunnel');
  while (!buf.includes('ping-through-tunnel')) await once(s, 'data');
  s.destroy();
});

test('HTTP/2 CONNECT (h2c): the stream itself is the tunnel', async () => {
  const session = http2.connect(`http://${outbound}`);
  try {
    const stream = session.request({ ':method': 'CONNECT', ':authority': 'echo:7000' });
    const [headers] = (await once(stream, 'response')) as [http2.IncomingHttpHeaders];
    assert.equal(headers[':status'], 200);
    let buf = '';
    stream.setEncoding('utf8');
    stream.on('data', (c: string) => (buf += c));
    stream.write('ping-through-h2-tunnel');
    while (!buf.includes('ping-through-h2-tunnel')) await once(stream, 'data');
    stream.close();
  } finally {
    session.destroy();
  }
});

test('HTTP/1.1 Upgrade (WebSocket-style) is spliced after 101, with the weighted cluster header mutations', async () => {
  const s = net.connect(portOf(outbound), '127.0.0.1');
  s.write('GET /chat HTTP/1.1\r\nhost: ws\r\nconnection: Upgrade\r\nupgrade: websocket\r\n\r\n');
  let buf = '';
  s.setEncoding('utf8');
  s.on('data', (c: string) => (buf += c));
  while (!buf.includes('\r\n\r\n')) await once(s, 'data');
  assert.match(buf, /^HTTP\/1.1 101 Switching Protocols/);
  assert.match(buf, /x-app: ws/);
  assert.match(buf, /x-seen-subset: v1/);
  buf = '';
  s.write('frame-1');
  while (!buf.includes('frame-1')) await once(s, 'data');
  s.destroy();
});

test('route timeout answers 504 UT within ~50 ms of the deadline and aborts the upstream request', async () => {
  const before = appAborted;
  const t0 = Date.now();
  const res = await get(proxy, '/slow?ms=3000');
  const took = Date.now() - t0;
  assert.equal(res.status, 504);
  assert.equal(res.headers['x-weft-flags'], 'UT');
  assert.ok(took >= 95 && took < 160, `took ${took} ms`);
  for (let i = 0; i < 50 && appAborted === before; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(appAborted, before + 1);
});

test('garbage bytes get 400 on that connection only; the proxy keeps serving', async () => {
  const s = net.connect(portOf(proxy), '127.0.0.1');
  s.write('GARBAGE \x00\x01\x02 nonsense\r\n\r\n');
  let buf = '';
  s.setEncoding('utf8');
  s.on('data', (c: string) => (buf += c));
  await once(s, 'close');
  assert.match(buf, /^HTTP\/1.1 400/);
  const ok = await get(proxy, '/after-garbage');
  assert.equal(ok.status, 200);
  assert.ok(dp.stats()['http.test.downstream_rq_bad_request']! >= 1);
});

test('a client that sends half a request and stalls does not block others, and times out', async () => {
  const s = net.connect(portOf(proxy), '127.0.0.1');
  s.on('error', () => {});
  s.write('POST /count HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\nonly-part');
  await new Promise((r) => setTimeout(r, 50));
  const t0 = Date.now();
  const ok = await get(proxy, '/other');
  assert.equal(ok.status, 200);
  assert.ok(Date.now() - t0 < 500);
  let buf = '';
  s.setEncoding('utf8');
  s.on('data', (c: string) => (buf += c));
  await once(s, 'close'); // stream idle timeout 2 s
  assert.match(buf, /^HTTP\/1.1 408/);
  assert.ok(dp.stats()['http.test.downstream_rq_idle_timeout']! >= 1);
});
