import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TYPE } from '../../src/xds/codec.js';
import { parseNodeId } from '../../src/xds/names.js';
import { XdsClient, type XdsEvent } from '../../src/proxy/core/xds-client.js';
import { KINDS } from '../../src/proxy/core/xds-state.js';
import { TestAdsServer } from './helpers/ads-server.js';
import { RecordingDataPlane } from './helpers/fake-data-plane.js';
import { cla, edsCluster, hcmListener, inboundListener, rootSecret, routeConfig, staticCluster, until } from './helpers/resources.js';

const OUT = 'outbound|9080||reviews.shop.svc.cluster.local';
const OUT2 = 'outbound|9080||ratings.shop.svc.cluster.local';

/** A client against a fresh test ADS server (holding the base config unless `bare`); both stopped afterwards. */
async function withClient(fn: (server: TestAdsServer, dp: RecordingDataPlane, c: XdsClient) => Promise<void>, opts: { bare?: boolean } = {}): Promise<void> {
  const server = new TestAdsServer();
  await server.start();
  if (!opts.bare) baseConfig(server);
  const dp = new RecordingDataPlane();
  const c = client(server, dp);
  try {
    await fn(server, dp, c);
  } finally {
    await c.stop();
    server.kill();
  }
}

function client(server: TestAdsServer, dp: RecordingDataPlane): XdsClient {
  return new XdsClient({
    target: { address: server.address },
    node: { type: 'sidecar', ip: '127.10.0.5', pod: 'productpage-1', namespace: 'shop', serviceAccount: 'productpage', labels: { app: 'productpage', version: 'v1' } },
    dataPlane: dp,
    backoffInitialMs: 50,
    backoffMaxMs: 300,
  });
}

function baseConfig(server: TestAdsServer): void {
  server.set(TYPE.listener, 'l1', [hcmListener('virtualOutbound', 15001, 'http_proxy'), inboundListener(9080)]);
  server.set(TYPE.cluster, 'c1', [edsCluster(OUT), staticCluster('inbound|9080||')]);
  server.set(TYPE.route, 'r1', [routeConfig('http_proxy', OUT), routeConfig('inbound|9080', 'inbound|9080||'), routeConfig('unreferenced', OUT)]);
  server.set(TYPE.endpoint, 'e1', [cla(OUT, [{ address: '127.10.0.7', port: 9080, health: 'HEALTHY' }]), cla(OUT2, [{ address: '127.10.0.8', port: 9080, health: 'HEALTHY' }])]);
  server.set(TYPE.secret, 's1', [rootSecret('-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n')]);
}

const isAck = (type: string, version: string) => (r: { typeUrl?: string; versionInfo?: string; responseNonce?: string; errorDetail?: unknown }) =>
  r.typeUrl === type && r.versionInfo === version && !!r.responseNonce && !r.errorDetail;

test('subscribes LDS/CDS wildcard, then RDS/EDS/SDS by name; ACKs each response with its nonce', async () => {
  await withClient(async (server, dp, c) => {
    c.start();
    await until(() => c.status().types.EDS.accepted > 0 && c.status().types.RDS.accepted > 0 && c.status().types.SDS.accepted > 0, 'all types accepted');

    const first = server.requests[0]!;
    assert.equal(first.node?.id, 'sidecar~127.10.0.5~productpage-1.shop~shop.svc.cluster.local');
    assert.deepEqual(parseNodeId(first.node!.id!), { type: 'sidecar', ip: '127.10.0.5', pod: 'productpage-1', namespace: 'shop' });
    const md = first.node!.metadata as { fields: Record<string, { stringValue?: string; structValue?: { fields: Record<string, { stringValue: string }> } }> };
    assert.equal(md.fields['NAMESPACE']!.stringValue, 'shop');
    assert.equal(md.fields['POD_NAME']!.stringValue, 'productpage-1');
    assert.equal(md.fields['SERVICE_ACCOUNT']!.stringValue, 'productpage');
    assert.equal(md.fields['INSTANCE_IPS']!.stringValue, '127.10.0.5');
    assert.equal(md.fields['LABELS']!.structValue!.fields['app']!.stringValue, 'productpage');
    assert.deepEqual(first.node!.clientFeatures, ['weft.ads.grpc-encoding.gzip', 'weft.vhds'], 'it reads gzipped responses, and VHDS (on delta streams)');
    assert.equal(c.status().protocol, 'sotw', 'this test server has no delta xDS (UNIMPLEMENTED): the client speaks state of the world');

    const lds = server.requests.find((r) => r.typeUrl === TYPE.listener)!;
    assert.deepEqual(lds.resourceNames ?? [], []);
    const eds = await server.waitForRequest((r) => r.typeUrl === TYPE.endpoint);
    assert.deepEqual(eds.resourceNames, [OUT], 'EDS names from EDS clusters only');
    const rds = await server.waitForRequest((r) => r.typeUrl === TYPE.route);
    assert.deepEqual(rds.resourceNames, ['http_proxy', 'inbound|9080']);
    const sds = await server.waitForRequest((r) => r.typeUrl === TYPE.secret);
    assert.deepEqual(sds.resourceNames, ['ROOTCA'], 'ROOTCA only; the "default" secret is never asked for');

    // ACKs carry the response's version and nonce.
    for (const [type, v] of [[TYPE.listener, 'l1'], [TYPE.cluster, 'c1'], [TYPE.route, 'r1'], [TYPE.endpoint, 'e1'], [TYPE.secret, 's1']] as const) {
      const ack = await server.waitForRequest(isAck(type, v));
      const sent = [...server.streams][0]!.subs.get(type)!.sentNonce;
      assert.equal(ack.responseNonce, sent, `${type}: ACK carries the nonce of the response`);
    }
    const snap = c.snapshot();
    assert.deepEqual([...snap.listeners.keys()].sort(), ['inbound|9080', 'virtualOutbound']);
    assert.deepEqual([...snap.routes.keys()].sort(), ['http_proxy', 'inbound|9080']);
    assert.deepEqual([...snap.endpoints.keys()], [OUT]);
    assert.deepEqual([...snap.secrets.keys()], ['ROOTCA']);
    assert.equal(dp.current, snap);
    assert.deepEqual(c.synced(), { lds: true, cds: true });
    const status = c.status();
    assert.equal(status.types.LDS.version, 'l1');
    assert.ok(status.types.LDS.lastUpdate instanceof Date);
    assert.equal(c.stats()['xds.nack'], 0);
    assert.ok(c.stats()['xds.ack']! >= 5);
    assert.deepEqual(
      server.requests.slice(1).filter((r) => r.node !== undefined),
      [],
      'the node goes in the first request only, not in every ACK',
    );
  });
});

