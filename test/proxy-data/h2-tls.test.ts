import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import tls from 'node:tls';
import { once } from 'node:events';
import { createDataPlane } from '../../src/proxy/data/index.js';
import type { DataPlane, WorkloadCertificate } from '../../src/proxy/types.js';
import { TestClusterManager, info, hcm, listener, snapshot, catchAllRoutes, listen, testApp, portOf } from './helpers.js';
import { inboundTlsChain, rootSecret } from '../helpers/envoy.js';
import { makeCa, type TestCa, TestIdentity } from '../helpers/pki.js';

const PROXY_ID = 'spiffe://cluster.local/ns/default/sa/reviews';
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/productpage';
let app: http.Server;
let dp: DataPlane;
let cm: TestClusterManager;
let plain: string;
let mtls: string;
let ca: TestCa;
let other: TestCa;
let clientCert: WorkloadCertificate;
let strangerCert: WorkloadCertificate;

before(async () => {
  ca = await makeCa('weft root');
  other = await makeCa('other root');
  clientCert = await ca.issue(CLIENT_ID);
  strangerCert = await other.issue(CLIENT_ID);
  app = testApp();
  cm = new TestClusterManager();
  cm.targets.set('inbound|9080||', await listen(app));
  dp = createDataPlane(info('127.0.0.1', PROXY_ID), new TestIdentity(await ca.issue(PROXY_ID)), { clusterManager: cm });
  const tlsChain = inboundTlsChain([hcm(catchAllRoutes('inbound|9080||', 'inbound|9080'))]);
  const plainChain = { filterChainMatch: { transportProtocol: 'raw_buffer' }, filters: [hcm(catchAllRoutes('inbound|9080||', 'inbound|9080'))] };
  await dp.apply(snapshot(
    [listener('inbound|9080', '127.0.0.1', 0, [tlsChain, plainChain]), listener('plain', '127.0.0.1', 0, [{ filters: [hcm({ rds: 'r' })] }])],
    [catchAllRoutes('inbound|9080||', 'r')],
    [rootSecret(ca.certPem)],
  ));
  plain = dp.boundListeners().plain!;
  mtls = dp.boundListeners()['inbound|9080']!;
});

after(async () => {
  await dp.close();
  app.closeAllConnections();
  app.close();
});

function h2request(session: http2.ClientHttp2Session, path: string): Promise<{ headers: http2.IncomingHttpHeaders; body: string; trailers: http2.IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const s = session.request({ ':path': path });
    let body = '';
    let trailers: http2.IncomingHttpHeaders = {};
    let headers: http2.IncomingHttpHeaders = {};
    s.setEncoding('utf8');
    s.on('response', (h) => (headers = h));
    s.on('trailers', (t) => (trailers = t));
    s.on('data', (c: string) => (body += c));
    s.on('end', () => resolve({ headers, body, trailers }));
    s.on('error', reject);
  });
}

test('h2c prior knowledge: requests multiplexed on one session, trailers passed through', async () => {
  const session = http2.connect(`http://${plain}`);
  session.on('error', () => {});
  const [a, b, t] = await Promise.all([h2request(session, '/a'), h2request(session, '/b'), h2request(session, '/trailers')]);
  assert.equal(a.headers[':status'], 200);
  assert.equal((JSON.parse(a.body) as { url: string }).url, '/a');
  assert.equal((JSON.parse(b.body) as { url: string }).url, '/b');
  assert.equal(t.body, 'body');
  assert.equal(t.trailers['x-checksum'], 'abc');
  session.close();
  assert.ok(dp.stats()['http.test.downstream_cx_http2_total']! >= 1);
});

