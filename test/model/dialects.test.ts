// Linkerd, SMI and Gateway API resources -> the model; and one xDS check that a GAMMA
// HTTPRoute (parent Service) becomes weighted clusters in the sidecar's http_proxy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, type Resource } from '../../src/resources/index.js';
import { buildModel, type HttpRouteSet } from '../../src/model/index.js';
import { generateForProxy } from '../../src/xds/generate.js';
import { encode, decode, TYPE } from '../../src/xds/codec.js';
import { unwrap } from '../../src/xds/object-form.js';
import { readFixture } from '../resources/fixtures.js';
import { testWorkload } from '../helpers/workloads.js';

function load(...names: string[]): Resource[] {
  return names.flatMap((n) => {
    const { resources, findings } = parseYaml(readFixture(`dialects/${n}`), n);
    assert.deepEqual(findings.filter((f) => f.severity === 'error'), [], n);
    return resources;
  });
}

const D = (name: string) => `${name}.default.svc.cluster.local`;
const B = (name: string) => `${name}.booksapp.svc.cluster.local`;
const routeOf = (routes: HttpRouteSet[], kind: string, name: string): HttpRouteSet => {
  const r = routes.find((x) => x.source.kind === kind && x.source.name === name);
  assert.ok(r, `no route set from ${kind} ${name}`);
  return r;
};

test('Linkerd ServiceProfile: routes, conditions, retries from response classes, timeouts, dstOverrides, budget', () => {
  const { model, findings } = buildModel(load('services.yaml', 'linkerd.yaml'), []);
  assert.deepEqual(findings, []);
  const books = routeOf(model.routes, 'ServiceProfile', B('books'));
  assert.deepEqual(books.hosts, [B('books')]);
  assert.deepEqual(books.attachTo, ['mesh']);
  const canary = [
    { host: B('books'), port: 7002, weight: 9 },
    { host: B('books-v2'), port: 7002, weight: 1 },
  ];
  const fwd = { kind: 'forward', destinations: canary };
  assert.deepEqual(books.rules, [
    { name: 'GET /books.json', matches: [{ method: { kind: 'exact', value: 'GET' }, path: { kind: 'regex', value: '/books\\.json' } }], action: fwd, timeoutMs: 10_000 },
    {
      name: 'GET /books/{id}.json',
      matches: [{ method: { kind: 'exact', value: 'GET' }, path: { kind: 'regex', value: '/books/[^/]*\\.json' } }],
      action: fwd,
      timeoutMs: 300,
      retries: { attempts: 3, retryOn: ['5xx'] },
    },
    {
      name: 'POST /books.json',
      matches: [{ method: { kind: 'exact', value: 'POST' }, path: { kind: 'regex', value: '/books\\.json' } }],
      action: fwd,
      timeoutMs: 10_000,
      retries: { attempts: 3, retryOn: ['5xx', '429'] },
    },
    {
      name: 'PUT or DELETE a book',
      matches: [
        { method: { kind: 'exact', value: 'PUT' }, path: { kind: 'regex', value: '/books/[^/]*\\.json' } },
        { method: { kind: 'exact', value: 'DELETE' }, path: { kind: 'regex', value: '/books/[^/]*\\.json' } },
      ],
      action: fwd,
      timeoutMs: 10_000,
    },
    // Unmatched requests still reach the service, through the overrides.
    { matches: [], action: fwd },
  ]);
  assert.deepEqual(model.serviceHttpPolicies, [
    { source: books.source, host: B('books'), retryBudget: { retryRatio: 0.2, minRetriesPerSecond: 10, ttlMs: 10_000 } },
  ]);
});

