// Upstream resilience over real loopback servers: outlier detection (consecutive 5xx,
// gateway failures from refused connections, max ejection percent, return after the
// ejection time), circuit breakers (HTTP/1.1 connections + pending, HTTP/2 requests,
// retries), ORIGINAL_DST by header or authority, per-connection request limits.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import type { AddressInfo } from 'node:net';
import { createClusterManager } from '../../src/proxy/data/upstream/index.js';
import { UpstreamError, type ClusterManager } from '../../src/proxy/data/upstream/types.js';
import type { EnvoyObject } from '../../src/proxy/types.js';
import { backend, deadPort, stopBackend as stop, type Backend } from '../helpers/backend.js';
import { TestIdentity } from '../helpers/pki.js';
import { cla, cluster, get, INFO, maps, readAll, type Ep } from './helpers/xds.js';

const C = 'outbound|80||res.default.svc.cluster.local';
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const dur = (ms: number): EnvoyObject => ({ seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 });

async function send(cm: ClusterManager, cluster = C): Promise<{ name: string; status: number } | { flag: string }> {
  try {
    const res = await cm.request(cluster, get('/'));
    return { name: (await readAll(res.body)).toString(), status: res.status };
  } catch (e) {
    if (e instanceof UpstreamError) return { flag: e.flag };
    throw e;
  }
}

const eps = (bs: Array<Backend | number>): Ep[] => bs.map((b) => ({ address: '127.0.0.1', port: typeof b === 'number' ? b : b.port }));