test('h2c: a client reset cancels the upstream request; HEAD ends at its head; a body streams both ways; Expect: 100-continue answered, others 417', async () => {
  const session = http2.connect(`http://${plain}`);
  session.on('error', () => {});
  // The upstream sees its request go away when the client resets the stream.
  const upstreamClosed = new Promise<void>((resolve) => {
    const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
      if (!req.url?.startsWith('/slow?ms=5000')) return;
      app.off('request', onRequest);
      res.on('close', () => resolve());
    };
    app.on('request', onRequest);
  });
  const s = session.request({ ':path': '/slow?ms=5000' });
  s.on('error', () => {});
  setTimeout(() => s.close(http2.constants.NGHTTP2_CANCEL), 100);
  const t0 = Date.now();
  await upstreamClosed;
  assert.ok(Date.now() - t0 < 3000, 'cancelled long before the upstream would answer');

  const head = session.request({ ':method': 'HEAD', ':path': '/h' });
  const headRes = await new Promise<{ status: unknown; bytes: number; endAfterHeaders: boolean }>((resolve, reject) => {
    let bytes = 0;
    let status: unknown;
    let endAfterHeaders = false;
    head.on('response', (h, flags: number) => {
      status = h[':status'];
      endAfterHeaders = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    });
    head.on('data', (c: Buffer) => (bytes += c.length));
    head.on('end', () => resolve({ status, bytes, endAfterHeaders }));
    head.on('error', reject);
  });
  assert.deepEqual(headRes, { status: 200, bytes: 0, endAfterHeaders: true });

  const body = Buffer.alloc(300 * 1024, 0x63);
  const echo = session.request({ ':method': 'POST', ':path': '/echo' });
  const chunks: Buffer[] = [];
  echo.on('data', (c: Buffer) => chunks.push(c));
  echo.end(body);
  await once(echo, 'end');
  assert.equal(Buffer.concat(chunks).equals(body), true);
  // Expect: 100-continue gets its 100 at once and the body goes through; another expectation is refused.
  const cont = session.request({ ':method': 'POST', ':path': '/count', expect: '100-continue' });
  let continued = false;
  cont.on('continue', () => {
    continued = true;
    cont.end(Buffer.alloc(1000));
  });
  let counted = '';
  cont.setEncoding('utf8');
  cont.on('data', (c: string) => (counted += c));
  await once(cont, 'end');
  assert.equal(continued, true);
  assert.deepEqual(JSON.parse(counted), { bytes: 1000 });
  const before = dp.stats()['http.test.downstream_rq_4xx'] ?? 0;
  const odd = session.request({ ':path': '/x', expect: 'something-else' });
  const [oddHeaders] = (await once(odd, 'response')) as [http2.IncomingHttpHeaders];
  assert.equal(oddHeaders[':status'], 417);
  assert.equal(dp.stats()['http.test.downstream_rq_4xx']! - before, 1, 'the 417 is counted');
  odd.resume();
  session.close();
});

test('an upstream head HTTP/2 cannot carry (a repeated content-type) is a 502 with flag UPE, counted once as 5xx', async () => {
  const session = http2.connect(`http://${plain}`);
  session.on('error', () => {});
  const stats = (): Record<string, number> => dp.stats();
  const [ok2xx, ok5xx] = [stats()['http.test.downstream_rq_2xx'] ?? 0, stats()['http.test.downstream_rq_5xx'] ?? 0];
  const r = await h2request(session, '/two-content-types');
  assert.equal(r.headers[':status'], 502);
  assert.equal(r.headers['x-weft-flags'], 'UPE');
  assert.match(r.body, /^upstream protocol error: inbound\|9080\|\|: .*content-type/);
  assert.equal(stats()['http.test.downstream_rq_5xx']! - ok5xx, 1, 'the 502 is counted');
  assert.equal((stats()['http.test.downstream_rq_2xx'] ?? 0) - ok2xx, 0, 'the head that was never written is not');
  // The session carries on.
  assert.equal((await h2request(session, '/after')).headers[':status'], 200);
  session.close();
  // HTTP/1.1 carries the same head as it came.
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get(`http://${plain}/two-content-types`, resolve).on('error', reject));
  res.resume();
  assert.equal(res.statusCode, 200);
});

test('plaintext on the inbound listener takes the raw_buffer chain (PERMISSIVE)', async () => {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => http.get({ host: '127.0.0.1', port: portOf(mtls), path: '/p', agent: false }, resolve).on('error', reject));
  let body = '';
  for await (const c of res) body += String(c);
  assert.equal(res.statusCode, 200);
  assert.equal((JSON.parse(body) as { headers: Record<string, string> }).headers['x-forwarded-client-cert'], undefined);
});

