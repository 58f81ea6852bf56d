// xDS generator tests: golden files for a bookinfo-like mesh, codec round trips for
// every resource, determinism, and targeted assertions on the parts that matter.
//
// Golden files live in test/xds/golden/ (source tree). To regenerate them after an
// intended change, build and run with UPDATE_GOLDEN=1:
//   npx tsc -p tsconfig.json --outDir dist-c2 && UPDATE_GOLDEN=1 node --test dist-c2/test/xds/
// then review the diff.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { decode, encode, TYPE } from '../../src/xds/codec.js';
import { generateForProxy, type ProxyResources } from '../../src/xds/generate.js';
import type { MeshModel } from '../../src/model/types.js';
import type { EnvoyObject } from '../../src/proxy/types.js';
import { bookinfo, ROOT_PEM, workload } from './bookinfo.js';

// Compiled to <outDir>/test/xds/: the goldens sit in the source tree.
const GOLDEN_DIR = fileURLToPath(new URL('../../../test/xds/golden/', import.meta.url));
const CTX = { rootCertsPem: [ROOT_PEM] };
const KINDS = { listeners: TYPE.listener, routes: TYPE.route, clusters: TYPE.cluster, endpoints: TYPE.endpoint, secrets: TYPE.secret } as const;

function gen(model: MeshModel, owner: string): ProxyResources {
  return generateForProxy(model, workload(model, owner), CTX);
}

function checkGolden(file: string, value: unknown): void {
  const path = GOLDEN_DIR + file;
  const text = JSON.stringify(value, null, 2) + '\n';
  if (process.env.UPDATE_GOLDEN === '1') {
    fs.mkdirSync(GOLDEN_DIR, { recursive: true });
    fs.writeFileSync(path, text);
    return;
  }
  assert.ok(fs.existsSync(path), `missing golden ${path}; run with UPDATE_GOLDEN=1`);
  assert.equal(text, fs.readFileSync(path, 'utf8'), `${file} differs from its golden (UPDATE_GOLDEN=1 to accept)`);
}

// Small typed accessors for the object form, so assertions read like the Envoy docs.
type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => v as Obj;
const arr = (v: unknown): Obj[] => v as Obj[];
function named(list: EnvoyObject[], name: string, key = 'name'): Obj {
  const found = list.find((o) => o[key] === name);
  assert.ok(found, `no resource ${name}`);
  return found;
}
function vhost(routeConfig: Obj, name: string): Obj {
  return named(arr(routeConfig.virtualHosts), name);
}

const PROXIES = ['productpage-v1', 'reviews-v1', 'ratings-v1', 'istio-ingressgateway'];

for (const owner of PROXIES) {
  test(`golden: ${owner}`, () => {
    checkGolden(`${owner}.json`, gen(bookinfo(), owner));
  });

  test(`every resource of ${owner} round-trips through the codec unchanged`, () => {
    const res = gen(bookinfo(), owner);
    for (const [kind, type] of Object.entries(KINDS)) {
      for (const o of (res[kind as keyof ProxyResources] ?? [])) {
        const back = decode(type, encode(type, o));
        assert.deepStrictEqual(back, o, `${kind} ${String(o.name ?? o.clusterName)} changed in a round trip`);
      }
    }
  });
}

test('deterministic: two calls are equal, and shuffled input gives the same output', () => {
  const a = gen(bookinfo(), 'productpage-v1');
  assert.deepStrictEqual(gen(bookinfo(), 'productpage-v1'), a);
  const m = bookinfo();
  const shuffled: MeshModel = {
    ...m,
    services: [...m.services].reverse().map((s) => ({ ...s, ports: [...s.ports].reverse() })),
    workloads: [m.workloads[3]!, ...m.workloads.slice(4).reverse(), ...m.workloads.slice(0, 3)],
    routes: [...m.routes].reverse(),
    gatewayServers: [...m.gatewayServers].reverse(),
  };
  assert.deepStrictEqual(JSON.stringify(gen(shuffled, 'productpage-v1')), JSON.stringify(a));
  assert.deepStrictEqual(JSON.stringify(gen(shuffled, 'istio-ingressgateway')), JSON.stringify(gen(bookinfo(), 'istio-ingressgateway')));
});

test('output is sorted by name within each type', () => {
  const res = gen(bookinfo(), 'productpage-v1');
  for (const [kind, list] of Object.entries(res) as [string, EnvoyObject[]][]) {
    const names = list.map((o) => String(o.name ?? o.clusterName));
    assert.deepStrictEqual(names, [...names].sort(), kind);
  }
});

