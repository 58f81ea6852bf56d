// VHDS on the control plane: a delta proxy that reads it (node.client_features
// weft.vhds) gets a sidecar's http_proxy as a route config with `vhds` and its virtual
// hosts as VirtualHost resources; a routing change sends that one virtual host. Others
// (no feature, or state of the world) get the whole route config.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runControl, type ControlPlane } from '../../src/control/main.js';
import { createMemoryLogger } from '../../src/control/log.js';
import { parseYaml } from '../../src/resources/index.js';
import { VHDS_FEATURE, type DeltaDiscoveryResponse } from '../../src/xds/ads-service.js';
import { AdsTestClient, DeltaTestClient, T, serviceResource, tmpStateDir, waitFor, workload } from './helpers.js';

const RC = 'http_proxy';
const host = (svc: string) => `${RC}/${svc}.default.svc.cluster.local:9080`;
const names = (r: DeltaDiscoveryResponse) => (r.resources ?? []).map((x) => x.name!);
type Obj = Record<string, unknown>;

function httpService(name: string): ReturnType<typeof serviceResource> {
  const r = serviceResource('default', name, 9080);
  return { ...r, spec: { ...r.spec, ports: [{ name: 'http', port: 9080, targetPort: 8080 }] } };
}

const canary = parseYaml(
  'apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ratings, namespace: default}\nspec:\n  hosts: [ratings]\n  http:\n  - match:\n    - headers: {x-canary: {exact: "1"}}\n    route: [{destination: {host: ratings}}]\n  - route: [{destination: {host: ratings}}]\n',
  'vs.yaml',
).resources;

async function start(): Promise<ControlPlane> {
  const cp = await runControl({ stateDir: await tmpStateDir(), ports: { xds: 0, xdsTls: 0, api: 0, monitoring: 0 }, debounceMs: 30, log: createMemoryLogger() });
  await cp.store.apply([httpService('reviews'), httpService('ratings')]);
  await cp.registry.put(workload('default', 'reviews-1', '127.0.0.2', { app: 'reviews' }));
  await cp.registry.put(workload('default', 'ratings-1', '127.0.0.3', { app: 'ratings' }));
  cp.ads.rebuild();
  return cp;
}

/** Subscribes CDS and LDS (wildcard) and ACKs them. */
async function listenersAndClusters(c: DeltaTestClient): Promise<void> {
  c.request(T.cluster);
  c.ack(await c.next(T.cluster));
  c.request(T.listener);
  c.ack(await c.next(T.listener));
}

test('vhds: http_proxy goes with vhds and its virtual hosts as resources; a routing change sends that one virtual host; the config view shows them in their route config', async () => {
  const cp = await start();
  const c = new DeltaTestClient(`127.0.0.1:${cp.ports.xds}`, { namespace: 'default', pod: 'reviews-1', ip: '127.0.0.2', clientFeatures: [VHDS_FEATURE] });
  try {
    await listenersAndClusters(c);
    c.request(T.route, { resourceNamesSubscribe: [RC] });
    const rds = await c.next(T.route);
    assert.deepEqual(names(rds), [RC]);
    const rc = rds.resources![0]!.resource as Obj;
    assert.deepEqual(rc['vhds'], { configSource: { ads: {}, resourceApiVersion: 'V3' } });
    assert.equal(rc['virtualHosts'], undefined, 'no virtual hosts of its own');
    c.ack(rds);

    // Subscribing the route config's name: every virtual host of it (it is not itself a resource, so not "removed").
    c.request(T.virtualHost, { resourceNamesSubscribe: [RC] });
    const vhds = await c.next(T.virtualHost);
    assert.ok(names(vhds).includes(host('reviews')) && names(vhds).includes(host('ratings')), names(vhds).join(', '));
    assert.ok(names(vhds).every((n) => n.startsWith(`${RC}/`)));
    for (const r of vhds.resources!) {
      assert.equal((r.resource as Obj)['@type'], T.virtualHost);
      assert.equal((r.resource as Obj)['name'], r.name, 'a virtual host is named as its resource');
    }
    assert.deepEqual(vhds.removedResources ?? [], []);
    c.ack(vhds);
    const total = vhds.resources!.length;
    await waitFor(() => (['RDS', 'VHDS'] as const).every((t) => cp.ads.proxies()[0]?.types[t]?.status === 'SYNCED'), 3000, 'RDS and VHDS SYNCED');

    // A VirtualService for ratings: that virtual host alone, and no RDS (the route config did not change).
    await cp.store.apply(canary);
    const change = await c.next(T.virtualHost);
    assert.deepEqual(names(change), [host('ratings')]);
    assert.match(JSON.stringify(change.resources![0]!.resource), /x-canary/);
    assert.deepEqual(change.removedResources ?? [], []);
    c.ack(change);
    assert.deepEqual((await c.drain(200)).map((r) => r.typeUrl), [], 'nothing else');

    // Deleting the ratings service removes its virtual host.
    await cp.store.delete('VirtualService', 'default', 'ratings');
    c.ack(await c.next(T.virtualHost));
    await cp.store.delete('Service', 'default', 'ratings');
    const gone = await c.next(T.virtualHost, 3000);
    assert.deepEqual(gone.removedResources, [host('ratings')]);
    c.ack(gone);

    // What the API shows of the proxy: the route config with the virtual hosts it was sent over VHDS.
    await waitFor(() => cp.ads.proxies()[0]?.types.VHDS?.status === 'SYNCED', 3000, 'VHDS SYNCED');
    const view = cp.ads.proxyConfig(cp.ads.proxies()[0]!.id)!;
    const shown = (view.RDS[0]!['virtualHosts'] as Obj[]).map((v) => v['name']);
    assert.equal(shown.length, total - 1);
    assert.ok(shown.includes(host('reviews')) && !shown.includes(host('ratings')));
  } finally {
    c.close();
    await cp.close();
  }
});

test('vhds: a delta proxy without the feature, and a SotW proxy with it, get the whole route config', async () => {
  const cp = await start();
  const plain = new DeltaTestClient(`127.0.0.1:${cp.ports.xds}`, { namespace: 'default', pod: 'reviews-1', ip: '127.0.0.2' });
  const sotw = new AdsTestClient(`127.0.0.1:${cp.ports.xds}`, { namespace: 'default', pod: 'ratings-1', ip: '127.0.0.3', clientFeatures: [VHDS_FEATURE] });
  try {
    await listenersAndClusters(plain);
    plain.request(T.route, { resourceNamesSubscribe: [RC] });
    const rc = (await plain.next(T.route)).resources![0]!.resource as Obj;
    assert.equal(rc['vhds'], undefined);
    assert.ok((rc['virtualHosts'] as Obj[]).some((v) => v['name'] === 'ratings.default.svc.cluster.local:9080'));

    sotw.request(T.route, { resourceNames: [RC] });
    const whole = (await sotw.next(T.route)).resources![0] as Obj;
    assert.equal(whole['vhds'], undefined);
    assert.ok((whole['virtualHosts'] as Obj[]).length > 1);
  } finally {
    plain.close();
    sotw.close();
    await cp.close();
  }
});
