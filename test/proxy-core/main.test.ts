import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { TYPE } from '../../src/xds/codec.js';
import { runProxy, type ProxyOptions, type RunningProxy } from '../../src/proxy/core/main.js';
import { silentLogger } from '../../src/proxy/core/log.js';
import type { IdentityProvider, ProxyIdentityInfo } from '../../src/proxy/types.js';
import { TestAdsServer } from './helpers/ads-server.js';
import { TestCaServer } from './helpers/ca-server.js';
import { RecordingDataPlane } from './helpers/fake-data-plane.js';
import { makeRoot, makeServerCert, type TestRoot } from './helpers/pki.js';
import { cla, edsCluster, hcmListener, inboundListener, rootSecret, routeConfig, staticCluster, until } from './helpers/resources.js';

const OUT = 'outbound|9080||reviews.shop.svc.cluster.local';
let dir: string;
let root: TestRoot;
let rootFile: string;
let tokenFile: string;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weft-p1-main-'));
  root = await makeRoot();
  rootFile = path.join(dir, 'root.pem');
  tokenFile = path.join(dir, 'token');
  await fs.writeFile(rootFile, root.pem);
  await fs.writeFile(tokenFile, 'pod-token');
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

async function get(proxy: RunningProxy, p: string, method: 'GET' | 'POST' = 'GET'): Promise<{ status: number; text: string }> {
  const res = await request(`http://${proxy.adminAddress}${p}`, { method });
  return { status: res.statusCode, text: await res.body.text() };
}

interface Harness {
  ads: TestAdsServer;
  ca: TestCaServer;
  proxy: RunningProxy;
  dp: RecordingDataPlane;
  created: Array<{ info: ProxyIdentityInfo; identity: IdentityProvider }>;
}

async function start(dpFactory: () => RecordingDataPlane = () => new RecordingDataPlane(), extra: Partial<ProxyOptions> = {}): Promise<Harness> {
  const ca = new TestCaServer({ root, token: 'pod-token' });
  await ca.start();
  const ads = new TestAdsServer();
  await ads.start(0, await makeServerCert(root, '127.0.0.1'));
  const created: Harness['created'] = [];
  let dp!: RecordingDataPlane;
  const proxy = await runProxy(
    {
      pod: 'reviews-1',
      namespace: 'shop',
      serviceAccount: 'reviews',
      ip: '127.0.0.1',
      labels: { app: 'reviews' },
      xdsAddress: ads.address,
      caAddress: ca.address,
      caRootFile: rootFile,
      tokenFile,
      adminPort: 0,
      drainSeconds: 1,
      xdsBackoffMaxMs: 200,
      ...extra,
    },
    {
      logger: silentLogger,
      createDataPlane: (info, identity) => {
        created.push({ info, identity });
        dp = dpFactory();
        return dp;
      },
    },
  );
  return { ads, ca, proxy, dp, created };
}

async function stop(h: Harness): Promise<void> {
  await h.proxy.shutdown('test end');
  h.ads.kill();
  h.ca.stop();
}

function setConfig(ads: TestAdsServer): void {
  ads.set(TYPE.listener, 'l1', [hcmListener('virtualOutbound', 15001, 'http_proxy'), inboundListener(9080)]);
  ads.set(TYPE.cluster, 'c1', [edsCluster(OUT), staticCluster('inbound|9080||')]);
  ads.set(TYPE.route, 'r1', [routeConfig('http_proxy', OUT), routeConfig('inbound|9080', 'inbound|9080||')]);
  ads.set(TYPE.endpoint, 'e1', [cla(OUT, '127.10.0.7', 9080)]);
  ads.set(TYPE.secret, 's1', [rootSecret(root.pem)]);
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
    await until(() => h.proxy.xds.status().types.EDS.accepted > 0 && h.proxy.xds.status().types.SDS.accepted > 0, 'EDS/SDS');

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

    h.dp.ejections = { [OUT]: [{ endpoint: '127.10.0.7:9080', ejectedForMs: 1200, timesEjected: 1 }] };
    assert.deepEqual(JSON.parse((await get(h.proxy, '/outlier_ejections')).text), h.dp.ejections);

    assert.equal((await get(h.proxy, '/nope')).status, 404);
    assert.equal((await get(h.proxy, '/quitquitquit')).status, 405);
  } finally {
    await stop(h);
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
    await stop(h);
  }
});

test('without a certificate the proxy is not ready, and says why', async () => {
  const badToken = path.join(dir, 'bad-token');
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
    await stop(h);
  }
});
