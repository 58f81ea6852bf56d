// The bench suite: `node dist/bench/run.js [--quick] [--only direct,haproxy-pair,...]
//   [--skip-weft] [--skip-control] [--haproxy-threads 1]` (also nginx's worker_processes)
// Starts each topology on loopback, measures closed-loop max throughput (wrk,
// h2load) and open-loop latency (bench/open-loop), CPU and RSS of every proxy
// process, then the control plane at scale (bench/control-scale), and writes
// bench/results/<date>-<mode>.json and bench/results/latest.md (also printed;
// `--out DIR` writes them to DIR instead, for trial runs that must not touch results/).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Meter, sample, type ProcRef } from './proc.js';
import type { OpenLoopResult } from './open-loop.js';
import { startWeft, type Endpoints, type Entry } from './weft-adapter.js';
import { directEndpoints, startHaproxyPair, startHaproxySingle, startNodePair, startUpstream, type Running } from './references.js';
import { nginxVersion, startNginxPair, startNginxSingle } from './nginx.js';
import { haproxyBin } from './programs.js';
import { renderMarkdown, evaluateTargets, type Results, type TopologyResult, type Scenario, type ProcUsage } from './report.js';

const here = path.dirname(fileURLToPath(import.meta.url)); // <dist>/bench
const distDir = path.dirname(here);
const repoRoot = path.resolve(distDir, '..');
const benchSrc = path.join(repoRoot, 'bench');
const runtimeDir = path.join(benchSrc, 'runtime');

const argv = process.argv.slice(2);
const flag = (n: string): boolean => argv.includes(`--${n}`);
const opt = (n: string): string | undefined => {
  const i = argv.indexOf(`--${n}`);
  return i >= 0 ? argv[i + 1] : undefined;
};
const QUICK = flag('quick');
const MODE = QUICK ? 'quick' : 'full';
const HAPROXY_THREADS = Number(opt('haproxy-threads') ?? 1);
const ONLY = opt('only')?.split(',');
const log = (s: string): void => void process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

const SCENARIOS: Scenario[] = [
  { id: 'h1-small', proto: 'http1', path: '/', label: 'HTTP/1.1 13 B' },
  { id: 'h1-1k', proto: 'http1', path: '/1k', label: 'HTTP/1.1 1 KB' },
  { id: 'h2-1k', proto: 'h2', path: '/1k', label: 'HTTP/2 1 KB' },
  { id: 'grpc-1k', proto: 'grpc', path: '/bench.Bench/Unary', label: 'gRPC unary 1 KB' },
];
const byId = (id: string): Scenario => SCENARIOS.find((s) => s.id === id)!;
// Quick: a smoke run of every topology in under two minutes (~14 s each), not numbers to quote.
const PLAN = QUICK
  ? { max: ['h1-1k', 'h2-1k'], maxS: 2, warmMaxS: 0.5, open: [['h1-1k', [1000]], ['grpc-1k', [1000]]] as [string, number[]][], openS: 1.5, warmS: 0.5, steadyS: 1.5 }
  : {
      max: SCENARIOS.map((s) => s.id),
      maxS: 10,
      /** The discarded closed-loop run per max scenario (steady state before measuring). */
      warmMaxS: 10,
      open: SCENARIOS.map((s) => [s.id, [500, 1000, 2000]]) as [string, number[]][],
      openS: 10,
      warmS: 2,
      /** The steady 1,000 rps run before the max runs (memory; its latency is not reported). */
      steadyS: 8,
    };
const H1_CONNS = 16;
const H2_CONNS = 4;
const H2_STREAMS = 16;

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 120_000): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(t);
      resolve({ code, out, err });
    });
  });
}

interface MaxResult {
  tool: string;
  rps: number;
  requests: number;
  errors: number;
  note?: string;
}