test('Linkerd `not` conditions become inverted header matches (De Morgan over any)', () => {
  const { model } = buildModel(load('services.yaml', 'linkerd.yaml'), []);
  const authors = routeOf(model.routes, 'ServiceProfile', B('authors'));
  assert.deepEqual(authors.rules.map((r) => r.matches), [
    [{ path: { kind: 'regex', value: '/authors/.*' }, headers: [{ name: ':method', match: { kind: 'exact', value: 'HEAD' }, invert: true }] }],
    [
      {
        headers: [
          { name: ':path', match: { kind: 'regex', value: '(?:/ping)(?:\\?.*)?' }, invert: true },
          { name: ':method', match: { kind: 'exact', value: 'OPTIONS' }, invert: true },
        ],
      },
    ],
    [],
  ]);
  assert.equal(authors.rules[1]!.timeoutMs, 2000);
});

test('Linkerd: a condition too large to expand is reported by route and skipped; the rest applies', () => {
  const any = (n: number) => `{any: [${Array.from({ length: n }, (_, i) => `{pathRegex: /p${i}}`).join(', ')}]}`;
  const yaml = `apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: authors.booksapp.svc.cluster.local, namespace: booksapp}
spec:
  routes:
  - name: huge
    condition: {all: [${any(5)}, ${any(5)}]}
  - name: ok
    condition: {method: GET}
`;
  const { model, findings } = buildModel([...load('services.yaml'), ...parseYaml(yaml, 'p.yaml').resources], []);
  assert.deepEqual(findings.map((f) => [f.code, f.path]), [['WEFT_UNSUPPORTED_FIELD', 'spec.routes[0].condition']]);
  assert.match(findings[0]!.message, /route "huge"/);
  assert.deepEqual(routeOf(model.routes, 'ServiceProfile', B('authors')).rules.map((r) => r.name), ['ok', undefined]);
});

test('SMI TrafficSplit: 900m/100m canary -> 9:1; v1alpha4 HTTPRouteGroup matches with a root catch-all', () => {
  const { model, findings } = buildModel(load('services.yaml', 'smi.yaml'), []);
  assert.deepEqual(findings, []);
  const canary = routeOf(model.routes, 'TrafficSplit', 'website-canary');
  assert.deepEqual(canary.hosts, [D('website')]);
  assert.deepEqual(canary.attachTo, ['mesh']);
  assert.deepEqual(canary.rules, [
    { matches: [], action: { kind: 'forward', destinations: [{ host: D('website-v1'), weight: 9 }, { host: D('website-v2'), weight: 1 }] } },
  ]);
  const ab = routeOf(model.routes, 'TrafficSplit', 'webapp-ab');
  assert.deepEqual(ab.rules, [
    {
      matches: [
        { headers: [{ name: 'user-agent', match: { kind: 'regex', value: '.*Firefox.*' } }] },
        { path: { kind: 'regex', value: '/books/.*' }, method: { kind: 'regex', value: 'POST|PUT' } },
      ],
      action: { kind: 'forward', destinations: [{ host: B('books'), weight: 1 }, { host: B('books-v2'), weight: 1 }] },
    },
    { matches: [], action: { kind: 'forward', destinations: [{ host: B('webapp'), weight: 100 }] } },
  ]);
});

test('SMI: a missing HTTPRouteGroup and an unknown backend are reported', () => {
  const yaml = `apiVersion: split.smi-spec.io/v1alpha4
kind: TrafficSplit
metadata: {name: s}
spec:
  service: website
  matches: [{kind: HTTPRouteGroup, name: nope}]
  backends: [{service: website-v9, weight: 1}]
`;
  const { model, findings } = buildModel([...load('services.yaml'), ...parseYaml(yaml, 's.yaml').resources], []);
  assert.deepEqual(findings.map((f) => [f.code, f.path]), [
    ['WEFT_UNKNOWN_HOST', 'spec.backends[0].service'],
    ['WEFT_UNKNOWN_REFERENCE', 'spec.matches[0].name'],
  ]);
  assert.equal(model.routes.length, 0);
});