test('sidecar: virtualOutbound is an HTTP proxy on 15001 routed by http_proxy', () => {
  const l = named(gen(bookinfo(), 'productpage-v1').listeners, 'virtualOutbound');
  assert.deepStrictEqual(l.address, { socketAddress: { address: '0.0.0.0', portValue: 15001 } });
  const hcm = obj(arr(arr(l.filterChains)[0]!.filters)[0]!.typedConfig);
  assert.equal(hcm.codecType, 'AUTO');
  assert.deepStrictEqual(hcm.rds, { routeConfigName: 'http_proxy', configSource: { ads: {}, resourceApiVersion: 'V3' } });
});

test('sidecar: inbound listener has an mTLS chain and a plaintext chain to the inbound cluster', () => {
  const res = gen(bookinfo(), 'reviews-v1');
  const l = named(res.listeners, 'inbound|9080');
  assert.deepStrictEqual(l.address, { socketAddress: { address: '0.0.0.0', portValue: 9080 } });
  assert.equal(arr(l.listenerFilters)[0]!.name, 'envoy.filters.listener.tls_inspector');
  const chains = arr(l.filterChains);
  assert.deepStrictEqual(chains.map((c) => obj(c.filterChainMatch).transportProtocol), ['tls', 'raw_buffer']);
  const tls = obj(obj(chains[0]!.transportSocket).typedConfig);
  assert.deepStrictEqual(tls.requireClientCertificate, { value: true });
  const common = obj(tls.commonTlsContext);
  assert.deepStrictEqual(common.alpnProtocols, ['h2', 'http/1.1', 'weft-tcp']);
  assert.equal(arr(common.tlsCertificateSdsSecretConfigs)[0]!.name, 'default');
  assert.equal(obj(common.validationContextSdsSecretConfig).name, 'ROOTCA');
  assert.equal(chains[1]!.transportSocket, undefined);
  for (const chain of chains) {
    const hcm = obj(arr(chain.filters)[0]!.typedConfig);
    const vh = arr(obj(hcm.routeConfig).virtualHosts)[0]!;
    assert.deepStrictEqual(vh.domains, ['*']);
    assert.equal(obj(arr(vh.routes)[0]!.route).cluster, 'inbound|9080||');
  }
  const cluster = named(res.clusters, 'inbound|9080||');
  assert.equal(cluster.type, 'STATIC');
  assert.deepStrictEqual(
    arr(arr(obj(cluster.loadAssignment).endpoints)[0]!.lbEndpoints)[0]!.endpoint,
    { address: { socketAddress: { address: workload(bookinfo(), 'reviews-v1').appAddress, portValue: 9080 } } },
  );
});

test('sidecar: container port protocol comes from the service port that targets it by name; other ports are TCP', () => {
  const res = gen(bookinfo(), 'ratings-v1');
  const http = arr(arr(named(res.listeners, 'inbound|9080').filterChains)[0]!.filters)[0]!;
  assert.equal(http.name, 'envoy.filters.network.http_connection_manager');
  const tcp = arr(arr(named(res.listeners, 'inbound|9100').filterChains)[1]!.filters)[0]!;
  assert.equal(tcp.name, 'envoy.filters.network.tcp_proxy');
  assert.equal(obj(tcp.typedConfig).cluster, 'inbound|9100||');
  assert.equal(named(res.clusters, 'inbound|9100||').typedExtensionProtocolOptions, undefined);
});

test('outbound cluster: EDS, mTLS socket match first with the SANs of every reviews identity', () => {
  const c = named(gen(bookinfo(), 'productpage-v1').clusters, 'outbound|9080||reviews.default.svc.cluster.local');
  assert.equal(c.type, 'EDS');
  assert.deepStrictEqual(c.connectTimeout, { seconds: 10 });
  const [mtls, plain] = arr(c.transportSocketMatches);
  assert.equal(mtls!.name, 'tlsMode-istio');
  assert.deepStrictEqual(mtls!.match, { fields: { tlsMode: { stringValue: 'istio' } } });
  const ctx = obj(obj(mtls!.transportSocket).typedConfig);
  assert.equal(ctx.sni, 'outbound_.9080_._.reviews.default.svc.cluster.local');
  const sans = arr(obj(obj(obj(ctx.commonTlsContext).combinedValidationContext).defaultValidationContext).matchTypedSubjectAltNames);
  assert.deepStrictEqual(
    sans.map((s) => obj(s.matcher).exact),
    ['spiffe://cluster.local/ns/default/sa/bookinfo-reviews', 'spiffe://cluster.local/ns/default/sa/bookinfo-reviews-v3'],
  );
  assert.ok(sans.every((s) => s.sanType === 'URI'));
  assert.equal(plain!.name, 'tlsMode-disabled');
  assert.deepStrictEqual(plain!.match, {});
});

