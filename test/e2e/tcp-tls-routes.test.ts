// End to end: `weft up samples/tcp-tls-routes`, then the sample's external/ resources
// applied against two TLS servers this test runs on loopback (outside the mesh).
//   - tcp[]: an app (`weft exec sleep -- probe.js tcp echo:9000`) CONNECTs through its
//     sidecar; the 80/20 VirtualService splits connections between echo v1 and v2 (each hop
//     mTLS between sidecars);
//   - tls[]: the app CONNECTs api.external.test:443 and starts TLS; its sidecar routes the
//     tunnel by the ClientHello's SNI to one external server or the other, never terminating;
//   - the same tls[] rules on the ingress gateway's PASSTHROUGH server (port 443).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import tls from 'node:tls';
import { makeMesh, repoRoot, eventually, processesUsingHome, type TestMesh } from '../helpers/mesh.js';
import { startExternalTls, type ExternalTls } from '../../samples/tcp-tls-routes/src/external-tls.js';
import { firstLine, probe, type ProbeResult } from '../../samples/tcp-tls-routes/src/probe.js';

const SAMPLE = path.join(repoRoot, 'samples/tcp-tls-routes');
const PROBE = 'dist/samples/tcp-tls-routes/src/probe.js';

let mesh: TestMesh;
let external: ExternalTls[] = [];
let externalHost = '';
let sleepProxy: { host: string; port: number };

before(async () => {
  mesh = await makeMesh(7);
  // Outside the mesh, on an address of this mesh's own octet that no pod uses (127.N.200.1),
  // so their ports never collide with other tests' ports on 127.0.0.1.
  externalHost = `127.${mesh.network}.200.1`;
  external = await startExternalTls(
    [
      { name: 'api', port: 0 },
      { name: 'mirror', port: 0 },
    ],
    externalHost,
  );
  const up = await mesh.weft(['up', SAMPLE, '--detach', '--network', String(mesh.network), '--ingress-port', String(mesh.ingressPort)], { timeoutMs: 90_000 });
  assert.equal(up.code, 0, `weft up failed:\n${up.stdout}\n${up.stderr}`);
  const status = await mesh.weft(['status', '-o', 'json']);
  const pods = (JSON.parse(status.stdout) as { pods: { name: string; address: string }[] }).pods;
  const sleep = pods.find((p) => p.name.startsWith('sleep-'));
  assert.ok(sleep, 'a sleep pod');
  sleepProxy = { host: sleep.address, port: 15001 };
  // The sample's external resources, pointed at this test's servers.
  const yaml = fs
    .readFileSync(path.join(SAMPLE, 'external/external-tls.yaml'), 'utf8')
    .replaceAll('address: 127.0.0.1', `address: ${externalHost}`)
    .replace('ports: {tls: 9443}', `ports: {tls: ${external[0]!.port}}`)
    .replace('ports: {tls: 9444}', `ports: {tls: ${external[1]!.port}}`);
  assert.equal(yaml.split(externalHost).length - 1, 2, 'both endpoints rewritten');
  const file = path.join(mesh.home, 'external-tls.yaml');
  fs.writeFileSync(file, yaml);
  const applied = await mesh.weft(['apply', '-f', file]);
  assert.equal(applied.code, 0, applied.stderr);
});

after(async () => {
  if (mesh) {
    const down = await mesh.weft(['down'], { timeoutMs: 60_000 });
    assert.equal(down.code, 0, down.stderr);
    await eventually(async () => processesUsingHome(mesh.home).length === 0, 15_000, 'every mesh process to exit');
    fs.rmSync(mesh.home, { recursive: true, force: true });
  }
  await Promise.all(external.map((e) => e.close()));
});

/** The probe run as the app, through `weft exec` (HTTP_PROXY = its sidecar). */
async function probeInPod(args: string[]): Promise<ProbeResult> {
  const res = await mesh.weft(['exec', 'sleep', '--', process.execPath, PROBE, ...args], { timeoutMs: 30_000 });
  assert.equal(res.code, 0, `probe ${args.join(' ')}: ${res.stdout} ${res.stderr}`);
  return JSON.parse(res.stdout) as ProbeResult;
}

test('tls[] in the sidecar: the app CONNECTs api.external.test:443 and the SNI picks the external server', async () => {
  // The external resources were applied after start: wait until the sidecar routes by SNI.
  await eventually(async () => (await probe(sleepProxy, 'tls', 'api.external.test:443', 'beta.api.external.test', 1, 1)).counts.mirror === 1, 15_000, 'the SNI route in the sidecar');
  assert.deepEqual(await probeInPod(['tls', 'api.external.test:443', 'beta.api.external.test', '4']), { counts: { mirror: 4 }, errors: [] });
  // Wildcard rule; and an SNI no rule names goes where the app asked (api.external.test itself).
  assert.deepEqual(await probe(sleepProxy, 'tls', 'api.external.test:443', 'eu.api.external.test', 4, 2), { counts: { api: 4 }, errors: [] });
  assert.deepEqual(await probe(sleepProxy, 'tls', 'api.external.test:443', 'api.external.test', 2, 1), { counts: { api: 2 }, errors: [] });
  // The servers saw the clients' own ClientHellos.
  assert.ok((external[1]!.seen.get('beta.api.external.test') ?? 0) >= 5);
  assert.ok((external[0]!.seen.get('eu.api.external.test') ?? 0) >= 4);
});

test('tcp[] weights: connections from the app split 80/20 between echo v1 and v2', async () => {
  const n = 250;
  const r = await probeInPod(['tcp', 'echo:9000', String(n)]);
  assert.deepEqual(r.errors, []);
  const v1 = r.counts['echo-v1'] ?? 0;
  const v2 = r.counts['echo-v2'] ?? 0;
  assert.equal(v1 + v2, n, JSON.stringify(r.counts));
  // Binomial(250, 0.8): sd 2.5 points; 8 points is beyond 3 sd.
  assert.ok(Math.abs(v1 / n - 0.8) <= 0.08, `echo-v1 share ${(v1 / n).toFixed(3)} (${JSON.stringify(r.counts)})`);
});

test('tls[] on the ingress gateway: a TLS PASSTHROUGH server forwards by SNI', async () => {
  const https = mesh.ingressPort + 363;
  const greet = (servername: string) => {
    const s = tls.connect({ port: https, host: '127.0.0.1', servername, rejectUnauthorized: false });
    return firstLine(s).finally(() => s.destroy());
  };
  await eventually(async () => (await greet('beta.api.external.test').catch(() => '')).startsWith('mirror'), 15_000, 'the passthrough route on the gateway');
  assert.equal(await greet('eu.api.external.test'), 'api sni=eu.api.external.test');
  // Outside the server's hosts: no filter chain, the connection is closed.
  await assert.rejects(greet('elsewhere.example.org'));
});
