// Delta (incremental) ADS on the control plane (src/control/ads-delta.ts): a raw
// grpc-js DeltaAggregatedResources client against the real server; and the
// deltas between selections (snapshot.ts deltaBetween) on their own.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { runControl, type ControlPlane } from '../../src/control/main.js';
import { createMemoryLogger } from '../../src/control/log.js';
import { outboundClusterName, serviceFqdn } from '../../src/xds/names.js';
import { buildSnapshotFromGroups, deltaBetween, deltaFromVersions } from '../../src/control/snapshot.js';
import type { DeltaDiscoveryResponse } from '../../src/xds/ads-service.js';
import { updatedNames } from '../../src/control/ads-subscriptions.js';
import { DeltaTestClient, T, fakePipeline, serviceResource, tmpStateDir, waitFor, workload } from './helpers.js';

/** A control plane with the test pipeline, or (`real`) the real model and generator (which share resources between proxies). */
async function start(real = false, log = createMemoryLogger()): Promise<ControlPlane> {
  return runControl({ stateDir: await tmpStateDir(), ports: { xds: 0, xdsTls: 0, api: 0, monitoring: 0 }, ...(real ? {} : { pipeline: fakePipeline }), debounceMs: 30, log });
}

const target = (cp: ControlPlane) => `127.0.0.1:${cp.ports.xds}`;
const cluster = (ns: string, svc: string, port: number) => outboundClusterName(port, serviceFqdn(svc, ns));
const names = (r: DeltaDiscoveryResponse) => (r.resources ?? []).map((x) => x.name!);
const addresses = (r: DeltaDiscoveryResponse) =>
  (r.resources ?? []).flatMap((x) => (x.resource as { endpoints: { lbEndpoints: { endpoint: { address: { socketAddress: { address: string } } } }[] }[] }).endpoints[0]!.lbEndpoints.map((e) => e.endpoint.address.socketAddress.address));

test('delta ads: wildcard CDS and LDS, EDS by name; ACKs are a nonce; a change sends only what changed; absent and deleted names are removed', async () => {
  const cp = await start();
  const c = new DeltaTestClient(target(cp), { namespace: 'default', pod: 'reviews-1', ip: '127.0.0.2' });
  const reviews = cluster('default', 'reviews', 9080);
  const ratings = cluster('default', 'ratings', 9080);
  try {
    await cp.store.apply([serviceResource('default', 'reviews', 9080), serviceResource('default', 'ratings', 9080)]);
    await cp.registry.put(workload('default', 'reviews-1', '127.0.0.2', { app: 'reviews' }));
    cp.ads.rebuild();

    c.request(T.cluster);
    const cds = await c.next(T.cluster);
    assert.deepEqual(names(cds), [ratings, reviews]);
    assert.equal(cds.resources![0]!.resource!['@type'], T.cluster);
    assert.match(cds.resources![0]!.version!, /^[0-9a-f]{16}$/, 'each resource carries its version');
    assert.deepEqual(cds.removedResources ?? [], []);
    c.ack(cds);
    c.request(T.listener);
    c.ack(await c.next(T.listener));

    // A name that does not exist is answered as removed, so the proxy need not wait for it.
    c.request(T.endpoint, { resourceNamesSubscribe: [reviews, 'outbound|1||nope'] });
    const eds = await c.next(T.endpoint);
    assert.deepEqual(names(eds), [reviews]);
    assert.deepEqual(addresses(eds), ['127.0.0.2']);
    assert.deepEqual(eds.removedResources, ['outbound|1||nope']);
    c.ack(eds);
    await waitFor(() => ['CDS', 'LDS', 'EDS'].every((t) => cp.ads.proxies()[0]?.types[t as 'CDS'].status === 'SYNCED'), 3000, 'SYNCED');
    assert.equal(cp.ads.proxies()[0]!.protocol, 'delta');

    // An endpoint change: that one ClusterLoadAssignment, nothing else.
    await cp.registry.put(workload('default', 'reviews-2', '127.0.0.3', { app: 'reviews' }));
    const eds2 = await c.next(T.endpoint);
    assert.deepEqual(names(eds2), [reviews]);
    assert.deepEqual(addresses(eds2).sort(), ['127.0.0.2', '127.0.0.3']);
    assert.deepEqual(eds2.removedResources ?? [], []);
    c.ack(eds2);
    assert.deepEqual((await c.drain(150)).map((r) => r.typeUrl), [], 'no CDS or LDS: they did not change');

    // Subscribing another name answers with it alone; unsubscribing is not answered;
    // subscribing it again sends it again though it did not change (the proxy dropped it).
    c.request(T.endpoint, { resourceNamesSubscribe: [ratings] });
    const eds3 = await c.next(T.endpoint);
    assert.deepEqual(names(eds3), [ratings]);
    c.ack(eds3);
    c.request(T.endpoint, { resourceNamesUnsubscribe: [ratings] });
    assert.deepEqual(await c.drain(150), []);
    c.request(T.endpoint, { resourceNamesSubscribe: [ratings] });
    const eds4 = await c.next(T.endpoint);
    assert.deepEqual(names(eds4), [ratings]);
    c.ack(eds4);

    // Deleting a service: its cluster and its endpoints are removed, nothing is resent.
    await cp.store.delete('Service', 'default', 'ratings');
    const cds2 = await c.next(T.cluster);
    assert.deepEqual(names(cds2), []);
    assert.deepEqual(cds2.removedResources, [ratings]);
    c.ack(cds2);
    const eds5 = await c.next(T.endpoint);
    assert.deepEqual(names(eds5), []);
    assert.deepEqual(eds5.removedResources, [ratings]);
    c.ack(eds5);
    await waitFor(() => cp.ads.proxies()[0]!.types.EDS.status === 'SYNCED', 3000, 'EDS SYNCED');
    assert.deepEqual(
      cp.ads.proxyConfig(c.node.id)!.EDS.map((r) => r['clusterName']),
      [reviews],
      'the config view is what the proxy holds',
    );
  } finally {
    c.close();
    await cp.close();
  }
});