test('subset clusters referenced by routes are emitted with SNI naming the subset', () => {
  const res = gen(bookinfo(), 'productpage-v1');
  for (const subset of ['v1', 'v2', 'v3']) {
    const name = `outbound|9080|${subset}|reviews.default.svc.cluster.local`;
    const c = named(res.clusters, name);
    const ctx = obj(obj(arr(c.transportSocketMatches)[0]!.transportSocket).typedConfig);
    assert.equal(ctx.sni, `outbound_.9080_.${subset}_.reviews.default.svc.cluster.local`);
    named(res.endpoints, name, 'clusterName');
  }
});

test('endpoints: health follows readiness; mesh metadata only for meshed pods; named targetPort resolved', () => {
  const res = gen(bookinfo(), 'productpage-v1');
  const m = bookinfo();
  const reviews = arr(arr(named(res.endpoints, 'outbound|9080||reviews.default.svc.cluster.local', 'clusterName').endpoints)[0]!.lbEndpoints);
  assert.equal(reviews.length, 3);
  for (const owner of ['reviews-v1', 'reviews-v2', 'reviews-v3']) {
    const w = workload(m, owner);
    const e = reviews.find((x) => obj(obj(x.endpoint).address).socketAddress && obj(obj(obj(x.endpoint).address).socketAddress).address === w.address);
    assert.ok(e, owner);
    assert.equal(e.healthStatus, w.ready ? 'HEALTHY' : 'UNHEALTHY');
    const md = obj(obj(e.metadata).filterMetadata);
    assert.deepStrictEqual(md['envoy.transport_socket_match'], { fields: { tlsMode: { stringValue: 'istio' } } });
    assert.deepStrictEqual(obj(md.weft).fields, {
      workload: { stringValue: owner },
      pod: { stringValue: w.name },
      namespace: { stringValue: 'default' },
      identity: { stringValue: w.identity },
    });
  }
  assert.equal(workload(m, 'reviews-v3').ready, false);

  const details = arr(arr(named(res.endpoints, 'outbound|9080||details.default.svc.cluster.local', 'clusterName').endpoints)[0]!.lbEndpoints);
  assert.equal(obj(obj(details[0]!.metadata).filterMetadata)['envoy.transport_socket_match'], undefined);

  // A router does not terminate mesh mTLS on its Gateway ports: reached in plaintext.
  const gw = arr(arr(named(res.endpoints, 'outbound|80||istio-ingressgateway.istio-system.svc.cluster.local', 'clusterName').endpoints)[0]!.lbEndpoints);
  assert.deepStrictEqual(obj(obj(obj(gw[0]!.endpoint).address).socketAddress), { address: '127.10.0.200', portValue: 8080 });
  assert.equal(obj(obj(gw[0]!.metadata).filterMetadata)['envoy.transport_socket_match'], undefined);

  const ratings = arr(arr(named(res.endpoints, 'outbound|9080||ratings.default.svc.cluster.local', 'clusterName').endpoints)[0]!.lbEndpoints);
  assert.equal(obj(obj(obj(ratings[0]!.endpoint).address).socketAddress).portValue, 9080);
});

test('http_proxy: one virtual host per service port with short names only in the proxy namespace', () => {
  const rc = named(gen(bookinfo(), 'productpage-v1').routes, 'http_proxy');
  const vh = vhost(rc, 'details.default.svc.cluster.local:9080');
  assert.deepStrictEqual(vh.domains, [
    'details:9080',
    'details.default:9080',
    'details.default.svc:9080',
    'details.default.svc.cluster.local:9080',
  ]);
  assert.equal(obj(arr(vh.routes)[0]!.route).cluster, 'outbound|9080||details.default.svc.cluster.local');
  assert.deepStrictEqual(obj(arr(vh.routes)[0]!.route).timeout, { seconds: 0 });
  const gw = vhost(rc, 'istio-ingressgateway.istio-system.svc.cluster.local:80');
  assert.deepStrictEqual(gw.domains, [
    'istio-ingressgateway.istio-system',
    'istio-ingressgateway.istio-system:80',
    'istio-ingressgateway.istio-system.svc',
    'istio-ingressgateway.istio-system.svc:80',
    'istio-ingressgateway.istio-system.svc.cluster.local',
    'istio-ingressgateway.istio-system.svc.cluster.local:80',
  ]);
  // TCP ports get a virtual host too (for CONNECT), without HTTP retries.
  const tcp = vhost(rc, 'ratings.default.svc.cluster.local:9100');
  assert.equal(obj(arr(tcp.routes)[0]!.route).cluster, 'outbound|9100||ratings.default.svc.cluster.local');
  assert.equal(obj(arr(tcp.routes)[0]!.route).retryPolicy, undefined);
});

