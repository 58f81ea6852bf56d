import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, type Resource } from '../../src/resources/index.js';
import { buildModel, protocolOfPort } from '../../src/model/index.js';
import { readFixture } from '../resources/fixtures.js';
import { testWorkload } from '../helpers/workloads.js';

function load(...names: string[]): Resource[] {
  const out: Resource[] = [];
  for (const n of names) {
    const { resources, findings } = parseYaml(readFixture(n), n);
    assert.deepEqual(findings.filter((f) => f.severity === 'error'), [], n);
    out.push(...resources);
  }
  return out;
}

const FQDN = (name: string) => `${name}.default.svc.cluster.local`;

test('bookinfo Gateway + VirtualService -> gateway servers and a gateway route set', () => {
  const { model, findings } = buildModel(load('services.yaml', 'bookinfo-gateway.yaml'), []);
  assert.deepEqual(findings, []);
  assert.equal(model.trustDomain, 'cluster.local');
  assert.equal(model.gatewayServers.length, 1);
  const gs = model.gatewayServers[0]!;
  assert.equal(gs.gateway, 'default/bookinfo-gateway');
  assert.deepEqual(gs.selector, { istio: 'ingressgateway' });
  assert.deepEqual(gs.port, { number: 8080, name: 'http', protocol: 'HTTP' });
  assert.deepEqual(gs.hosts, ['*']);
  assert.equal(gs.source.origin, 'bookinfo-gateway.yaml:1');

  assert.equal(model.routes.length, 1);
  const rs = model.routes[0]!;
  assert.deepEqual(rs.hosts, ['*']);
  assert.deepEqual(rs.attachTo, ['default/bookinfo-gateway']);
  assert.deepEqual(rs.source, { kind: 'VirtualService', namespace: 'default', name: 'bookinfo', origin: 'bookinfo-gateway.yaml:17' });
  assert.deepEqual(rs.rules, [
    {
      matches: [
        { path: { kind: 'exact', value: '/productpage' } },
        { path: { kind: 'prefix', value: '/static' } },
        { path: { kind: 'exact', value: '/login' } },
        { path: { kind: 'exact', value: '/logout' } },
        { path: { kind: 'prefix', value: '/api/v1/products' } },
      ],
      action: { kind: 'forward', destinations: [{ host: FQDN('productpage'), port: 9080, weight: 100 }] },
    },
  ]);
});

test('header match: end-user exact jason -> reviews v2, everyone else v1 (mesh)', () => {
  const { model, findings } = buildModel(load('services.yaml', 'reviews-routing.yaml'), []);
  // No DestinationRule defines the subsets: reported (the routes still stand, answering 503).
  assert.deepEqual(
    findings.filter((f) => f.resource?.name === 'reviews').map((f) => `${f.code} ${f.path}`),
    ['WEFT_UNKNOWN_SUBSET spec.http[0].route[0].destination.subset', 'WEFT_UNKNOWN_SUBSET spec.http[1].route[0].destination.subset'],
  );
  const reviews = model.routes.find((r) => r.source.name === 'reviews')!;
  assert.deepEqual(reviews.hosts, [FQDN('reviews')]);
  assert.deepEqual(reviews.attachTo, ['mesh']);
  assert.deepEqual(reviews.rules, [
    {
      matches: [{ headers: [{ name: 'end-user', match: { kind: 'exact', value: 'jason' } }] }],
      action: { kind: 'forward', destinations: [{ host: FQDN('reviews'), subset: 'v2', weight: 100 }] },
    },
    { matches: [], action: { kind: 'forward', destinations: [{ host: FQDN('reviews'), subset: 'v1', weight: 100 }] } },
  ]);
});

test('weighted routes, "name.namespace" hosts, timeout and retries', () => {
  const { model } = buildModel(load('services.yaml', 'reviews-routing.yaml'), []);
  const ratings = model.routes.find((r) => r.source.name === 'ratings')!;
  assert.deepEqual(ratings.hosts, [FQDN('ratings')]);
  assert.deepEqual(ratings.rules, [
    {
      matches: [],
      action: {
        kind: 'forward',
        destinations: [
          { host: FQDN('ratings'), subset: 'v1', weight: 80 },
          { host: FQDN('ratings'), subset: 'v2', weight: 20 },
        ],
      },
      timeoutMs: 90_000,
      retries: { attempts: 3, perTryTimeoutMs: 1500, retryOn: ['5xx', 'connect-failure', 'reset'] },
    },
  ]);
});