test('NACKs a rejected update with the last accepted version and keeps the old config', async () => {
  await withClient(async (server, dp, c) => {
    const events: XdsEvent[] = [];
    c.onEvent((e) => events.push(e));
    c.start();
    // Every type applied first: a later RDS or SDS response would replace the snapshot this compares with (VHDS is delta only).
    await until(() => KINDS.every((k) => k === 'VHDS' || c.status().types[k].accepted > 0), 'every type accepted');
    const before = c.snapshot();
    dp.reject = (s) => (s.clusters.has('outbound|1||bad') ? 'clusters["outbound|1||bad"].lbPolicy: unsupported' : undefined);
    server.set(TYPE.cluster, 'c2', [edsCluster(OUT), edsCluster('outbound|1||bad')]);
    const nack = await server.waitForRequest((r) => r.typeUrl === TYPE.cluster && !!r.errorDetail);
    assert.equal(nack.versionInfo, 'c1', 'NACK carries the last accepted version');
    assert.equal(nack.errorDetail!.code, 3);
    assert.match(nack.errorDetail!.message!, /lbPolicy: unsupported/);
    const st = c.status().types.CDS;
    assert.equal(nack.responseNonce, st.nonce, 'NACK carries the nonce of the rejected response');
    assert.equal(c.snapshot(), before, 'old snapshot kept');
    assert.equal(dp.current, before);
    assert.equal(c.stats()['xds.nack'], 1);
    assert.equal(st.rejected, 1);
    assert.equal(st.version, 'c1');
    assert.match(st.lastError!, /unsupported/);
    assert.ok(events.some((e) => e.type === 'nack' && e.kind === 'CDS'));
    // No EDS subscription change came from the rejected CDS.
    assert.ok(!server.requests.some((r) => r.typeUrl === TYPE.endpoint && (r.resourceNames ?? []).includes('outbound|1||bad')));

    // A good update afterwards is accepted.
    dp.reject = undefined;
    server.set(TYPE.cluster, 'c3', [edsCluster(OUT), edsCluster(OUT2)]);
    await server.waitForRequest(isAck(TYPE.cluster, 'c3'));
    const eds = await server.waitForRequest((r) => r.typeUrl === TYPE.endpoint && (r.resourceNames ?? []).length === 2);
    assert.deepEqual(eds.resourceNames, [OUT2, OUT].sort());
    await until(() => c.snapshot().endpoints.has(OUT2), 'EDS for the new cluster');
  });
});

test('a malformed response (duplicate names) is NACKed without reaching the data plane', async () => {
  await withClient(async (server, dp, c) => {
    server.set(TYPE.listener, 'l1', [hcmListener('a', 1, 'r'), hcmListener('a', 2, 'r')]);
    c.start();
    const nack = await server.waitForRequest((r) => r.typeUrl === TYPE.listener && !!r.errorDetail);
    assert.match(nack.errorDetail!.message!, /duplicate LDS resource "a"/);
    assert.equal(nack.versionInfo, '');
    assert.equal(dp.attempted.length, 0);
    assert.deepEqual(c.synced(), { lds: false, cds: false });
  }, { bare: true });
});