describe('upstream resilience', () => {
  let good: Backend[];
  let bad: Backend[];
  let cm: ClusterManager;
  const stat = (name: string, cluster = C): number => cm.stats()[`cluster.${cluster}.${name}`] ?? 0;
  const apply = (endpoints: Ep[], extra: EnvoyObject, opts: Parameters<typeof cluster>[1] = {}): void =>
    cm.update(...maps([{ ...cluster(C, opts), ...extra }], [cla(C, endpoints)]));

  before(async () => {
    good = await Promise.all(['g0', 'g1', 'g2'].map((n) => backend(n)));
    bad = await Promise.all(['b0', 'b1', 'b2'].map((n) => backend(n, { status: 500 })));
  });

  after(async () => {
    await Promise.all([...good, ...bad].map(stop));
  });

  describe('outlier detection', () => {
    before(() => {
      cm = createClusterManager(INFO, new TestIdentity());
    });
    after(async () => {
      await cm.close();
    });

    it('ejects an always-failing endpoint (1 of 4) after exactly consecutive5xx errors and brings it back after baseEjectionTime', async () => {
      const od = { consecutive_5xx: { value: 3 }, enforcingConsecutive_5xx: { value: 100 }, interval: dur(200), baseEjectionTime: dur(500), maxEjectionPercent: { value: 100 } };
      apply(eps([good[0]!, good[1]!, good[2]!, bad[0]!]), { outlierDetection: od, commonLbConfig: { healthyPanicThreshold: { value: 0 } } });
      let failures = 0;
      for (let i = 0; i < 60; i++) {
        const r = await send(cm);
        if ('name' in r && r.name === 'b0') failures++;
      }
      assert.equal(failures, 3, 'exactly consecutive5xx failures reached the endpoint before it was ejected');
      assert.equal(stat('outlier_detection.ejections_active'), 1);
      assert.equal(stat('outlier_detection.ejections_enforced_consecutive_5xx'), 1);
      const ejections = cm.outlierStatus!()[C]!;
      assert.deepEqual(
        ejections.map((e) => [e.endpoint, e.timesEjected]),
        [[`127.0.0.1:${bad[0]!.port}`, 1]],
      );
      // Timed from the ejection itself, not from the end of the request loop (which a loaded machine stretches).
      const ejectedAt = ejections[0]!.ejectedAt;
      assert.ok(ejectedAt <= Date.now() && ejections[0]!.ejectedForMs <= 500);
      // Still out before baseEjectionTime; back within base + one interval (+ scheduling slack).
      await sleep(Math.max(0, ejectedAt + 300 - Date.now()));
      assert.equal(stat('outlier_detection.ejections_active'), 1);
      while (stat('outlier_detection.ejections_active') === 1 && Date.now() - ejectedAt < 2_000) await sleep(10);
      const back = Date.now() - ejectedAt;
      assert.ok(back >= 480 && back <= 500 + 200 + 250, `returned after ${back} ms`);
      assert.deepEqual(cm.outlierStatus!(), {});
      let reached = 0;
      for (let i = 0; i < 8; i++) {
        const r = await send(cm);
        if ('name' in r && r.name === 'b0') reached++;
      }
      assert.ok(reached >= 1, 'the endpoint takes traffic again');
    });

    it('never ejects more than maxEjectionPercent (50% of 4 -> 2 with 3 failing); success resets the count', async () => {
      cm.update(...maps([], []));
      const od = { consecutive_5xx: { value: 2 }, interval: dur(10_000), baseEjectionTime: dur(10_000), maxEjectionPercent: { value: 50 } };
      apply(eps([good[0]!, bad[0]!, bad[1]!, bad[2]!]), { outlierDetection: od });
      let maxActive = 0;
      for (let i = 0; i < 100; i++) {
        await send(cm);
        maxActive = Math.max(maxActive, stat('outlier_detection.ejections_active'));
      }
      assert.equal(maxActive, 2);
      assert.equal(stat('outlier_detection.ejections_active'), 2);
      assert.ok(stat('outlier_detection.ejections_overflow') >= 1);
      // The good endpoint was never ejected: its successes keep resetting the count.
      assert.ok(!cm.outlierStatus!()[C]!.some((e) => e.endpoint.endsWith(`:${good[0]!.port}`)));
    });

    it('enforcing 0 detects without ejecting', async () => {
      cm.update(...maps([], []));
      apply(eps([good[0]!, bad[0]!]), { outlierDetection: { consecutive_5xx: { value: 2 }, enforcingConsecutive_5xx: { value: 0 } } });
      for (let i = 0; i < 20; i++) await send(cm);
      assert.equal(stat('outlier_detection.ejections_active'), 0);
      assert.ok(stat('outlier_detection.ejections_detected_consecutive_5xx') >= 4);
    });

    it('refused connections count as gateway failures', async () => {
      cm.update(...maps([], []));
      const dead = await deadPort();
      apply(eps([good[0]!, good[1]!, dead]), {
        outlierDetection: { consecutiveGatewayFailure: { value: 2 }, enforcingConsecutiveGatewayFailure: { value: 100 }, enforcingConsecutive_5xx: { value: 0 }, maxEjectionPercent: { value: 100 } },
      });
      let refused = 0;
      for (let i = 0; i < 30; i++) {
        const r = await send(cm);
        if ('flag' in r) refused++;
      }
      assert.equal(refused, 2);
      assert.equal(stat('outlier_detection.ejections_enforced_consecutive_gateway_failure'), 1);
    });
  });

  describe('circuit breakers', () => {
    before(() => {
      cm = createClusterManager(INFO, new TestIdentity());
    });
    after(async () => {
      await cm.close();
    });

    it('HTTP/1.1 maxConnections 1 + maxPendingRequests 1: one in flight, one waits, the rest overflow at once (UO)', async () => {
      const slow = await backend('slow', { delayMs: 200 });
      try {
        const cb = { thresholds: [{ maxConnections: { value: 1 }, maxPendingRequests: { value: 1 }, maxRequests: { value: 100 } }] };
        apply(eps([slow]), { circuitBreakers: cb }, { protocol: 'http/1.1' });
        const started = Date.now();
        const results = await Promise.all(
          Array.from({ length: 6 }, async () => {
            const r = await send(cm);
            return { r, ms: Date.now() - started };
          }),
        );
        const overflowed = results.filter((x) => 'flag' in x.r);
        const served = results.filter((x) => 'name' in x.r);
        assert.equal(served.length, 2);
        assert.equal(overflowed.length, 4);
        for (const o of overflowed) {
          assert.deepEqual(o.r, { flag: 'UO' });
          assert.ok(o.ms < 50, `overflow answered after ${o.ms} ms`);
        }
        // The queued one ran after the first: ~400 ms in total, on the same single connection.
        assert.ok(Math.max(...served.map((s) => s.ms)) >= 380);
        assert.equal(slow.connections, 1);
        assert.equal(stat('upstream_rq_pending_overflow'), 4);
        assert.ok(stat('upstream_cx_overflow') >= 5);
        assert.equal(stat('upstream_rq_pending_active'), 0);
        assert.equal(stat('upstream_rq_active'), 0);
      } finally {
        await stop(slow);
      }
    });

    it('raising maxConnections reaches endpoints whose HTTP/1.1 pool is already open', async () => {
      const slow = await backend('slow', { delayMs: 150 });
      try {
        cm.update(...maps([], []));
        const limit = (n: number): EnvoyObject => ({ circuitBreakers: { thresholds: [{ maxConnections: { value: n }, maxPendingRequests: { value: 10 } }] } });
        apply(eps([slow]), limit(1), { protocol: 'http/1.1' });
        assert.equal((await send(cm) as { status: number }).status, 200);
        apply(eps([slow]), limit(4), { protocol: 'http/1.1' });
        const started = Date.now();
        const results = await Promise.all(Array.from({ length: 4 }, () => send(cm)));
        assert.ok(results.every((r) => 'status' in r && r.status === 200), JSON.stringify(results));
        // Four at once over four connections: ~150 ms, not four times that on one connection.
        assert.ok(Date.now() - started < 450, `took ${Date.now() - started} ms`);
        assert.ok(slow.connections >= 4, `${slow.connections} connections`);
      } finally {
        await stop(slow);
      }
    });

    it('a queued request whose caller gives up leaves the queue', async () => {
      const slow = await backend('slow', { delayMs: 150 });
      try {
        cm.update(...maps([], []));
        apply(eps([slow]), { circuitBreakers: { thresholds: [{ maxConnections: { value: 1 }, maxPendingRequests: { value: 1 } }] } }, { protocol: 'http/1.1' });
        const first = cm.request(C, get('/'));
        const ac = new AbortController();
        const queued = cm.request(C, get('/'), { signal: ac.signal });
        await sleep(10);
        assert.equal(stat('upstream_rq_pending_active'), 1);
        ac.abort();
        await assert.rejects(queued, (e: unknown) => (e as Error).name === 'AbortError');
        assert.equal(stat('upstream_rq_pending_active'), 0);
        await readAll((await first).body);
        assert.equal(slow.requests, 1);
      } finally {
        await stop(slow);
      }
    });

    it('HTTP/2 maxRequests 2: two streams in flight, the rest overflow at once', async () => {
      const h2 = http2.createServer();
      const sessions = new Set<http2.ServerHttp2Session>();
      h2.on('session', (s) => sessions.add(s));
      h2.on('stream', (stream) => {
        setTimeout(() => {
          stream.respond({ ':status': 200 });
          stream.end('h2');
        }, 150);
      });
      await new Promise<void>((r) => h2.listen(0, '127.0.0.1', r));
      const port = (h2.address() as AddressInfo).port;
      try {
        cm.update(...maps([], []));
        apply([{ address: '127.0.0.1', port }], { circuitBreakers: { thresholds: [{ maxRequests: { value: 2 } }] } }, { protocol: 'h2' });
        const started = Date.now();
        const results = await Promise.all(Array.from({ length: 5 }, async () => ({ r: await send(cm), ms: Date.now() - started })));
        assert.equal(results.filter((x) => 'name' in x.r).length, 2);
        const over = results.filter((x) => 'flag' in x.r);
        assert.equal(over.length, 3);
        for (const o of over) assert.ok(o.ms < 50 && (o.r as { flag: string }).flag === 'UO', JSON.stringify(o));
        assert.equal(stat('upstream_rq_pending_overflow'), 3);
        // Below the limit again once they finish.
        assert.ok('name' in (await send(cm)));
      } finally {
        cm.update(...maps([], []));
        for (const s of sessions) s.destroy();
        await new Promise<void>((r) => h2.close(() => r()));
      }
    });

    it('maxRetries: retryPermit() grants up to the limit, counts the overflow, and frees on release', async () => {
      cm.update(...maps([], []));
      apply(eps([good[0]!]), { circuitBreakers: { thresholds: [{ maxRetries: { value: 1 } }] } });
      const p1 = cm.retryPermit!(C);
      assert.ok(p1);
      assert.equal(cm.retryPermit!(C), undefined);
      assert.equal(stat('upstream_rq_retry_overflow'), 1);
      p1();
      p1(); // idempotent
      const p2 = cm.retryPermit!(C);
      assert.ok(p2);
      p2();
      assert.equal(cm.retryPermit!('no-such-cluster'), undefined);
    });

    it('unset thresholds take Envoy defaults (1024 requests, 3 retries)', () => {
      cm.update(...maps([], []));
      apply(eps([good[0]!]), {});
      assert.equal(cm.stats()[`cluster.${C}.circuit_breakers.default.remaining_rq`], 1024);
      assert.equal(cm.stats()[`cluster.${C}.circuit_breakers.default.remaining_retries`], 3);
    });
  });

  describe('ORIGINAL_DST and pool limits', () => {
    before(() => {
      cm = createClusterManager(INFO, new TestIdentity());
    });
    after(async () => {
      await cm.close();
    });

    it('ORIGINAL_DST: the x-envoy-original-dst-host header decides, else the authority (DNS names resolved)', async () => {
      const P = 'PassthroughCluster';
      cm.update(...maps([{ name: P, type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED', connectTimeout: dur(1000), originalDstLbConfig: { useHttpHeader: true } }]));
      const viaHeader = await cm.request(P, get('/', 'ignored.example:1', { 'x-envoy-original-dst-host': `127.0.0.1:${good[1]!.port}` }));
      assert.equal((await readAll(viaHeader.body)).toString(), 'g1');
      const viaAuthority = await cm.request(P, get('/', `127.0.0.1:${good[2]!.port}`));
      assert.equal((await readAll(viaAuthority.body)).toString(), 'g2');
      // A hostname: resolved at connect (localhost may be ::1 first; the backend listens on IPv4 only).
      const byName = await cm.request(P, get('/', `localhost:${good[0]!.port}`)).then(
        async (r) => (await readAll(r.body)).toString(),
        (e: unknown) => (e instanceof UpstreamError ? e.flag : 'error'),
      );
      assert.ok(byName === 'g0' || byName === 'UF', byName);
      await assert.rejects(cm.request(P, get('/', '')), (e: unknown) => e instanceof UpstreamError && e.flag === 'UH');
      assert.throws(() => cm.update(...maps([{ name: 'x', type: 'ORIGINAL_DST', lbPolicy: 'ROUND_ROBIN' }])), /field type: ORIGINAL_DST requires lbPolicy CLUSTER_PROVIDED/);
    });

    it('HTTP/2: maxRequestsPerConnection retires a session after N streams; idleTimeout closes a session with no stream', async () => {
      const perSession = new Map<http2.Http2Session, number>();
      let closedSessions = 0;
      const server = http2.createServer();
      server.on('session', (session) => {
        perSession.set(session, 0);
        session.on('stream', () => perSession.set(session, perSession.get(session)! + 1));
        session.once('close', () => closedSessions++);
      });
      server.on('stream', (stream) => {
        stream.respond({ ':status': 200 });
        stream.end('h2');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      try {
        const opts = {
          '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
          commonHttpProtocolOptions: { maxRequestsPerConnection: { value: 3 }, idleTimeout: dur(300) },
          explicitHttpConfig: { http2ProtocolOptions: {} },
        };
        apply([{ address: '127.0.0.1', port }], { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': opts } });
        for (let i = 0; i < 7; i++) assert.equal((await send(cm) as { name: string }).name, 'h2');
        assert.deepEqual([...perSession.values()], [3, 3, 1], 'three streams per session, then a new session');
        // The retired sessions close once their streams are done; the last one after 300 ms without a stream.
        const until = Date.now() + 3000;
        while (closedSessions < 3 && Date.now() < until) await sleep(20);
        assert.equal(closedSessions, 3, 'every session closed: two retired, one idle');
        assert.equal((await send(cm) as { name: string }).name, 'h2');
        assert.equal(perSession.size, 4, 'the next request opens a fresh session');
      } finally {
        cm.update(...maps([], []));
        await new Promise<void>((r) => server.close(() => r()));
      }
    });

    it('HTTP/2: new connection-pool limits move new streams to a new session; the old one closes', async () => {
      const sessions: http2.Http2Session[] = [];
      let closed = 0;
      const server = http2.createServer();
      server.on('session', (session) => {
        sessions.push(session);
        session.once('close', () => closed++);
      });
      server.on('stream', (stream) => {
        stream.respond({ ':status': 200 });
        stream.end('h2');
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      const limits = (maxRequestsPerConnection: number) => ({
        typedExtensionProtocolOptions: {
          'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': {
            '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
            commonHttpProtocolOptions: { maxRequestsPerConnection: { value: maxRequestsPerConnection }, idleTimeout: dur(10_000) },
            explicitHttpConfig: { http2ProtocolOptions: {} },
          },
        },
      });
      try {
        apply([{ address: '127.0.0.1', port }], limits(0));
        for (let i = 0; i < 2; i++) assert.equal((await send(cm) as { name: string }).name, 'h2');
        assert.equal(sessions.length, 1);
        apply([{ address: '127.0.0.1', port }], limits(100));
        assert.equal((await send(cm) as { name: string }).name, 'h2');
        assert.equal(sessions.length, 2, 'the request after the change went to a new session');
        const until = Date.now() + 3000;
        while (closed < 1 && Date.now() < until) await sleep(20);
        assert.equal(closed, 1, 'the session of the old limits closed');
      } finally {
        cm.update(...maps([], []));
        await new Promise<void>((r) => server.close(() => r()));
      }
    });

    it('maxRequestsPerConnection: no HTTP/1.1 connection carries more than N requests', async () => {
      const perSocket = new Map<unknown, number>();
      const server = http.createServer((req, res) => {
        perSocket.set(req.socket, (perSocket.get(req.socket) ?? 0) + 1);
        res.end('ok');
      });
      server.keepAliveTimeout = 10_000;
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      const port = (server.address() as AddressInfo).port;
      try {
        for (const n of [2, 1]) {
          perSocket.clear();
          const opts = {
            '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
            commonHttpProtocolOptions: { maxRequestsPerConnection: { value: n }, idleTimeout: dur(3000) },
            explicitHttpConfig: { httpProtocolOptions: {} },
          };
          apply([{ address: '127.0.0.1', port }], { typedExtensionProtocolOptions: { 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': opts } });
          for (let i = 0; i < 6; i++) assert.ok('name' in (await send(cm)));
          const counts = [...perSocket.values()];
          assert.equal(counts.reduce((a, b) => a + b, 0), 6);
          assert.ok(Math.max(...counts) <= n, `limit ${n}: requests per connection ${JSON.stringify(counts)}`);
          assert.ok(counts.length >= 6 / n);
        }
      } finally {
        server.closeAllConnections();
        await new Promise<void>((r) => server.close(() => r()));
      }
    });
  });
});