async function maxThroughput(s: Scenario, e: Entry, seconds: number): Promise<MaxResult> {
  if (s.proto === 'http1') {
    const args = ['-t1', `-c${H1_CONNS}`, `-d${seconds}s`, '--timeout', '5s', '-s', path.join(benchSrc, 'wrk-proxy.lua'), `http://${e.target}/`];
    const env: NodeJS.ProcessEnv = { WRK_PATH: s.path, WRK_ABSOLUTE: e.absolute ?? '' };
    const r = await run('wrk', args, env, (seconds + 30) * 1000);
    const rps = Number(/Requests\/sec:\s+([\d.]+)/.exec(r.out)?.[1] ?? 0);
    const requests = Number(/(\d+) requests in/.exec(r.out)?.[1] ?? 0);
    const non2xx = Number(/Non-2xx or 3xx responses: (\d+)/.exec(r.out)?.[1] ?? 0);
    const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(r.out);
    const sockErr = sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0;
    // Only successful responses count as throughput.
    const good = requests > 0 ? rps * Math.max(0, requests - non2xx) / requests : 0;
    return { tool: `wrk -t1 -c${H1_CONNS}`, rps: good, requests: requests - non2xx, errors: non2xx + sockErr, ...(r.code !== 0 ? { note: r.err.trim().slice(0, 200) } : {}) };
  }
  const args = ['-t1', `-c${H2_CONNS}`, `-m${H2_STREAMS}`, '-D', String(seconds)]; // no --warm-up-time: the discarded run warmed up, and the meter counts every second
  if (e.authority) args.push('-H', `:authority: ${e.authority}`);
  if (s.proto === 'grpc') {
    const body = path.join(runtimeDir, 'grpc-1k.bin');
    const b = Buffer.alloc(9);
    b.writeUInt32BE(4, 1);
    b.writeUInt32BE(1024, 5);
    fs.writeFileSync(body, b);
    args.push('-d', body, '-H', 'content-type: application/grpc', '-H', 'te: trailers');
  }
  args.push(`http://${e.target}${s.path}`);
  const r = await run('h2load', args, {}, (seconds + 30) * 1000);
  const rps = Number(/finished in [\d.]+m?s, ([\d.]+) req\/s/.exec(r.out)?.[1] ?? 0);
  const m = /requests: (\d+) total, (\d+) started, (\d+) done, (\d+) succeeded, (\d+) failed, (\d+) errored/.exec(r.out);
  const done = Number(m?.[3] ?? 0);
  const failed = Number(m?.[5] ?? 0) + Number(m?.[6] ?? 0);
  const good = done > 0 ? rps * Math.max(0, done - failed) / done : 0;
  return { tool: `h2load -t1 -c${H2_CONNS} -m${H2_STREAMS}`, rps: good, requests: done - failed, errors: failed, ...(r.code !== 0 || !m ? { note: (r.err || r.out).trim().slice(-200) } : {}) };
}

async function openLoop(s: Scenario, e: Entry, rate: number, seconds: number, warmS: number): Promise<OpenLoopResult | { error: string }> {
  const args = [path.join(here, 'open-loop.js'), '--mode', s.proto, '--target', e.target, '--path', s.path, '--rate', String(rate), '--duration', String(seconds), '--warmup', String(warmS), '--connections', '4', '--grpc-size', '1024'];
  if (s.proto === 'http1' && e.absolute) args.push('--absolute', e.absolute);
  if (e.authority) args.push('--authority', e.authority);
  const r = await run(process.execPath, args, {}, (seconds + warmS * 3 + 30) * 1000);
  try {
    return JSON.parse(r.out) as OpenLoopResult;
  } catch {
    return { error: `open-loop failed (${r.code}): ${r.err.trim().slice(0, 300)}` };
  }
}

function usage(m: Meter, requests: number): ProcUsage[] {
  return m.stop().map((u) => ({ role: u.role, cpuS: u.cpuS, vcpu: u.cpuS / u.wallS, cpuSPer1kReq: requests > 0 ? (u.cpuS / requests) * 1000 : 0, peakRssMB: u.peakRssMB, peakPrivateMB: u.peakPrivateMB }));
}

