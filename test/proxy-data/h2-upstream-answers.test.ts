// HTTP/2 answers the proxy must pass on as the upstream gave them, h2c client -> sidecar ->
// h2c upstream (node:http2) on real sockets:
//   - an upstream that answers before reading the whole request, then resets the request
//     side with NO_ERROR (RFC 9113 8.1, what gRPC servers do when a streaming call fails
//     early): the client still gets the whole answer and its trailers;
//   - a trailers-only answer (grpc-status in the one HEADERS frame) stays one HEADERS frame;
//   - a downstream stream closed before the answer: replying to it is a no-op, not a throw.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { createDataPlane } from '../../src/proxy/data/index.js';
import { H2Downstream } from '../../src/proxy/data/downstream.js';
import type { DataPlane } from '../../src/proxy/types.js';
import { info, hcm, listener, snapshot, listen, portOf } from './helpers.js';
import { meshCluster, routes } from '../helpers/envoy.js';
import { makeCa, TestIdentity } from '../helpers/pki.js';

const { NGHTTP2_NO_ERROR, NGHTTP2_CANCEL } = http2.constants;
const CLUSTER = 'outbound|50051||grpc.default.svc.cluster.local';
const EARLY_ANSWER = 'early answer '.repeat(80_000); // ~1 MB

let upstream: http2.Http2Server;
let dp: DataPlane;
let proxyAddr: string;

before(async () => {
  upstream = http2.createServer();
  upstream.on('stream', (stream, headers) => {
    stream.on('error', () => {});
    if (headers[':path'] === '/early') {
      // Answer at once, without reading the request; then reset the request side with NO_ERROR.
      stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
      stream.once('wantTrailers', () => {
        stream.sendTrailers({ 'grpc-status': '0' });
        setImmediate(() => stream.close(NGHTTP2_NO_ERROR));
      });
      stream.end(EARLY_ANSWER); // larger than the flow-control windows: the tail is still in flight at the reset
    } else if (headers[':path'] === '/trailers-only') {
      stream.respond({ ':status': 200, 'content-type': 'application/grpc', 'grpc-status': '5', 'grpc-message': 'no such thing' }, { endStream: true });
      stream.resume();
    } else {
      stream.respond({ ':status': 404 }, { endStream: true });
    }
  });
  const upAddr = await listen(upstream);

  const ca = await makeCa('answers root');
  dp = createDataPlane(info('127.0.0.1'), new TestIdentity(await ca.issue('spiffe://cluster.local/ns/default/sa/client')));
  const snap = snapshot([listener('virtualOutbound', '127.0.0.1', 0, [{ filters: [hcm(routes('50051', [{ domains: ['*'], cluster: CLUSTER }]))] }])]);
  snap.clusters.set(CLUSTER, meshCluster(CLUSTER, { type: 'STATIC', endpoints: [{ address: '127.0.0.1', port: portOf(upAddr) }], protocol: 'h2' }));
  await dp.apply(snap);
  proxyAddr = dp.boundListeners()['virtualOutbound']!;
});

after(async () => {
  await dp?.close();
  upstream?.close();
});

test('an upstream that answers early and resets the request side with NO_ERROR: the client gets the whole answer and its trailers', async () => {
  const session = http2.connect(`http://${proxyAddr}`);
  try {
    const req = session.request({ ':method': 'POST', ':path': '/early', ':authority': 'grpc:50051', 'content-type': 'application/grpc' });
    req.write(Buffer.alloc(1024, 1)); // the request body is still open when the answer comes
    const answer = await new Promise<{ status: unknown; body: string; trailers: http2.IncomingHttpHeaders }>((resolve, reject) => {
      let status: unknown;
      let body = '';
      let trailers: http2.IncomingHttpHeaders = {};
      req.on('response', (h) => (status = h[':status']));
      req.on('trailers', (t) => (trailers = t));
      req.setEncoding('utf8');
      req.on('data', (d: string) => (body += d));
      req.on('end', () => resolve({ status, body, trailers }));
      req.on('error', reject);
      setTimeout(() => reject(new Error(`no complete answer in 5 s (${body.length} of ${EARLY_ANSWER.length} bytes)`)), 5000).unref();
    });
    assert.equal(answer.status, 200);
    assert.equal(answer.body.length, EARLY_ANSWER.length);
    assert.equal(answer.body, EARLY_ANSWER);
    assert.equal(answer.trailers['grpc-status'], '0');
    req.close();
  } finally {
    session.close();
  }
});

test('a trailers-only answer (grpc-status in the only HEADERS frame) reaches the client as one HEADERS frame with END_STREAM', async () => {
  const session = http2.connect(`http://${proxyAddr}`);
  try {
    const req = session.request({ ':method': 'POST', ':path': '/trailers-only', ':authority': 'grpc:50051', 'content-type': 'application/grpc' });
    req.end(Buffer.from([0, 0, 0, 0, 0]));
    const [headers, flags] = (await new Promise((resolve, reject) => {
      req.once('response', (h, f) => resolve([h, f]));
      req.once('error', reject);
    })) as [http2.IncomingHttpHeaders, number];
    assert.equal(headers[':status'], 200);
    assert.equal(headers['grpc-status'], '5');
    assert.equal(headers['grpc-message'], 'no such thing');
    // (node's endAfterHeaders is not set on client streams: the frame's flags say it)
    assert.equal(flags & http2.constants.NGHTTP2_FLAG_END_STREAM, http2.constants.NGHTTP2_FLAG_END_STREAM, 'END_STREAM on the HEADERS frame, no DATA frame after it');
    req.resume();
    await new Promise((r) => req.once('close', r));
  } finally {
    session.close();
  }
});

test('a downstream stream closed before the answer (reset by us or the client): reply, respond, finish and destroy do nothing and do not throw', async () => {
  const server = http2.createServer();
  const checked = new Promise<void>((resolve, reject) => {
    server.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      const ds = new H2Downstream(stream, headers);
      stream.close(NGHTTP2_CANCEL); // closed now, destroyed only later
      try {
        assert.equal(stream.destroyed, false, 'the case under test: closed but not yet destroyed');
        ds.reply(504, {}, 'upstream request timeout\n');
        ds.respond(200, {});
        ds.finish({ 'grpc-status': '0' });
        ds.destroy();
        resolve();
      } catch (e) {
        reject(e instanceof Error ? e : new Error(String(e)));
      }
    });
  });
  const addr = await listen(server);
  const session = http2.connect(`http://${addr}`);
  try {
    const req = session.request({ ':path': '/' });
    req.on('error', () => {});
    req.end();
    await checked;
  } finally {
    session.destroy();
    server.close();
  }
});
