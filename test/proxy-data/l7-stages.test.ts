// The per-request L7 stages through a real data plane on loopback: fault delay and abort
// percentages, mirroring (slow and dead mirrors, bodies), retries hiding a flaky upstream,
// the retry budget bounding extra load, CORS preflight and actual requests. The data
// plane's random source is seeded, so the percentages are reproducible; the upstreams
// are real HTTP servers behind the TestClusterManager double (helpers.ts).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import http2 from 'node:http2';
import net from 'node:net';
import { createDataPlane } from '../../src/proxy/data/index.js';
import type { DataPlane, EnvoyObject } from '../../src/proxy/types.js';
import { RetryBudget } from '../../src/proxy/data/retry-budget.js';
import { TestClusterManager, info, hcm, listener, snapshot, listen, portOf, seeded } from './helpers.js';
import { TestIdentity } from '../helpers/pki.js';

interface Seen {
  authority: string;
  path: string;
  body: string;
}

/** An upstream: answers 200 with the request, or 503 for a share of requests (seeded), optionally after a pause. */
function upstream(opts: { failShare?: number; seed?: number; pauseMs?: number } = {}): { server: http.Server; seen: Seen[]; attempts: () => number } {
  const rnd = seeded(opts.seed ?? 7);
  const seen: Seen[] = [];
  let attempts = 0;
  const server = http.createServer((req, res) => {
    attempts++;
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString();
      seen.push({ authority: req.headers.host ?? '', path: req.url ?? '', body });
      const answer = (): void => {
        if (opts.failShare && rnd() < opts.failShare) {
          res.writeHead(503, { 'content-type': 'text/plain' });
          res.end('flaky');
          return;
        }
        res.writeHead(200, { 'content-type': 'application/json', 'x-app': 'yes' });
        res.end(JSON.stringify({ method: req.method, url: req.url, bytes: body.length }));
      };
      if (opts.pauseMs) setTimeout(answer, opts.pauseMs);
      else answer();
    });
  });
  server.keepAliveTimeout = 5000;
  return { server, seen, attempts: () => attempts };
}

const app = upstream();
const flaky = upstream({ failShare: 0.3, seed: 11 });
const budgeted = upstream({ failShare: 0.3, seed: 13 });
const broken = upstream({ failShare: 1, seed: 17 });
const slowMirror = upstream({ pauseMs: 500 });
const bodyMirror = upstream();
const failing = upstream({ failShare: 1, seed: 19 });
let dp: DataPlane;
let cm: TestClusterManager;
let proxyPort: number;
const agent = new http.Agent({ keepAlive: true, maxSockets: 32 });

const STRUCT = 'type.googleapis.com/google.protobuf.Struct';
const FAULT = 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault';
const CORS = 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy';

function fault(cfg: EnvoyObject): EnvoyObject {
  return { 'envoy.filters.http.fault': { '@type': FAULT, ...cfg } };
}