test('http_proxy: the reviews route set replaces the default route, in order, with header match and weights', () => {
  const rc = named(gen(bookinfo(), 'productpage-v1').routes, 'http_proxy');
  const routes = arr(vhost(rc, 'reviews.default.svc.cluster.local:9080').routes);
  assert.equal(routes.length, 2);
  assert.equal(routes[0]!.name, 'jason');
  assert.deepStrictEqual(obj(routes[0]!.match).headers, [{ name: 'end-user', stringMatch: { exact: 'jason' } }]);
  assert.equal(obj(routes[0]!.route).cluster, 'outbound|9080|v2|reviews.default.svc.cluster.local');
  assert.deepStrictEqual(obj(routes[1]!.match), { prefix: '/' });
  assert.deepStrictEqual(obj(obj(routes[1]!.route).weightedClusters).clusters, [
    { name: 'outbound|9080|v1|reviews.default.svc.cluster.local', weight: { value: 80 } },
    { name: 'outbound|9080|v3|reviews.default.svc.cluster.local', weight: { value: 20 } },
  ]);
  assert.equal(obj(obj(routes[1]!.route).weightedClusters).totalWeight, undefined);
  assert.deepStrictEqual(obj(routes[1]!.route).retryPolicy, {
    retryOn: 'connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes',
    numRetries: { value: 2 },
    retriableStatusCodes: [503],
  });
});