test('mTLS: a client certificate from the root is accepted and XFCC carries the SPIFFE ids (HTTP/1.1 and h2)', async () => {
  const opts = { host: '127.0.0.1', port: portOf(mtls), key: clientCert.keyPem, cert: clientCert.certChainPem, ca: ca.certPem, servername: 'outbound_.9080_._.reviews.default.svc.cluster.local', checkServerIdentity: () => undefined };
  const res = await new Promise<http.IncomingMessage>((resolve, reject) =>
    https.get({ ...opts, path: '/x', agent: false, headers: { 'x-forwarded-client-cert': 'By=forged' } }, resolve).on('error', reject),
  );
  let body = '';
  for await (const c of res) body += String(c);
  const seen = JSON.parse(body) as { headers: Record<string, string> };
  assert.equal(seen.headers['x-forwarded-client-cert'], `By=${PROXY_ID};URI=${CLIENT_ID}`);
  assert.equal(seen.headers['x-forwarded-proto'], 'https');

  const session = http2.connect(`https://127.0.0.1:${portOf(mtls)}`, opts);
  session.on('error', () => {});
  const r2 = await h2request(session, '/h2');
  assert.equal((JSON.parse(r2.body) as { headers: Record<string, string> }).headers['x-forwarded-client-cert'], `By=${PROXY_ID};URI=${CLIENT_ID}`);
  session.close();
  const s = dp.stats();
  assert.ok(s['listener.inbound|9080.ssl.handshake']! >= 2);
  assert.ok(s['inbound.9080.rq_mtls']! >= 2);
});

test('ALPN weft-tcp after mTLS is raw TCP to the inbound cluster', async () => {
  const s = tls.connect({ host: '127.0.0.1', port: portOf(mtls), key: clientCert.keyPem, cert: clientCert.certChainPem, ca: ca.certPem, ALPNProtocols: ['weft-tcp'], checkServerIdentity: () => undefined });
  await once(s, 'secureConnect');
  assert.equal(s.alpnProtocol, 'weft-tcp');
  s.write('GET /raw HTTP/1.1\r\nhost: app\r\nconnection: close\r\n\r\n');
  let buf = '';
  s.setEncoding('utf8');
  s.on('data', (c: string) => (buf += c));
  await once(s, 'end');
  assert.match(buf, /^HTTP\/1.1 200/);
  assert.match(buf, /"url":"\/raw"/);
  s.destroy();
});

test('a client certificate from another root fails and counts ssl.connection_error', async () => {
  const before = dp.stats()['listener.inbound|9080.ssl.connection_error'] ?? 0;
  const outcome = await new Promise<string>((resolve) => {
    const req = https.get({ host: '127.0.0.1', port: portOf(mtls), path: '/', agent: false, key: strangerCert.keyPem, cert: strangerCert.certChainPem, ca: ca.certPem, checkServerIdentity: () => undefined }, (res) => {
      res.resume();
      resolve(`status ${res.statusCode}`);
    });
    req.on('error', (err) => resolve(`error ${err.message}`));
  });
  assert.match(outcome, /^error/);
  const s = dp.stats();
  assert.equal(s['listener.inbound|9080.ssl.connection_error'], before + 1);
  assert.ok(s['listener.inbound|9080.ssl.fail_verify_error']! >= 1);
  // no certificate at all
  const none = await new Promise<string>((resolve) => {
    const req = https.get({ host: '127.0.0.1', port: portOf(mtls), path: '/', agent: false, ca: ca.certPem, checkServerIdentity: () => undefined }, (res) => {
      res.resume();
      resolve(`status ${res.statusCode}`);
    });
    req.on('error', (err) => resolve(`error ${err.message}`));
  });
  assert.match(none, /^error/);
  assert.ok(dp.stats()['listener.inbound|9080.ssl.no_certificate']! >= 1);
});