async function measureTopology(name: string, endpoints: Endpoints, procs: ProcRef[], notes: string[]): Promise<TopologyResult> {
  const t: TopologyResult = { name, available: true, notes, idle: [], max: {}, open: {} };
  // Warm the path once (connections, JIT) before the idle sample.
  await openLoop(byId('h1-1k'), endpoints.http1, 200, 1, 0.2);
  await new Promise((r) => setTimeout(r, 500));
  t.idle = procs.map((p) => {
    const s = sample(p);
    return { role: p.role, rssMB: s.rssMB, privateMB: s.privateMB };
  });
  // Memory at a steady 1,000 rps, before the max runs grow the heaps of the runtimes that have one.
  {
    const meter = new Meter(procs);
    const r = await openLoop(byId('h1-1k'), endpoints.http1, 1000, PLAN.steadyS, PLAN.warmS);
    t.steady1k = usage(meter, 'error' in r ? 0 : r.completed);
    log(`${name} steady 1000 rps RSS: ${t.steady1k.map((p) => `${p.role} ${p.peakRssMB.toFixed(0)} MB (${(p.peakPrivateMB ?? 0).toFixed(0)} MB private)`).join(', ')}`);
  }
  // Then one discarded closed-loop run per max scenario: the numbers are steady state. A JIT
  // runtime (weft, the Node floor) needs thousands of requests to optimise its hot paths;
  // 200 left weft's first 2 s run at half its steady throughput. Every topology gets the same.
  for (const id of PLAN.max) await maxThroughput(byId(id), endpoints[byId(id).proto], PLAN.warmMaxS);
  for (const id of PLAN.max) {
    const s = byId(id);
    const meter = new Meter(procs);
    const r = await maxThroughput(s, endpoints[s.proto], PLAN.maxS);
    t.max[id] = { ...r, procs: usage(meter, r.requests) };
    log(`${name} max ${id}: ${Math.round(r.rps)} rps (${r.tool}${r.errors ? `, ${r.errors} errors` : ''}${r.note ? `; ${r.note}` : ''})`);
  }
  for (const [id, rates] of PLAN.open) {
    const s = byId(id);
    for (const rate of rates) {
      const meter = new Meter(procs);
      const r = await openLoop(s, endpoints[s.proto], rate, PLAN.openS, PLAN.warmS);
      // CPU is counted from the meter start, so it includes the warm-up requests.
      const reqs = 'error' in r ? 0 : r.completed + Math.max(4 * 4, Math.round(rate * PLAN.warmS));
      (t.open[id] ??= {})[String(rate)] = { result: r, procs: usage(meter, reqs) };
      if ('error' in r) log(`${name} open ${id} @${rate}: ${r.error}`);
      else
        log(
          `${name} open ${id} @${rate}: p50 ${(r.latencyUs.p50 / 1000).toFixed(3)} p99 ${(r.latencyUs.p99 / 1000).toFixed(3)} max ${(r.latencyUs.max / 1000).toFixed(1)} ms, ${Math.round(r.achievedRps)} rps, ${r.errors} errors${r.firstError ? ` (${r.firstError})` : ''}`,
        );
    }
  }
  return t;
}

/** A topology that did not start: in the results with the reason, and the run goes on. */
function unavailable(results: Results, name: string, e: unknown): void {
  const msg = e instanceof Error ? e.message : String(e);
  log(`${name} unavailable: ${msg.split('\n')[0]}`);
  results.topologies[name] = { name, available: false, error: msg, notes: [], idle: [], max: {}, open: {} };
}

function want(name: string): boolean {
  return !ONLY || ONLY.includes(name);
}