test('delta ads: a reconnecting proxy says what it holds; only what differs is sent, what the server lacks is removed', async () => {
  const cp = await start();
  const reviews = cluster('default', 'reviews', 9080);
  const ratings = cluster('default', 'ratings', 9080);
  const node = { namespace: 'default', pod: 'reviews-1', ip: '127.0.0.2' };
  try {
    await cp.store.apply([serviceResource('default', 'reviews', 9080), serviceResource('default', 'ratings', 9080)]);
    await cp.registry.put(workload('default', 'reviews-1', '127.0.0.2', { app: 'reviews' }));
    cp.ads.rebuild();
    const first = new DeltaTestClient(target(cp), node);
    first.request(T.cluster);
    const cds = await first.next(T.cluster);
    first.close();
    const held = Object.fromEntries(cds.resources!.map((r) => [r.name!, r.version!]));

    const same = new DeltaTestClient(target(cp), node);
    same.request(T.cluster, { initialResourceVersions: held });
    const none = await same.next(T.cluster);
    assert.deepEqual(names(none), [], 'holding every version: an empty answer (it is answered: the proxy knows it is current)');
    assert.deepEqual(none.removedResources ?? [], []);
    same.close();

    const stale = new DeltaTestClient(target(cp), node);
    stale.request(T.cluster, { initialResourceVersions: { ...held, [ratings]: '0000000000000000', 'outbound|1||gone': 'abc' } });
    const some = await stale.next(T.cluster);
    assert.deepEqual(names(some), [ratings]);
    assert.deepEqual(some.removedResources, ['outbound|1||gone']);
    assert.ok(held[reviews]);
    stale.close();
  } finally {
    await cp.close();
  }
});

test('delta ads: one response per type awaits its ACK, changes meanwhile coalesce; a NACK keeps the proxy where it was and the next change resends what it rejected', async () => {
  const cp = await start();
  const c = new DeltaTestClient(target(cp), { namespace: 'default', pod: 'p-1', ip: '127.0.0.4' });
  try {
    await cp.store.apply([serviceResource('default', 'a', 80)]);
    await cp.registry.put(workload('default', 'p-1', '127.0.0.4', { app: 'p' }));
    cp.ads.rebuild();
    c.request(T.cluster);
    const cds = await c.next(T.cluster);
    assert.deepEqual(names(cds), [cluster('default', 'a', 80)]);

    // Not ACKed: two changes wait, then come as one response on the ACK.
    await cp.store.apply([serviceResource('default', 'b', 80)]);
    cp.ads.rebuildNow();
    await cp.store.apply([serviceResource('default', 'c', 80)]);
    cp.ads.rebuildNow();
    assert.deepEqual(await c.drain(200), [], 'nothing while the last response awaits its ACK');
    c.ack(cds);
    const both = await c.next(T.cluster);
    assert.deepEqual(names(both), [cluster('default', 'b', 80), cluster('default', 'c', 80)]);

    // NACKed: the proxy keeps a only (as far as the server knows); STALE with the error.
    c.request(T.cluster, { responseNonce: both.nonce!, errorDetail: { code: 3, message: 'cluster b is bad' } });
    await waitFor(() => cp.ads.proxies()[0]!.types.CDS.lastError === 'cluster b is bad', 3000, 'the NACK recorded');
    assert.equal(cp.ads.proxies()[0]!.types.CDS.status, 'STALE');
    assert.deepEqual(await c.drain(150), [], 'a rejected config is not sent again unchanged');

    await cp.store.apply([serviceResource('default', 'd', 80)]);
    const again = await c.next(T.cluster);
    assert.deepEqual(names(again), [cluster('default', 'b', 80), cluster('default', 'c', 80), cluster('default', 'd', 80)], 'b and c again, with d');
    c.ack(again);
    await waitFor(() => cp.ads.proxies()[0]!.types.CDS.status === 'SYNCED', 3000, 'SYNCED after the ACK');
  } finally {
    c.close();
    await cp.close();
  }
});

