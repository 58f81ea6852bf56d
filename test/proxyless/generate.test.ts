// The proxyless generator and node classification, as pure functions: names a gRPC
// client asks for, what it would reject (redirects, query matches), what it needs
// (locality weights), and which nodes count as proxyless.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { decode, encode, TYPE } from '../../src/xds/codec.js';
import { generateForProxyless, type ProxylessClient } from '../../src/xds/proxyless.js';
import { classifyNode, configForNode, proxylessClientOf } from '../../src/control/proxyless-node.js';
import type { HttpRule, MeshModel, Service, Workload } from '../../src/model/types.js';
import type { EnvoyObject } from '../../src/proxy/types.js';
import type { GenerateFn } from '../../src/control/pipeline.js';
import { testWorkload } from '../helpers/workloads.js';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => v as Obj;
const arr = (v: unknown): Obj[] => v as Obj[];
const FQDN = 'greeter.default.svc.cluster.local';

function service(name: string, selector: Record<string, string>): Service {
  return {
    name,
    namespace: 'default',
    hostname: `${name}.default.svc.cluster.local`,
    ports: [{ name: 'grpc', port: 9090, targetPort: 'grpc', protocol: 'grpc' }],
    selector,
    labels: {},
    source: { kind: 'Service', namespace: 'default', name },
  };
}

function workload(name: string, version: string, address: string, meshed: boolean): Workload {
  return testWorkload({
    name,
    labels: { app: 'greeter', version },
    serviceAccount: 'greeter',
    address,
    appAddress: meshed ? '127.9.101.1' : address,
    ports: [{ name: 'grpc', containerPort: 7000 }],
    meshed,
    owner: `greeter-${version}`,
  });
}

function model(rules: HttpRule[]): MeshModel {
  return {
    trustDomain: 'cluster.local',
    services: [service('greeter', { app: 'greeter' }), service('greeter-v1', { app: 'greeter', version: 'v1' }), service('greeter-v2', { app: 'greeter', version: 'v2' })],
    workloads: [workload('greeter-v1-a', 'v1', '127.9.1.1', false), workload('greeter-v2-a', 'v2', '127.9.1.2', true)],
    routes: [{ source: { kind: 'VirtualService', namespace: 'default', name: 'greeter' }, hosts: [FQDN], attachTo: ['mesh'], rules }],
    gatewayServers: [],
  };
}

const CLIENT: ProxylessClient = { id: 'c', namespace: 'default', labels: {}, pod: 'c', ip: '' };
const to = (host: string, weight = 100) => ({ host: `${host}.default.svc.cluster.local`, weight });

const RULES: HttpRule[] = [
  { name: 'redirect', matches: [{ headers: [{ name: 'x-old', match: { kind: 'present' } }] }], action: { kind: 'redirect', uri: '/new', responseCode: 301 } },
  { name: 'query', matches: [{ queryParams: [{ name: 'q', match: { kind: 'exact', value: '1' } }] }], action: { kind: 'forward', destinations: [to('greeter-v2')] } },
  { name: 'canary', matches: [{ headers: [{ name: 'x-canary', match: { kind: 'exact', value: 'yes' } }] }], action: { kind: 'forward', destinations: [to('greeter-v2')] }, timeoutMs: 1500 },
  { name: 'split', matches: [], action: { kind: 'forward', destinations: [to('greeter-v1', 80), to('greeter-v2', 20)] } },
];

function roundTrip(url: string, o: EnvoyObject): void {
  const { ['@type']: _t, ...fields } = o;
  assert.deepEqual(decode(url, encode(url, fields)), fields, `${url} ${String(o['name'] ?? o['clusterName'])} round-trips`);
}

