import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import { runControl, type ControlPlane } from '../../src/control/main.js';
import { createMemoryLogger } from '../../src/control/log.js';
import { outboundClusterName, serviceFqdn } from '../../src/xds/names.js';
import { AdsTestClient, T, fakePipeline, serviceResource, tmpStateDir, waitFor, workload } from './helpers.js';

async function start(debounceMs = 50): Promise<{ cp: ControlPlane; log: ReturnType<typeof createMemoryLogger> }> {
  const log = createMemoryLogger();
  const cp = await runControl({
    stateDir: await tmpStateDir(),
    ports: { xds: 0, xdsTls: 0, api: 0, monitoring: 0 },
    pipeline: fakePipeline,
    debounceMs,
    log,
  });
  return { cp, log };
}

const target = (cp: ControlPlane) => `127.0.0.1:${cp.ports.xds}`;
const names = (res: { resources: Record<string, unknown>[] }) => res.resources.map((r) => (r['name'] ?? r['clusterName']) as string);
const cluster = (ns: string, svc: string, port: number) => outboundClusterName(port, serviceFqdn(svc, ns));

async function metric(cp: ControlPlane, line: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${cp.ports.monitoring}/metrics`)).text();
  const hit = text.split('\n').find((l) => l.startsWith(`${line} `));
  return hit ? Number(hit.slice(line.length + 1)) : 0;
}

test('ads: CDS and LDS by wildcard, ACK, EDS and RDS by name (only the names asked for)', async () => {
  const { cp } = await start();
  const client = new AdsTestClient(target(cp), { namespace: 'default', pod: 'reviews-1', ip: '127.0.0.2' });
  try {
    await cp.store.apply([serviceResource('default', 'reviews', 9080), serviceResource('default', 'ratings', 9080)]);
    await cp.registry.put(workload('default', 'reviews-1', '127.0.0.2', { app: 'reviews' }));
    cp.ads.rebuild();

    client.request(T.cluster);
    const cds = await client.next(T.cluster);
    assert.deepEqual(names(cds), [cluster('default', 'ratings', 9080), cluster('default', 'reviews', 9080)]);
    assert.equal(cds.resources[0]!['@type'], T.cluster);
    client.ack(cds);
    client.request(T.listener);
    const lds = await client.next(T.listener);
    assert.deepEqual(names(lds), ['virtualOutbound']);
    client.ack(lds);

    client.request(T.endpoint, { resourceNames: [cluster('default', 'reviews', 9080), 'outbound|1||nope'] });
    const eds = await client.next(T.endpoint);
    assert.deepEqual(names(eds), [cluster('default', 'reviews', 9080)]);
    const lb = (eds.resources[0] as { endpoints: { lbEndpoints: { endpoint: { address: { socketAddress: { address: string } } } }[] }[] }).endpoints[0]!.lbEndpoints;
    assert.deepEqual(lb.map((e) => e.endpoint.address.socketAddress.address), ['127.0.0.2']);
    client.ack(eds, [cluster('default', 'reviews', 9080), 'outbound|1||nope']);

    client.request(T.route, { resourceNames: ['http_proxy'] });
    const rds = await client.next(T.route);
    assert.deepEqual(names(rds), ['http_proxy']);
    client.ack(rds, ['http_proxy']);

    await waitFor(() => {
      const p = cp.ads.proxies()[0];
      return !!p && ['CDS', 'LDS', 'EDS', 'RDS'].every((t) => p.types[t as 'CDS'].status === 'SYNCED');
    }, 3000, 'SYNCED');
    const p = cp.ads.proxies()[0]!;
    assert.equal(p.id, client.node.id);
    assert.equal(p.pod, 'reviews-1');
    assert.equal(p.types.CDS.ackedVersion, cds.versionInfo);
    assert.equal(p.types.SDS.status, 'NOT SENT');
    const config = cp.ads.proxyConfig(client.node.id)!;
    assert.equal(config.CDS.length, 2);

    // Growing the EDS subscription (an ACK with more names) answers with the larger set.
    client.request(T.endpoint, { versionInfo: eds.versionInfo, responseNonce: eds.nonce, resourceNames: [cluster('default', 'reviews', 9080), cluster('default', 'ratings', 9080)] });
    const eds2 = await client.next(T.endpoint);
    assert.deepEqual(names(eds2), [cluster('default', 'ratings', 9080), cluster('default', 'reviews', 9080)]);
  } finally {
    client.close();
    await cp.close();
  }
});

test('ads: a NACK is counted, logged once, and shows STALE with the error; stale nonces are ignored', async () => {
  const { cp, log } = await start();
  const client = new AdsTestClient(target(cp), { namespace: 'default', pod: 'p', ip: '127.0.0.3' });
  try {
    await cp.store.apply([serviceResource('default', 'reviews', 9080)]);
    await cp.registry.put(workload('default', 'p', '127.0.0.3'));
    cp.ads.rebuild();
    client.request(T.cluster);
    const cds = await client.next(T.cluster);
    client.request(T.cluster, { versionInfo: '', responseNonce: cds.nonce, errorDetail: { code: 3, message: 'cluster outbound|9080: bad lbPolicy' } });
    await waitFor(() => cp.ads.proxies()[0]?.types.CDS.status === 'STALE' && cp.ads.proxies()[0]?.types.CDS.lastError !== undefined, 3000, 'STALE');
    const st = cp.ads.proxies()[0]!.types.CDS;
    assert.equal(st.lastError, 'cluster outbound|9080: bad lbPolicy');
    assert.equal(st.sentVersion, cds.versionInfo);
    assert.equal(st.ackedVersion, undefined);
    assert.equal(await metric(cp, 'weft_xds_rejects_total{type="CDS"}'), 1);
    // A stale nonce (not the last one sent) changes nothing.
    client.request(T.cluster, { versionInfo: cds.versionInfo, responseNonce: 'bogus-1' });
    await client.drain(150);
    assert.equal(cp.ads.proxies()[0]!.types.CDS.status, 'STALE');
    assert.equal(log.lines.filter((l) => l.includes('rejected CDS')).length, 1);
    // Nothing changed, so nothing is re-sent after a NACK.
    assert.equal(client.received.length, 0);
  } finally {
    client.close();
    await cp.close();
  }
});

async function subscribeAll(c: AdsTestClient, edsNames: string[]): Promise<void> {
  c.request(T.cluster);
  c.ack(await c.next(T.cluster));
  c.request(T.listener);
  c.ack(await c.next(T.listener));
  c.request(T.route, { resourceNames: ['http_proxy'] });
  c.ack(await c.next(T.route), ['http_proxy']);
  c.request(T.endpoint, { resourceNames: edsNames });
  c.ack(await c.next(T.endpoint), edsNames);
}

test('ads: a change pushes only the changed types, CDS before RDS, only to the proxy it affects', async () => {
  const { cp } = await start(30);
  const a = new AdsTestClient(target(cp), { namespace: 'ns-a', pod: 'a-1', ip: '127.0.0.4' });
  const b = new AdsTestClient(target(cp), { namespace: 'ns-b', pod: 'b-1', ip: '127.0.0.5' });
  try {
    await cp.store.apply([serviceResource('ns-a', 'svc', 80), serviceResource('ns-b', 'svc', 80)]);
    await cp.registry.put(workload('ns-a', 'a-1', '127.0.0.4', { app: 'svc' }));
    await cp.registry.put(workload('ns-b', 'b-1', '127.0.0.5', { app: 'svc' }));
    cp.ads.rebuild();
    await subscribeAll(a, [cluster('ns-a', 'svc', 80)]);
    await subscribeAll(b, [cluster('ns-b', 'svc', 80)]);
    const pushesBefore = await metric(cp, 'weft_xds_pushes_total{type="CDS"}');

    await cp.store.apply([serviceResource('ns-a', 'extra', 81)]);
    const cds = await a.next(T.cluster, 3000);
    assert.deepEqual(names(cds), [cluster('ns-a', 'svc', 80), cluster('ns-a', 'extra', 81)]);
    const gotA = [cds, ...(await a.drain(300))];
    assert.deepEqual(gotA.map((r) => r.typeUrl), [T.cluster, T.route], 'only CDS and RDS changed for a, in that order');
    assert.deepEqual(await b.drain(50), [], 'b is not affected');
    assert.equal(await metric(cp, 'weft_xds_pushes_total{type="CDS"}'), pushesBefore + 1);
    // The new cluster's endpoints come when a asks for them.
    a.ack(cds);
    const eds = cp.ads.proxyConfig(a.node.id)!.EDS;
    assert.equal(eds.length, 1);
  } finally {
    a.close();
    b.close();
    await cp.close();
  }
});

test('ads: a burst of changes is collapsed into one rebuild and one push', async () => {
  const { cp } = await start(100);
  const c = new AdsTestClient(target(cp), { namespace: 'default', pod: 'p', ip: '127.0.0.6' });
  try {
    await cp.registry.put(workload('default', 'p', '127.0.0.6'));
    cp.ads.rebuild();
    c.request(T.cluster);
    c.ack(await c.next(T.cluster));
    await new Promise((r) => setTimeout(r, 200)); // let the registry change's debounced rebuild pass
    const before = cp.metrics.rebuilds.get();
    for (let i = 0; i < 5; i++) {
      await cp.store.apply([serviceResource('default', `s${i}`, 80)]);
      await new Promise((r) => setTimeout(r, 15));
    }
    const got = await c.drain(500);
    assert.equal(cp.metrics.rebuilds.get(), before + 1);
    assert.equal(got.length, 1);
    assert.equal(got[0]!.resources.length, 5);
  } finally {
    c.close();
    await cp.close();
  }
});

test('ads: a proxy whose workload is unknown gets nothing until the platform registers it', async () => {
  const { cp } = await start(30);
  const c = new AdsTestClient(target(cp), { namespace: 'default', pod: 'late', ip: '127.0.0.7' });
  try {
    c.request(T.cluster);
    c.request(T.listener);
    assert.deepEqual(await c.drain(200), []);
    await waitFor(() => cp.ads.proxies().length === 1, 2000, 'proxy listed');
    assert.equal(cp.ads.proxies()[0]!.workloadKnown, false);
    await cp.registry.put(workload('default', 'late', '127.0.0.7'));
    const first = await c.next(undefined, 3000);
    assert.equal(first.typeUrl, T.cluster, 'CDS before LDS');
    await c.next(T.listener, 3000);
  } finally {
    c.close();
    await cp.close();
  }
});

test('ads: a bad node id ends the stream with INVALID_ARGUMENT; close() ends streams with OK', async () => {
  const { cp } = await start();
  const bad = new AdsTestClient(target(cp), { namespace: 'default', pod: 'x', ip: '1.2.3.4' });
  const good = new AdsTestClient(target(cp), { namespace: 'default', pod: 'y', ip: '127.0.0.8' });
  try {
    (bad.node as { id: string }).id = 'not-a-node-id';
    bad.request(T.cluster);
    await waitFor(() => bad.status !== undefined, 3000, 'bad status');
    assert.equal(bad.status!.code, grpc.status.INVALID_ARGUMENT);
    good.request(T.cluster);
    await waitFor(() => cp.ads.connectedCount === 1, 3000, 'connected');
    await cp.close();
    await waitFor(() => good.status !== undefined, 3000, 'good status');
    assert.equal(good.status!.code, grpc.status.OK);
  } finally {
    bad.close();
    good.close();
    await cp.close();
  }
});