test('delta ads: proxies of a namespace moving between the same selections share one encoded response', async () => {
  const cp = await start(true);
  const a = new DeltaTestClient(target(cp), { namespace: 'default', pod: 'a-1', ip: '127.0.0.5' });
  const b = new DeltaTestClient(target(cp), { namespace: 'default', pod: 'b-1', ip: '127.0.0.6' });
  const svc = cluster('default', 'svc', 80);
  try {
    await cp.store.apply([serviceResource('default', 'svc', 80)]);
    await cp.registry.put(workload('default', 'a-1', '127.0.0.5', { app: 'a' }));
    await cp.registry.put(workload('default', 'b-1', '127.0.0.6', { app: 'b' }));
    cp.ads.rebuild();
    for (const c of [a, b]) {
      c.request(T.endpoint, { resourceNamesSubscribe: [svc] });
      c.ack(await c.next(T.endpoint));
    }
    await cp.registry.put(workload('default', 'svc-1', '127.0.0.7', { app: 'svc' }));
    const ea = await a.next(T.endpoint);
    const eb = await b.next(T.endpoint);
    assert.deepEqual(addresses(ea), ['127.0.0.7']);
    assert.equal(ea.nonce, eb.nonce, 'one response, encoded once, written to both');
  } finally {
    a.close();
    b.close();
    await cp.close();
  }
});

test('delta: deltas between selections are memoized per pair; a proxy\'s own sets diff group by group, a resource moving between groups is not removed', () => {
  const c = (name: string, port: number) => ({ name, type: 'STATIC', connectTimeout: { seconds: port } });
  const ns1 = [c('x', 1), c('y', 1)];
  const ns2 = [c('x', 1), c('y', 2), c('z', 1)];
  const own = [c('inbound', 1)];
  const empty = { listeners: [], routes: [], endpoints: [], secrets: [] };
  const s1 = buildSnapshotFromGroups({ ...empty, clusters: [own, ns1] }).CDS.all();
  const s2 = buildSnapshotFromGroups({ ...empty, clusters: [own, ns2] }).CDS.all();
  const d = deltaBetween(s1, s2);
  assert.deepEqual(d.resources.map((r) => r.name), ['y', 'z']);
  assert.deepEqual(d.removed, []);
  assert.equal(deltaBetween(s1, s2), d, 'memoized');
  const back = deltaBetween(s2, s1);
  assert.deepEqual(back.resources.map((r) => r.name), ['y']);
  assert.deepEqual(back.removed, ['z']);

  // 'inbound' moves from the proxy's own group to the namespace's: sent (new group) and not removed.
  const s3 = buildSnapshotFromGroups({ ...empty, clusters: [[c('other', 1)], [...ns1, c('inbound', 1)]] }).CDS.all();
  const moved = deltaBetween(s1, s3);
  assert.deepEqual(moved.resources.map((r) => r.name).sort(), ['inbound', 'other']);
  assert.deepEqual(moved.removed, []);

  const whole = deltaBetween(undefined, s2);
  assert.equal(whole.resources.length, 4);
  assert.equal(whole.groups?.length, 2, 'a first response is whole groups (their encoded runs are reused)');
  const fromVersions = deltaFromVersions(new Map([['x', s2.resources.find((r) => r.name === 'x')!.version], ['gone', 'v']]), s2);
  assert.deepEqual(fromVersions.resources.map((r) => r.name), ['inbound', 'y', 'z']);
  assert.deepEqual(fromVersions.removed, ['gone']);
});

