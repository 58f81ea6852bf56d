// The route configs the router runs on (src/proxy/data/route-configs.ts): a route
// config sent with `vhds` gets its VHDS virtual hosts; each is compiled once per content.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compileRouteConfigs } from '../../src/proxy/data/route-configs.js';
import { routeRequest, RouteConfigError } from '../../src/proxy/data/router.js';
import type { EnvoyObject } from '../../src/proxy/types.js';

const vhds = { configSource: { ads: {}, resourceApiVersion: 'V3' } };
const vhost = (name: string, domain: string, cluster: string): EnvoyObject => ({ name, domains: [domain], routes: [{ match: { prefix: '/' }, route: { cluster } }] });
const to = (rc: Parameters<typeof routeRequest>[0], authority: string): string | undefined => {
  const d = routeRequest(rc, { authority, path: '/', method: 'GET', headers: {}, tls: false });
  return d.kind === 'route' ? d.cluster : undefined;
};

test('route configs: a route config with vhds routes on its own virtual hosts and those held for it, not on another one\'s', () => {
  const proxy: EnvoyObject = { name: 'http_proxy', vhds, virtualHosts: [vhost('http_proxy/any', '*', 'passthrough')] };
  const other: EnvoyObject = { name: 'other', virtualHosts: [vhost('o', 'o', 'c-o')] };
  const vhosts = new Map([
    ['http_proxy/a', vhost('http_proxy/a', 'a', 'c-a')],
    ['elsewhere/b', vhost('elsewhere/b', 'b', 'c-b')],
  ]);
  const out = compileRouteConfigs(new Map([['http_proxy', proxy], ['other', other]]), vhosts);
  assert.equal(to(out.get('http_proxy')!, 'a'), 'c-a');
  assert.equal(to(out.get('http_proxy')!, 'zzz'), 'passthrough');
  assert.equal(to(out.get('http_proxy')!, 'b'), 'passthrough', 'a virtual host of another route config is not added');
  assert.equal(to(out.get('other')!, 'o'), 'c-o');
  // Without vhds, virtual hosts named after it are not added either.
  const plain = compileRouteConfigs(new Map([['elsewhere', { name: 'elsewhere', virtualHosts: [vhost('x', 'x', 'c-x')] }]]), vhosts);
  assert.equal(to(plain.get('elsewhere')!, 'b'), undefined);
});

test('route configs: compiled once per content; a new or changed virtual host compiles that one again, the others are reused; a bad one throws naming it', () => {
  const rc: EnvoyObject = { name: 'http_proxy', vhds };
  const a = vhost('http_proxy/a', 'a', 'c-a');
  const first = compileRouteConfigs(new Map([['http_proxy', rc]]), new Map([['http_proxy/a', a]])).get('http_proxy')!;
  // Another map with the same objects (an EDS or CDS response): the same compiled config.
  assert.equal(compileRouteConfigs(new Map([['http_proxy', rc]]), new Map([['http_proxy/a', a]])).get('http_proxy'), first);
  const a2 = vhost('http_proxy/a', 'a', 'c-a2');
  const changed = compileRouteConfigs(new Map([['http_proxy', rc]]), new Map([['http_proxy/a', a2]])).get('http_proxy')!;
  assert.notEqual(changed, first);
  assert.equal(to(changed, 'a'), 'c-a2');
  const b = vhost('http_proxy/b', 'b', 'c-b');
  const added = compileRouteConfigs(new Map([['http_proxy', rc]]), new Map([['http_proxy/a', a2], ['http_proxy/b', b]])).get('http_proxy')!;
  assert.equal(to(added, 'b'), 'c-b');
  // Only the virtual host that changed is compiled again; the others are the same compiled objects.
  const a3 = vhost('http_proxy/a', 'a', 'c-a3');
  const next = compileRouteConfigs(new Map([['http_proxy', rc]]), new Map([['http_proxy/a', a3], ['http_proxy/b', b]])).get('http_proxy')!;
  assert.equal(next.exact.get('b'), added.exact.get('b'));
  assert.notEqual(next.exact.get('a'), added.exact.get('a'));
  assert.equal(to(next, 'a'), 'c-a3');
  // The same virtual host under another route config object (its header mutations may differ) is compiled for it.
  const rc2: EnvoyObject = { ...rc, requestHeadersToAdd: [{ header: { key: 'x-rc', value: '2' } }] };
  const other = compileRouteConfigs(new Map([['http_proxy', rc2]]), new Map([['http_proxy/a', a3], ['http_proxy/b', b]])).get('http_proxy')!;
  assert.notEqual(other.exact.get('b'), next.exact.get('b'));
  assert.throws(() => compileRouteConfigs(new Map([['http_proxy', rc]]), new Map([['http_proxy/bad', { name: 'http_proxy/bad', domains: [] }]])), RouteConfigError);
});
