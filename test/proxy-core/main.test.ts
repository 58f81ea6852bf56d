import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { TYPE } from '../../src/xds/codec.js';
import type { ProxyOptions } from '../../src/proxy/core/main.js';
import type { IdentityProvider, ProxyIdentityInfo } from '../../src/proxy/types.js';
import type { TestAdsServer } from './helpers/ads-server.js';
import { RecordingDataPlane } from './helpers/fake-data-plane.js';
import { adminGet as get, proxyFiles, startProxy, type ProxyFiles, type ProxyHarness } from './helpers/harness.js';
import { cla, edsCluster, hcmListener, inboundListener, rootSecret, routeConfig, staticCluster, until } from './helpers/resources.js';

const OUT = 'outbound|9080||reviews.shop.svc.cluster.local';
let files: ProxyFiles;

before(async () => {
  files = await proxyFiles('weft-p1-main-');
});
after(async () => {
  await files.remove();
});

interface Harness extends ProxyHarness {
  dp: RecordingDataPlane;
  created: Array<{ info: ProxyIdentityInfo; identity: IdentityProvider }>;
}

/** The proxy with a recording data plane (the data path is tested on its own). */
async function start(dpFactory: () => RecordingDataPlane = () => new RecordingDataPlane(), extra: Partial<ProxyOptions> = {}): Promise<Harness> {
  const created: Harness['created'] = [];
  let dp!: RecordingDataPlane;
  const h = await startProxy(
    files,
    {
      createDataPlane: (info, identity) => {
        created.push({ info, identity });
        dp = dpFactory();
        return dp;
      },
    },
    extra,
  );
  return Object.assign(h, { dp, created });
}

function setConfig(ads: TestAdsServer): void {
  ads.set(TYPE.listener, 'l1', [hcmListener('virtualOutbound', 15001, 'http_proxy'), inboundListener(9080)]);
  ads.set(TYPE.cluster, 'c1', [edsCluster(OUT), staticCluster('inbound|9080||')]);
  ads.set(TYPE.route, 'r1', [routeConfig('http_proxy', OUT), routeConfig('inbound|9080', 'inbound|9080||')]);
  ads.set(TYPE.endpoint, 'e1', [cla(OUT, [{ address: '127.10.0.7', port: 9080, health: 'HEALTHY' }])]);
  ads.set(TYPE.secret, 's1', [rootSecret(files.root.pem)]);
}