test('delta: a subscription\'s names after a request are merged in order, unique, without the unsubscribed', () => {
  assert.deepEqual(updatedNames([], ['c', 'a', 'b', 'a'], []), ['a', 'b', 'c']);
  assert.deepEqual(updatedNames(['a', 'c', 'e'], ['b', 'c', 'f'], ['e', 'x']), ['a', 'b', 'c', 'f']);
  assert.deepEqual(updatedNames(['a', 'b'], [], ['a', 'b']), []);
  assert.deepEqual(updatedNames(['b'], ['b'], ['b']), [], 'subscribed and unsubscribed in one request: gone');
});

test('delta ads: "*" subscribes a type to everything and unsubscribing it ends that; a type weft does not serve is ignored and logged once', async () => {
  const log = createMemoryLogger();
  const cp = await start(false, log);
  const c = new DeltaTestClient(target(cp), { namespace: 'default', pod: 'p-1', ip: '127.0.0.8' });
  const a = cluster('default', 'a', 80);
  const b = cluster('default', 'b', 80);
  try {
    await cp.store.apply([serviceResource('default', 'a', 80), serviceResource('default', 'b', 80)]);
    await cp.registry.put(workload('default', 'p-1', '127.0.0.8', { app: 'p' }));
    cp.ads.rebuild();
    // EDS is a named type: '*' asks for every assignment there is.
    c.request(T.endpoint, { resourceNamesSubscribe: ['*'] });
    const all = await c.next(T.endpoint);
    assert.deepEqual(names(all).sort(), [a, b]);
    c.ack(all);
    // Unsubscribing '*' while naming one: from then on that one only.
    c.request(T.endpoint, { resourceNamesSubscribe: [a], resourceNamesUnsubscribe: ['*'] });
    const one = await c.next(T.endpoint);
    assert.deepEqual(names(one), [a]);
    c.ack(one);
    await cp.registry.put(workload('default', 'b-1', '127.0.0.9', { app: 'b' }));
    assert.deepEqual(await c.drain(200), [], 'a change to b is not sent: b is no longer subscribed');

    c.request('type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration', { resourceNamesSubscribe: ['x'] });
    c.request('type.googleapis.com/envoy.config.route.v3.ScopedRouteConfiguration', { resourceNamesSubscribe: ['y'] });
    await waitFor(() => log.lines.some((l) => l.includes('ScopedRouteConfiguration')), 3000, 'the unsupported type logged');
    assert.equal(log.lines.filter((l) => l.includes('ScopedRouteConfiguration')).length, 1, 'logged once');
    assert.deepEqual(await c.drain(100), []);
  } finally {
    c.close();
    await cp.close();
  }
});

test('ads: garbage on either ADS method ends that stream with an error status; the control plane keeps serving', async () => {
  const cp = await start();
  try {
    await cp.store.apply([serviceResource('default', 'a', 80)]);
    await cp.registry.put(workload('default', 'p-1', '127.0.0.10', { app: 'p' }));
    cp.ads.rebuild();
    const session = http2.connect(`http://${target(cp)}`);
    session.on('error', () => {});
    for (const method of ['StreamAggregatedResources', 'DeltaAggregatedResources']) {
      const stream = session.request({ ':method': 'POST', ':path': `/envoy.service.discovery.v3.AggregatedDiscoveryService/${method}`, 'content-type': 'application/grpc', te: 'trailers' });
      const trailers = new Promise<http2.IncomingHttpHeaders>((resolve) => {
        stream.on('trailers', resolve);
        stream.on('response', (h) => h['grpc-status'] !== undefined && resolve(h)); // trailers-only
      });
      stream.on('error', () => {});
      stream.resume();
      const junk = Buffer.from([0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f, 0x01, 0x02]); // a length-delimited field longer than the message
      const frame = Buffer.alloc(5 + junk.length);
      frame.writeUInt32BE(junk.length, 1);
      junk.copy(frame, 5);
      stream.end(frame);
      const t = await trailers;
      assert.notEqual(String(t['grpc-status']), '0', `${method}: an error status, not OK`);
    }
    session.close();
    // A good client still gets its config.
    const c = new DeltaTestClient(target(cp), { namespace: 'default', pod: 'p-1', ip: '127.0.0.10' });
    c.request(T.cluster);
    assert.deepEqual(names(await c.next(T.cluster)), [cluster('default', 'a', 80)]);
    c.close();
  } finally {
    await cp.close();
  }
});