test('unsupported fields warn at parse time while the rest reaches the model', () => {
  const resources = [...load('services.yaml'), ...parseYaml(readFixture('unsupported.yaml'), 'unsupported.yaml').resources];
  const { model, findings } = buildModel(resources, []);
  assert.deepEqual(findings, []);
  const rule = model.routes[0]!.rules[0]!;
  assert.equal(rule.name, 'details-default');
  assert.equal(rule.timeoutMs, 10_000);
  assert.deepEqual(rule.requestHeaders, { set: { 'x-from': 'weft' } });
  assert.deepEqual(rule.action, { kind: 'forward', destinations: [{ host: FQDN('details'), port: 9080, weight: 100 }] });
  assert.deepEqual(rule.fault, { delay: { percent: 10, fixedDelayMs: 5000 } });
  assert.deepEqual(rule.cors, { allowOrigins: [{ kind: 'exact', value: 'https://example.com' }], allowMethods: [], allowHeaders: [], exposeHeaders: [] });
});

test('unknown destination host and missing gateway are warnings; the route is kept', () => {
  const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: shop, namespace: store}
spec:
  hosts: [shop.example.com]
  gateways: [public, mesh]
  http:
  - route:
    - destination: {host: cart}
`;
  const { resources } = parseYaml(vs, 'shop.yaml');
  const { model, findings } = buildModel(resources, []);
  assert.deepEqual(
    findings.map((f) => [f.code, f.severity, f.path, f.file, f.line]),
    [
      ['WEFT_UNKNOWN_GATEWAY', 'warning', 'spec.gateways[0]', 'shop.yaml', 1],
      ['WEFT_UNKNOWN_HOST', 'warning', 'spec.http[0].route[0].destination.host', 'shop.yaml', 1],
    ],
  );
  assert.match(findings[1]!.message, /"cart" \(cart\.store\.svc\.cluster\.local\) matches no Service/);
  assert.deepEqual(findings[1]!.resource, { kind: 'VirtualService', namespace: 'store', name: 'shop' });
  assert.deepEqual(model.routes[0]!.attachTo, ['store/public', 'mesh']);
  assert.deepEqual(model.routes[0]!.hosts, ['shop.example.com']);
  assert.equal(model.routes[0]!.rules.length, 1);
});

test('match-level gateways split the rules per attachment, keeping order', () => {
  const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  gateways: [mesh, gw]
  http:
  - match:
    - uri: {prefix: /admin, }
      gateways: [gw]
      ignoreUriCase: true
    redirect: {uri: /login, redirectCode: 302}
  - directResponse: {status: 404, body: {string: nope}}
`;
  const gw = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  servers: [{port: {number: 80, protocol: http}, hosts: ["*"]}]
`;
  const resources = [...load('services.yaml'), ...parseYaml(vs, 'vs.yaml').resources, ...parseYaml(gw, 'gw.yaml').resources];
  const { model, findings } = buildModel(resources, []);
  assert.deepEqual(findings, []);
  assert.deepEqual(
    model.routes.map((r) => [r.attachTo, r.rules.map((x) => x.action.kind)]),
    [
      [['mesh'], ['direct']],
      [['default/gw'], ['redirect', 'direct']],
    ],
  );
  assert.deepEqual(model.routes[1]!.rules[0], {
    matches: [{ path: { kind: 'prefix', value: '/admin', ignoreCase: true } }],
    action: { kind: 'redirect', uri: '/login', responseCode: 302 },
  });
  assert.deepEqual(model.routes[0]!.rules[0]!.action, { kind: 'direct', status: 404, body: 'nope' });
  assert.equal(model.gatewayServers[0]!.port.protocol, 'HTTP');
});

test('services: protocols from appProtocol or port names, target ports, workloads passed through', () => {
  const { resources } = parseYaml(readFixture('platform.yaml'), 'platform.yaml');
  const w = testWorkload({
    name: 'reviews-v1-abc',
    labels: { app: 'reviews', version: 'v1' },
    serviceAccount: 'bookinfo-reviews',
    identity: 'spiffe://example.org/ns/default/sa/bookinfo-reviews',
    address: '127.10.0.2',
    appAddress: '127.10.101.2',
    ports: [{ name: 'http', containerPort: 9080 }],
    owner: 'reviews-v1',
  });
  const { model, findings } = buildModel(resources, [w], { trustDomain: 'example.org', clusterDomain: 'corp.local' });
  assert.deepEqual(findings, []);
  assert.equal(model.trustDomain, 'example.org');
  assert.deepEqual(model.workloads, [w]);
  assert.deepEqual(
    model.services.map((s) => [s.hostname, s.ports]),
    [
      ['productpage.default.svc.corp.local', [{ name: 'http', port: 9080, targetPort: 9080, protocol: 'http' }]],
      ['reviews.default.svc.corp.local', [{ name: 'http', port: 9080, targetPort: 9080, protocol: 'http' }]],
      ['ratings.bookinfo.svc.corp.local', [{ name: 'grpc-api', port: 9080, targetPort: 'grpc', protocol: 'grpc' }]],
    ],
  );
  assert.deepEqual(model.services[0]!.selector, { app: 'productpage' });
  assert.deepEqual(model.services[0]!.labels, { app: 'productpage' });
});

test('protocolOfPort follows appProtocol, then the Istio name prefix, else tcp', () => {
  const cases: [{ name?: string; appProtocol?: string }, string][] = [
    [{ name: 'http' }, 'http'],
    [{ name: 'http-web' }, 'http'],
    [{ name: 'HTTP2-x' }, 'http2'],
    [{ name: 'grpc-api' }, 'grpc'],
    [{ name: 'grpc-web' }, 'http'],
    [{ name: 'https' }, 'https'],
    [{ name: 'tls-db' }, 'tls'],
    [{ name: 'tcp' }, 'tcp'],
    [{ name: 'httpfoo' }, 'tcp'],
    [{ name: 'web' }, 'tcp'],
    [{}, 'tcp'],
    [{ name: 'tcp', appProtocol: 'http' }, 'http'],
    [{ name: 'http', appProtocol: 'kubernetes.io/h2c' }, 'http2'],
    [{ name: 'grpc', appProtocol: 'custom.example/x' }, 'grpc'],
  ];
  for (const [port, want] of cases) assert.equal(protocolOfPort(port), want, JSON.stringify(port));
});

test('two VirtualServices for one host: the first wins and the second is reported', () => {
  const vs = (name: string) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ${name}}
spec:
  hosts: [reviews]
  http: [{route: [{destination: {host: reviews}}]}]
`;
  const resources = [...load('services.yaml'), ...parseYaml(`${vs('a')}---\n${vs('b')}`, 'vs.yaml').resources];
  const { findings } = buildModel(resources, []);
  assert.deepEqual(findings.map((f) => [f.code, f.resource?.name]), [['WEFT_ROUTE_CONFLICT', 'b']]);
  assert.match(findings[0]!.message, /already routed by VirtualService default\/a/);
});