test('http_proxy: redirect, direct response, regex, rewrites, retries, timeouts, header ops, port filter', () => {
  const rc = named(gen(bookinfo(), 'productpage-v1').routes, 'http_proxy');
  const routes = arr(vhost(rc, 'ratings.default.svc.cluster.local:9080').routes);
  // The rule matching only port 9999 does not apply on 9080.
  assert.equal(routes.length, 4);
  const [redirect, direct, regex, fallback] = routes;
  assert.deepStrictEqual(redirect!.match, { prefix: '/old', caseSensitive: { value: false } });
  assert.deepStrictEqual(redirect!.redirect, { pathRedirect: '/ratings', responseCode: 'PERMANENT_REDIRECT' });
  assert.deepStrictEqual(direct!.match, { path: '/health', headers: [{ name: ':method', stringMatch: { exact: 'GET' } }] });
  assert.deepStrictEqual(direct!.directResponse, { status: 200, body: { inlineString: 'ok' } });
  assert.deepStrictEqual(regex!.match, {
    safeRegex: { regex: '/ratings/[0-9]+' },
    headers: [{ name: 'x-debug', presentMatch: true, invertMatch: true }],
    queryParameters: [{ name: 'v', stringMatch: { exact: '2' } }],
  });
  const action = obj(regex!.route);
  assert.equal(action.cluster, 'outbound|9080||ratings.default.svc.cluster.local');
  assert.deepStrictEqual(action.regexRewrite, { pattern: { regex: '^/ratings' }, substitution: '/r' });
  assert.equal(action.hostRewriteLiteral, 'ratings.internal');
  assert.deepStrictEqual(action.timeout, { seconds: 2, nanos: 500_000_000 });
  assert.deepStrictEqual(action.retryPolicy, {
    retryOn: '5xx,connect-failure,retriable-status-codes',
    numRetries: { value: 3 },
    perTryTimeout: { nanos: 500_000_000, seconds: 0 },
    retriableStatusCodes: [503],
  });
  assert.deepStrictEqual(regex!.requestHeadersToAdd, [
    { header: { key: 'x-a', value: '1' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    { header: { key: 'x-b', value: '2' }, appendAction: 'OVERWRITE_IF_EXISTS_OR_ADD' },
    { header: { key: 'x-trace', value: 'on' }, appendAction: 'APPEND_IF_EXISTS_OR_ADD' },
  ]);
  assert.deepStrictEqual(regex!.requestHeadersToRemove, ['x-secret']);
  assert.deepStrictEqual(regex!.responseHeadersToRemove, ['server']);
  assert.equal(obj(fallback!.route).prefixRewrite, '/');
  assert.equal(obj(fallback!.route).retryPolicy, undefined, 'attempts 0 means no retries');
});

test('router: gateway listeners on the service targetPorts, HTTP via RDS http.80, HTTPS by SDS credential', () => {
  const res = gen(bookinfo(), 'istio-ingressgateway');
  assert.deepStrictEqual(res.listeners.map((l) => l.name), ['gateway|443', 'gateway|80']);
  const http = named(res.listeners, 'gateway|80');
  assert.deepStrictEqual(http.address, { socketAddress: { address: '0.0.0.0', portValue: 8080 } });
  assert.equal(obj(obj(arr(arr(http.filterChains)[0]!.filters)[0]!.typedConfig).rds).routeConfigName, 'http.80');
  const https = named(res.listeners, 'gateway|443');
  assert.deepStrictEqual(https.address, { socketAddress: { address: '0.0.0.0', portValue: 8443 } });
  const chain = arr(https.filterChains)[0]!;
  assert.deepStrictEqual(chain.filterChainMatch, { serverNames: ['bookinfo.example.com'], transportProtocol: 'tls' });
  const tls = obj(obj(chain.transportSocket).typedConfig);
  assert.equal(arr(obj(tls.commonTlsContext).tlsCertificateSdsSecretConfigs)[0]!.name, 'kubernetes://bookinfo-cert');
  // No sidecar-only resources on a router.
  assert.ok(!res.listeners.some((l) => l.name === 'virtualOutbound'));
  assert.ok(!res.clusters.some((c) => String(c.name).startsWith('inbound|')));
  named(res.clusters, 'outbound|9080||productpage.default.svc.cluster.local');
  assert.equal(res.secrets[0]!.name, 'ROOTCA');
});

test('router: http.80 routes the bookinfo paths to productpage in order; http.443 narrows "*" to the server host', () => {
  const res = gen(bookinfo(), 'istio-ingressgateway');
  const rc80 = named(res.routes, 'http.80');
  const vh = vhost(rc80, '*:80');
  assert.deepStrictEqual(vh.domains, ['*']);
  const routes = arr(vh.routes);
  assert.deepStrictEqual(
    routes.map((r) => r.match),
    [{ path: '/productpage' }, { prefix: '/static' }, { path: '/login' }, { path: '/logout' }, { prefix: '/api/v1/products' }],
  );
  assert.ok(routes.every((r) => obj(r.route).cluster === 'outbound|9080||productpage.default.svc.cluster.local'));
  const rc443 = named(res.routes, 'http.443');
  assert.deepStrictEqual(arr(rc443.virtualHosts).map((v) => v.domains), [['bookinfo.example.com']]);
});

test('ROOTCA carries every root', () => {
  const m = bookinfo();
  const res = generateForProxy(m, workload(m, 'productpage-v1'), { rootCertsPem: [ROOT_PEM, ROOT_PEM.replace('test', 'next')] });
  assert.deepStrictEqual(res.secrets, [
    { name: 'ROOTCA', validationContext: { trustedCa: { inlineString: ROOT_PEM + ROOT_PEM.replace('test', 'next') } } },
  ]);
});

test('mesh SNI round-trips through names.ts parseMeshSni (with and without subset)', async () => {
  const { meshSni, parseMeshSni } = await import('../../src/xds/names.js');
  assert.equal(meshSni(9080, 'reviews.default.svc.cluster.local'), 'outbound_.9080_._.reviews.default.svc.cluster.local');
  assert.deepStrictEqual(parseMeshSni(meshSni(9080, 'r.default.svc.cluster.local')), { port: 9080, subset: '', host: 'r.default.svc.cluster.local' });
  assert.deepStrictEqual(parseMeshSni(meshSni(9080, 'r.default.svc.cluster.local', 'v2')), { port: 9080, subset: 'v2', host: 'r.default.svc.cluster.local' });
});

test('a wildcard route set covers matching services; an exact host set takes precedence over it', () => {
  const m = bookinfo();
  m.routes.push({
    source: { kind: 'VirtualService', namespace: 'default', name: 'all-default' },
    hosts: ['*.default.svc.cluster.local'],
    attachTo: ['mesh'],
    rules: [{ name: 'wild', matches: [], action: { kind: 'direct', status: 418 } }],
  });
  const rc = named(generateForProxy(m, workload(m, 'productpage-v1'), CTX).routes, 'http_proxy');
  assert.deepStrictEqual(arr(vhost(rc, 'details.default.svc.cluster.local:9080').routes).map((r) => r.name), ['wild']);
  // reviews: its own (exact) set first, then the wildcard set's rules.
  assert.deepStrictEqual(arr(vhost(rc, 'reviews.default.svc.cluster.local:9080').routes).map((r) => r.name), ['jason', undefined, 'wild']);
  // Not in istio-system.
  assert.equal(arr(vhost(rc, 'istio-ingressgateway.istio-system.svc.cluster.local:80').routes)[0]!.name, 'default');
});

test('router: only servers whose selector matches, only route sets bound to that gateway; httpsRedirect requires TLS', () => {
  const m = bookinfo();
  m.gatewayServers.push({
    source: { kind: 'Gateway', namespace: 'default', name: 'other' },
    gateway: 'default/other',
    selector: { istio: 'egressgateway' },
    port: { number: 8000, protocol: 'HTTP' },
    hosts: ['*'],
  });
  m.gatewayServers[0]!.tls = { mode: 'SIMPLE', httpsRedirect: true };
  m.routes.push({
    source: { kind: 'VirtualService', namespace: 'default', name: 'elsewhere' },
    hosts: ['*'],
    attachTo: ['default/other'],
    rules: [{ name: 'elsewhere', matches: [], action: { kind: 'direct', status: 500 } }],
  });
  const res = generateForProxy(m, workload(m, 'istio-ingressgateway'), CTX);
  assert.deepStrictEqual(res.listeners.map((l) => l.name), ['gateway|443', 'gateway|80']);
  const vh = vhost(named(res.routes, 'http.80'), '*:80');
  assert.equal(vh.requireTls, 'ALL');
  assert.ok(!arr(vh.routes).some((r) => r.name === 'elsewhere'));
});

test('a sidecar with no services still gets inbound listeners for its ports, as TCP', () => {
  const m = bookinfo();
  const lonely = { ...workload(m, 'details-v1'), name: 'lonely-1', owner: 'lonely', labels: { app: 'lonely' }, ports: [{ containerPort: 7000 }] };
  m.workloads.push(lonely);
  const res = generateForProxy(m, lonely, CTX);
  const l = named(res.listeners, 'inbound|7000');
  assert.equal(arr(arr(l.filterChains)[0]!.filters)[0]!.name, 'envoy.filters.network.tcp_proxy');
  named(res.clusters, 'inbound|7000||');
});

test('canonicalModel orders the arrays and carries every other field over, even ones it does not know', async () => {
  const { canonicalModel } = await import('../../src/xds/mesh.js');
  const m = bookinfo();
  const input = { ...m, outboundTrafficPolicy: 'REGISTRY_ONLY', futureField: { x: 1 }, services: [...m.services].reverse() } as MeshModel & { futureField: unknown };
  const c = canonicalModel(input) as MeshModel & { futureField?: unknown };
  assert.equal(c.outboundTrafficPolicy, 'REGISTRY_ONLY');
  assert.deepStrictEqual(c.futureField, { x: 1 });
  assert.deepStrictEqual(c.services.map((s) => `${s.namespace}/${s.name}`), canonicalModel(m).services.map((s) => `${s.namespace}/${s.name}`));
});

test('a rebuilt model keeps the identity of unchanged resources (interned by content), so the control plane does not re-encode them', () => {
  const a = gen(bookinfo(), 'productpage-v1');
  const m = bookinfo();
  const b = gen({ ...m, workloads: m.workloads.map((w) => (w.owner === 'ratings-v1' ? { ...w, ready: !w.ready } : w)) }, 'productpage-v1');
  const ratings = 'outbound|9080||ratings.default.svc.cluster.local';
  const reviews = 'outbound|9080||reviews.default.svc.cluster.local';
  assert.equal(named(b.clusters, reviews), named(a.clusters, reviews), 'unchanged cluster: same object');
  assert.equal(named(b.endpoints, reviews, 'clusterName'), named(a.endpoints, reviews, 'clusterName'), 'unchanged assignment: same object');
  assert.notDeepStrictEqual(named(b.endpoints, ratings, 'clusterName'), named(a.endpoints, ratings, 'clusterName'));
  assert.equal(b.routes[0], a.routes[0]);
});
