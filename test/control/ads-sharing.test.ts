// Control plane at scale: proxies share generated and encoded resources, and an
// endpoint-only change pushes only EDS (and only the changed ClusterLoadAssignment).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runControl } from '../../src/control/main.js';
import { createMemoryLogger } from '../../src/control/log.js';
import { buildModel } from '../../src/model/index.js';
import { parseYaml } from '../../src/resources/index.js';
import { inboundProtocol } from '../../src/xds/listeners.js';
import { canonicalModel, isHttpProtocol } from '../../src/xds/mesh.js';
import { generateGroupsForProxy, generateForProxy } from '../../src/xds/generate.js';
import { buildSnapshotFromGroups, snapshotStats } from '../../src/control/snapshot.js';
import { outboundClusterName, serviceFqdn } from '../../src/xds/names.js';
import { AdsTestClient, DeltaTestClient, T, serviceResource, tmpStateDir, workload } from './helpers.js';

const reviews = outboundClusterName(9080, serviceFqdn('reviews', 'default'));
const ratings = outboundClusterName(9080, serviceFqdn('ratings', 'default'));

test('sharing: two proxies in one namespace share the encoded cluster and endpoint bytes; nothing is encoded twice', () => {
  const resources = [serviceResource('default', 'reviews', 9080), serviceResource('default', 'ratings', 9080)];
  const ws = [workload('default', 'reviews-1', '127.0.0.2', { app: 'reviews' }), workload('default', 'ratings-1', '127.0.0.3', { app: 'ratings' })];
  const { model } = buildModel(resources, ws);
  const ctx = { rootCertsPem: ['-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n'] };
  const before = snapshotStats.encodes;
  const a = buildSnapshotFromGroups(generateGroupsForProxy(model, ws[0]!, ctx));
  const encodesA = snapshotStats.encodes - before;
  const b = buildSnapshotFromGroups(generateGroupsForProxy(model, ws[1]!, ctx));
  const encodesB = snapshotStats.encodes - before - encodesA;
  for (const [type, name] of [['CDS', reviews], ['CDS', ratings], ['EDS', reviews], ['RDS', 'http_proxy'], ['SDS', 'ROOTCA'], ['LDS', 'virtualOutbound']] as const) {
    const ra = a[type].get(name);
    assert.ok(ra, `${type} ${name}`);
    assert.equal(ra.any.value, b[type].get(name)!.any.value, `${type} ${name}: same Buffer instance`);
  }
  // Only the second proxy's own inbound cluster (its app address) is new.
  assert.ok(encodesA >= 8, `first proxy encodes its resources (${encodesA})`);
  assert.equal(encodesB, 1);
  assert.equal(a.CDS.all().resources.length, generateForProxy(model, ws[0]!, ctx).clusters.length);
  // The shared generator gives the same output as before (the golden tests pin generateForProxy).
  const flat = generateForProxy(model, ws[1]!, ctx);
  assert.deepEqual(flat.clusters.map((c) => c['name']), b.CDS.all().resources.map((r) => r.name));
});

/** A Service whose port is named http (so mesh routes apply to it). */
function httpService(name: string): ReturnType<typeof serviceResource> {
  const r = serviceResource('default', name, 9080);
  return { ...r, spec: { ...r.spec, ports: [{ name: 'http', port: 9080, targetPort: 8080 }] } };
}

