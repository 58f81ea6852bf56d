// Process supervision without a control plane: restarts with backoff, readiness probe
// transitions, and stopping (Ctrl-C) that leaves no process behind, grandchildren included.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SupervisedProcess, nextBackoff, pidAlive, DEFAULT_RESTART } from '../../src/platform/local/process.js';
import { PodRunner } from '../../src/platform/local/pod.js';
import { resolveReadinessProbe } from '../../src/platform/local/probe.js';

const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
// 100..139: clear of the CLI test (60..99) and the end-to-end meshes (150..249).
const octet = 100 + (process.pid % 40);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

function readPids(file: string): { pid: number; grandchild: number } | undefined {
  try {
    return JSON.parse(readFileSync(file, 'utf8')) as { pid: number; grandchild: number };
  } catch {
    return undefined;
  }
}

test('backoff doubles from 1 s to 30 s and resets after 60 s of uptime', () => {
  let b: number | undefined;
  const seen: number[] = [];
  for (let i = 0; i < 7; i++) seen.push((b = nextBackoff(b, 10, DEFAULT_RESTART)));
  assert.deepEqual(seen, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
  assert.equal(nextBackoff(30000, 60_000, DEFAULT_RESTART), 1000);
});

test('a crashing process is restarted with exponential backoff and stops cleanly', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-sup-'));
  const p = new SupervisedProcess(
    { name: 'crasher', command: process.execPath, args: ['-e', 'console.log("up"); process.exit(3)'], env: process.env, logFile: join(dir, 'crasher.log') },
    { restart: true, initialBackoffMs: 100, maxBackoffMs: 400, resetAfterMs: 60_000 },
  );
  const starts: number[] = [];
  const delays: (number | undefined)[] = [];
  p.on('start', () => starts.push(Date.now()));
  const codes: (number | null)[] = [];
  p.on('exit', (i) => {
    codes.push(i.code);
    delays.push(i.restartInMs);
  });
  await p.start();
  await until(() => starts.length >= 5, 10_000, '5 starts');
  await p.stop(1000);
  assert.deepEqual(delays.slice(0, 4), [100, 200, 400, 400]);
  assert.deepEqual(codes.slice(0, 4), [3, 3, 3, 3]);
  for (let i = 1; i < 5; i++) assert.ok(starts[i]! - starts[i - 1]! >= delays[i - 1]! - 5, `gap ${i} >= backoff`);
  assert.ok(p.restarts >= 4);
  const n = starts.length;
  await sleep(600);
  assert.equal(starts.length, n, 'no start after stop()');
  // The last run may be stopped before it prints.
  assert.ok(readFileSync(join(dir, 'crasher.log'), 'utf8').split('\n').filter((l) => l === 'up').length >= n - 1, 'output goes to the log file');
  rmSync(dir, { recursive: true, force: true });
});

test('a process that cannot be spawned is a clear error', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-sup-'));
  const p = new SupervisedProcess({ name: 'nothing', command: join(dir, 'no-such-binary'), args: [], env: process.env, logFile: join(dir, 'x.log') });
  await assert.rejects(p.start(), (e: Error & { code?: string }) => e.code === 'WEFT_ERR_SPAWN' && /no-such-binary/.test(e.message));
  rmSync(dir, { recursive: true, force: true });
});

test('readiness: httpGet probe transitions are reported; a crash is not-ready at once, then restart and ready again', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-pod-'));
  const host = `127.${octet}.101.1`;
  const port = 19_000 + (process.pid % 1000);
  const readyFile = join(dir, 'ready');
  const pidsFile = join(dir, 'pids.json');
  const env = { ...process.env, POD_IP: host, PORT: String(port), READY_FILE: readyFile, PIDS_FILE: pidsFile, POD_NAME: 'probe-test' };
  const probe = resolveReadinessProbe(
    { name: 'c', ports: [{ containerPort: port }], readinessProbe: { httpGet: { path: '/healthz', port }, periodSeconds: 0.1, timeoutSeconds: 1, failureThreshold: 2 } },
    host,
    env,
  );
  const changes: boolean[] = [];
  const runner = new PodRunner({
    name: 'probe-test',
    app: { spec: { name: 'probe-test app', command: process.execPath, args: [fixture('pod-app.js')], env, logFile: join(dir, 'app.log') }, probe },
    restart: { restart: true, initialBackoffMs: 200, maxBackoffMs: 1000, resetAfterMs: 60_000 },
    onReadyChange: (r) => changes.push(r),
  });
  try {
    await runner.start();
    await sleep(500);
    assert.equal(runner.isReady, false, 'probe fails while /healthz is 503');
    writeFileSync(readyFile, '');
    await until(() => runner.isReady, 5000, 'ready');
    rmSync(readyFile);
    await until(() => !runner.isReady, 5000, 'not ready after the probe fails twice');
    writeFileSync(readyFile, '');
    await until(() => runner.isReady, 5000, 'ready again');
    assert.deepEqual(changes, [true, false, true]);

    const first = readPids(pidsFile)!;
    process.kill(first.pid, 'SIGKILL');
    await until(() => !runner.isReady, 1000, 'not ready at once after the crash');
    await until(() => !pidAlive(first.grandchild), 2000, "the crashed app's grandchild is killed with it");
    await until(() => runner.isReady, 8000, 'ready after the restart');
    assert.equal(runner.restarts, 1);
    assert.notEqual(readPids(pidsFile)!.pid, first.pid);
  } finally {
    await runner.stop(2000);
  }
  const last = readPids(pidsFile)!;
  assert.ok(!pidAlive(last.pid) && !pidAlive(last.grandchild), 'stop() leaves nothing behind');
  rmSync(dir, { recursive: true, force: true });
});

test('Ctrl-C on the supervisor stops every process it started, grandchildren included', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ctrlc-'));
  const pidsFile = join(dir, 'pids.json');
  const host = `127.${octet}.101.2`;
  const port = 20_000 + (process.pid % 1000);
  const sup = spawn(process.execPath, [fixture('supervise.js'), join(dir, 'app.log'), host, String(port)], {
    env: { ...process.env, PIDS_FILE: pidsFile, READY_FILE: join(dir, 'ready') },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  sup.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => sup.once('exit', (code) => r(code)));
  try {
    await until(() => out.includes('READY'), 10_000, 'the pod to be ready');
    const pids = readPids(pidsFile)!;
    assert.ok(pidAlive(pids.pid) && pidAlive(pids.grandchild));
    sup.kill('SIGINT');
    assert.equal(await exited, 0);
    assert.ok(!pidAlive(pids.pid), 'app stopped');
    await until(() => !pidAlive(pids.grandchild), 1000, 'grandchild stopped');
  } finally {
    if (sup.exitCode === null) sup.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(!existsSync(pidsFile));
});
