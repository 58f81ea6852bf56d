// The admin /clusters page of a whole proxy (real data plane) in front of two real
// upstreams, one of which always answers 503: its consecutive-error counters show while
// they build up, then the host shows as ejected (Envoy's /failed_outlier_check) with its
// ejection time and count, while the healthy host stays `healthy`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { TYPE } from '../../src/xds/codec.js';
import { backend, stopBackend, type Backend } from '../helpers/backend.js';
import { freePort } from '../helpers/mesh.js';
import { adminGet, proxyFiles, startProxy, type ProxyFiles, type ProxyHarness } from './helpers/harness.js';
import { cla, edsCluster, hcmListener, rootSecret, routeConfig, until } from './helpers/resources.js';

const C = 'outbound|9080||reviews.shop.svc.cluster.local';
let files: ProxyFiles;
let good: Backend;
let bad: Backend;
let h: ProxyHarness;
let port: number;


interface HostJson {
  address: { socket_address: { address: string; port_value: number } };
  health_status: { eds_health_status: string; failed_outlier_check?: boolean };
  outlier_detection?: { ejected: boolean; ejected_since?: string; ejection_time_left_ms?: number; times_ejected: number; consecutive_5xx: number; consecutive_gateway_failure: number };
}
async function hostsJson(): Promise<Map<number, HostJson>> {
  const body = JSON.parse((await adminGet(h.proxy, '/clusters?format=json')).text) as { cluster_statuses: Array<{ name: string; host_statuses: HostJson[] }> };
  const c = body.cluster_statuses.find((s) => s.name === C);
  return new Map((c?.host_statuses ?? []).map((x) => [x.address.socket_address.port_value, x]));
}

before(async () => {
  files = await proxyFiles('weft-outlier-admin-');
  [good, bad] = await Promise.all([backend('good'), backend('bad', { status: 503 })]);
  port = await freePort();
  h = await startProxy(files);
  const cluster = {
    ...edsCluster(C),
    lbPolicy: 'ROUND_ROBIN',
    // Envoy's consecutive 5xx detector at 3, the sweep every 100 ms, a long ejection.
    outlierDetection: { consecutive_5xx: { value: 3 }, interval: { nanos: 100_000_000 }, baseEjectionTime: { seconds: 30 }, maxEjectionPercent: { value: 100 } },
    commonLbConfig: { healthyPanicThreshold: { value: 0 } },
  };
  h.ads.set(TYPE.listener, 'l1', [hcmListener('outbound', port, 'r')]);
  h.ads.set(TYPE.route, 'r1', [routeConfig('r', C)]);
  h.ads.set(TYPE.cluster, 'c1', [cluster]);
  h.ads.set(TYPE.endpoint, 'e1', [cla(C, [good, bad].map((s) => ({ address: '127.0.0.1', port: s.port, health: 'HEALTHY' as const })))]);
  h.ads.set(TYPE.secret, 's1', [rootSecret(files.root.pem)]);
  await until(() => h.proxy.admin.notReadyReason() === undefined, 'proxy ready', 8000);
  await until(() => h.proxy.dataPlane.clusterStatus().find((c) => c.name === C)?.hosts.length === 2, 'both endpoints applied');
});

after(async () => {
  await h?.stop();
  await Promise.all([good, bad].filter(Boolean).map(stopBackend));
  await files?.remove();
});

test('an always-failing upstream: its error counts show, then it is ejected in /clusters; the healthy host is not', async () => {
  const started = Date.now();
  const statuses: number[] = [];
  let sawCounting = false;
  // Bounded: round robin over two hosts ejects the bad one within 6 requests.
  for (let i = 0; i < 20; i++) {
    const res = await request(`http://127.0.0.1:${port}/`, { headers: { host: 'reviews:9080' } });
    await res.body.text();
    statuses.push(res.statusCode);
    const b = (await hostsJson()).get(bad.port)!;
    if (b.outlier_detection!.ejected) break;
    if (b.outlier_detection!.consecutive_5xx > 0) {
      // 503 is both a 5xx and a gateway error: both detectors count it.
      assert.equal(b.outlier_detection!.consecutive_gateway_failure, b.outlier_detection!.consecutive_5xx);
      sawCounting = true;
    }
  }
  assert.ok(sawCounting, 'the consecutive counts were visible before the ejection');
  assert.equal(statuses.filter((s) => s === 503).length, 3, `exactly consecutive_5xx failures reached the client: ${statuses.join(',')}`);

  const hosts = await hostsJson();
  const b = hosts.get(bad.port)!;
  const g = hosts.get(good.port)!;
  assert.equal(b.health_status.failed_outlier_check, true);
  assert.equal(b.health_status.eds_health_status, 'HEALTHY');
  assert.equal(b.outlier_detection!.ejected, true);
  assert.equal(b.outlier_detection!.times_ejected, 1);
  const since = Date.parse(b.outlier_detection!.ejected_since!);
  assert.ok(since >= started && since <= Date.now(), `ejected_since ${b.outlier_detection!.ejected_since}`);
  assert.ok(b.outlier_detection!.ejection_time_left_ms! > 25_000 && b.outlier_detection!.ejection_time_left_ms! <= 30_000);
  assert.equal(g.health_status.failed_outlier_check, undefined);
  assert.deepEqual({ ...g.outlier_detection }, { ejected: false, times_ejected: 0, consecutive_5xx: 0, consecutive_gateway_failure: 0, consecutive_local_origin_failure: 0 });

  // Envoy's text form, which `grep health_flags` users read.
  const text = (await adminGet(h.proxy, '/clusters')).text;
  assert.ok(text.includes(`${C}::127.0.0.1:${bad.port}::health_flags::/failed_outlier_check\n`), text);
  assert.ok(text.includes(`${C}::127.0.0.1:${good.port}::health_flags::healthy\n`));
  assert.ok(text.includes(`${C}::127.0.0.1:${bad.port}::outlier_times_ejected::1\n`));
  assert.match(text, new RegExp(`::127\\.0\\.0\\.1:${bad.port}::outlier_ejected_since::\\d{4}-\\d\\d-\\d\\dT`));
  assert.ok(text.includes(`${C}::default_priority::max_requests::1024\n`));
  // Every line is `cluster::name::value`, `cluster::default_priority::name::value` or `cluster::host::name::value`.
  for (const line of text.trim().split('\n')) {
    const parts = line.split('::');
    assert.ok(parts[0] === C && (parts.length === 3 || parts.length === 4) && parts.at(-1) !== '', line);
  }

  // With the bad host out, every request reaches the good one.
  for (let i = 0; i < 6; i++) {
    const res = await request(`http://127.0.0.1:${port}/`, { headers: { host: 'reviews:9080' } });
    assert.equal(res.statusCode, 200);
    await res.body.text();
  }
  const stats = JSON.parse((await adminGet(h.proxy, '/stats?format=json')).text) as Record<string, number>;
  assert.equal(stats[`cluster.${C}.outlier_detection.ejections_active`], 1);
});