test('sharing: a registry-only change reuses what it cannot affect and rebuilds the rest as a fresh generation would', () => {
  const resources = [httpService('reviews'), httpService('ratings')];
  const ws = [workload('default', 'reviews-1', '127.0.0.2', { app: 'reviews' }), workload('default', 'ratings-1', '127.0.0.3', { app: 'ratings' })];
  const ctx = { rootCertsPem: ['-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n'] };
  const before = generateGroupsForProxy(buildModel(resources, ws).model, ws[0]!, ctx);
  // A second ratings endpoint (same objects for everything else).
  const ws2 = [...ws, workload('default', 'ratings-2', '127.0.0.4', { app: 'ratings' })];
  const model2 = buildModel(resources, ws2).model;
  const after = generateGroupsForProxy(model2, ws2[0]!, ctx);
  const find = (groups: object[][], key: string, name: string) => groups.flat().find((o) => (o as Record<string, unknown>)[key] === name);
  assert.equal(after.routes[0], before.routes[0], 'routes: the same array (nothing regenerated)');
  assert.equal(after.listeners[0], before.listeners[0]);
  assert.equal(find(after.clusters, 'name', reviews), find(before.clusters, 'name', reviews), 'an unaffected service keeps its cluster object');
  assert.equal(find(after.endpoints, 'clusterName', reviews), find(before.endpoints, 'clusterName', reviews));
  assert.notEqual(find(after.endpoints, 'clusterName', ratings), find(before.endpoints, 'clusterName', ratings), 'the changed service is rebuilt');
  assert.ok(JSON.stringify(find(after.endpoints, 'clusterName', ratings)).includes('127.0.0.4'));
  // The same as generating model2 without any reuse: another cluster-domain spelling has its own
  // cache chain; an unrelated model first makes sure nothing there can be reused.
  const fresh = { ...ctx, clusterDomain: 'cluster.local' };
  generateGroupsForProxy(buildModel([serviceResource('other', 'x', 80)], []).model, ws2[0]!, fresh);
  const flat = (g: typeof after) => JSON.stringify(Object.fromEntries(Object.entries(g).map(([k, v]) => [k, (v as object[][]).flat()])));
  assert.equal(flat(after), flat(generateGroupsForProxy(buildModel(resources, ws2).model, ws2[0]!, fresh)));
  // A store change (a new service) rebuilds everything: routes are new.
  const resources3 = [...resources, httpService('details')];
  const model3 = buildModel(resources3, ws2).model;
  const gen3 = generateGroupsForProxy(model3, ws2[0]!, ctx);
  assert.notEqual(gen3.routes[0], after.routes[0]);
  // A routing change rebuilds everything too, but what comes out the same keeps its arrays, so the
  // control plane keeps its encoded sets (and versions) for CDS, EDS, LDS and SDS: only RDS is new.
  const snap3 = buildSnapshotFromGroups(gen3);
  const vs = parseYaml(
    'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ratings, namespace: default}\nspec:\n  hosts: [ratings]\n  http:\n  - match:\n    - headers: {x-canary: {exact: "1"}}\n    route: [{destination: {host: ratings}}]\n  - route: [{destination: {host: ratings}}]\n',
    'vs.yaml',
  ).resources;
  const snap4 = buildSnapshotFromGroups(generateGroupsForProxy(buildModel([...resources3, ...vs], ws2).model, ws2[0]!, ctx));
  for (const t of ['CDS', 'EDS', 'LDS', 'SDS'] as const) assert.ok(snap4[t] === snap3[t], `${t}: the same set`);
  assert.notEqual(snap4.RDS.all().version, snap3.RDS.all().version);
  assert.ok(JSON.stringify(snap4.RDS.all().resources[0]!.object).includes('x-canary'));
});

test('sharing: a store change keeps the clusters it cannot affect and rebuilds the one whose DestinationRule changed, as a fresh generation would', () => {
  const resources = [httpService('reviews'), httpService('ratings')];
  const ws = [workload('default', 'reviews-1', '127.0.0.2', { app: 'reviews' }), workload('default', 'ratings-1', '127.0.0.3', { app: 'ratings' })];
  const ctx = { rootCertsPem: ['-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n'] };
  const find = (groups: object[][], name: string) => groups.flat().find((o) => (o as Record<string, unknown>)['name'] === name) as Record<string, unknown> | undefined;
  const yaml = (text: string) => parseYaml(text, 'change.yaml').resources;
  const vs = yaml('apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ratings, namespace: default}\nspec:\n  hosts: [ratings]\n  http:\n  - route: [{destination: {host: ratings}, weight: 100}]\n');
  const dr = (max: number) =>
    yaml(`apiVersion: networking.istio.io/v1\nkind: DestinationRule\nmetadata: {name: ratings, namespace: default}\nspec:\n  host: ratings\n  trafficPolicy:\n    connectionPool: {tcp: {maxConnections: ${max}}}\n`);
  const g1 = generateGroupsForProxy(buildModel([...resources, ...dr(7)], ws).model, ws[0]!, ctx);
  // A routing change: every cluster and assignment is the same object, and so the same group for the control plane.
  const g2 = generateGroupsForProxy(buildModel([...resources, ...dr(7), ...vs], ws).model, ws[0]!, ctx);
  assert.equal(g2.clusters[1], g1.clusters[1], 'outbound clusters: the same array');
  assert.equal(g2.endpoints[0], g1.endpoints[0], 'assignments: the same array');
  assert.notEqual(g2.routes[0], g1.routes[0]);
  // A DestinationRule change rebuilds that service's cluster only.
  const m3 = buildModel([...resources, ...dr(9), ...vs], ws).model;
  const g3 = generateGroupsForProxy(m3, ws[0]!, ctx);
  assert.equal(find(g3.clusters, reviews), find(g2.clusters, reviews));
  assert.notEqual(find(g3.clusters, ratings), find(g2.clusters, ratings));
  assert.match(JSON.stringify(find(g3.clusters, ratings)!['circuitBreakers']), /"maxConnections":\{"value":9\}/);
  // What came out is what a generation without any reuse gives (another cluster-domain spelling has its own caches).
  const flat = (g: typeof g3) => JSON.stringify(Object.fromEntries(Object.entries(g).map(([k, v]) => [k, (v as object[][]).flat()])));
  assert.equal(flat(g3), flat(generateGroupsForProxy(m3, ws[0]!, { ...ctx, clusterDomain: 'cluster.local' })));
});

