// The proxy's ADS client with VHDS against the real control plane and generator: its
// outbound route config comes with `vhds`, it subscribes the virtual hosts by the
// route config's name, and what the router compiles from both routes as the whole
// route config would; a routing change arrives as one virtual host; a reconnect
// keeps what is held.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runControl, type ControlPlane } from '../../src/control/main.js';
import { createMemoryLogger } from '../../src/control/log.js';
import { parseYaml } from '../../src/resources/index.js';
import { outboundClusterName, serviceFqdn } from '../../src/xds/names.js';
import { compileRouteConfigs } from '../../src/proxy/data/route-configs.js';
import { routeRequest } from '../../src/proxy/data/router.js';
import { serviceResource, tmpStateDir, workload } from '../control/helpers.js';
import { RecordingDataPlane } from './helpers/fake-data-plane.js';
import { until } from './helpers/resources.js';
import { productpageClient } from './helpers/xds-client.js';

const NS = 'shop';
const reviews = outboundClusterName(9080, serviceFqdn('reviews', NS));
const ratings = outboundClusterName(9080, serviceFqdn('ratings', NS));

function httpService(name: string): ReturnType<typeof serviceResource> {
  const r = serviceResource(NS, name, 9080);
  return { ...r, spec: { ...r.spec, ports: [{ name: 'http', port: 9080, targetPort: 8080 }] } };
}

async function control(stateDir: string, xds = 0): Promise<ControlPlane> {
  const cp = await runControl({ stateDir, ports: { xds, xdsTls: 0, api: 0, monitoring: 0 }, debounceMs: 20, log: createMemoryLogger() });
  await cp.store.apply([httpService('reviews'), httpService('ratings')]);
  await cp.registry.put(workload(NS, 'productpage-1', '127.10.0.5', { app: 'productpage' }));
  await cp.registry.put(workload(NS, 'ratings-1', '127.10.0.7', { app: 'ratings' }));
  cp.ads.rebuildNow();
  return cp;
}

/** Where the proxy's router sends a request for `authority` (with `headers`), from what the client holds. */
function clusterFor(dp: RecordingDataPlane, authority: string, headers: Record<string, string> = {}): string | undefined {
  const s = dp.current!;
  const rc = compileRouteConfigs(s.routes, s.virtualHosts).get('http_proxy')!;
  const d = routeRequest(rc, { authority, path: '/', method: 'GET', headers, tls: false });
  return d?.kind === 'route' ? d.cluster : undefined;
}

test('xds client (delta) with VHDS: virtual hosts by route config name; a routing change is one virtual host; a reconnect keeps what is held', async () => {
  const stateDir = await tmpStateDir();
  let cp = await control(stateDir);
  const dp = new RecordingDataPlane();
  const c = productpageClient(`127.0.0.1:${cp.ports.xds}`, NS, dp);
  try {
    c.start();
    await until(() => (['CDS', 'LDS', 'EDS', 'RDS', 'VHDS', 'SDS'] as const).every((k) => c.status().types[k].accepted > 0), 'every type accepted');
    assert.deepEqual(c.status().types.VHDS.subscribed, ['http_proxy']);
    const rc = dp.current!.routes.get('http_proxy')!;
    assert.ok(rc['vhds'], 'the route config came with vhds');
    assert.ok(dp.current!.virtualHosts!.has(`http_proxy/ratings.${NS}.svc.cluster.local:9080`));
    assert.equal(clusterFor(dp, 'ratings:9080'), ratings);
    assert.equal(clusterFor(dp, `reviews.${NS}.svc.cluster.local:9080`), reviews);
    await until(() => cp.ads.proxies()[0]?.types.VHDS?.status === 'SYNCED', 'VHDS SYNCED on the control plane');

    // A VirtualService on ratings: its virtual host alone is sent; RDS is not.
    const rdsBefore = c.status().types.RDS.accepted;
    const vhdsBefore = c.status().types.VHDS.accepted;
    await cp.store.apply(
      parseYaml(
        `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ratings, namespace: ${NS}}\nspec:\n  hosts: [ratings]\n  http:\n  - match:\n    - headers: {x-canary: {exact: "1"}}\n    route: [{destination: {host: reviews}}]\n  - route: [{destination: {host: ratings}}]\n`,
        'vs.yaml',
      ).resources,
    );
    await until(() => clusterFor(dp, 'ratings:9080', { 'x-canary': '1' }) === reviews, 'the canary route');
    assert.equal(clusterFor(dp, 'ratings:9080'), ratings);
    assert.equal(c.status().types.RDS.accepted, rdsBefore, 'no RDS response');
    assert.equal(c.status().types.VHDS.accepted, vhdsBefore + 1, 'one VHDS response');

    // A control-plane restart: the client resubscribes, says what it holds, and keeps routing.
    const port = cp.ports.xds;
    await cp.close();
    cp = await control(stateDir, port);
    await cp.store.apply(
      parseYaml(
        `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: ratings, namespace: ${NS}}\nspec:\n  hosts: [ratings]\n  http:\n  - match:\n    - headers: {x-canary: {exact: "1"}}\n    route: [{destination: {host: reviews}}]\n  - route: [{destination: {host: ratings}}]\n`,
        'vs.yaml',
      ).resources,
    );
    await until(() => c.status().connected && cp.ads.proxies()[0]?.types.VHDS?.status === 'SYNCED', 'resynced after the restart');
    assert.equal(clusterFor(dp, 'ratings:9080', { 'x-canary': '1' }), reviews);
    assert.equal(clusterFor(dp, 'ratings:9080'), ratings);
  } finally {
    await c.stop();
    await cp.close();
  }
});