test('proxyless: one api listener per name a client may dial, all to the canonical route configuration', () => {
  const res = generateForProxyless(model(RULES), CLIENT);
  const names = res.listeners.map((l) => l['name']);
  for (const n of ['greeter:9090', 'greeter.default:9090', 'greeter.default.svc:9090', `${FQDN}:9090`]) assert.ok(names.includes(n), `listener ${n}`);
  const l = res.listeners.find((x) => x['name'] === 'greeter:9090')!;
  const hcm = obj(obj(l['apiListener'])['apiListener']);
  assert.equal(hcm['@type'], 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager');
  assert.equal(obj(hcm['rds'])['routeConfigName'], `${FQDN}:9090`);
  assert.equal(arr(hcm['httpFilters']).at(-1)!['name'], 'envoy.filters.http.router');
  assert.equal(l['address'], undefined, 'a client listener has no address');
  assert.deepEqual(res.secrets, []);
  for (const x of res.listeners) roundTrip(TYPE.listener, x);
  for (const x of res.routes) roundTrip(TYPE.route, x);
  for (const x of res.clusters) roundTrip(TYPE.cluster, x);
  for (const x of res.endpoints) roundTrip(TYPE.endpoint, x);
});

test('proxyless: routes are the sidecar translation minus what gRPC rejects or cannot match; timeouts become maxStreamDuration', () => {
  const res = generateForProxyless(model(RULES), CLIENT);
  const rc = res.routes.find((r) => r['name'] === `${FQDN}:9090`)!;
  const vh = arr(rc['virtualHosts'])[0]!;
  assert.ok((vh['domains'] as string[]).includes(`${FQDN}:9090`));
  const routes = arr(vh['routes']);
  assert.deepEqual(routes.map((r) => r['name']), ['canary', 'split'], 'redirect and query-parameter routes are left out');
  const canary = obj(routes[0]!['route']);
  assert.equal(canary['cluster'], 'outbound|9090||greeter-v2.default.svc.cluster.local');
  assert.deepEqual(obj(canary['maxStreamDuration'])['maxStreamDuration'], { seconds: 1, nanos: 500_000_000 });
  const split = arr(obj(obj(routes[1]!['route'])['weightedClusters'])['clusters']);
  assert.deepEqual(split.map((c) => [c['name'], obj(c['weight'])['value']]), [
    ['outbound|9090||greeter-v1.default.svc.cluster.local', 80],
    ['outbound|9090||greeter-v2.default.svc.cluster.local', 20],
  ]);
  // A service without route rules: the default route to itself.
  const plain = res.routes.find((r) => r['name'] === 'greeter-v1.default.svc.cluster.local:9090')!;
  assert.equal(obj(arr(arr(plain['virtualHosts'])[0]!['routes'])[0]!['route'])['cluster'], 'outbound|9090||greeter-v1.default.svc.cluster.local');
});

test('proxyless: plaintext round-robin EDS clusters; endpoints in a weighted locality, unmeshed ones at their app address', () => {
  const res = generateForProxyless(model(RULES), CLIENT);
  const c = res.clusters.find((x) => x['name'] === `outbound|9090||${FQDN}`)!;
  assert.equal(c['type'], 'EDS');
  assert.equal(c['lbPolicy'], 'ROUND_ROBIN');
  assert.equal(c['transportSocket'], undefined);
  assert.equal(c['transportSocketMatches'], undefined);
  const cla = res.endpoints.find((x) => x['clusterName'] === `outbound|9090||${FQDN}`)!;
  const locality = arr(cla['endpoints'])[0]!;
  assert.deepEqual(locality['locality'], {});
  assert.deepEqual(locality['loadBalancingWeight'], { value: 1 });
  const addrs = arr(locality['lbEndpoints']).map((e) => obj(obj(obj(e['endpoint'])['address'])['socketAddress']));
  assert.deepEqual(addrs.map((a) => `${String(a['address'])}:${String(a['portValue'])}`).sort(), ['127.9.1.1:7000', '127.9.1.2:7000']);
});

test('proxyless: clients that see the mesh alike (model, namespace, labels) share one generated config; labels still decide sourceLabels matches', () => {
  const rules: HttpRule[] = [
    { name: 'canary-clients', matches: [{ sourceLabels: { track: 'canary' } }], action: { kind: 'forward', destinations: [to('greeter-v2')] } },
    { name: 'rest', matches: [], action: { kind: 'forward', destinations: [to('greeter-v1')] } },
  ];
  const m = model(rules);
  const a = generateForProxyless(m, { id: 'a', namespace: 'default', labels: { app: 'x' }, pod: 'a', ip: '10.0.0.1' });
  const b = generateForProxyless(m, { id: 'b', namespace: 'default', labels: { app: 'x' }, pod: 'b', ip: '10.0.0.2' });
  assert.equal(a, b, 'same objects, so the control plane encodes them once');
  const canary = generateForProxyless(m, { id: 'c', namespace: 'default', labels: { app: 'x', track: 'canary' }, pod: 'c', ip: '' });
  const routeNames = (r: typeof a) => arr(arr(r.routes.find((x) => x['name'] === `${FQDN}:9090`)!['virtualHosts'])[0]!['routes']).map((x) => x['name']);
  assert.deepEqual(routeNames(a), ['rest']);
  assert.deepEqual(routeNames(canary), ['canary-clients', 'rest']);
  assert.notEqual(generateForProxyless(m, { ...CLIENT, namespace: 'other' }), generateForProxyless(m, CLIENT));
});

test('proxyless: short names resolve in the client namespace only', () => {
  const res = generateForProxyless(model([]), { ...CLIENT, namespace: 'other' });
  const names = res.listeners.map((l) => l['name']);
  assert.ok(!names.includes('greeter:9090'));
  assert.ok(names.includes('greeter.default:9090'));
});

const struct = (m: Record<string, string>) => ({ fields: Object.fromEntries(Object.entries(m).map(([k, v]) => [k, { stringValue: v }])) });

test('node classification: gRPC user agent or GENERATOR=grpc is proxyless; weft ids are proxies; anything else is refused', () => {
  const grpcJs = classifyNode({ id: 'my-client', userAgentName: 'gRPC Node Pure JS', metadata: struct({ NAMESPACE: 'shop' }) });
  assert.ok('node' in grpcJs);
  assert.equal(proxylessClientOf(grpcJs.node)?.namespace, 'shop');
  assert.equal(grpcJs.node.pod, 'my-client');

  const istio = classifyNode({ id: 'sidecar~10.0.0.5~app-1.web~web.svc.cluster.local', metadata: struct({ GENERATOR: 'grpc' }) });
  assert.ok('node' in istio);
  assert.deepEqual(proxylessClientOf(istio.node), { id: 'sidecar~10.0.0.5~app-1.web~web.svc.cluster.local', namespace: 'web', pod: 'app-1', ip: '10.0.0.5', labels: {} });

  const bare = classifyNode({ id: 'x', userAgentName: 'gRPC Go' });
  assert.ok('node' in bare);
  assert.equal(proxylessClientOf(bare.node)?.namespace, 'default');

  const proxy = classifyNode({ id: 'sidecar~127.0.0.3~p.default~default.svc.cluster.local', userAgentName: 'weft-proxy' });
  assert.ok('node' in proxy);
  assert.equal(proxylessClientOf(proxy.node), undefined);

  const bad = classifyNode({ id: 'not-a-node-id' });
  assert.ok('error' in bad);
  assert.match(bad.error, /not-a-node-id/);
});

test('configForNode: proxies wait for their workload, proxyless clients do not', () => {
  const m = model([]);
  let calls = 0;
  const generate: GenerateFn = () => {
    calls++;
    return { listeners: [], routes: [], clusters: [], endpoints: [], secrets: [] };
  };
  const proxy = classifyNode({ id: 'sidecar~127.0.0.3~p.default~default.svc.cluster.local' });
  assert.ok('node' in proxy);
  assert.equal(configForNode(m, proxy.node, undefined, { generate }, { rootCertsPem: [] }), undefined);
  const client = classifyNode({ id: 'c', userAgentName: 'gRPC Node Pure JS' });
  assert.ok('node' in client);
  const cfg = configForNode(m, client.node, undefined, { generate }, { rootCertsPem: [] });
  assert.ok(cfg && cfg.listeners.length > 0);
  assert.equal(calls, 0, 'the sidecar generator is not used for a proxyless client');
});

test('proxyless: per-route CORS config is left out (grpc-js rejects it), fault injection is kept', async () => {
  const { grpcRoute } = await import('../../src/xds/proxyless.js');
  const route: EnvoyObject = {
    match: { prefix: '/' },
    route: { cluster: 'outbound|9090||greeter.default.svc.cluster.local' },
    typedPerFilterConfig: {
      'envoy.filters.http.cors': { '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy' },
      'envoy.filters.http.fault': { '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault' },
    },
  };
  const adapted = grpcRoute(route)!;
  assert.deepEqual(Object.keys(obj(adapted['typedPerFilterConfig'])), ['envoy.filters.http.fault']);
  const corsOnly = grpcRoute({ ...route, typedPerFilterConfig: { 'envoy.filters.http.cors': {} } })!;
  assert.equal(corsOnly['typedPerFilterConfig'], undefined);
});