test('Gateway API Gateway -> servers on the default ingress gateway, or on its own labelled workloads', () => {
  const { model, findings } = buildModel(load('services.yaml', 'gateway-api.yaml'), []);
  // The listener's certificate Secret is in no file: reported, in the Gateway's namespace.
  assert.deepEqual(
    findings.filter((f) => f.code !== 'WEFT_ROUTE_SHADOWED').map((f) => [f.code, f.path, f.message]),
    [['WEFT_MISSING_CREDENTIAL', 'spec.listeners[1].tls.certificateRefs[0]', 'server https (port 443, hosts www.example.com): Secret default/www-example-com-cert not found; this server is not served (the other servers are)']],
  );
  assert.deepEqual(
    model.gatewayServers.map((s) => ({ gateway: s.gateway, selector: s.selector, port: s.port, hosts: s.hosts, tls: s.tls })),
    [
      { gateway: 'default/web-gw', selector: { istio: 'ingressgateway' }, port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['www.example.com'], tls: undefined },
      {
        gateway: 'default/web-gw',
        selector: { istio: 'ingressgateway' },
        port: { number: 443, name: 'https', protocol: 'HTTPS' },
        hosts: ['www.example.com'],
        tls: { mode: 'SIMPLE', credentialName: 'www-example-com-cert', credentialNamespace: 'default' },
      },
    ],
  );
  const own = testWorkload({
    name: 'web-gw-abc',
    labels: { 'gateway.networking.k8s.io/gateway-name': 'web-gw' },
    serviceAccount: 'web-gw',
    address: '127.10.0.9',
    ports: [],
    owner: 'web-gw',
    proxyType: 'router',
  });
  const withOwn = buildModel(load('services.yaml', 'gateway-api.yaml'), [own]).model;
  assert.deepEqual(withOwn.gatewayServers[0]!.selector, { 'gateway.networking.k8s.io/gateway-name': 'web-gw' });
});

test('Gateway API HTTPRoute on a Gateway: precedence order, filters, rewrite, redirect, retries, weights', () => {
  const { model } = buildModel(load('services.yaml', 'gateway-api.yaml'), []);
  const site = routeOf(model.routes, 'HTTPRoute', 'website');
  assert.deepEqual(site.hosts, ['www.example.com']);
  assert.deepEqual(site.attachTo, ['default/web-gw']);
  assert.deepEqual(site.rules, [
    // Exact before prefixes; longer prefix before "/".
    { matches: [{ path: { kind: 'exact', value: '/old' } }], action: { kind: 'redirect', responseCode: 301, scheme: 'https', uri: '/new' } },
    {
      matches: [{ path: { kind: 'prefix', value: '/api', separated: true }, headers: [{ name: 'x-canary', match: { kind: 'exact', value: 'true' } }] }],
      action: { kind: 'forward', destinations: [{ host: D('website-v2'), port: 80, weight: 1 }], rewrite: { authority: 'api.internal', uriPrefix: '/v2' } },
      timeoutMs: 5000,
      retries: { attempts: 3, retryOn: ['connect-failure', 'refused-stream', 'reset', '503'] },
      requestHeaders: { set: { 'x-routed-by': 'weft' }, remove: ['x-debug'] },
    },
    {
      matches: [{ path: { kind: 'prefix', value: '/' } }],
      action: { kind: 'forward', destinations: [{ host: D('website-v1'), port: 80, weight: 90 }, { host: D('website-v2'), port: 80, weight: 10 }] },
    },
  ]);
});

test('GRPCRoute on a Service: method matches become :path matches, ordered by the GRPCRoute rules', () => {
  const { model, findings } = buildModel(load('services.yaml', 'grpcroute.yaml'), []);
  assert.deepEqual(findings, []);
  const echo = routeOf(model.routes, 'GRPCRoute', 'echo');
  assert.deepEqual(echo.hosts, [D('echo')]);
  assert.deepEqual(echo.attachTo, ['mesh']);
  assert.deepEqual(echo.rules.map((r) => r.matches), [
    [{ path: { kind: 'prefix', value: '/grpc.health.v1.Health/' } }],
    [{ path: { kind: 'exact', value: '/echo.v1.Echo/Stream' }, headers: [{ name: 'x-tier', match: { kind: 'exact', value: 'gold' } }] }],
    [],
  ]);
  assert.deepEqual(echo.rules[2]!.action, {
    kind: 'forward',
    destinations: [{ host: D('echo'), port: 50051, weight: 80 }, { host: D('echo-v2'), port: 50051, weight: 20 }],
  });
});

