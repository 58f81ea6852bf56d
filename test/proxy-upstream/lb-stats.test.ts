// Load balancing measured over real loopback servers: least request favours the faster
// endpoint, consistent hashing (RING_HASH, MAGLEV) keeps keys put and moves few when the
// set changes, the healthy panic threshold, weights.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createClusterManager } from '../../src/proxy/data/upstream/index.js';
import type { ClusterManager } from '../../src/proxy/data/upstream/types.js';
import type { EnvoyObject } from '../../src/proxy/types.js';
import { backend, stopBackend as stop, type Backend } from '../helpers/backend.js';
import { TestIdentity } from '../helpers/pki.js';
import { cla, cluster, get, INFO, maps, readAll, type Ep } from './helpers/xds.js';

const C = 'outbound|80||lb.default.svc.cluster.local';

/** Run `n` requests with `concurrency` workers; returns the endpoint name each key/index reached. */
async function run(cm: ClusterManager, n: number, concurrency: number, keyOf: (i: number) => string | undefined): Promise<string[]> {
  const out = new Array<string>(n);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < n) {
      const i = next++;
      const hashKey = keyOf(i);
      const res = await cm.request(C, get('/'), hashKey === undefined ? undefined : { hashKey });
      out[i] = (await readAll(res.body)).toString();
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return out;
}

const tally = (names: string[]): Record<string, number> => names.reduce<Record<string, number>>((m, x) => ((m[x] = (m[x] ?? 0) + 1), m), {});

describe('load balancing over real endpoints', () => {
  let fast: Backend, slow: Backend;
  let five: Backend[];
  let cm: ClusterManager;
  const eps = (bs: Backend[], health?: Ep['health']): Ep[] => bs.map((b) => ({ address: '127.0.0.1', port: b.port, health }));
  const apply = (lbPolicy: string, endpoints: Ep[], extra: EnvoyObject = {}): void => cm.update(...maps([{ ...cluster(C, { lbPolicy }), ...extra }], [cla(C, endpoints)]));

  before(async () => {
    [fast, slow] = await Promise.all([backend('fast'), backend('slow', { delayMs: 20 })]);
    five = await Promise.all(['e0', 'e1', 'e2', 'e3', 'e4'].map((n) => backend(n)));
    cm = createClusterManager(INFO, new TestIdentity());
  });

  after(async () => {
    await cm.close();
    await Promise.all([fast, slow, ...five].map(stop));
  });

  it('LEAST_REQUEST sends most traffic to the faster of two endpoints (1,000 requests, concurrency 8)', async () => {
    apply('LEAST_REQUEST', eps([fast, slow]));
    const t = tally(await run(cm, 1000, 8, () => undefined));
    // Power of two choices: with 8 in flight the slow endpoint (20 ms) holds more of them, so it
    // loses every draw against the fast one except when both draws hit it (1/4) or ties. The
    // expectation is ~85-90% fast; 65% leaves a wide margin for a loaded machine.
    assert.ok((t['fast'] ?? 0) >= 650, `fast got ${t['fast']}/1000 (slow ${t['slow']})`);
    // Round robin for contrast would split 50/50 regardless of latency.
  });

  for (const policy of ['RING_HASH', 'MAGLEV'] as const) {
    it(`${policy}: each key stays on one endpoint; removing 1 of 5 moves only about 1/5 of 1,000 keys`, async () => {
      apply(policy, eps(five));
      const key = (i: number): string => `user-${i}`;
      const first = await run(cm, 1000, 16, key);
      const again = await run(cm, 1000, 16, key);
      assert.deepEqual(again, first, 'same set -> same endpoint for every key');
      const spread = tally(first);
      // 5 endpoints: about 200 keys each; each has at least 100 (a very loose balance check).
      for (const b of five) assert.ok((spread[b.name] ?? 0) >= 100, `${b.name} owns ${spread[b.name]} keys: ${JSON.stringify(spread)}`);

      apply(policy, eps(five.slice(0, 4)));
      const after = await run(cm, 1000, 16, key);
      let moved = 0;
      let movedOthers = 0;
      for (let i = 0; i < 1000; i++) {
        if (after[i] === first[i]) continue;
        moved++;
        if (first[i] !== 'e4') movedOthers++;
      }
      // The keys e4 owned (~1/5) must move; a ring moves nothing else, Maglev a little.
      assert.equal(after.includes('e4'), false);
      assert.ok(moved <= 1000 / 5 + 80, `${moved} keys moved`);
      if (policy === 'RING_HASH') assert.equal(movedOthers, 0, 'ring: keys of remaining endpoints stay');
      else assert.ok(movedOthers <= 50, `maglev moved ${movedOthers} keys between remaining endpoints`);

      // Adding it back returns every key to where it was (the ring/table depends only on the set).
      apply(policy, eps(five));
      assert.deepEqual(await run(cm, 1000, 16, key), first);
    });
  }

  it('RING_HASH without a hash key spreads at random', async () => {
    apply('RING_HASH', eps(five));
    const t = tally(await run(cm, 500, 8, () => undefined));
    // 100 expected each; binomial sd ~9; 50 is > 5 sd away.
    for (const b of five) assert.ok((t[b.name] ?? 0) >= 50, JSON.stringify(t));
  });

  it('healthy panic threshold: below it, traffic goes to every endpoint; 0 (the default) never panics', async () => {
    const list = (): Ep[] => [{ address: '127.0.0.1', port: five[0]!.port }, ...eps(five.slice(1, 4), 'UNHEALTHY')];
    apply('ROUND_ROBIN', list());
    assert.deepEqual(tally(await run(cm, 40, 1, () => undefined)), { e0: 40 });
    apply('ROUND_ROBIN', list(), { commonLbConfig: { healthyPanicThreshold: { value: 50 } } });
    // 1 of 4 healthy = 25% < 50%: panic, round robin over all four.
    assert.deepEqual(tally(await run(cm, 40, 1, () => undefined)), { e0: 10, e1: 10, e2: 10, e3: 10 });
    assert.ok(cm.stats()[`cluster.${C}.lb_healthy_panic`]! >= 40);
  });

  it('RANDOM honours endpoint weights (3:1 over 2,000 requests)', async () => {
    cm.update(
      ...maps(
        [cluster(C, { lbPolicy: 'RANDOM' })],
        [
          {
            clusterName: C,
            endpoints: [
              {
                lbEndpoints: [
                  { endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: five[0]!.port } } }, loadBalancingWeight: { value: 3 } },
                  { endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: five[1]!.port } } }, loadBalancingWeight: { value: 1 } },
                ],
              },
            ],
          },
        ],
      ),
    );
    const t = tally(await run(cm, 2000, 16, () => undefined));
    // Expected 1500 (sd ~19); +-100 is > 5 sd.
    assert.ok(Math.abs((t['e0'] ?? 0) - 1500) <= 100, JSON.stringify(t));
  });
});