test('sharing: inbound protocols from the services that can select a workload are the ones a scan of every service gives', () => {
  const svc = (name: string, selector: Record<string, string>, portName: string) => {
    const r = serviceResource('default', name, 80, selector);
    return { ...r, spec: { ...r.spec, ports: [{ name: portName, port: 80, targetPort: 8080 }] } };
  };
  // Three services select the workload (by different first labels); the first in model order decides.
  const resources = [svc('a-tcp', { tier: 'web', app: 'w' }, 'tcp'), svc('b-http', { app: 'w' }, 'http'), svc('c-grpc', { app: 'w', tier: 'web' }, 'grpc'), svc('other', { app: 'z' }, 'http')];
  const w = { ...workload('default', 'w-1', '127.0.0.9', { app: 'w', tier: 'web' }), ports: [{ containerPort: 8080 }] };
  const { model } = buildModel(resources, [w]);
  const ctx = { rootCertsPem: [] };
  for (const order of [resources, [...resources].reverse()]) {
    const m = buildModel(order, [w]).model;
    const listener = generateForProxy(m, w, ctx).listeners.find((l) => l['name'] !== 'virtualOutbound')!;
    const usesHcm = JSON.stringify(listener).includes('http_connection_manager');
    assert.equal(usesHcm, isHttpProtocol(inboundProtocol(canonicalModel(m), w, 8080)), 'same protocol as a scan of every service');
  }
  // a-tcp sorts first: TCP.
  assert.equal(inboundProtocol(canonicalModel(model), w, 8080), 'tcp');
});