before(async () => {
  cm = new TestClusterManager();
  cm.targets.set('app', await listen(app.server));
  cm.targets.set('flaky', await listen(flaky.server));
  cm.targets.set('budgeted', await listen(budgeted.server));
  cm.targets.set('broken', await listen(broken.server));
  cm.retryCaps.set('broken', 1);
  cm.targets.set('mirror-slow', await listen(slowMirror.server));
  cm.targets.set('mirror-body', await listen(bodyMirror.server));
  cm.targets.set('failing', await listen(failing.server));
  // A port nothing listens on: the mirror is down.
  const closed = net.createServer();
  const dead = await listen(closed);
  await new Promise<void>((r) => closed.close(() => r()));
  cm.targets.set('mirror-down', dead);

  dp = createDataPlane(info(), new TestIdentity(), { clusterManager: cm, random: seeded(42) });
  const routes = {
    name: 'l7',
    virtualHosts: [
      {
        name: 'all',
        domains: ['*'],
        routes: [
          { match: { prefix: '/abort' }, route: { cluster: 'app' }, typedPerFilterConfig: fault({ abort: { httpStatus: 503, percentage: { numerator: 30 } } }) },
          { match: { prefix: '/delay-always' }, route: { cluster: 'app' }, typedPerFilterConfig: fault({ delay: { fixedDelay: { nanos: 300_000_000 }, percentage: { numerator: 100 } } }) },
          { match: { prefix: '/delay' }, route: { cluster: 'app' }, typedPerFilterConfig: fault({ delay: { fixedDelay: { nanos: 50_000_000 }, percentage: { numerator: 200_000, denominator: 'MILLION' } } }) },
          { match: { prefix: '/grpc-abort' }, route: { cluster: 'app' }, typedPerFilterConfig: fault({ abort: { grpcStatus: 14, percentage: { numerator: 100 } } }) },
          { match: { prefix: '/mirror-slow' }, route: { cluster: 'app', requestMirrorPolicies: [{ cluster: 'mirror-slow', runtimeFraction: { defaultValue: { numerator: 100 } } }] } },
          { match: { prefix: '/mirror-down' }, route: { cluster: 'app', requestMirrorPolicies: [{ cluster: 'mirror-down' }] } },
          { match: { prefix: '/mirror-body' }, route: { cluster: 'app', requestMirrorPolicies: [{ cluster: 'mirror-body' }] } },
          { match: { prefix: '/retry' }, route: { cluster: 'flaky', retryPolicy: { retryOn: '5xx', numRetries: { value: 5 } } } },
          { match: { prefix: '/replay' }, route: { cluster: 'failing', retryPolicy: { retryOn: '5xx', numRetries: { value: 2 }, retryBackOff: { baseInterval: { nanos: 1_000_000 } } } } },
          { match: { prefix: '/budget' }, route: { cluster: 'budgeted', retryPolicy: { retryOn: '5xx', numRetries: { value: 5 } } } },
          { match: { prefix: '/capped' }, route: { cluster: 'broken', retryPolicy: { retryOn: '5xx', numRetries: { value: 3 }, retryBackOff: { baseInterval: { nanos: 20_000_000 } } } } },
          {
            match: { prefix: '/cors' },
            route: { cluster: 'app' },
            typedPerFilterConfig: {
              'envoy.filters.http.cors': {
                '@type': CORS,
                allowOriginStringMatch: [{ exact: 'https://ok.example' }, { safeRegex: { regex: 'https://.*\\.good\\.example' } }],
                allowMethods: 'GET,POST',
                allowHeaders: 'x-a',
                exposeHeaders: 'x-app',
                maxAge: '600',
                allowCredentials: { value: true },
              },
            },
          },
          { match: { prefix: '/' }, route: { cluster: 'app' } },
        ],
      },
    ],
  };
  const snap = snapshot([listener('l7', '127.0.0.1', 0, [{ filters: [hcm(routes)] }])]);
  snap.clusters.set('budgeted', {
    name: 'budgeted',
    typedExtensionProtocolOptions: {
      'weft.retry_budget': { '@type': STRUCT, fields: { retryRatio: { numberValue: 0.2 }, minRetriesPerSecond: { numberValue: 1 }, ttlSeconds: { numberValue: 10 } } },
    },
  });
  await dp.apply(snap);
  proxyPort = portOf(dp.boundListeners().l7!);
});

after(async () => {
  await dp.close();
  agent.destroy();
  await cm.close();
  for (const u of [app, flaky, budgeted, broken, slowMirror, bodyMirror, failing]) u.server.close();
});

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
  ms: number;
}

function send(path: string, opts: { method?: string; headers?: http.OutgoingHttpHeaders; body?: Buffer | string } = {}): Promise<Reply> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const r = http.request({ host: '127.0.0.1', port: proxyPort, path, method: opts.method ?? 'GET', headers: opts.headers, agent }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body, ms: performance.now() - t0 }));
    });
    r.on('error', reject);
    r.end(opts.body);
  });
}

/** n requests, `concurrency` at a time. */
async function many(n: number, concurrency: number, one: (i: number) => Promise<Reply>): Promise<Reply[]> {
  const out: Reply[] = new Array(n);
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < n) {
        const i = next++;
        out[i] = await one(i);
      }
    }),
  );
  return out;
}

function percentile(xs: number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond() && Date.now() < end) await new Promise((r) => setTimeout(r, 10));
}