async function main(): Promise<void> {
  const started = Date.now();
  fs.mkdirSync(runtimeDir, { recursive: true });
  const certs = path.join(benchSrc, '.certs');
  if (!fs.existsSync(path.join(certs, 'a.pem'))) throw new Error('no certificates: run bash bench/setup.sh first');
  const results: Results = {
    date: new Date().toISOString(),
    mode: MODE,
    machine: { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model ?? '', memGB: Math.round(os.totalmem() / 2 ** 30), node: process.version, kernel: os.release() },
    method: {
      maxThroughput: `closed loop, ${PLAN.maxS} s: wrk -t1 -c${H1_CONNS} (HTTP/1.1), h2load -t1 -c${H2_CONNS} -m${H2_STREAMS} (HTTP/2, gRPC)`,
      openLoop: `bench/open-loop: 4 connections, ${PLAN.openS} s per rate after ${PLAN.warmS} s warm-up, latency from intended send time`,
      haproxyThreads: HAPROXY_THREADS,
      nginxWorkers: HAPROXY_THREADS,
    },
    tools: {},
    topologies: {},
  };
  for (const [k, cmd] of [['haproxy', `${haproxyBin()} -v`], ['wrk', 'wrk -v'], ['h2load', 'h2load --version']] as const) {
    const r = await run('sh', ['-c', `${cmd} 2>&1 | head -1`]);
    results.tools[k] = r.out.trim();
    if (k === 'haproxy') results.tools['nginx'] = await nginxVersion(); // found off PATH too (/usr/sbin)
  }

  const cleanups: (() => Promise<void>)[] = [];
  const cleanup = async (): Promise<void> => {
    while (cleanups.length) await cleanups.pop()!().catch(() => {});
  };
  process.on('SIGINT', () => void cleanup().then(() => process.exit(130)));
  try {
    const upstream = await startUpstream(path.join(here, 'upstream.js'), runtimeDir);
    cleanups.push(upstream.stop);
    const upProc = upstream.procs;
    if (want('direct')) results.topologies['direct'] = await measureTopology('direct', directEndpoints, upProc, ['client -> app']);
    // The references, one at a time; one that cannot start (say nginx missing) is
    // reported unavailable with the reason and the run goes on.
    const refs: { name: string; start: () => Promise<Running & { endpoints: Endpoints }>; notes: string[] }[] = [
      {
        name: 'haproxy-pair',
        start: () => startHaproxyPair(certs, runtimeDir, HAPROXY_THREADS),
        notes: [`client -> haproxy A -> mTLS (TLS 1.3, ECDSA P-256, HTTP/2) -> haproxy B -> app; nbthread ${HAPROXY_THREADS}`],
      },
      {
        name: 'nginx-pair',
        start: () => startNginxPair(certs, runtimeDir, HAPROXY_THREADS),
        notes: [
          `client -> nginx A -> mTLS (TLS 1.3, ECDSA P-256; HTTP/1.1 keep-alive for HTTP/1.1 and HTTP/2 clients, HTTP/2 for gRPC) -> nginx B -> app; worker_processes ${HAPROXY_THREADS} (like nbthread ${HAPROXY_THREADS}) plus the idle master; upstream keepalive pools`,
        ],
      },
      {
        name: 'node-pair',
        start: () => startNodePair(path.join(here, 'node-floor.js'), certs, runtimeDir),
        notes: ['the Node floor: client -> minimal Node proxy A -> mTLS (TLS 1.3, ECDSA P-256; HTTP/1.1 or HTTP/2 as the client spoke) -> minimal Node proxy B -> app (bench/node-floor.ts)'],
      },
      {
        name: 'haproxy-single',
        start: () => startHaproxySingle(runtimeDir, HAPROXY_THREADS),
        notes: [`client -> haproxy (plaintext) -> app; nbthread ${HAPROXY_THREADS}`],
      },
      {
        name: 'nginx-single',
        start: () => startNginxSingle(runtimeDir, HAPROXY_THREADS),
        notes: [`client -> nginx (plaintext; HTTP/1.1 keep-alive to the app, HTTP/2 for gRPC) -> app; worker_processes ${HAPROXY_THREADS}`],
      },
    ];
    for (const ref of refs) {
      if (!want(ref.name)) continue;
      let topo: Running & { endpoints: Endpoints };
      try {
        topo = await ref.start();
      } catch (e) {
        unavailable(results, ref.name, e);
        continue;
      }
      cleanups.push(topo.stop);
      results.topologies[ref.name] = await measureTopology(ref.name, topo.endpoints, topo.procs, ref.notes);
      await cleanups.pop()!();
    }
    await cleanups.pop()!(); // the standalone upstream
    if (!flag('skip-weft') && (want('weft-mesh') || want('weft-single'))) {
      try {
        const weft = await startWeft({ repoRoot, distDir, runtimeDir, network: 78, ingressPort: 18978, timeoutMs: 120_000, log });
        cleanups.push(weft.stop);
        if (want('weft-mesh'))
          results.topologies['weft-mesh'] = await measureTopology('weft-mesh', weft.mesh.endpoints, weft.mesh.procs, [
            'client -> weft sidecar :15001 (HTTP proxy) -> mTLS (HTTP/1.1 or HTTP/2 as the client spoke) -> weft sidecar -> app',
          ]);
        if (want('weft-single'))
          results.topologies['weft-single'] = await measureTopology('weft-single', weft.single.endpoints, weft.single.procs, [
            "client -> weft sidecar inbound listener (plaintext, PERMISSIVE) -> app",
          ]);
        await cleanups.pop()!();
      } catch (e) {
        for (const n of ['weft-mesh', 'weft-single']) if (want(n)) unavailable(results, n, e);
      }
    }
  } finally {
    await cleanup();
  }

  if (!flag('skip-control')) {
    // Clients speak delta xDS, as weft's proxies do; the state-of-the-world row at 1,000 services is the reference for what delta buys.
    const sizes: { services: number; clients: number; protocol?: 'sotw' }[] = QUICK
      ? [{ services: 100, clients: 100 }]
      : [{ services: 100, clients: 2000 }, { services: 1000, clients: 2000 }, { services: 1000, clients: 2000, protocol: 'sotw' }, { services: 5000, clients: 2000 }];
    results.controlPlane = [];
    for (const sz of sizes) {
      log(`control plane: ${sz.services} services, ${sz.services * 5} endpoints, ${sz.clients} ADS clients (${sz.protocol ?? 'delta'}) ...`);
      const limitS = QUICK ? 60 : 300;
      const r = await run(process.execPath, [path.join(here, 'control-scale.js'), '--services', String(sz.services), '--clients', String(sz.clients), '--time-limit', String(limitS), ...(sz.protocol ? ['--protocol', sz.protocol] : [])], {}, (limitS + 120) * 1000);
      try {
        const parsed = JSON.parse(r.out.trim().split('\n').pop() ?? '');
        results.controlPlane.push(parsed);
        log(`control plane ${sz.services}: ${JSON.stringify(parsed.change ?? parsed.error ?? {})}`);
      } catch {
        results.controlPlane.push({ services: sz.services, clients: sz.clients, protocol: sz.protocol ?? 'delta', error: `control-scale failed (${r.code}): ${r.err.trim().split('\n').slice(-5).join(' | ')}` });
        log(`control plane ${sz.services}: failed: ${r.err.trim().split('\n').slice(-3).join(' | ')}`);
      }
    }
  }
  results.targets = evaluateTargets(results);
  results.durationS = Math.round((Date.now() - started) / 1000);
  const outDir = path.resolve(opt('out') ?? path.join(benchSrc, 'results'));
  fs.mkdirSync(outDir, { recursive: true });
  const stamp = results.date.slice(0, 16).replace(/[:T]/g, '-');
  fs.writeFileSync(path.join(outDir, `${stamp}-${MODE}.json`), `${JSON.stringify(results, null, 2)}\n`);
  const md = renderMarkdown(results);
  fs.writeFileSync(path.join(outDir, 'latest.md'), md);
  process.stdout.write(`${md}\n`);
  log(`wrote ${path.join(outDir, `${stamp}-${MODE}.json`)} and ${path.join(outDir, 'latest.md')} (${results.durationS} s)`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  process.exit(1);
});
