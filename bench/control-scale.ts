// The control plane at scale, in one process: the real control plane (runControl,
// temp state dir on tmpfs, ports 0) with N Services and 5N endpoints (workloads in
// its registry), M ADS clients (bench/ads-clients, a second process so their work
// is not counted here), then one config change (a sixth endpoint for svc-0, which
// changes every proxy's EDS) and the time until every client has it.
//
// Usage: node dist/bench/control-scale.js --services 1000 --clients 2000 [--time-limit 300]
// Prints one JSON line (the last line of stdout).
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runControl } from '../src/control/main.js';
import { parseYaml } from '../src/resources/index.js';
import { buildModel } from '../src/model/index.js';
import { generateForProxy } from '../src/xds/generate.js';
import { buildSnapshot } from '../src/control/snapshot.js';
import { nodeId } from '../src/xds/names.js';
import type { Workload } from '../src/model/types.js';
import { Histogram } from './histogram.js';

const argv = process.argv.slice(2);
const opt = (n: string, d: number): number => {
  const i = argv.indexOf(`--${n}`);
  return i >= 0 ? Number(argv[i + 1]) : d;
};
const N = opt('services', 100);
const M = opt('clients', 100);
const LIMIT_S = opt('time-limit', 120);
const PER_CHANNEL = opt('streams-per-connection', 1);
const NS = 'scale';
const here = path.dirname(fileURLToPath(import.meta.url));
const log = (s: string): void => void process.stderr.write(`[control-scale ${N}/${M}] ${s}\n`);
const nowUs = (): number => Number(process.hrtime.bigint()) / 1000;

function ipOf(k: number): string {
  return `10.${(k >> 16) & 255}.${(k >> 8) & 255}.${k & 255}`;
}

function workload(svc: number, idx: number, k: number, address = ipOf(k)): Workload {
  const name = `svc-${svc}-${idx}`;
  return {
    name,
    namespace: NS,
    labels: { app: `svc-${svc}` },
    serviceAccount: `svc-${svc}`,
    identity: `spiffe://cluster.local/ns/${NS}/sa/svc-${svc}`,
    address,
    appAddress: address,
    ports: [{ containerPort: 8080 }],
    ready: true,
    meshed: true,
    owner: `svc-${svc}`,
    proxyType: 'sidecar',
  };
}

function rssMB(): number {
  const m = /VmRSS:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}
