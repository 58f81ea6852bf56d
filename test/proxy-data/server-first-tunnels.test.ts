// Server-first TCP through two sidecars, as in samples/tcp-tls-routes: the app CONNECTs
// echo:9000 to its sidecar, the VirtualService tcp[] 80/20 route picks echo v1 or v2, the
// hop is mTLS with ALPN weft-tcp to that pod's inbound listener, and the echo app greets
// as soon as the connection opens. The greeting often reaches the app in the same read as
// the proxy's "200 Connection Established"; the sample's probe once dropped it there (a
// chunk unshifted into a flowing socket is emitted on the next tick, to no listener).
//   A. the probe's CONNECT client against a proxy that sends the 200 and the first tunnel
//      bytes in one write: deterministic;
//   B. the real data plane (config from the xDS generator, real cluster manager, mTLS),
//      hundreds of tunnels in parallel: every greeting arrives, and the split holds.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { createDataPlane } from '../../src/proxy/data/index.js';
import type { DataPlane } from '../../src/proxy/types.js';
import { parseYaml } from '../../src/resources/index.js';
import { buildModel, type Workload } from '../../src/model/index.js';
import { generateForProxy } from '../../src/xds/generate.js';
import { startEcho } from '../../samples/tcp-tls-routes/src/echo.js';
import { firstLine, openTunnel, probe } from '../../samples/tcp-tls-routes/src/probe.js';
import { generatedSnapshot, info, listen, portOf } from './helpers.js';
import { testWorkload } from '../helpers/workloads.js';
import { makeCa, TestIdentity } from '../helpers/pki.js';
import { repoRoot } from '../helpers/mesh.js';

describe('A. the probe reads the CONNECT answer and the tunnel bytes that share its segment', () => {
  let proxy: net.Server;
  let port = 0;

  before(async () => {
    // Answers every CONNECT with the 200 and a greeting in one write, as a busy proxy's
    // two writes may arrive together.
    proxy = net.createServer((s) => {
      s.on('error', () => s.destroy());
      s.once('data', () => s.write('HTTP/1.1 200 Connection Established\r\n\r\nhello from upstream\n'));
    });
    port = portOf(await listen(proxy));
  });

  after(() => proxy.close());

  test('the greeting after the 200 in the same read reaches the reader', async () => {
    for (let i = 0; i < 20; i++) {
      const s = await openTunnel({ host: '127.0.0.1', port }, 'echo:9000', 2000);
      try {
        assert.equal(await firstLine(s, 2000), 'hello from upstream');
      } finally {
        s.destroy();
      }
    }
  });
});

describe('B. server-first TCP: app -> sidecar (CONNECT, tcp[] 80/20) -> mTLS weft-tcp -> inbound sidecar -> echo', () => {
  // Addresses of this file only (127.42/16), ports as in the mesh.
  const SLEEP = '127.42.0.1';
  const ECHO = [
    { pod: '127.42.0.2', app: '127.42.100.2', version: 'v1' },
    { pod: '127.42.0.3', app: '127.42.100.3', version: 'v2' },
  ];
  const planes: DataPlane[] = [];
  const apps: net.Server[] = [];

  before(async () => {
    const ca = await makeCa();
    const yaml = fs.readFileSync(path.join(repoRoot, 'samples/tcp-tls-routes/mesh.yaml'), 'utf8');
    const { resources, findings } = parseYaml(yaml, 'mesh.yaml');
    assert.deepEqual(findings.filter((f) => f.severity === 'error'), []);
    const sleep = testWorkload({ name: 'sleep-1', address: SLEEP, appAddress: '127.42.100.1', labels: { app: 'sleep' }, serviceAccount: 'sleep', owner: 'sleep', ports: [] });
    const echoes = ECHO.map((e) =>
      testWorkload({
        name: `echo-${e.version}-1`,
        address: e.pod,
        appAddress: e.app,
        labels: { app: 'echo', version: e.version },
        serviceAccount: 'echo',
        owner: `echo-${e.version}`,
        ports: [{ containerPort: 9000 }],
      }),
    );
    const { model } = buildModel(resources, [sleep, ...echoes]);
    const start = async (w: Workload): Promise<DataPlane> => {
      const res = generateForProxy(model, w, { rootCertsPem: [ca.certPem] });
      const dp = createDataPlane(info(w.address, w.identity), new TestIdentity(await ca.issue(w.identity)));
      planes.push(dp);
      await dp.apply(generatedSnapshot(res));
      return dp;
    };
    for (const e of ECHO) apps.push(await startEcho(`echo-${e.version}`, 9000, e.app));
    for (const w of echoes) assert.ok((await start(w)).boundListeners()['inbound|9000'], `${w.name}: inbound listener`);
    assert.ok((await start(sleep)).boundListeners().virtualOutbound, 'sleep: outbound listener');
  });

  after(async () => {
    await Promise.all(planes.map((p) => p.close()));
    for (const a of apps) a.close();
  });

  test('600 tunnels, 24 at a time: every greeting arrives, split 80/20, all over mTLS weft-tcp', async () => {
    const n = 600;
    const t0 = Date.now();
    const r = await probe({ host: SLEEP, port: 15001 }, 'tcp', 'echo:9000', undefined, n, 24);
    assert.deepEqual(r.errors, [], `after ${Date.now() - t0} ms`);
    const v1 = r.counts['echo-v1'] ?? 0;
    const v2 = r.counts['echo-v2'] ?? 0;
    assert.equal(v1 + v2, n, JSON.stringify(r.counts));
    // Binomial(600, 0.8): sd 1.6 points; 6 points is beyond 3 sd.
    assert.ok(Math.abs(v1 / n - 0.8) <= 0.06, `echo-v1 share ${(v1 / n).toFixed(3)} (${JSON.stringify(r.counts)})`);
    // Each tunnel crossed an inbound sidecar as raw TCP after mTLS (ALPN weft-tcp).
    const tunnels = planes.slice(0, 2).map((p) => p.stats()['tcp.inbound|9000.weft_tcp.downstream_cx_total'] ?? 0);
    assert.deepEqual(tunnels, [v1, v2]);
  });
});