test('sharing: an endpoint-only change (readiness) pushes only EDS, with only the changed ClusterLoadAssignment', async () => {
  const cp = await runControl({ stateDir: await tmpStateDir(), ports: { xds: 0, xdsTls: 0, api: 0, monitoring: 0 }, debounceMs: 20, log: createMemoryLogger() });
  const c = new AdsTestClient(`127.0.0.1:${cp.ports.xds}`, { namespace: 'default', pod: 'reviews-1', ip: '127.0.0.2' });
  try {
    await cp.store.apply([serviceResource('default', 'reviews', 9080), serviceResource('default', 'ratings', 9080)]);
    await cp.registry.put(workload('default', 'reviews-1', '127.0.0.2', { app: 'reviews' }));
    await cp.registry.put(workload('default', 'ratings-1', '127.0.0.3', { app: 'ratings' }));
    await new Promise((r) => setTimeout(r, 100));
    cp.ads.rebuild();
    await new Promise((r) => setTimeout(r, 50));
    c.request(T.cluster);
    const cds = await c.next(T.cluster);
    assert.deepEqual(cds.resources.map((r) => r['name']).filter((n) => String(n).startsWith('outbound')), [ratings, reviews]);
    c.ack(cds);
    c.request(T.listener);
    c.ack(await c.next(T.listener));
    c.request(T.endpoint, { resourceNames: [ratings, reviews] });
    const eds = await c.next(T.endpoint);
    assert.equal(eds.resources.length, 2);
    c.ack(eds, [ratings, reviews]);
    c.request(T.route, { resourceNames: ['http_proxy'] });
    c.ack(await c.next(T.route), ['http_proxy']);
    await c.drain(100);

    // ratings-1 becomes unready: only EDS, only ratings' assignment.
    await cp.registry.put({ ...workload('default', 'ratings-1', '127.0.0.3', { app: 'ratings' }), ready: false });
    const eds2 = await c.next(T.endpoint);
    assert.deepEqual(eds2.resources.map((r) => r['clusterName']), [ratings]);
    assert.notEqual(eds2.versionInfo, eds.versionInfo);
    const lb = (eds2.resources[0] as { endpoints: { lbEndpoints: { healthStatus: string }[] }[] }).endpoints[0]!.lbEndpoints;
    assert.equal(lb[0]!.healthStatus, 'UNHEALTHY');
    c.ack(eds2, [ratings, reviews]);
    const others = await c.drain(200);
    assert.deepEqual(others.map((r) => r.typeUrl), [], 'no CDS, LDS, RDS or SDS push for an endpoint change');
    // The API still shows the full EDS state last sent.
    assert.equal(cp.ads.proxyConfig(c.node.id)!.EDS.length, 2);

    // ratings-1 runs as another identity: the SANs of ratings' cluster change, so CDS goes out
    // (before EDS, make-before-break), and nothing else.
    await cp.registry.put({ ...workload('default', 'ratings-1', '127.0.0.3', { app: 'ratings' }), ready: false, serviceAccount: 'ratings', identity: 'spiffe://cluster.local/ns/default/sa/ratings' });
    const cds2 = await c.next();
    assert.equal(cds2.typeUrl, T.cluster);
    assert.ok(JSON.stringify(cds2.resources.find((r) => r['name'] === ratings)).includes('spiffe://cluster.local/ns/default/sa/ratings'));
    c.ack(cds2);
    const rest = await c.drain(200);
    assert.deepEqual(rest.map((r) => r.typeUrl), [T.endpoint], 'CDS, then EDS (the endpoint metadata names the identity); no LDS, RDS or SDS');
  } finally {
    c.close();
    await cp.close();
  }
});

test('sharing: a proxy\'s own CDS list (its inbound group and its namespace\'s) is not merged to push it, SotW or delta; the config view merges it once', async () => {
  const cp = await runControl({ stateDir: await tmpStateDir(), ports: { xds: 0, xdsTls: 0, api: 0, monitoring: 0 }, debounceMs: 20, log: createMemoryLogger() });
  const sotw = new AdsTestClient(`127.0.0.1:${cp.ports.xds}`, { namespace: 'default', pod: 'reviews-1', ip: '127.0.0.2' });
  const delta = new DeltaTestClient(`127.0.0.1:${cp.ports.xds}`, { namespace: 'default', pod: 'ratings-1', ip: '127.0.0.3' });
  try {
    await cp.store.apply([serviceResource('default', 'reviews', 9080), serviceResource('default', 'ratings', 9080)]);
    await cp.registry.put(workload('default', 'reviews-1', '127.0.0.2', { app: 'reviews' }));
    await cp.registry.put(workload('default', 'ratings-1', '127.0.0.3', { app: 'ratings' }));
    cp.ads.rebuildNow();
    const before = snapshotStats.merges;
    sotw.request(T.cluster);
    delta.request(T.cluster);
    const a = await sotw.next(T.cluster);
    const b = await delta.next(T.cluster);
    const inbound = (names: string[]) => names.filter((n) => n.startsWith('inbound|'));
    assert.deepEqual(inbound(a.resources.map((r) => r['name'] as string)), ['inbound|8080||'], 'the proxy\'s own inbound cluster is in it');
    assert.deepEqual(inbound((b.resources ?? []).map((r) => r.name!)), ['inbound|8080||']);
    assert.equal(snapshotStats.merges, before, 'pushed from the groups\' runs, no merged list');
    const view = cp.ads.proxyConfig(sotw.node.id)!.CDS.map((r) => r['name'] as string);
    assert.deepEqual(view, [...view].sort(), 'the config view is sorted by name');
    assert.equal(view.length, a.resources.length);
    assert.equal(snapshotStats.merges, before + 1, 'merged once, when read');
    cp.ads.proxyConfig(sotw.node.id);
    assert.equal(snapshotStats.merges, before + 1, 'and kept');
  } finally {
    sotw.close();
    delta.close();
    await cp.close();
  }
});
