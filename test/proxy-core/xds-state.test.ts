// The xDS client's bookkeeping (src/proxy/core/xds-state.ts) around VHDS: a route config
// that comes with `vhds` waits for its virtual hosts (the data plane keeps routing it as it
// did meanwhile), they are dropped with it, and a VHDS resource belongs to the route config
// it names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { XdsState } from '../../src/proxy/core/xds-state.js';
import { compileRouteConfigs } from '../../src/proxy/data/route-configs.js';
import { routeRequest } from '../../src/proxy/data/router.js';
import type { EnvoyObject } from '../../src/proxy/types.js';
import { TYPE } from '../../src/xds/codec.js';
import { hcmListener } from './helpers/resources.js';

const vhds = { configSource: { ads: {}, resourceApiVersion: 'V3' } };
const vhost = (name: string, domain: string, cluster: string): EnvoyObject => ({ '@type': TYPE.virtualHost, name, domains: [domain], routes: [{ match: { prefix: '/' }, route: { cluster } }] });
const whole: EnvoyObject = { '@type': TYPE.route, name: 'http_proxy', virtualHosts: [{ name: 'a', domains: ['a'], routes: [{ match: { prefix: '/' }, route: { cluster: 'c-a' } }] }] };
const withVhds: EnvoyObject = { '@type': TYPE.route, name: 'http_proxy', vhds };

function commitDelta(s: XdsState, kind: 'LDS' | 'RDS' | 'VHDS', resources: EnvoyObject[], removed: string[] = []): ReturnType<XdsState['deltaCandidate']>['snapshot'] {
  const c = s.deltaCandidate(kind, resources.map((r) => ({ name: String(r['name']), version: '1', resource: r })), removed);
  s.commit(kind, c.snapshot, 'v', undefined, c.versions);
  return c.snapshot;
}

test('xds state: a route config newly sent with vhds is pending until VHDS answers; the data plane keeps its previous form meanwhile', () => {
  const s = new XdsState();
  commitDelta(s, 'LDS', [hcmListener('virtualOutbound', 15001, 'http_proxy')]);
  s.subscribe('RDS', s.desired('RDS'));
  // The whole route config first (as from a state-of-the-world stream).
  const first = commitDelta(s, 'RDS', [whole]);
  assert.equal(first.vhdsPending, undefined);
  const compiled = compileRouteConfigs(first.routes, first.virtualHosts, first.vhdsPending);

  // Then with vhds: pending, so the router keeps the whole one's virtual hosts.
  const c = s.deltaCandidate('RDS', [{ name: 'http_proxy', version: '2', resource: withVhds }], []);
  assert.deepEqual([...(c.snapshot.vhdsPending ?? [])], ['http_proxy']);
  const kept = compileRouteConfigs(c.snapshot.routes, c.snapshot.virtualHosts, c.snapshot.vhdsPending, compiled);
  assert.equal(kept.get('http_proxy'), compiled.get('http_proxy'));
  s.commit('RDS', c.snapshot, 'v2', undefined, c.versions);
  assert.ok(s.subscribe('VHDS', s.desired('VHDS')));
  assert.deepEqual(s.type('VHDS').subscribed, ['http_proxy']);

  // VHDS answers: nothing pending; the router has the virtual hosts (and only this route config's).
  const v = s.deltaCandidate('VHDS', [vhost('http_proxy/b', 'b', 'c-b'), vhost('other/x', 'x', 'c-x')].map((r) => ({ name: String(r['name']), version: '1', resource: r })), []);
  assert.equal(v.snapshot.vhdsPending, undefined);
  assert.deepEqual([...v.snapshot.virtualHosts!.keys()], ['http_proxy/b'], 'a virtual host of a route config not subscribed is ignored');
  const now = compileRouteConfigs(v.snapshot.routes, v.snapshot.virtualHosts, v.snapshot.vhdsPending, kept).get('http_proxy')!;
  const d = routeRequest(now, { authority: 'b', path: '/', method: 'GET', headers: {}, tls: false });
  assert.equal(d.kind === 'route' ? d.cluster : undefined, 'c-b');
  s.commit('VHDS', v.snapshot, 'v1', undefined, v.versions);

  // A later RDS response is not pending (its virtual hosts are held).
  const again = s.deltaCandidate('RDS', [{ name: 'http_proxy', version: '3', resource: { ...withVhds, validateClusters: false } }], []);
  assert.equal(again.snapshot.vhdsPending, undefined);
  assert.equal(again.snapshot.virtualHosts!.size, 1);
  s.commit('RDS', again.snapshot, 'v3', undefined, again.versions);

  // The route config back to whole: its VHDS virtual hosts go, and VHDS is unsubscribed.
  const back = commitDelta(s, 'RDS', [whole]);
  assert.equal(back.virtualHosts!.size, 0);
  assert.ok(s.subscribe('VHDS', s.desired('VHDS')));
  assert.deepEqual(s.type('VHDS').subscribed, []);
  // Sent with vhds once more: pending again until answered.
  const c2 = s.deltaCandidate('RDS', [{ name: 'http_proxy', version: '4', resource: withVhds }], []);
  assert.deepEqual([...(c2.snapshot.vhdsPending ?? [])], ['http_proxy']);
});
