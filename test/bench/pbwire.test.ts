// The bench ADS clients' wire codec (bench/pbwire.ts, on src/xds/proto-wire.ts) against
// protobufjs: what it reads from a response and writes in a request must be what the
// control plane's real codec encodes and decodes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ADS_SERVICE } from '../../src/xds/ads-service.js';
import { TYPE, encode } from '../../src/xds/codec.js';
import { discoveryRequest, namesField, readCluster, readDiscoveryResponse } from '../../bench/pbwire.js';

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