test('removing a cluster or listener drops its endpoints / routes and updates subscriptions', async () => {
  await withClient(async (server, dp, c) => {
    c.start();
    await until(() => c.snapshot().endpoints.has(OUT) && c.snapshot().routes.has('inbound|9080'), 'synced');
    server.set(TYPE.cluster, 'c2', [staticCluster('inbound|9080||')]);
    await until(() => c.status().types.CDS.version === 'c2', 'CDS c2');
    assert.equal(c.snapshot().endpoints.size, 0);
    const unsub = await server.waitForRequest((r) => r.typeUrl === TYPE.endpoint && (r.resourceNames ?? []).length === 0 && r.versionInfo === 'e1');
    assert.ok(unsub);
    server.set(TYPE.listener, 'l2', [hcmListener('virtualOutbound', 15001, 'http_proxy')]);
    await until(() => c.status().types.LDS.version === 'l2', 'LDS l2');
    assert.deepEqual([...c.snapshot().routes.keys()], ['http_proxy']);
    await server.waitForRequest((r) => r.typeUrl === TYPE.route && (r.resourceNames ?? []).join() === 'http_proxy');
  });
});

test('reconnects after the control plane dies, serving the last config meanwhile, and resyncs', async () => {
  const server = new TestAdsServer();
  const port = await server.start();
  baseConfig(server);
  const dp = new RecordingDataPlane();
  const c = client(server, dp);
  const events: XdsEvent[] = [];
  c.onEvent((e) => events.push(e));
  try {
    c.start();
    await until(() => c.status().types.EDS.accepted > 0 && c.status().types.RDS.accepted > 0, 'synced');
    const good = c.snapshot();
    const appliedBefore = dp.applied.length;

    server.kill();
    await until(() => !c.status().connected, 'disconnected');
    assert.ok(events.some((e) => e.type === 'disconnected'));
    // Dead control plane for a while: the client keeps trying, and the last good config stays.
    await new Promise((r) => setTimeout(r, 700));
    assert.equal(c.snapshot(), good);
    assert.equal(dp.current, good);
    assert.deepEqual(c.synced(), { lds: true, cds: true });

    // Restarted on the same port, with the same config plus one change to EDS.
    const again = new TestAdsServer();
    await again.start(port);
    baseConfig(again);
    again.set(TYPE.endpoint, 'e2', [cla(OUT, [{ address: '127.10.0.9', port: 9080, health: 'HEALTHY' }])]);
    try {
      // The new stream re-sends subscriptions with the last accepted versions and names.
      const ldsReq = await again.waitForRequest((r) => r.typeUrl === TYPE.listener, 10_000);
      const firstAgain = again.requests.find((r) => r.streamId === ldsReq.streamId)!;
      assert.equal(firstAgain.node?.id, c.nodeId, 'a new stream names the node again, in its first request');
      assert.equal(again.requests.filter((r) => r.streamId === ldsReq.streamId && r.node !== undefined).length, 1);
      assert.equal(ldsReq.versionInfo, 'l1');
      assert.equal(ldsReq.responseNonce ?? '', '');
      const edsReq = await again.waitForRequest((r) => r.typeUrl === TYPE.endpoint && r.streamId === ldsReq.streamId);
      assert.equal(edsReq.versionInfo, 'e1');
      assert.deepEqual(edsReq.resourceNames, [OUT]);
      await until(() => c.status().types.EDS.version === 'e2', 'EDS e2 after reconnect');
      assert.equal(c.status().connected, true);
      const ep = c.snapshot().endpoints.get(OUT) as { endpoints: Array<{ lbEndpoints: Array<{ endpoint: { address: { socketAddress: { address: string } } } }> }> };
      assert.equal(ep.endpoints[0]!.lbEndpoints[0]!.endpoint.address.socketAddress.address, '127.10.0.9');
      assert.ok(dp.applied.length > appliedBefore);
      assert.ok(c.stats()['xds.stream_connects']! >= 2);
      assert.equal(c.stats()['xds.stream_disconnects'], 1);
    } finally {
      again.kill();
    }
  } finally {
    await c.stop();
  }
});

test('keeps retrying while no control plane is listening, then connects', async () => {
  const probe = new TestAdsServer();
  const port = await probe.start();
  probe.kill();
  const server = new TestAdsServer();
  const dp = new RecordingDataPlane();
  const c = new XdsClient({
    target: { address: `127.0.0.1:${port}` },
    node: { type: 'router', ip: '127.10.0.6', pod: 'ingress-1', namespace: 'weft-system', serviceAccount: 'ingress', labels: {} },
    dataPlane: dp,
    backoffInitialMs: 50,
    backoffMaxMs: 200,
  });
  try {
    c.start();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(c.status().connected, false);
    assert.ok(c.status().lastStreamError);
    await server.start(port);
    baseConfig(server);
    await until(() => c.synced().lds && c.synced().cds, 'synced after the control plane came up', 10_000);
    assert.match(server.requests[0]!.node!.id!, /^router~127\.10\.0\.6~ingress-1\.weft-system~/);
  } finally {
    await c.stop();
    server.kill();
  }
});