function hwmMB(): number {
  const m = /VmHWM:\s+(\d+)/.exec(fs.readFileSync('/proc/self/status', 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}
const cpuS = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function main(): Promise<void> {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const stateDir = fs.mkdtempSync(path.join(base, 'weft-bench-control-'));
  const out: Record<string, unknown> = { services: N, endpoints: 5 * N, clients: M };
  const quiet = (level: string, msg: string): void => {
    if (level === 'error') process.stderr.write(`control: ${msg}\n`);
  };
  const cp = await runControl({ stateDir, address: '127.0.0.1', ports: { xds: 0, xdsTls: 0, api: 0, monitoring: 0 }, log: quiet as never });
  let child: ReturnType<typeof fork> | undefined;
  try {
    out['idleRssMB'] = rssMB();
    // Services and endpoints.
    let t = performance.now();
    const yaml = Array.from(
      { length: N },
      (_, i) => `apiVersion: v1\nkind: Service\nmetadata:\n  name: svc-${i}\n  namespace: ${NS}\nspec:\n  selector:\n    app: svc-${i}\n  ports:\n  - name: http\n    port: 8080\n`,
    ).join('---\n');
    const parsed = parseYaml(yaml, 'scale.yaml');
    await cp.store.apply(parsed.resources);
    const workloads: Workload[] = [];
    for (let s = 0; s < N; s++) for (let e = 0; e < 5; e++) workloads.push(workload(s, e, s * 5 + e + 1));
    for (const w of workloads) await cp.registry.put(w);
    out['populateMs'] = Math.round(performance.now() - t);
    log(`registered ${N} services, ${workloads.length} workloads in ${out['populateMs']} ms`);

    // The per-proxy cost, measured directly on the same pipeline the ADS server uses.
    const model = buildModel(cp.store.list(), cp.registry.list(), { trustDomain: cp.trustDomain }).model;
    t = performance.now();
    buildModel(cp.store.list(), cp.registry.list(), { trustDomain: cp.trustDomain });
    out['buildModelMs'] = +(performance.now() - t).toFixed(1);
    const samples = Math.min(20, workloads.length);
    let genMs = 0;
    let snapMs = 0;
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      const g = generateForProxy(model, workloads[i]!, { rootCertsPem: [cp.rootCertPem] });
      const t1 = performance.now();
      buildSnapshot(g);
      snapMs += performance.now() - t1;
      genMs += t1 - t0;
    }
    out['generatePerProxyMs'] = +((genMs + snapMs) / samples).toFixed(2);
    out['generateBreakdownMs'] = { generate: +(genMs / samples).toFixed(2), snapshotEncodeAndHash: +(snapMs / samples).toFixed(2) };
    log(`model ${out['buildModelMs']} ms; generate+snapshot per proxy ${out['generatePerProxyMs']} ms`);

    // Clients. Every change regenerates config for every connected proxy, one after the
    // other; when that cannot finish within the time limit, connect fewer clients and
    // report the projection for M (a finding, not a hidden cost).
    const projectedS = ((out['generatePerProxyMs'] as number) * M) / 1000;
    out['projectedFullPushS'] = +projectedS.toFixed(1);
    const fit = Math.max(10, Math.floor((LIMIT_S * 1000 * 0.3) / (out['generatePerProxyMs'] as number)));
    const clients = Math.min(M, fit);
    if (clients < M) {
      out['clientsRequested'] = M;
      out['clients'] = clients;
      log(`generating for ${M} proxies would take ~${projectedS.toFixed(0)} s per push; connecting ${clients} clients`);
    }
    const nodes = Array.from({ length: clients }, (_, i) => {
      const w = workloads[i % workloads.length]!;
      const pod = i < workloads.length ? w.name : `${w.name}-c${i}`;
      return { id: nodeId('sidecar', w.address, w.name, NS), pod, ns: NS, sa: w.serviceAccount, ip: w.address };
    });
    const c = fork(path.join(here, 'ads-clients.js'), [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: ['--max-old-space-size=4096'] });
    child = c;
    const waitFor = <T>(type: string, ms: number): Promise<T | undefined> =>
      new Promise((resolve) => {
        const timer = setTimeout(() => {
          c.off('message', on);
          resolve(undefined);
        }, ms);
        const on = (m: { type: string }): void => {
          if (m.type !== type) return;
          clearTimeout(timer);
          c.off('message', on);
          resolve(m as T);
        };
        c.on('message', on);
      });
    const cpu0 = cpuS();
    const wall0 = performance.now();
    const synced = waitFor<{ ms: number; count: number }>('synced', LIMIT_S * 1000);
    c.send({ type: 'start', target: `127.0.0.1:${cp.ports.xds}`, nodes, connectionsPerChannel: PER_CHANNEL });
    let s = await synced;
    if (!s) {
      c.send({ type: 'report' });
      s = await waitFor<{ ms: number; count: number }>('synced', 10_000);
    }
    const syncWall = (performance.now() - wall0) / 1000;
    out['initialSync'] = { allMs: s && s.ms >= 0 ? Math.round(s.ms) : undefined, received: s?.count ?? 0, vcpu: +((cpuS() - cpu0) / syncWall).toFixed(2) };
    log(`initial sync: ${JSON.stringify(out['initialSync'])}`);
    out['connectedRssMB'] = Math.round(rssMB());
    await new Promise((r) => setTimeout(r, 1500)); // let the debouncer settle

    // The change: a sixth endpoint for svc-0 (every proxy's EDS for svc-0 changes).
    const marker = '10.250.250.250';
    const changed = waitFor<{ latenciesMs: number[]; missing: number }>('changed', LIMIT_S * 1000);
    const t0Us = nowUs();
    c.send({ type: 'watch', marker, t0Us });
    await new Promise((r) => setTimeout(r, 50)); // the watch message reaches the child first
    const cpu1 = cpuS();
    const w1 = performance.now();
    let peak = rssMB();
    const sampler = setInterval(() => (peak = Math.max(peak, rssMB())), 100);
    const t0b = nowUs();
    await cp.registry.put(workload(0, 5, 0, marker));
    let ch = await changed;
    if (!ch) {
      c.send({ type: 'report' });
      ch = await waitFor<{ latenciesMs: number[]; missing: number }>('changed', 10_000);
    }
    clearInterval(sampler);
    const wall = (performance.now() - w1) / 1000;
    const h = new Histogram();
    const shift = (t0b - t0Us) / 1000; // the 50 ms pause before the put is not the control plane's
    for (const l of ch?.latenciesMs ?? []) h.record(Math.max(0, l - shift) * 1000);
    const sum = h.summary();
    out['change'] = {
      received: ch?.latenciesMs.length ?? 0,
      complete: !!ch && ch.missing === 0,
      p50Ms: sum.p50 / 1000,
      p99Ms: sum.p99 / 1000,
      maxMs: sum.max / 1000,
      minMs: sum.min / 1000,
    };
    out['process'] = { vcpuDuringChange: +((cpuS() - cpu1) / wall).toFixed(2), peakRssMB: Math.round(Math.max(peak, rssMB())), hwmRssMB: Math.round(hwmMB()) };
    out['note'] = `${clients < M ? `only ${clients} of ${M} clients (projected ${projectedS.toFixed(0)} s per push for ${M}); ` : ''}debounce 100 ms included`;
    log(`change: ${JSON.stringify(out['change'])} process ${JSON.stringify(out['process'])}`);
  } catch (e) {
    out['error'] = e instanceof Error ? e.message : String(e);
  } finally {
    child?.kill('SIGKILL');
    await Promise.race([cp.close(), new Promise((r) => setTimeout(r, 5000))]);
    fs.rmSync(stateDir, { recursive: true, force: true });
  }
  process.stdout.write(`${JSON.stringify(out)}\n`);
  process.exit(0);
}

main().catch((e: unknown) => {
  process.stdout.write(`${JSON.stringify({ services: N, clients: M, error: e instanceof Error ? e.message : String(e) })}\n`);
  process.exit(1);
});