test('fault abort: 30% of 2,000 requests get 503 flagged FI, within 2 points', async () => {
  const replies = await many(2000, 16, () => send('/abort'));
  const aborted = replies.filter((r) => r.status === 503);
  const share = (100 * aborted.length) / replies.length;
  assert.ok(Math.abs(share - 30) <= 2, `aborted ${share.toFixed(2)}%`);
  assert.ok(aborted.every((r) => r.headers['x-weft-flags'] === 'FI' && r.body === 'fault filter abort'));
  assert.ok(replies.filter((r) => r.status !== 503).every((r) => r.status === 200 && r.headers['x-weft-flags'] === undefined));
  assert.equal(dp.stats()['http.test.fault.aborts_injected'], aborted.length);
});

test('fault delay: 50 ms on 20% of 2,000 requests, within 2 points; delays within 20 ms of the setting', async () => {
  const replies = await many(2000, 8, () => send('/delay'));
  assert.ok(replies.every((r) => r.status === 200));
  const delayed = replies.filter((r) => r.headers['x-weft-flags'] === 'DI');
  const share = (100 * delayed.length) / replies.length;
  assert.ok(Math.abs(share - 20) <= 2, `delayed ${share.toFixed(2)}%`);
  const ms = delayed.map((r) => r.ms);
  const fast = replies.filter((r) => r.headers['x-weft-flags'] === undefined).map((r) => r.ms);
  // Never shorter than the setting; what it adds over an undelayed request is within 20 ms
  // of it, at the median and at p90 (the client shares the event loop, so compare like with like).
  assert.ok(Math.min(...ms) >= 49, `shortest delayed request ${Math.min(...ms).toFixed(1)} ms`);
  for (const p of [50, 90]) {
    const added = percentile(ms, p) - percentile(fast, p);
    assert.ok(Math.abs(added - 50) <= 20, `p${p}: delayed ${percentile(ms, p).toFixed(1)} ms, undelayed ${percentile(fast, p).toFixed(1)} ms`);
  }
});

test('fault delay is cancelled when the client goes away: nothing reaches the upstream', async () => {
  const before = app.seen.filter((s) => s.path === '/delay-always').length;
  await new Promise<void>((resolve) => {
    const r = http.request({ host: '127.0.0.1', port: proxyPort, path: '/delay-always', agent: false });
    r.on('error', () => resolve());
    r.end();
    setTimeout(() => {
      r.destroy();
      resolve();
    }, 50);
  });
  await new Promise((r) => setTimeout(r, 400));
  assert.equal(app.seen.filter((s) => s.path === '/delay-always').length, before);
});

test('fault abort with a gRPC status answers trailers-only style: 200, grpc-status', async () => {
  const r = await send('/grpc-abort');
  assert.equal(r.status, 200);
  assert.equal(r.headers['grpc-status'], '14');
  assert.equal(r.headers['content-type'], 'application/grpc');
});