test('runProxy: ready once LDS+CDS are applied and a certificate is held; admin endpoints', async () => {
  const h = await start();
  try {
    assert.equal(h.created.length, 1);
    assert.equal(h.created[0]!.info.identity, 'spiffe://cluster.local/ns/shop/sa/reviews');
    assert.equal(h.created[0]!.info.listenAddress, '127.0.0.1');
    assert.equal(h.created[0]!.identity, h.proxy.identity);

    const notReady = await get(h.proxy, '/ready');
    assert.equal(notReady.status, 503);
    assert.match(notReady.text, /LDS not applied yet/);
    assert.equal((await get(h.proxy, '/healthz')).status, 200);

    setConfig(h.ads);
    for (let i = 0; i < 250; i++) {
      if ((await get(h.proxy, '/ready')).status === 200) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal((await get(h.proxy, '/ready')).status, 200);
    // ADS went over TLS with the bearer token.
    assert.equal(h.ads.lastMetadata?.get('authorization')[0], 'Bearer pod-token');
    // Ready needs LDS and CDS only: RDS, EDS and SDS follow (their requests go once those are applied).
    await until(() => (['EDS', 'SDS', 'RDS'] as const).every((k) => h.proxy.xds.status().types[k].accepted > 0), 'EDS/SDS/RDS');

    const dump = await get(h.proxy, '/config_dump');
    assert.equal(dump.status, 200);
    assert.doesNotMatch(dump.text, /PRIVATE KEY/);
    const d = JSON.parse(dump.text) as Record<string, Record<string, unknown>>;
    assert.deepEqual(Object.keys(d['listeners']!).sort(), ['inbound|9080', 'virtualOutbound']);
    assert.deepEqual(Object.keys(d['routes']!).sort(), ['http_proxy', 'inbound|9080']);
    assert.deepEqual(Object.keys(d['clusters']!).sort(), ['inbound|9080||', OUT]);
    assert.deepEqual(Object.keys(d['endpoints']!), [OUT]);
    assert.deepEqual(Object.keys(d['secrets']!), ['ROOTCA']);
    const cert = d['certificate'] as { identity: string; notAfter: string; serial: string };
    assert.equal(cert.identity, 'spiffe://cluster.local/ns/shop/sa/reviews');
    assert.ok(Date.parse(cert.notAfter) > Date.now());
    assert.ok(cert.serial);
    const xds = d['xds'] as Record<string, { version: string; nonce: string; lastUpdate: string }>;
    assert.equal(xds['LDS']!.version, 'l1');
    assert.equal(xds['CDS']!.version, 'c1');
    assert.ok(xds['EDS']!.nonce);
    assert.ok(Date.parse(xds['RDS']!.lastUpdate) > 0);

    const stats = await get(h.proxy, '/stats');
    const lines = stats.text.trim().split('\n');
    assert.deepEqual(lines, [...lines].sort());
    for (const l of lines) assert.match(l, /^[\w.|-]+: -?\d+(\.\d+)?$/);
    assert.ok(lines.includes('xds.lds.update_success: 1'));
    assert.ok(lines.includes('identity.cert_held: 1'));
    assert.ok(lines.includes('xds.nack: 0'));
    assert.ok(lines.some((l) => l.startsWith('test_dp.applied: ')));
    const sj = JSON.parse((await get(h.proxy, '/stats?format=json')).text) as Record<string, number>;
    assert.equal(sj['server.ready'], 1);
    assert.equal(sj['xds.connected'], 1);

    const certs = JSON.parse((await get(h.proxy, '/certs')).text) as { certificate: { chain: Array<{ subjectAltNames: string[] }> }; roots: unknown[] };
    assert.deepEqual(certs.certificate.chain[0]!.subjectAltNames, ['URI:spiffe://cluster.local/ns/shop/sa/reviews']);
    assert.equal(certs.roots.length, 1);

    const mem = JSON.parse((await get(h.proxy, '/memory')).text) as { rss: number; heapUsed: number; heapTotal: number; spaces: Record<string, { size: number; used: number }> };
    assert.ok(mem.rss > mem.heapTotal && mem.heapTotal >= mem.heapUsed && mem.heapUsed > 0, JSON.stringify(mem));
    assert.ok(mem.spaces['old_space']!.used > 0 && mem.spaces['new_space']!.size > 0);

    assert.equal((await get(h.proxy, '/nope')).status, 404);
    assert.equal((await get(h.proxy, '/quitquitquit')).status, 405);
  } finally {
    await h.stop();
  }
});

test('POST /quitquitquit: /ready turns 503 at once, the data plane drains, everything closes', async () => {
  let releaseDrain!: () => void;
  const drainGate = new Promise<void>((r) => (releaseDrain = r));
  const h = await start(() => {
    const dp = new RecordingDataPlane();
    dp.drain = async (ms: number) => {
      dp.drained.push(ms);
      await drainGate;
    };
    return dp;
  });
  try {
    setConfig(h.ads);
    await until(() => h.proxy.admin.notReadyReason() === undefined, 'ready', 8000);
    const q = await get(h.proxy, '/quitquitquit', 'POST');
    assert.equal(q.status, 200);
    await until(() => h.dp.drained.length > 0, 'drain started');
    assert.deepEqual(h.dp.drained, [1000]);
    const r = await get(h.proxy, '/ready');
    assert.equal(r.status, 503);
    assert.match(r.text, /draining/);
    releaseDrain();
    await h.proxy.closed;
    assert.equal(h.dp.closed, true);
    await assert.rejects(get(h.proxy, '/healthz'));
  } finally {
    releaseDrain();
    await h.stop();
  }
});

test('without a certificate the proxy is not ready, and says why', async () => {
  const badToken = path.join(files.dir, 'bad-token');
  await fs.writeFile(badToken, 'not-the-token');
  const h = await start(undefined, { tokenFile: badToken, caRetryInitialMs: 50, caRetryMaxMs: 100 });
  try {
    setConfig(h.ads);
    await until(() => h.proxy.xds.synced().lds && h.proxy.xds.synced().cds && h.proxy.identity!.lastError, 'synced, CA refused');
    const r = await get(h.proxy, '/ready');
    assert.equal(r.status, 503);
    assert.match(r.text, /no workload certificate yet \(last error WEFT_ERR_CA_REQUEST: .*UNAUTHENTICATED/);
    assert.doesNotMatch(r.text, /LDS|CDS/);
    // Retries go on with backoff; the token file is fixed -> certificate -> ready.
    await fs.writeFile(badToken, 'pod-token');
    await until(() => h.proxy.admin.notReadyReason() === undefined, 'ready after the token is fixed');
    const stats = JSON.parse((await get(h.proxy, '/stats?format=json')).text) as Record<string, number>;
    assert.ok(stats['identity.failures']! >= 1);
  } finally {
    await h.stop();
  }
});

test('admin /cpuprofiler and /heap_snapshot write profiles of the running proxy to profileDir', async () => {
  const profileDir = path.join(files.dir, 'profiles');
  const h = await start(undefined, { profileDir });
  try {
    assert.equal((await get(h.proxy, '/cpuprofiler?enable=y', 'GET')).status, 405, 'state changes need POST');
    assert.equal((await get(h.proxy, '/cpuprofiler?enable=n', 'POST')).status, 409, 'stop without start');
    assert.equal((await get(h.proxy, '/cpuprofiler?enable=y', 'POST')).status, 200);
    assert.equal((await get(h.proxy, '/cpuprofiler?enable=y', 'POST')).status, 409, 'one profile at a time');
    for (let i = 0; i < 20; i++) await get(h.proxy, '/stats');
    const stop = await get(h.proxy, '/cpuprofiler?enable=n', 'POST');
    assert.equal(stop.status, 200);
    const file = stop.text.trim();
    assert.ok(file.startsWith(profileDir) && file.endsWith('.cpuprofile'), file);
    const profile = JSON.parse(await fs.readFile(file, 'utf8')) as { nodes: unknown[]; samples: unknown[] };
    assert.ok(profile.nodes.length > 10 && Array.isArray(profile.samples));
    const snap = await get(h.proxy, '/heap_snapshot', 'POST');
    assert.equal(snap.status, 200);
    assert.ok((await fs.stat(snap.text.trim())).size > 1_000_000, 'a heap snapshot of a live process');
  } finally {
    await h.stop();
  }
});
