import { test } from 'node:test';
import assert from 'node:assert/strict';
import { routeRequest, compileRouteConfig, RouteConfigError } from '../../src/proxy/data/router.js';
import type { EnvoyObject } from '../../src/proxy/types.js';
import { catchAllVirtualHost } from '../../src/xds/passthrough.js';

const config: EnvoyObject = {
  name: 'http_proxy',
  requestHeadersToAdd: [{ header: { key: 'x-global', value: 'g' }, append: { value: false } }],
  virtualHosts: [
    { name: 'reviews', domains: ['reviews', 'reviews:9080', 'reviews.default.svc.cluster.local:9080'], routes: [
      { match: { prefix: '/v2', headers: [{ name: 'end-user', stringMatch: { exact: 'jason' } }] }, route: { cluster: 'v2' } },
      { match: { prefix: '/', headers: [{ name: 'x-canary', presentMatch: true }] }, route: { cluster: 'canary' } },
      { match: { path: '/exact', caseSensitive: { value: false } }, route: { cluster: 'exact' } },
      { match: { safeRegex: { regex: '/items/[0-9]+' } }, route: { cluster: 'regex', regexRewrite: { pattern: { regex: '^/items/([0-9]+)$' }, substitution: '/v1/item/\\1' } } },
      { match: { prefix: '/q', queryParameters: [{ name: 'debug', stringMatch: { exact: '1' } }] }, route: { cluster: 'debug' } },
      { match: { prefix: '/old' }, redirect: { prefixRewrite: '/new', responseCode: 'PERMANENT_REDIRECT' } },
      { match: { prefix: '/https' }, redirect: { httpsRedirect: true, hostRedirect: 'secure.example', responseCode: 'SEE_OTHER' } },
      { match: { prefix: '/direct' }, directResponse: { status: 418, body: { inlineString: 'teapot' } } },
      { match: { prefix: '/api/' }, route: { cluster: 'api', prefixRewrite: '/', hostRewriteLiteral: 'api.internal' } },
      { match: { prefix: '/not', headers: [{ name: 'x-env', stringMatch: { prefix: 'prod' }, invertMatch: true }] }, route: { cluster: 'nonprod' } },
      { match: { prefix: '/' }, route: { weightedClusters: { clusters: [{ name: 'w1', weight: { value: 20 } }, { name: 'w2', weight: { value: 80 } }] } }, requestHeadersToAdd: [{ header: { key: 'x-route', value: 'r' } }] },
    ] },
    { name: 'suffix-long', domains: ['*.bar.example.com'], routes: [{ match: { prefix: '/' }, route: { cluster: 'long' } }] },
    { name: 'suffix-short', domains: ['*.example.com'], routes: [{ match: { prefix: '/' }, route: { cluster: 'short' } }] },
    { name: 'prefix', domains: ['api.*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'prefix' } }] },
    { name: 'any', domains: ['*'], routes: [{ match: { prefix: '/only' }, route: { cluster: 'any' } }] },
  ],
};

function route(authority: string, path: string, headers: Record<string, string> = {}, random = 0.5) {
  return routeRequest(config, { authority, path, method: 'GET', headers, random });
}

function cluster(authority: string, path: string, headers: Record<string, string> = {}, random = 0.5): string | undefined {
  const d = route(authority, path, headers, random);
  return d.kind === 'route' ? d.cluster : undefined;
}

test('virtual host selection: exact (with and without port), longest suffix, prefix, *', () => {
  assert.equal(route('reviews:9080', '/x').why.virtualHost, 'reviews');
  assert.equal(route('reviews', '/x').why.virtualHost, 'reviews');
  assert.equal(route('REVIEWS:1234', '/x').why.domainMatch, 'exact'); // port stripped
  assert.equal(cluster('a.bar.example.com', '/'), 'long');
  assert.equal(cluster('a.foo.example.com:80', '/'), 'short');
  assert.equal(cluster('api.other', '/'), 'prefix');
  assert.equal(cluster('unknown', '/only/x'), 'any');
  const none = route('unknown', '/nothing');
  assert.equal(none.kind, 'none');
  assert.equal(none.why.virtualHost, 'any');
});

test('route matching: headers, present, case-insensitive path, regex + rewrite, query, invert', () => {
  assert.equal(cluster('reviews', '/v2/x', { 'end-user': 'jason' }), 'v2');
  assert.equal(cluster('reviews', '/v2/x', { 'end-user': 'bob' }), 'w2');
  assert.equal(cluster('reviews', '/anything', { 'x-canary': '' }), 'canary');
  assert.equal(cluster('reviews', '/EXACT'), 'exact');
  const r = route('reviews', '/items/42?x=1');
  assert.equal(r.kind, 'route');
  assert.equal(r.kind === 'route' && r.path, '/v1/item/42?x=1');
  assert.equal(cluster('reviews', '/items/abc'), 'w2');
  assert.equal(cluster('reviews', '/q?a=2&debug=1'), 'debug');
  assert.equal(cluster('reviews', '/q?debug=2'), 'w2');
  assert.equal(cluster('reviews', '/not', { 'x-env': 'staging' }), 'nonprod');
  assert.equal(cluster('reviews', '/not'), 'nonprod');
  assert.equal(cluster('reviews', '/not', { 'x-env': 'production' }), 'w2');
});

test('weighted clusters follow the weights', () => {
  assert.equal(cluster('reviews', '/', {}, 0.1), 'w1');
  assert.equal(cluster('reviews', '/', {}, 0.19), 'w1');
  assert.equal(cluster('reviews', '/', {}, 0.21), 'w2');
  const counts: Record<string, number> = { w1: 0, w2: 0 };
  for (let i = 0; i < 2000; i++) counts[cluster('reviews', '/', {}, Math.random())!]!++;
  assert.ok(counts.w1! > 250 && counts.w1! < 550, JSON.stringify(counts));
});

test('redirects, direct responses, prefix and host rewrite, header mutations', () => {
  const r1 = route('reviews:9080', '/old/a?b=1');
  assert.equal(r1.kind, 'redirect');
  assert.equal(r1.kind === 'redirect' && r1.status, 308);
  assert.equal(r1.kind === 'redirect' && r1.location, 'http://reviews:9080/new/a?b=1');
  const r2 = route('reviews', '/https/x');
  assert.equal(r2.kind === 'redirect' && r2.status, 303);
  assert.equal(r2.kind === 'redirect' && r2.location, 'https://secure.example/https/x');
  const d = route('reviews', '/direct');
  assert.deepEqual(d.kind === 'direct' && [d.status, d.body], [418, 'teapot']);
  const a = route('reviews', '/api/users?id=3');
  assert.ok(a.kind === 'route');
  assert.equal(a.path, '/users?id=3');
  assert.equal(a.authority, 'api.internal');
  const w = route('reviews', '/zzz');
  assert.ok(w.kind === 'route');
  assert.deepEqual(w.route.requestHeaders.add.map((h) => h.key), ['x-route', 'x-global']);
  assert.equal(w.why.routeIndex, 10);
});

test('CONNECT matches by authority', () => {
  const d = routeRequest(config, { authority: 'reviews:9080', path: '', method: 'CONNECT', headers: {} });
  assert.equal(d.kind, 'route');
});

test('invalid regex is rejected with the field named', () => {
  assert.throws(
    () => compileRouteConfig({ name: 'bad', virtualHosts: [{ name: 'v', domains: ['*'], routes: [{ match: { safeRegex: { regex: '(' } }, route: { cluster: 'c' } }] }] }),
    (err: unknown) => err instanceof RouteConfigError && err.code === 'WEFT_ERR_ROUTE_CONFIG' && /virtualHosts\[0\]\.routes\[0\]\.match\.safeRegex/.test(err.message),
  );
});

test('the matched domain is reported as configured (exact with or without port, wildcards, *)', () => {
  assert.equal(route('Reviews:9080', '/x').why.domain, 'reviews:9080');
  assert.equal(route('reviews:1234', '/x').why.domain, 'reviews');
  const long = route('a.bar.example.com:8080', '/');
  assert.deepEqual([long.why.domainMatch, long.why.domain], ['suffix', '*.bar.example.com']);
  const prefix = route('api.other', '/');
  assert.deepEqual([prefix.why.domainMatch, prefix.why.domain], ['prefix', 'api.*']);
  assert.equal(route('unknown', '/only').why.domain, '*');
});

test('the weighted cluster drawn brings its own request header mutations; a single cluster none', () => {
  const split: EnvoyObject = {
    name: 'split',
    virtualHosts: [{ name: 'v', domains: ['*'], routes: [
      { match: { prefix: '/one' }, route: { cluster: 'solo' } },
      { match: { prefix: '/' }, route: { weightedClusters: { clusters: [
        { name: 'a', weight: { value: 50 }, requestHeadersToAdd: [{ header: { key: 'x-subset', value: 'a' } }] },
        { name: 'b', weight: { value: 50 }, requestHeadersToAdd: [{ header: { key: 'x-subset', value: 'b' } }], requestHeadersToRemove: ['x-drop'] },
      ] } } },
    ] }],
  };
  const pick = (random: number) => {
    const d = routeRequest(split, { authority: 'h', path: '/', method: 'GET', headers: {}, random });
    assert.ok(d.kind === 'route');
    return [d.cluster, d.clusterHeaders?.add.map((h) => h.value), d.clusterHeaders?.remove];
  };
  assert.deepEqual(pick(0.1), ['a', ['a'], []]);
  assert.deepEqual(pick(0.9), ['b', ['b'], ['x-drop']]);
  const solo = routeRequest(split, { authority: 'h', path: '/one', method: 'GET', headers: {} });
  assert.ok(solo.kind === 'route');
  assert.equal(solo.clusterHeaders, undefined);
});

test('direct response bodies expand %REQ(...)%: the REGISTRY_ONLY catch-all names the blocked host', () => {
  const blocked = routeRequest({ name: 'http_proxy', virtualHosts: [catchAllVirtualHost('REGISTRY_ONLY')] }, { authority: '127.0.0.1:9999', path: '/x', method: 'GET', headers: {} });
  assert.deepEqual(blocked.kind === 'direct' && [blocked.status, blocked.body], [502, 'weft: REGISTRY_ONLY blocks 127.0.0.1:9999']);
  const body = 'host=%REQ(:AUTHORITY)% path=%REQ(:path)% who=%REQ(x-user?x-fallback)% short=%REQ(x-long):3% none=%REQ(x-missing)% 100%';
  const d = routeRequest(
    { name: 'r', virtualHosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, directResponse: { status: 200, body: { inlineString: body } } }] }] },
    { authority: 'a.example', path: '/p?q=1', method: 'GET', headers: { 'x-fallback': 'fb', 'x-long': 'abcdef' } },
  );
  assert.equal(d.kind === 'direct' && d.body, 'host=a.example path=/p?q=1 who=fb short=abc none=- 100%');
});

