// The bench ADS clients' wire codec (bench/pbwire.ts, on src/xds/proto-wire.ts) against
// protobufjs: what it reads from a response and writes in a request must be what the
// control plane's real codec encodes and decodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADS_SERVICE } from '../../src/xds/ads-service.js';
import { TYPE, encode } from '../../src/xds/codec.js';
import { deltaRequest, discoveryRequest, namesField, readCluster, readDeltaResponse, readDiscoveryResponse } from '../../bench/pbwire.js';
import { deltaResourcesField, encodeDeltaResponse } from '../../src/control/ads-delta-wire.js';

const m = ADS_SERVICE.streamAggregatedResources;

test('bench pbwire reads a DiscoveryResponse and its clusters as protobufjs wrote them', () => {
  const clusters = [
    { name: 'outbound|8080||a.default.svc.cluster.local', type: 'EDS', edsClusterConfig: { edsConfig: { ads: {} } } },
    { name: 'passthrough', type: 'ORIGINAL_DST' },
    { name: 'outbound|9090||b.default.svc.cluster.local', type: 'STATIC' },
    { name: 'é', edsClusterConfig: { serviceName: 'x' } },
  ];
  const buf = m.responseSerialize({ versionInfo: 'v7', typeUrl: TYPE.cluster, nonce: 'n-3', resources: clusters.map((c) => ({ typeUrl: TYPE.cluster, value: Buffer.from(encode(TYPE.cluster, c)) })) });
  const r = readDiscoveryResponse(buf);
  assert.deepEqual({ v: r.versionInfo, t: r.typeUrl, n: r.nonce, count: r.resources.length }, { v: 'v7', t: TYPE.cluster, n: 'n-3', count: 4 });
  assert.deepEqual(r.resources.map(readCluster), [
    { name: 'outbound|8080||a.default.svc.cluster.local', eds: true },
    { name: 'passthrough', eds: false },
    { name: 'outbound|9090||b.default.svc.cluster.local', eds: false },
    { name: 'é', eds: true },
  ]);
  assert.throws(() => readDiscoveryResponse(buf.subarray(0, buf.length - 1)), /truncated/);
});

test('bench pbwire writes DiscoveryRequests protobufjs reads back, names encoded once and reused', () => {
  const node = Buffer.from(encode('envoy.config.core.v3.Node', { id: 'sidecar~127.0.0.1~p.ns~ns.svc.cluster.local', cluster: 'p.ns' }));
  const names = namesField(['b', 'a', 'c'.repeat(200)]);
  const req = m.requestDeserialize(discoveryRequest({ versionInfo: 'v1', node, names, typeUrl: TYPE.endpoint, nonce: 'n-1' }));
  assert.equal(req.versionInfo, 'v1');
  assert.equal(req.node?.id, 'sidecar~127.0.0.1~p.ns~ns.svc.cluster.local');
  assert.deepEqual(req.resourceNames, ['b', 'a', 'c'.repeat(200)]);
  assert.equal(req.typeUrl, TYPE.endpoint);
  assert.equal(req.responseNonce, 'n-1');
  // A first request: defaults left out, no names.
  const first = m.requestDeserialize(discoveryRequest({ typeUrl: TYPE.listener }));
  assert.equal(first.versionInfo ?? '', '');
  assert.deepEqual(first.resourceNames ?? [], []);
  assert.equal(first.typeUrl, TYPE.listener);
});

test('bench pbwire reads a DeltaDiscoveryResponse as the control plane encodes it, and writes DeltaDiscoveryRequests protobufjs reads back', () => {
  const d = ADS_SERVICE.deltaAggregatedResources;
  const cluster = { name: 'outbound|8080||a.default.svc.cluster.local', type: 'EDS', edsClusterConfig: { edsConfig: { ads: {} } } };
  const value = encode(TYPE.cluster, cluster);
  const resource = { name: cluster.name, version: '0123456789abcdef', hash: '', object: {}, any: { type_url: TYPE.cluster, value } };
  const buf = encodeDeltaResponse('v9', TYPE.cluster, 'n-4', [deltaResourcesField([resource])], ['outbound|1||gone']);
  const r = readDeltaResponse(buf);
  assert.deepEqual({ t: r.typeUrl, n: r.nonce, removed: r.removed, count: r.resources.length }, { t: TYPE.cluster, n: 'n-4', removed: ['outbound|1||gone'], count: 1 });
  assert.deepEqual(readCluster(r.resources[0]!), { name: cluster.name, eds: true });
  // protobufjs reads the hand-encoded response the same way (what a proxy's grpc-js client does).
  const decoded = d.responseDeserialize(buf);
  assert.equal(decoded.systemVersionInfo, 'v9');
  assert.equal(decoded.resources?.[0]?.version, '0123456789abcdef');
  assert.equal(decoded.resources?.[0]?.resource?.['name'], cluster.name);

  const node = Buffer.from(encode('envoy.config.core.v3.Node', { id: 'sidecar~127.0.0.1~p.ns~ns.svc.cluster.local' }));
  const req = d.requestDeserialize(deltaRequest({ node, typeUrl: TYPE.endpoint, subscribe: ['a', 'b'], unsubscribe: ['c'], nonce: 'n-2' }));
  assert.equal(req.node?.id, 'sidecar~127.0.0.1~p.ns~ns.svc.cluster.local');
  assert.deepEqual([req.typeUrl, req.resourceNamesSubscribe, req.resourceNamesUnsubscribe, req.responseNonce], [TYPE.endpoint, ['a', 'b'], ['c'], 'n-2']);
  const ack = d.requestDeserialize(deltaRequest({ typeUrl: TYPE.endpoint, nonce: 'n-3' }));
  assert.deepEqual([ack.resourceNamesSubscribe ?? [], ack.node], [[], undefined], 'an ACK is the type and the nonce');
});