test('Gateway API: unsupported filters and parents are reported by field; the rest of the route applies', () => {
  const yaml = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: r, namespace: other}
spec:
  parentRefs: [{name: web-gw, namespace: default}, {kind: Mesh, group: example.io, name: m}]
  rules:
  - filters:
    - {type: RequestMirror, requestMirror: {backendRef: {name: website-v2, namespace: default, port: 80}}}
    backendRefs: [{name: website-v1, namespace: default, port: 80}]
`;
  const { model, findings } = buildModel([...load('services.yaml', 'gateway-api.yaml'), ...parseYaml(yaml, 'r.yaml').resources], []);
  const mine = findings.filter((f) => f.resource?.name === 'r').map((f) => [f.code, f.path]);
  assert.deepEqual(mine, [
    ['WEFT_UNSUPPORTED_FIELD', 'spec.parentRefs[1].kind'],
    // RequestMirror is translated; like the backend, its cross-namespace Service is reported (no ReferenceGrant check).
    ['WEFT_UNSUPPORTED_FIELD', 'spec.rules[0].filters[0].requestMirror.backendRef.namespace'],
    ['WEFT_UNSUPPORTED_FIELD', 'spec.rules[0].backendRefs[0].namespace'],
  ]);
  assert.deepEqual(routeOf(model.routes, 'HTTPRoute', 'r').rules[0]!.mirrors, [{ host: 'website-v2.default.svc.cluster.local', port: 80, percent: 100 }]);
  // Only the HTTPS listener allows routes from other namespaces: attached through it.
  assert.deepEqual(routeOf(model.routes, 'HTTPRoute', 'r').attachTo, ['default/web-gw']);
});

test('xDS: an HTTPRoute attached to a Service -> weighted clusters in the sidecar http_proxy route config', () => {
  const { model } = buildModel(load('services.yaml', 'gateway-api.yaml'), []);
  const client = testWorkload({ name: 'client-1', labels: { app: 'client' }, serviceAccount: 'client', address: '127.10.0.1', appAddress: '127.10.100.1', owner: 'client' });
  const res = generateForProxy(model, client, { rootCertsPem: [] });
  const rc = res.routes.find((r) => r.name === 'http_proxy')!;
  // Every generated resource must encode as a real Envoy RouteConfiguration.
  const rt = decode(TYPE.route, encode(TYPE.route, rc)) as { virtualHosts: { name: string; routes: Record<string, unknown>[] }[] };
  const vh = rt.virtualHosts.find((v) => v.name === `${D('website')}:80`)!;
  assert.ok(vh, 'virtual host for website:80');
  assert.equal(vh.routes.length, 2);
  const [beta, split] = vh.routes as { match: Record<string, unknown>; route: Record<string, unknown>; responseHeadersToAdd?: unknown[] }[];
  assert.equal(beta!.route.cluster, 'outbound|80||website-v2.default.svc.cluster.local');
  assert.deepEqual(beta!.match.queryParameters, [{ name: 'beta', stringMatch: { exact: '1' } }]);
  assert.equal((beta!.responseHeadersToAdd ?? []).length, 1);
  const clusters = (split!.route.weightedClusters as { clusters: { name: string; weight: unknown }[] }).clusters;
  assert.deepEqual(
    clusters.map((c) => [c.name, unwrap(c.weight, 0)]),
    [
      ['outbound|80||website-v1.default.svc.cluster.local', 75],
      ['outbound|80||website-v2.default.svc.cluster.local', 25],
    ],
  );
  // The clusters the routes name are emitted too.
  for (const name of ['outbound|80||website-v1.default.svc.cluster.local', 'outbound|80||website-v2.default.svc.cluster.local']) {
    assert.ok(res.clusters.some((c) => c.name === name), name);
  }
});
