// Helpers for end-to-end tests: run the real `weft` CLI against a private WEFT_HOME,
// on a network octet and ingress port of its own so tests never collide.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
export const repoRoot = path.resolve(here, '../../..');
// The CLI of the same compiled tree as this test (dist/ or a helper's dist-<name>/).
export const weftBin = path.resolve(here, '../../src/cli/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface TestMesh {
  home: string;
  network: number;
  ingressPort: number;
  env: NodeJS.ProcessEnv;
  weft(args: string[], opts?: { timeoutMs?: number; input?: string }): Promise<CliResult>;
}

/** A free TCP port on 127.0.0.1 (best effort: the port is released before use). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, host, () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

function canBind(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = net.createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, host, () => srv.close(() => resolve(true)));
  });
}

/** The CLI's HTTPS ingress port is the HTTP one + 363 (docs/architecture.md). */
const HTTPS_INGRESS_OFFSET = 363;

/** A free port whose HTTPS companion (+363) is free too (best effort, like freePort). */
export async function freeIngressPort(): Promise<number> {
  for (let i = 0; i < 20; i++) {
    const port = await freePort();
    if (port + HTTPS_INGRESS_OFFSET < 65536 && (await canBind(port + HTTPS_INGRESS_OFFSET))) return port;
  }
  throw new Error('no free ingress port pair (port, port + 363) in 20 tries');
}

/**
 * A network octet for an end-to-end mesh, within 150..249: a range no other test uses
 * (unit tests take fixed octets below 100), varied by pid so parallel runs differ.
 */
export function uniqueNetwork(salt: number): number {
  return 150 + ((process.pid * 7 + salt * 13) % 100);
}

export async function makeMesh(salt: number): Promise<TestMesh> {
  const home = fs.mkdtempSync(path.join(os.tmpdir(), 'weft-e2e-'));
  const network = uniqueNetwork(salt);
  const ingressPort = await freeIngressPort();
  const env: NodeJS.ProcessEnv = { ...process.env, WEFT_HOME: home };
  delete env.HTTP_PROXY;
  delete env.http_proxy;
  const weft = (args: string[], opts: { timeoutMs?: number; input?: string } = {}) =>
    runCli(args, env, opts.timeoutMs ?? 60_000, opts.input);
  return { home, network, ingressPort, env, weft };
}

/** Runs the weft bin (killed after timeoutMs); `input` goes to its stdin. */
export function runCli(args: string[], env: NodeJS.ProcessEnv, timeoutMs: number, input?: string, cwd = repoRoot): Promise<CliResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [weftBin, ...args], { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    // A command that fails fast (a bad flag) may exit before reading its stdin: EPIPE is not the test's failure.
    child.stdin.on('error', () => {});
    child.stdin.end(input ?? '');
  });
}

export async function httpGet(url: string, headers: Record<string, string> = {}, timeoutMs = 5000): Promise<{ status: number; body: string; headers: Headers }> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs), redirect: 'manual' });
  return { status: res.status, body: await res.text(), headers: res.headers };
}

/** Polls `fn` until it returns a truthy value or the deadline passes. */
export async function eventually<T>(fn: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Processes whose environment names this WEFT_HOME (to prove nothing is orphaned). */
export function processesUsingHome(home: string): number[] {
  const out = spawnSync('grep', ['-l', '-s', `WEFT_HOME=${home}`, ...fs.readdirSync('/proc').filter((d) => /^\d+$/.test(d)).map((d) => `/proc/${d}/environ`)], { encoding: 'utf8' });
  return out.stdout
    .split('\n')
    .filter(Boolean)
    .map((f) => Number(f.split('/')[2]))
    .filter((pid) => pid !== process.pid);
}
