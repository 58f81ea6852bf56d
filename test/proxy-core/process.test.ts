// The proxy as a real process (`node main.js` with WEFT_* variables and the real data plane):
// becomes ready, logs JSON lines on stderr, drains and exits 0 on SIGTERM.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { TYPE } from '../../src/xds/codec.js';
import { TestAdsServer } from './helpers/ads-server.js';
import { TestCaServer } from './helpers/ca-server.js';
import { makeRoot, makeServerCert, type TestRoot } from '../helpers/pki.js';

const MAIN = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/proxy/core/main.js');
let dir: string;
let root: TestRoot;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weft-p1-proc-'));
  root = await makeRoot();
  await fs.writeFile(path.join(dir, 'root.pem'), root.pem);
  await fs.writeFile(path.join(dir, 'token'), 'tok');
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

test('runs from WEFT_* env, gets ready, exits 0 on SIGTERM after draining', { timeout: 20_000 }, async () => {
  const ca = new TestCaServer({ root, token: 'tok' });
  await ca.start();
  const ads = new TestAdsServer();
  await ads.start(0, await makeServerCert(root, '127.0.0.1'));
  ads.set(TYPE.listener, 'l1', []);
  ads.set(TYPE.cluster, 'c1', []);
  // A free admin port: bind 0 once to learn one.
  const probe = new TestAdsServer();
  const adminPort = await probe.start();
  probe.kill();
  const child = spawn(process.execPath, [MAIN], {
    env: {
      PATH: process.env['PATH'],
      WEFT_POD_NAME: 'proc-1',
      WEFT_POD_NAMESPACE: 'shop',
      WEFT_POD_IP: '127.0.0.1',
      WEFT_XDS_ADDRESS: ads.address,
      WEFT_CA_ADDRESS: ca.address,
      WEFT_CA_ROOT_FILE: path.join(dir, 'root.pem'),
      WEFT_TOKEN_FILE: path.join(dir, 'token'),
      WEFT_ADMIN_PORT: String(adminPort),
      WEFT_DRAIN_SECONDS: '1',
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    let ready = false;
    for (let i = 0; i < 200 && !ready; i++) {
      try {
        const res = await request(`http://127.0.0.1:${adminPort}/ready`);
        await res.body.text();
        ready = res.statusCode === 200;
      } catch {
        // not listening yet
      }
      if (!ready) await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(ready, `proxy never ready; stderr:\n${stderr}`);
    child.kill('SIGTERM');
    const code = await exited;
    assert.equal(code, 0, stderr);
    // Every line on stderr is JSON (no stray warnings either).
    const lines = stderr.trim().split('\n').map((l) => JSON.parse(l) as { msg: string; level: string });
    assert.ok(lines.some((l) => l.msg === 'proxy started'));
    assert.ok(lines.some((l) => l.msg === 'workload certificate issued'));
    assert.ok(lines.some((l) => l.msg === 'shutting down: draining'));
    assert.equal(lines.at(-1)!.msg, 'proxy stopped');
  } finally {
    if (child.exitCode === null) child.kill('SIGKILL');
    ads.kill();
    ca.stop();
  }
});
