// The proxy's ADS client speaking delta xDS to the real control plane (with the
// test pipeline): sync, changes and removals by name, a NACK, and a reconnect that
// says what it holds so nothing unchanged is sent again.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runControl, type ControlPlane } from '../../src/control/main.js';
import { createMemoryLogger } from '../../src/control/log.js';
import { outboundClusterName, serviceFqdn } from '../../src/xds/names.js';
import type { XdsClient } from '../../src/proxy/core/xds-client.js';
import { createLogger } from '../../src/proxy/core/log.js';
import { fakePipeline, serviceResource, tmpStateDir, workload } from '../control/helpers.js';
import { RecordingDataPlane } from './helpers/fake-data-plane.js';
import { until } from './helpers/resources.js';
import { productpageClient } from './helpers/xds-client.js';

const NS = 'shop';
const reviews = outboundClusterName(9080, serviceFqdn('reviews', NS));
const ratings = outboundClusterName(9080, serviceFqdn('ratings', NS));

async function control(stateDir: string, xds = 0): Promise<ControlPlane> {
  return runControl({ stateDir, ports: { xds, xdsTls: 0, api: 0, monitoring: 0 }, pipeline: fakePipeline, debounceMs: 20, log: createMemoryLogger() });
}

/** The debug lines of 'xDS update applied' (kind, resources, removed), as the client logs them. */
function appliedLog(lines: string[]): { kind: string; resources: number; removed: number }[] {
  return lines
    .flatMap((chunk) => chunk.split('\n'))
    .filter((l) => l.includes('xDS update applied'))
    .map((l) => JSON.parse(l) as { kind: string; resources: number; removed: number });
}

async function withMesh(
  fn: (cp: () => ControlPlane, dp: RecordingDataPlane, c: XdsClient, logs: () => Promise<string[]>, restart: () => Promise<void>) => Promise<void>,
  protocol?: 'sotw',
): Promise<void> {
  const stateDir = await tmpStateDir();
  let cp = await control(stateDir);
  await cp.store.apply([serviceResource(NS, 'reviews', 9080), serviceResource(NS, 'ratings', 9080)]);
  await cp.registry.put(workload(NS, 'productpage-1', '127.10.0.5', { app: 'productpage' }));
  await cp.registry.put(workload(NS, 'reviews-1', '127.10.0.7', { app: 'reviews' }));
  cp.ads.rebuildNow();
  const logs: string[] = [];
  const logger = createLogger({ level: 'debug', sink: async (chunk) => void logs.push(chunk) });
  const dp = new RecordingDataPlane();
  const c = productpageClient(`127.0.0.1:${cp.ports.xds}`, NS, dp, { logger, ...(protocol ? { protocol } : {}) });
  const restart = async (): Promise<void> => {
    const port = cp.ports.xds;
    await cp.close();
    cp = await control(stateDir, port);
  };
  try {
    await fn(() => cp, dp, c, async () => (await logger.flush(), logs), restart);
  } finally {
    await c.stop();
    await cp.close();
  }
}

const endpointsOf = (dp: RecordingDataPlane, cluster: string): string[] =>
  ((dp.current?.endpoints.get(cluster) as { endpoints?: { lbEndpoints: { endpoint: { address: { socketAddress: { address: string } } } }[] }[] } | undefined)?.endpoints?.[0]?.lbEndpoints ?? []).map(
    (e) => e.endpoint.address.socketAddress.address,
  );

