// Load balancing, health, membership updates and config validation.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createClusterManager } from '../../src/proxy/data/upstream/index.js';
import { UpstreamError, type ClusterManager } from '../../src/proxy/data/upstream/types.js';
import { ConfigRejectedError, type EnvoyObject } from '../../src/proxy/types.js';
import { backend, type Backend } from '../helpers/backend.js';
import { TestIdentity } from '../helpers/pki.js';
import { cla, cluster, get, INFO, maps, readAll, type Ep } from './helpers/xds.js';

const C = 'outbound|80||app.default.svc.cluster.local';

const tick = (): Promise<void> => new Promise((r) => setImmediate(r));

async function hit(cm: ClusterManager, n: number, cluster = C): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  for (let i = 0; i < n; i++) {
    const res = await cm.request(cluster, get('/'));
    const who = (await readAll(res.body)).toString();
    counts[who] = (counts[who] ?? 0) + 1;
    await tick();
  }
  return counts;
}

describe('load balancing and membership', () => {
  let a: Backend, b: Backend, c: Backend;
  let cm: ClusterManager;
  const eps = (list: Array<[Backend, Ep['health']?]>): Ep[] => list.map(([x, health]) => ({ address: '127.0.0.1', port: x.port, health }));
  const apply = (list: Array<[Backend, Ep['health']?]>, extra: EnvoyObject[] = []): void =>
    cm.update(...maps([cluster(C), ...extra], [cla(C, eps(list))]));

  before(async () => {
    [a, b, c] = await Promise.all([backend('a'), backend('b'), backend('c')]);
    cm = createClusterManager(INFO, new TestIdentity());
  });

  after(async () => {
    await cm.close();
    for (const x of [a, b, c]) {
      x.server.closeAllConnections();
      await new Promise<void>((r) => x.server.close(() => r()));
    }
  });

  it('round robin splits evenly across 3 endpoints', async () => {
    apply([[a], [b], [c]]);
    assert.deepEqual(await hit(cm, 300), { a: 100, b: 100, c: 100 });
    const s = cm.stats();
    assert.equal(s[`cluster.${C}.membership_total`], 3);
    assert.equal(s[`cluster.${C}.membership_healthy`], 3);
  });

  it('skips unhealthy endpoints (UNKNOWN and absent count as healthy)', async () => {
    apply([[a, 'UNHEALTHY'], [b, 'UNKNOWN'], [c, 'HEALTHY']]);
    assert.deepEqual(await hit(cm, 100), { b: 50, c: 50 });
    assert.equal(cm.stats()[`cluster.${C}.membership_healthy`], 2);
  });

  it('no healthy endpoint -> UH; unknown cluster -> NC; no load assignment yet -> UH', async () => {
    apply([[a, 'UNHEALTHY'], [b, 'DRAINING']]);
    await assert.rejects(cm.request(C, get('/')), (e: unknown) => e instanceof UpstreamError && e.flag === 'UH');
    await assert.rejects(cm.connect(C), (e: unknown) => e instanceof UpstreamError && e.flag === 'UH');
    await assert.rejects(cm.request('nope', get('/')), (e: unknown) => e instanceof UpstreamError && e.flag === 'NC');
    cm.update(...maps([cluster(C)], []));
    assert.equal(cm.has(C), true);
    await assert.rejects(cm.request(C, get('/')), (e: unknown) => e instanceof UpstreamError && e.flag === 'UH');
  });

  it('update() keeps the pool of an endpoint that remains and closes the removed one', async () => {
    apply([[a], [b]]);
    await hit(cm, 10);
    const aConns = a.connections;
    const bClosedBefore = b.closed;
    apply([[a]]);
    // b's idle keep-alive connection is closed gracefully.
    for (let i = 0; i < 100 && b.closed === bClosedBefore; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(b.closed, bClosedBefore + 1);
    assert.deepEqual(await hit(cm, 10), { a: 10 });
    assert.equal(a.connections, aConns, 'no new connection to the endpoint that stayed');
  });

  it('rejects invalid clusters naming cluster and field; the running config stays', async () => {
    apply([[a]]);
    const bad = (patch: EnvoyObject): EnvoyObject => ({ ...cluster('bad|1||x'), ...patch });
    const cases: Array<[EnvoyObject, RegExp]> = [
      [bad({ lbPolicy: 'WEIGHTED_MAGIC' }), /cluster "bad\|1\|\|x": field lbPolicy/],
      [bad({ connectTimeout: { seconds: -1 } }), /field connectTimeout/],
      [bad({ type: 'ORIGINAL_DST' }), /field type/],
      [bad({ type: 'STATIC', loadAssignment: cla('bad|1||x', [{ address: 'not-an-ip', port: 80 }]) }), /field loadAssignment\.endpoints\[0\]\.lbEndpoints\[0\]\.endpoint\.address\.socketAddress\.address/],
      [bad({ transportSocket: { name: 'x', typedConfig: { '@type': 'type.googleapis.com/some.Other' } } }), /field transportSocket\.typedConfig\.@type/],
      [bad({ transportSocketMatches: [{ name: 'm', match: {}, transportSocket: { name: 't', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext', commonTlsContext: { combinedValidationContext: { defaultValidationContext: { matchTypedSubjectAltNames: [{ sanType: 'URI', matcher: {} }] } } } } } }] }), /transportSocketMatches\[0\]\.transportSocket\.typedConfig\.commonTlsContext\.combinedValidationContext\.defaultValidationContext\.matchTypedSubjectAltNames\[0\]\.matcher/],
    ];
    for (const [cfg, re] of cases) {
      assert.throws(
        () => cm.update(...maps([cluster(C), cfg], [cla(C, eps([[a]]))])),
        (e: unknown) => e instanceof ConfigRejectedError && e.code === 'WEFT_ERR_CONFIG_REJECTED' && re.test(e.message),
      );
    }
    assert.throws(() => cm.update(...maps([cluster(C)], [cla(C, [{ address: '127.0.0.1', port: 0 }])])), /cluster load assignment .*portValue/);
    assert.equal(cm.has('bad|1||x'), false);
    assert.deepEqual(await hit(cm, 3), { a: 3 });
  });

  it('STRICT_DNS resolves hostnames', async () => {
    const dnsC = 'outbound|80||dns';
    cm.update(...maps([cluster(C), cluster(dnsC, { type: 'STRICT_DNS', endpoints: [{ address: 'localhost', port: c.port }] })], [cla(C, eps([[a]]))]));
    // localhost may resolve to ::1 as well as 127.0.0.1; the backend listens on 127.0.0.1 only.
    let ok = false;
    for (let i = 0; i < 4 && !ok; i++) {
      try {
        const res = await cm.request(dnsC, get('/'));
        ok = (await readAll(res.body)).toString() === 'c';
      } catch (e) {
        assert.ok(e instanceof UpstreamError && e.flag === 'UF');
      }
    }
    assert.ok(ok);
  });
});