test('requireTls: a plaintext request gets 301 to https with the Host as sent and the query, before any route; over TLS it routes', () => {
  const c = compileRouteConfig({
    name: 'http.80',
    virtualHosts: [
      { name: 'secure', domains: ['bookinfo.example.com', 'bookinfo.example.com:*'], requireTls: 'ALL', routes: [{ match: { prefix: '/' }, route: { cluster: 'pp' } }] },
      { name: 'plain', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster: 'other' } }] },
    ],
  });
  const plain = routeRequest(c, { authority: 'bookinfo.example.com:8080', path: '/productpage?u=1', method: 'GET', headers: {} });
  assert.equal(plain?.kind, 'redirect');
  assert.deepEqual(plain?.kind === 'redirect' ? [plain.status, plain.location] : [], [301, 'https://bookinfo.example.com:8080/productpage?u=1']);
  const overTls = routeRequest(c, { authority: 'bookinfo.example.com', path: '/productpage', method: 'GET', headers: {}, tls: true });
  assert.equal(overTls?.kind === 'route' ? overTls.cluster : overTls?.kind, 'pp');
  const other = routeRequest(c, { authority: 'other.example.com', path: '/', method: 'GET', headers: {} });
  assert.equal(other?.kind === 'route' ? other.cluster : other?.kind, 'other', 'hosts without requireTls are not redirected');
  assert.throws(() => compileRouteConfig({ name: 'x', virtualHosts: [{ name: 'v', domains: ['*'], requireTls: 'SOMETIMES', routes: [] }] }), /requireTls: unknown value SOMETIMES/);
});