test('xds client (delta): syncs every type, takes an endpoint change and a deleted service by name; the control plane shows it SYNCED on delta', async () => {
  await withMesh(async (cp, dp, c) => {
    c.start();
    await until(() => (['CDS', 'LDS', 'EDS', 'RDS', 'SDS'] as const).every((k) => c.status().types[k].accepted > 0), 'every type accepted');
    assert.equal(c.status().protocol, 'delta');
    assert.deepEqual([...dp.current!.clusters.keys()].sort(), [ratings, reviews]);
    assert.deepEqual(endpointsOf(dp, reviews), ['127.10.0.7']);
    assert.deepEqual([...dp.current!.routes.keys()], ['http_proxy']);
    assert.deepEqual([...dp.current!.secrets.keys()], ['ROOTCA']);
    await until(() => {
      const p = cp().ads.proxies()[0];
      return p?.protocol === 'delta' && (['CDS', 'LDS', 'EDS', 'RDS', 'SDS'] as const).every((t) => p.types[t].status === 'SYNCED');
    }, 'SYNCED on the control plane');

    await cp().registry.put(workload(NS, 'reviews-2', '127.10.0.8', { app: 'reviews' }));
    await until(() => endpointsOf(dp, reviews).length === 2, 'the new endpoint');
    assert.deepEqual(endpointsOf(dp, reviews).sort(), ['127.10.0.7', '127.10.0.8']);

    await cp().store.delete('Service', NS, 'ratings');
    await until(() => !dp.current!.clusters.has(ratings), 'ratings removed');
    assert.equal(dp.current!.endpoints.has(ratings), false, 'its endpoints go with it');
    assert.deepEqual(c.status().types.EDS.subscribed, [reviews], 'unsubscribed');
    await until(() => cp().ads.proxies()[0]!.types.EDS.status === 'SYNCED', 'EDS SYNCED after the removal');
  });
});

test('xds client (delta): a rejected update is NACKed and the old config stays; the control plane shows the error; a fix is taken', async () => {
  await withMesh(async (cp, dp, c) => {
    const bad = outboundClusterName(9080, serviceFqdn('bad', NS));
    dp.reject = (s) => (s.clusters.has(bad) ? 'cluster bad is refused' : undefined);
    c.start();
    await until(() => c.status().types.CDS.accepted > 0 && c.status().types.EDS.accepted > 0, 'synced');
    await cp().store.apply([serviceResource(NS, 'bad', 9080)]);
    await until(() => c.status().types.CDS.rejected > 0, 'NACKed');
    assert.equal(dp.current!.clusters.has(bad), false);
    await until(() => cp().ads.proxies()[0]!.types.CDS.lastError === 'cluster bad is refused', 'the error on the control plane');
    assert.equal(cp().ads.proxies()[0]!.types.CDS.status, 'STALE');

    dp.reject = undefined;
    await cp().store.apply([serviceResource(NS, 'details', 9080)]);
    await until(() => dp.current!.clusters.has(bad) && dp.current!.clusters.size === 4, 'the NACKed cluster comes again with the next change');
    await until(() => cp().ads.proxies()[0]!.types.CDS.status === 'SYNCED', 'SYNCED');
  });
});

test('xds client (delta): after the control plane restarts, the proxy says what it holds and nothing unchanged is sent again', async () => {
  await withMesh(async (cp, dp, c, logs, restart) => {
    c.start();
    await until(() => (['CDS', 'LDS', 'EDS', 'RDS', 'SDS'] as const).every((k) => c.status().types[k].accepted > 0), 'every type accepted');
    const before = dp.current!;
    await restart();
    await until(() => c.status().connected && c.status().types.CDS.accepted > 1 && c.status().types.EDS.accepted > 1, 'resynced after the restart', 10000);
    await until(() => {
      const p = cp().ads.proxies()[0];
      return !!p && (['CDS', 'LDS', 'EDS', 'RDS', 'SDS'] as const).every((t) => p.types[t].status === 'SYNCED');
    }, 'SYNCED on the new control plane');
    const after = appliedLog(await logs()).slice(-5);
    assert.deepEqual(
      after.map((a) => a.resources),
      [0, 0, 0, 0, 0],
      `each type answered with nothing to send (${JSON.stringify(after)})`,
    );
    assert.deepEqual([...dp.current!.clusters.keys()], [...before.clusters.keys()]);
    assert.deepEqual([...dp.current!.endpoints.keys()], [...before.endpoints.keys()]);
  });
});

test('xds client: told to speak state of the world (WEFT_XDS_PROTOCOL=sotw), it does, and the control plane says so', async () => {
  await withMesh(async (cp, dp, c) => {
    c.start();
    await until(() => (['CDS', 'LDS', 'EDS', 'RDS', 'SDS'] as const).every((k) => c.status().types[k].accepted > 0), 'every type accepted');
    assert.equal(c.status().protocol, 'sotw');
    assert.equal(cp().ads.proxies()[0]!.protocol, 'sotw');
    assert.deepEqual(endpointsOf(dp, reviews), ['127.10.0.7']);
  }, 'sotw');
});