test('fault abort with a gRPC status over HTTP/2 is trailers-only: one HEADERS frame with END_STREAM, no DATA', async () => {
  const session = http2.connect(`http://127.0.0.1:${proxyPort}`);
  session.on('error', () => {});
  const s = session.request({ ':method': 'POST', ':path': '/grpc-abort', 'content-type': 'application/grpc', te: 'trailers' });
  s.end(Buffer.alloc(5));
  const r = await new Promise<{ headers: http2.IncomingHttpHeaders; endStream: boolean; bytes: number; trailers: boolean }>((resolve, reject) => {
    let headers: http2.IncomingHttpHeaders = {};
    let endStream = false;
    let bytes = 0;
    let trailers = false;
    s.on('response', (h, flags: number) => {
      headers = h;
      endStream = (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0;
    });
    s.on('data', (c: Buffer) => (bytes += c.length));
    s.on('trailers', () => (trailers = true));
    s.on('end', () => resolve({ headers, endStream, bytes, trailers }));
    s.on('error', reject);
  });
  session.close();
  assert.equal(r.headers[':status'], 200);
  assert.equal(r.headers['grpc-status'], '14');
  assert.equal(r.headers['x-weft-flags'], 'FI');
  assert.equal(r.endStream, true, 'END_STREAM on the HEADERS frame');
  assert.equal(r.bytes, 0);
  assert.equal(r.trailers, false);
});

test('mirror: a slow mirror (500 ms) leaves the caller latency unchanged; copies carry the -shadow authority', async () => {
  // Mirrored and plain requests interleaved, so both see the same load.
  const all = await many(400, 8, (i) => (i % 2 ? send('/plain') : send('/mirror-slow/x', { headers: { host: 'web:8080' } })));
  const mirrored = all.filter((_, i) => i % 2 === 0);
  const base = all.filter((_, i) => i % 2 === 1);
  assert.ok(mirrored.every((r) => r.status === 200 && r.headers['x-app'] === 'yes'));
  const p99 = percentile(mirrored.map((r) => r.ms), 99);
  const baseP99 = percentile(base.map((r) => r.ms), 99);
  // Were the mirror awaited, every request would take its 500 ms; allow a tenth of that for noise.
  assert.ok(p99 < baseP99 + 50, `mirrored p99 ${p99.toFixed(1)} ms vs ${baseP99.toFixed(1)} ms`);
  await until(() => slowMirror.seen.length >= 200, 5000);
  assert.equal(slowMirror.seen.length, 200);
  assert.ok(slowMirror.seen.every((s) => s.authority === 'web-shadow:8080' && s.path === '/mirror-slow/x'));
});

test('mirror: a dead mirror changes nothing for the caller and is counted', async () => {
  const replies = await many(100, 8, () => send('/mirror-down'));
  assert.ok(replies.every((r) => r.status === 200 && r.headers['x-app'] === 'yes'));
  await until(() => (dp.stats()['http.test.rq_mirror_error'] ?? 0) >= 100);
  assert.equal(dp.stats()['http.test.rq_mirror_error'], 100);
});

test('mirror: bodies are copied up to 64 KiB; a larger body goes only to the primary', async () => {
  const small = await send('/mirror-body', { method: 'POST', body: 'hello mirror', headers: { 'content-type': 'text/plain' } });
  assert.equal(small.status, 200);
  assert.equal(JSON.parse(small.body).bytes, 12);
  await until(() => bodyMirror.seen.length >= 1);
  assert.equal(bodyMirror.seen[0]!.body, 'hello mirror');
  const big = await send('/mirror-body', { method: 'POST', body: Buffer.alloc(100 * 1024, 0x61) });
  assert.equal(big.status, 200);
  assert.equal(JSON.parse(big.body).bytes, 100 * 1024);
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(bodyMirror.seen.length, 1);
});

test('retries hide an upstream failing 30% of requests: >= 99.5% success over 1,000', async () => {
  const replies = await many(1000, 16, () => send('/retry'));
  const ok = replies.filter((r) => r.status === 200).length;
  assert.ok(ok >= 995, `${ok} of 1000 succeeded`);
  const s = dp.stats();
  const retries = s['cluster.flaky.upstream_rq_retry'] ?? 0;
  assert.equal(flaky.attempts(), 1000 + retries);
  assert.ok(retries > 300, `${retries} retries`);
  assert.ok((s['cluster.flaky.upstream_rq_retry_success'] ?? 0) > 250);
});

test('retry body buffer: a body under 64 KiB is replayed on each retry; a larger one (chunked or declared) goes once, streamed, not retried', async () => {
  const at = (): number => failing.seen.length;
  let from = at();
  const small = await send('/replay', { method: 'POST', body: 'replay me', headers: { 'content-type': 'text/plain' } });
  assert.equal(small.status, 503);
  assert.deepEqual(failing.seen.slice(from).map((s) => s.body), ['replay me', 'replay me', 'replay me']);
  const big = Buffer.alloc(100 * 1024, 0x62);
  for (const headers of [{ 'transfer-encoding': 'chunked' }, { 'content-length': String(big.length) }]) {
    from = at();
    const retriesBefore = dp.stats()['cluster.failing.upstream_rq_retry'] ?? 0;
    const r = await send('/replay', { method: 'POST', body: big, headers });
    assert.equal(r.status, 503, JSON.stringify(headers));
    assert.equal(at() - from, 1, `one attempt for ${JSON.stringify(headers)}`);
    assert.equal(failing.seen[from]!.body, big.toString());
    assert.equal(dp.stats()['cluster.failing.upstream_rq_retry'] ?? 0, retriesBefore);
  }
});

test('retry budget 0.2: extra upstream load stays within the ratio; exhaustion is counted', async () => {
  const replies = await many(1000, 16, () => send('/budget'));
  const extra = budgeted.attempts() - 1000;
  // max(minRetriesPerSecond x ttl = 10, 0.2 x 1000 requests in the window) = 200.
  assert.ok(extra <= 200, `${extra} retries over 1000 requests`);
  assert.ok(extra >= 150, `${extra} retries: the budget should be used`);
  const s = dp.stats();
  assert.equal(s['cluster.budgeted.upstream_rq_retry'], extra);
  assert.ok((s['cluster.budgeted.retry_budget_exhausted'] ?? 0) > 0);
  // Requests the budget did not allow to retry answer with the upstream's 503.
  assert.ok(replies.some((r) => r.status === 503));
});

test('maxRetries circuit breaker: at most one retry in flight for the cluster; the rest overflow and answer at once', async () => {
  // Every attempt fails; each request may retry 3 times, but the cluster allows one concurrent retry.
  const before = broken.attempts();
  const replies = await many(40, 8, () => send('/capped'));
  assert.ok(replies.every((r) => r.status === 503));
  const attempts = broken.attempts() - before;
  const retries = attempts - 40;
  assert.ok(retries >= 1, 'some retries ran');
  assert.ok(retries < 40 * 3, `${retries} retries: the breaker must have refused some`);
  assert.ok((cm.counts['cluster.broken.upstream_rq_retry_overflow'] ?? 0) > 0, 'overflow counted');
  assert.equal(cm.retriesHeld('broken'), 0, 'every permit released');
});

test('RetryBudget: floor, ratio and the sliding window', () => {
  let now = 0;
  const b = new RetryBudget({ retryRatio: 0.5, minRetriesPerSecond: 1, ttlMs: 10_000 }, () => now);
  // Floor: 1/s x 10 s = 10 retries with no traffic.
  let n = 0;
  while (b.tryRetry()) n++;
  assert.equal(n, 10);
  for (let i = 0; i < 40; i++) b.recordRequest();
  // 0.5 x 40 = 20 allowed in the window, 10 used.
  n = 0;
  while (b.tryRetry()) n++;
  assert.equal(n, 10);
  // Past the window everything has expired.
  now += 11_000;
  assert.deepEqual(b.window(), { requests: 0, retries: 0 });
  n = 0;
  while (b.tryRetry()) n++;
  assert.equal(n, 10);
});

test('CORS: preflight from an allowed origin is answered by the proxy; others go upstream', async () => {
  const hits = app.seen.length;
  const pre = await send('/cors/x', { method: 'OPTIONS', headers: { origin: 'https://a.good.example', 'access-control-request-method': 'POST' } });
  assert.equal(pre.status, 200);
  assert.equal(pre.headers['access-control-allow-origin'], 'https://a.good.example');
  assert.equal(pre.headers['access-control-allow-methods'], 'GET,POST');
  assert.equal(pre.headers['access-control-allow-headers'], 'x-a');
  assert.equal(pre.headers['access-control-max-age'], '600');
  assert.equal(pre.headers['access-control-allow-credentials'], 'true');
  assert.equal(app.seen.length, hits, 'the preflight did not reach the app');
  const other = await send('/cors/x', { method: 'OPTIONS', headers: { origin: 'https://evil.example', 'access-control-request-method': 'POST' } });
  assert.equal(other.status, 200);
  assert.equal(other.headers['access-control-allow-origin'], undefined);
  assert.equal(JSON.parse(other.body).method, 'OPTIONS');
});

test('CORS: an actual request from an allowed origin gets the CORS response headers', async () => {
  const ok = await send('/cors/x', { headers: { origin: 'https://ok.example' } });
  assert.equal(ok.status, 200);
  assert.equal(ok.headers['access-control-allow-origin'], 'https://ok.example');
  assert.equal(ok.headers['access-control-expose-headers'], 'x-app');
  assert.equal(ok.headers['access-control-allow-credentials'], 'true');
  const no = await send('/cors/x', { headers: { origin: 'https://evil.example' } });
  assert.equal(no.status, 200);
  assert.equal(no.headers['access-control-allow-origin'], undefined);
  const plain = await send('/cors/x');
  assert.equal(plain.headers['access-control-allow-origin'], undefined);
});
