// Plaintext endpoints: HTTP/1.1 keep-alive, h2c, streaming, trailers, timeouts, resets, aborts.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { createClusterManager } from '../../src/proxy/data/upstream/index.js';
import { UpstreamError, type ClusterManager } from '../../src/proxy/data/upstream/types.js';
import { Cancel } from '../../src/proxy/data/upstream/cancel.js';
import { TestIdentity } from '../helpers/pki.js';
import { cluster, get, INFO, maps, readAll } from './helpers/xds.js';

const H1 = 'inbound|8080||';
const H2C = 'inbound|9090||';
const DOWN = 'outbound|80||plain.default.svc.cluster.local';
const TEN_MB = 10 * 1024 * 1024;

function listen(server: net.Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

/** A body of `total` bytes made on demand in 64 KiB chunks; `produced` tells how far it got. */
function bigBody(total: number): { body: Readable; produced: () => number } {
  let produced = 0;
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const body = new Readable({
    read() {
      if (produced >= total) return void this.push(null);
      const n = Math.min(chunk.length, total - produced);
      produced += n;
      this.push(n === chunk.length ? chunk : chunk.subarray(0, n));
    },
  });
  return { body, produced: () => produced };
}

describe('plaintext upstreams', () => {
  let h1: http.Server;
  let h1Port: number;
  let h1Connections = 0;
  let h2: http2.Http2Server;
  let h2Port: number;
  let h2Sessions = 0;
  const aborted: string[] = [];
  let cm: ClusterManager;

  before(async () => {
    h1 = http.createServer((req, res) => {
      if (req.url === '/echo') {
        res.writeHead(200, { 'content-type': 'application/octet-stream' });
        req.pipe(res);
        return;
      }
      if (req.url === '/trailers') {
        res.writeHead(200, { trailer: 'x-checksum' });
        res.write('chunk ');
        res.addTrailers({ 'x-checksum': 'abc123' });
        res.end('end');
        return;
      }
      if (req.url === '/hang') {
        req.on('close', () => aborted.push('h1'));
        return;
      }
      if (req.url === '/reset') {
        req.socket.destroy();
        return;
      }
      res.end(`h1 ${req.url} host=${req.headers.host}`);
    });
    h1.on('connection', () => h1Connections++);
    h1.keepAliveTimeout = 10_000;
    h1Port = await listen(h1);

    h2 = http2.createServer();
    h2.on('session', () => h2Sessions++);
    h2.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      const path = headers[':path'];
      if (path === '/grpc') {
        stream.respond({ ':status': 200, 'content-type': 'application/grpc' }, { waitForTrailers: true });
        stream.on('wantTrailers', () => stream.sendTrailers({ 'grpc-status': '0', 'grpc-message': 'fine' }));
        stream.end(Buffer.from([0, 0, 0, 0, 2, 8, 1]));
        return;
      }
      if (path === '/echo') {
        stream.respond({ ':status': 200 });
        stream.pipe(stream);
        return;
      }
      if (path === '/hang') {
        stream.on('close', () => aborted.push('h2'));
        return;
      }
      if (path === '/reset') {
        stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
        return;
      }
      if (path === '/reset-mid') {
        stream.respond({ ':status': 200 });
        stream.write('partial');
        setTimeout(() => stream.destroy(new Error('boom')), 20); // RST_STREAM INTERNAL_ERROR, no END_STREAM
        return;
      }
      stream.respond({ ':status': 200 });
      stream.end(`h2c ${path} authority=${headers[':authority']}`);
    });
    h2Port = await listen(h2);

    cm = createClusterManager(INFO, new TestIdentity());
    cm.update(
      ...maps([
        cluster(H1, { type: 'STATIC', endpoints: [{ address: '127.0.0.1', port: h1Port }], protocol: 'http/1.1' }),
        cluster(H2C, { type: 'STATIC', endpoints: [{ address: '127.0.0.1', port: h2Port }], protocol: 'h2' }),
        cluster(DOWN, { type: 'STATIC', endpoints: [{ address: '127.0.0.1', port: h2Port }], protocol: 'downstream' }),
      ]),
    );
  });

  after(async () => {
    await cm.close();
    h1.closeAllConnections();
    await new Promise<void>((r) => h1.close(() => r()));
    await new Promise<void>((r) => h2.close(() => r()));
  });

  it('reuses keep-alive HTTP/1.1 connections and sends the authority as Host', async () => {
    const before = h1Connections;
    for (let i = 0; i < 50; i++) {
      const res = await cm.request(H1, get(`/k${i}`, 'app.local:8080'));
      assert.equal(res.status, 200);
      assert.equal((await readAll(res.body)).toString(), `h1 /k${i} host=app.local:8080`);
      assert.equal(res.peerIdentity, undefined);
      // Downstream requests arrive in their own I/O events; undici frees the connection a tick after the body ends.
      await new Promise((r) => setImmediate(r));
    }
    assert.equal(h1Connections - before, 1);
    const s = cm.stats();
    assert.equal(s[`cluster.${H1}.upstream_cx_total`], 1);
    assert.equal(s[`cluster.${H1}.upstream_rq_2xx`], 50);
  });

  it('opens HTTP/1.1 connections only up to the concurrency it sees', async () => {
    const before = h1Connections;
    for (let round = 0; round < 5; round++) {
      await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const res = await cm.request(H1, get(`/c${round}-${i}`));
          await readAll(res.body);
        }),
      );
      await new Promise((r) => setImmediate(r));
    }
    assert.ok(h1Connections - before <= 10, `${h1Connections - before} connections for 10 concurrent requests`);
  });

  it('passes HTTP/1.1 chunked trailers', async () => {
    const res = await cm.request(H1, get('/trailers'));
    assert.equal((await readAll(res.body)).toString(), 'chunk end');
    assert.deepEqual(await res.trailers, { 'x-checksum': 'abc123' });
  });

  it('h2c: one session, gRPC-style trailers passed through', async () => {
    const before = h2Sessions;
    for (let i = 0; i < 20; i++) {
      const res = await cm.request(H2C, { ...get('/grpc'), method: 'POST', headers: { 'content-type': 'application/grpc', te: 'trailers' } });
      assert.equal(res.status, 200);
      assert.equal(res.headers['content-type'], 'application/grpc');
      assert.deepEqual([...(await readAll(res.body))], [0, 0, 0, 0, 2, 8, 1]);
      assert.deepEqual(await res.trailers, { 'grpc-status': '0', 'grpc-message': 'fine' });
    }
    assert.equal(h2Sessions - before, 1);
  });

  for (const [name, c] of [
    ['HTTP/1.1', H1],
    ['h2c', H2C],
  ] as const) {
    it(`${name}: streams a 10 MB body both ways without buffering it`, async () => {
      const { body, produced } = bigBody(TEN_MB);
      const res = await cm.request(c, { ...get('/echo'), method: 'POST', body });
      // The response started while most of the request body was still to be made.
      assert.ok(produced() < TEN_MB, `produced ${produced()} before the response`);
      let received = 0;
      for await (const chunk of res.body) received += (chunk as Buffer).length;
      assert.equal(received, TEN_MB);
    });
  }

  it('useDownstreamProtocolConfig: h2 downstream -> h2c upstream', async () => {
    const res = await cm.request(DOWN, { ...get('/d', 'plain:80'), downstreamProtocol: 'h2' });
    assert.equal((await readAll(res.body)).toString(), 'h2c /d authority=plain:80');
  });

  for (const [name, c] of [
    ['HTTP/1.1', H1],
    ['h2c', H2C],
  ] as const) {
    // The router cancels with its own Cancel; an AbortSignal must work the same.
    for (const kind of ['AbortController', 'Cancel'] as const) {
      it(`${name}: abort via ${kind} cancels the upstream request`, async () => {
        const tag = name === 'h2c' ? 'h2' : 'h1';
        const seen = (): number => aborted.filter((t) => t === tag).length;
        const before = seen();
        const ac = kind === 'Cancel' ? new Cancel() : new AbortController();
        const p = cm.request(c, get('/hang'), { signal: ac instanceof Cancel ? ac : ac.signal });
        setTimeout(() => ac.abort(), 50);
        await assert.rejects(p, (err: Error) => err.name === 'AbortError');
        for (let i = 0; i < 100 && seen() === before; i++) await new Promise((r) => setTimeout(r, 10));
        assert.equal(seen(), before + 1, 'server saw the request go away');
      });
    }

    it(`${name}: a reset before the response is UR`, async () => {
      await assert.rejects(cm.request(c, get('/reset')), (err: unknown) => err instanceof UpstreamError && err.flag === 'UR');
    });
  }

  it('h2c: a reset mid-body errors the body stream', async () => {
    const res = await cm.request(H2C, get('/reset-mid'));
    assert.equal(res.status, 200);
    await assert.rejects(readAll(res.body));
    // The session survives a stream reset.
    const ok = await cm.request(H2C, get('/after'));
    assert.equal(ok.status, 200);
    await readAll(ok.body);
  });

  it('a closed port fails with UF within the connect timeout; connect() too', async () => {
    const tmp = net.createServer();
    const port = await listen(tmp);
    await new Promise<void>((r) => tmp.close(() => r()));
    const dead = 'outbound|1||dead';
    const cm2 = createClusterManager(INFO, new TestIdentity());
    cm2.update(...maps([cluster(dead, { type: 'STATIC', endpoints: [{ address: '127.0.0.1', port }], connectTimeoutMs: 500 })]));
    const t0 = Date.now();
    await assert.rejects(cm2.request(dead, get('/')), (err: unknown) => err instanceof UpstreamError && err.flag === 'UF');
    await assert.rejects(cm2.connect(dead), (err: unknown) => err instanceof UpstreamError && err.flag === 'UF');
    assert.ok(Date.now() - t0 < 1000);
    assert.equal(cm2.stats()[`cluster.${dead}.upstream_cx_connect_fail`], 2);
    await cm2.close();
  });

  it('connect() to a plaintext endpoint is a plain TCP stream', async () => {
    const echo = net.createServer((s) => s.pipe(s));
    const port = await listen(echo);
    const tcp = 'outbound|7||echo';
    const cm2 = createClusterManager(INFO, new TestIdentity());
    cm2.update(...maps([cluster(tcp, { type: 'STATIC', endpoints: [{ address: '127.0.0.1', port }] })]));
    const { socket, endpoint, peerIdentity } = await cm2.connect(tcp);
    assert.equal(endpoint, `127.0.0.1:${port}`);
    assert.equal(peerIdentity, undefined);
    socket.write('bytes');
    assert.equal(String(await new Promise((r) => socket.once('data', r))), 'bytes');
    socket.destroy();
    await cm2.close();
    await new Promise<void>((r) => echo.close(() => r()));
  });
});