test('VirtualService fault, mirror/mirrors, corsPolicy and default retries reach the model', () => {
  const vs = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: l7}
spec:
  hosts: [details]
  http:
  - fault:
      delay: {fixedDelay: 2s, percent: 5}
      abort: {grpcStatus: UNAVAILABLE, percentage: {value: 0.1}}
    mirror: {host: reviews, subset: v2}
    mirrorPercent: 40
    mirrors:
    - destination: {host: ratings, port: {number: 9080}}
    corsPolicy:
      allowOrigin: ['*']
      allowOrigins: [{prefix: 'https://'}]
      allowMethods: [GET]
      maxAge: 90s
      unmatchedPreflights: IGNORE
    retries: {attempts: 4}
    route: [{destination: {host: details}}]
  - fault:
      abort: {httpStatus: 500}
    route: [{destination: {host: details}}]
`;
  const { resources, findings: parsed } = parseYaml(vs, 'l7.yaml');
  assert.deepEqual(parsed, []);
  const { model, findings } = buildModel([...load('services.yaml'), ...resources], []);
  const mine = findings.filter((f) => f.resource?.name === 'l7').map((f) => [f.code, f.path]);
  // An abort without a percentage aborts nothing (Istio): said so.
  assert.deepEqual(mine, [['WEFT_NO_PERCENTAGE', 'spec.http[1].fault.abort.percentage']]);
  const [rule, second] = model.routes.find((r) => r.source.name === 'l7')!.rules;
  assert.deepEqual(rule!.fault, { delay: { percent: 5, fixedDelayMs: 2000 }, abort: { percent: 0.1, grpcStatus: 14 } });
  assert.deepEqual(rule!.mirrors, [
    { host: FQDN('reviews'), subset: 'v2', percent: 40 },
    { host: FQDN('ratings'), port: 9080, percent: 100 },
  ]);
  assert.deepEqual(rule!.cors, {
    allowOrigins: [{ kind: 'prefix', value: 'https://' }, { kind: 'prefix', value: '' }],
    allowMethods: ['GET'],
    allowHeaders: [],
    exposeHeaders: [],
    maxAgeMs: 90_000,
    forwardNotMatchingPreflights: false,
  });
  // No retryOn: Istio's default conditions and its retriable status code 503.
  assert.deepEqual(rule!.retries, { attempts: 4, retryOn: ['connect-failure', 'refused-stream', 'unavailable', 'cancelled', 'retriable-status-codes', '503'] });
  assert.deepEqual(second!.fault, { abort: { percent: 0, httpStatus: 500 } });
});
