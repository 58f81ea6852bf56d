// The control plane at scale, in one process: the real control plane (runControl,
// temp state dir on tmpfs, ports 0) with N Services and 5N endpoints (workloads in
// its registry), M ADS clients (bench/ads-clients, in other processes so their work
// is not counted here; their CPU is reported), then two config changes and the
// time until every client has each: a sixth endpoint for svc-0 (every proxy's EDS
// changes) and a VirtualService for svc-0 (every proxy's routes change: with delta,
// svc-0's VHDS virtual host; with SotW, the whole RDS route config).
//
// Usage: node dist/bench/control-scale.js --services 1000 --clients 2000 [--time-limit 300]
//   [--client-procs 2] [--max-sync-gb 25] [--protocol delta|sotw] [--profile DIR [--heap-snapshot]]
// Prints one JSON line (the last line of stdout).
import { fork, type ChildProcess, type Serializable } from 'node:child_process';
import inspector from 'node:inspector/promises';
import v8 from 'node:v8';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { runControl } from '../src/control/main.js';
import { parseYaml } from '../src/resources/index.js';
import { buildModel } from '../src/model/index.js';
import { generateGroupsForProxy } from '../src/xds/generate.js';
import { buildSnapshotFromGroups } from '../src/control/snapshot.js';
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
/** The whole run (populate, sync, both changes) ends within this; waits are cut to fit. */
const LIMIT_S = opt('time-limit', 120);
/** Connect fewer clients when their initial sync would move more than this (see below). */
// 5,000 services x 2,000 clients is ~20 GB of resources before gzip: 75 s here (delta, gzip).
const MAX_SYNC_GB = opt('max-sync-gb', 25);
const deadline = Date.now() + LIMIT_S * 1000;
const PER_CHANNEL = opt('streams-per-connection', 1);
/** The ADS variant the simulated proxies speak: delta (weft's proxies' default) or sotw. */
const PROTOCOL: 'delta' | 'sotw' = argv.includes('--protocol') && argv[argv.indexOf('--protocol') + 1] === 'sotw' ? 'sotw' : 'delta';
/** ADS client processes (each runs clients/procs streams); their CPU is reported, not counted as the control plane's. */
const CLIENT_PROCS = opt('client-procs', 2);
/** When set: CPU profiles of the initial sync and of each change (sync.cpuprofile, change.cpuprofile, routeChange.cpuprofile; the client processes' as <change>-clients-<i>.cpuprofile), and with --heap-snapshot a heap snapshot once connected. */
const PROFILE_DIR = (() => {
  const i = argv.indexOf('--profile');
  return i >= 0 ? argv[i + 1] : undefined;
})();
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
/** The control-plane process's memory, MB: what is JS heap and what is Buffers (external). */
function memory(): Record<string, number> {
  const m = process.memoryUsage();
  const mb = (n: number): number => Math.round(n / 1048576);
  return { rss: mb(m.rss), heapUsed: mb(m.heapUsed), heapTotal: mb(m.heapTotal), external: mb(m.external), arrayBuffers: mb(m.arrayBuffers) };
}

/** A CPU profile of this process (inspector), written as a .cpuprofile. */
class Profiler {
  private constructor(private readonly session: inspector.Session) {}
  static async start(): Promise<Profiler> {
    const session = new inspector.Session();
    session.connect();
    await session.post('Profiler.enable');
    await session.post('Profiler.setSamplingInterval', { interval: 500 });
    await session.post('Profiler.start');
    return new Profiler(session);
  }
  async stop(file: string): Promise<void> {
    const { profile } = await this.session.post('Profiler.stop');
    fs.mkdirSync(path.dirname(file), { recursive: true });
    fs.writeFileSync(file, JSON.stringify(profile));
    this.session.disconnect();
    log(`wrote ${file}`);
  }
}

type ClientMsg = { type: string; cpuS: number };

/** The ADS client processes (bench/ads-clients), each given a share of the nodes. */
class ClientPool {
  readonly procs: ChildProcess[];
  constructor(n: number, script: string) {
    this.procs = Array.from({ length: Math.max(1, n) }, () => fork(script, [], { stdio: ['ignore', 'ignore', 'inherit', 'ipc'], execArgv: ['--max-old-space-size=4096'] }));
  }
  get size(): number {
    return this.procs.length;
  }
  sendEach(msg: (i: number) => unknown): void {
    this.procs.forEach((p, i) => p.send(msg(i) as Serializable));
  }
  /**
   * One message of `type` from each process; after `ms`, the ones still missing are asked
   * for a 'report' (what they have so far) and given 10 s more; undefined where none came.
   */
  async gather<T>(type: string, ms: number): Promise<((T & ClientMsg) | undefined)[]> {
    const got: ((T & ClientMsg) | undefined)[] = this.procs.map(() => undefined);
    const handlers: ((m: ClientMsg) => void)[] = [];
    let wake = (): void => {};
    this.procs.forEach((p, i) => {
      const on = (m: ClientMsg): void => {
        if (m.type !== type || got[i]) return;
        got[i] = m as T & ClientMsg;
        wake();
      };
      handlers.push(on);
      p.on('message', on);
    });
    const all = (): boolean => got.every((g) => g !== undefined);
    const until = (t: number): Promise<void> =>
      new Promise((resolve) => {
        if (all()) return resolve();
        const timer = setTimeout(resolve, t);
        wake = () => {
          if (!all()) return;
          clearTimeout(timer);
          resolve();
        };
      });
    await until(ms);
    if (!all()) {
      this.procs.forEach((p, i) => !got[i] && p.send({ type: 'report' }));
      await until(10_000);
    }
    this.procs.forEach((p, i) => p.off('message', handlers[i]!));
    return got;
  }
  kill(): void {
    for (const p of this.procs) p.kill('SIGKILL');
  }
}

const cpuS = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};

async function main(): Promise<void> {
  const base = fs.existsSync('/dev/shm') ? '/dev/shm' : os.tmpdir();
  const stateDir = fs.mkdtempSync(path.join(base, 'weft-bench-control-'));
  const out: Record<string, unknown> = { services: N, endpoints: 5 * N, clients: M, protocol: PROTOCOL };
  const quiet = (level: string, msg: string): void => {
    if (level === 'error') process.stderr.write(`control: ${msg}\n`);
  };
  const cp = await runControl({ stateDir, address: '127.0.0.1', ports: { xds: 0, xdsTls: 0, api: 0, monitoring: 0 }, log: quiet as never });
  let child: ClientPool | undefined;
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
    // The first proxy generates and encodes what its namespace shares (cold); the next
    // ones reuse it and add only their own resources (warm): a push to M proxies costs
    // about cold + M x warm.
    const samples = Math.min(20, workloads.length);
    const cost: { gen: number; snap: number }[] = [];
    let syncBytesPerClient = 0;
    for (let i = 0; i < samples; i++) {
      const t0 = performance.now();
      const g = generateGroupsForProxy(model, workloads[i]!, { rootCertsPem: [cp.rootCertPem] });
      const t1 = performance.now();
      const snap = buildSnapshotFromGroups(g);
      cost.push({ gen: t1 - t0, snap: performance.now() - t1 });
      if (i === 0) for (const t of ['CDS', 'EDS', 'LDS', 'RDS'] as const) for (const r of snap[t].values()) syncBytesPerClient += r.any.value.length;
    }
    out['syncMBPerClient'] = +(syncBytesPerClient / 1048576).toFixed(2);
    const warm = cost.slice(1);
    const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
    const coldMs = cost[0]!.gen + cost[0]!.snap;
    const warmMs = mean(warm.map((c) => c.gen + c.snap));
    out['generatePerProxyMs'] = +warmMs.toFixed(3);
    out['generateBreakdownMs'] = {
      firstProxy: +coldMs.toFixed(1),
      firstGenerate: +cost[0]!.gen.toFixed(1),
      firstSnapshotEncodeAndHash: +cost[0]!.snap.toFixed(1),
      nextGenerate: +mean(warm.map((c) => c.gen)).toFixed(3),
      nextSnapshot: +mean(warm.map((c) => c.snap)).toFixed(3),
    };
    log(`model ${out['buildModelMs']} ms; generate+snapshot first proxy ${coldMs.toFixed(1)} ms, next ones ${warmMs.toFixed(3)} ms each`);

    // Clients. When a push to M proxies cannot be generated within the time limit, or
    // their initial sync would move more than --max-sync-gb through this one machine
    // (uncompressed; 20 GB took 75 s on 2 cores), connect fewer and report a projection for M (a
    // finding, not a hidden cost).
    const projectedS = (coldMs + warmMs * M) / 1000;
    out['projectedFullPushS'] = +projectedS.toFixed(1);
    const fitGenerate = Math.max(10, Math.floor((LIMIT_S * 1000 * 0.3 - coldMs) / Math.max(warmMs, 1e-3)));
    const fitSync = Math.max(10, Math.floor((MAX_SYNC_GB * 1024 ** 3) / Math.max(1, syncBytesPerClient)));
    const clients = Math.min(M, fitGenerate, fitSync);
    if (clients < M) {
      out['clientsRequested'] = M;
      out['clients'] = clients;
      out['clientsLimitedBy'] = clients === fitSync ? `initial sync volume (${out['syncMBPerClient']} MB a client, --max-sync-gb ${MAX_SYNC_GB})` : `generation time (~${projectedS.toFixed(0)} s per push)`;
      log(`connecting ${clients} of ${M} clients, limited by ${String(out['clientsLimitedBy'])}`);
    }
    out['preConnectRssMB'] = Math.round(rssMB());
    const left = (): number => Math.max(5_000, deadline - Date.now());
    const nodes = Array.from({ length: clients }, (_, i) => {
      const w = workloads[i % workloads.length]!;
      const pod = i < workloads.length ? w.name : `${w.name}-c${i}`;
      return { id: nodeId('sidecar', w.address, w.name, NS), pod, ns: NS, sa: w.serviceAccount, ip: w.address };
    });
    const pool = new ClientPool(Math.min(CLIENT_PROCS, clients), path.join(here, 'ads-clients.js'));
    child = pool;
    const prof = PROFILE_DIR ? await Profiler.start() : undefined;
    const cpu0 = cpuS();
    const wall0 = performance.now();
    // Leave time for the two changes.
    const synced = pool.gather<{ ms: number; count: number }>('synced', Math.max(10_000, deadline - Date.now() - 60_000));
    pool.sendEach((i) => ({ type: 'start', target: `127.0.0.1:${cp.ports.xds}`, nodes: nodes.filter((_, j) => j % pool.size === i), connectionsPerChannel: PER_CHANNEL, protocol: PROTOCOL }));
    const ss = await synced;
    const syncWall = (performance.now() - wall0) / 1000;
    const syncMs = ss.every((x) => x && x.ms >= 0) ? Math.max(...ss.map((x) => x!.ms)) : undefined;
    out['initialSync'] = {
      allMs: syncMs !== undefined ? Math.round(syncMs) : undefined,
      received: ss.reduce((a, x) => a + (x?.count ?? 0), 0),
      vcpu: +((cpuS() - cpu0) / syncWall).toFixed(2),
      clientVcpu: +(ss.reduce((a, x) => a + (x?.cpuS ?? 0), 0) / syncWall).toFixed(2),
      clientProcs: pool.size,
    };
    if (prof) await prof.stop(path.join(PROFILE_DIR!, 'sync.cpuprofile'));
    log(`initial sync: ${JSON.stringify(out['initialSync'])}`);
    out['connectedRssMB'] = Math.round(rssMB());
    await new Promise((r) => setTimeout(r, 1500)); // let the debouncer settle
    out['connectedMemory'] = memory();
    if (PROFILE_DIR && argv.includes('--heap-snapshot')) {
      global.gc?.();
      const f = v8.writeHeapSnapshot(path.join(PROFILE_DIR, 'connected.heapsnapshot'));
      log(`heap snapshot ${f}`);
    }

    /** One change, timed until every client has seen `marker` in a response. */
    const measureChange = async (name: string, marker: string, act: () => Promise<void>) => {
      const changed = pool.gather<{ latenciesMs: number[]; missing: number }>('changed', Math.min(30_000, left()));
      const t0Us = nowUs();
      const watching = pool.gather<Record<string, never>>('watching', 10_000);
      pool.sendEach((i) => ({ type: 'watch', marker, t0Us, ...(PROFILE_DIR ? { profile: path.join(PROFILE_DIR, `${name}-clients-${i}.cpuprofile`) } : {}) }));
      const ws = await watching; // the watch message reached every child first
      const prof2 = PROFILE_DIR ? await Profiler.start() : undefined;
      const cpu1 = cpuS();
      const sys1 = process.cpuUsage().system;
      const w1 = performance.now();
      let peak = rssMB();
      const sampler = setInterval(() => (peak = Math.max(peak, rssMB())), 100);
      const t0b = nowUs();
      await act();
      const chs = await changed;
      clearInterval(sampler);
      const wall = (performance.now() - w1) / 1000;
      const vcpu = (cpuS() - cpu1) / wall;
      if (prof2) await prof2.stop(path.join(PROFILE_DIR!, `${name}.cpuprofile`));
      const h = new Histogram();
      const shift = (t0b - t0Us) / 1000; // the time before the change is not the control plane's
      let received = 0;
      let missing = 0;
      let clientCpu = 0;
      chs.forEach((ch, i) => {
        for (const l of ch?.latenciesMs ?? []) h.record(Math.max(0, l - shift) * 1000);
        received += ch?.latenciesMs.length ?? 0;
        missing += ch ? ch.missing : Math.ceil(clients / pool.size);
        clientCpu += (ch?.cpuS ?? 0) - (ws[i]?.cpuS ?? 0);
      });
      const sum = h.summary();
      const result = {
        received,
        complete: missing === 0,
        p50Ms: sum.p50 / 1000,
        p99Ms: sum.p99 / 1000,
        maxMs: sum.max / 1000,
        minMs: sum.min / 1000,
        clientVcpu: +(clientCpu / wall).toFixed(2),
      };
      const push = cp.ads.lastPush;
      const proc = {
        vcpuDuringChange: +vcpu.toFixed(2),
        // CPU seconds the control plane spent on the change (steadier than vCPU on a shared machine).
        cpuS: +(vcpu * wall).toFixed(2),
        // Of which in the kernel (on loopback a write also runs the receiver's TCP path).
        systemS: +((process.cpuUsage().system - sys1) / 1e6).toFixed(2),
        peakRssMB: Math.round(Math.max(peak, rssMB())),
        hwmRssMB: Math.round(hwmMB()),
        memory: memory(),
        // The control plane's side: model build, refreshing every proxy (generate, snapshot, write or queue), until the last was done.
        push: push && { modelMs: +push.modelMs.toFixed(1), proxies: push.proxies, refreshMs: +push.refreshMs.toFixed(1), doneMs: push.doneMs !== undefined ? +push.doneMs.toFixed(1) : undefined },
      };
      log(`${name}: ${JSON.stringify(result)} process ${JSON.stringify(proc)}`);
      return { result, proc };
    };

    // The change: a sixth endpoint for svc-0 (every proxy's EDS for svc-0 changes; EDS only).
    const ep = await measureChange('change', '10.250.250.250', () => cp.registry.put(workload(0, 5, 0, '10.250.250.250')).then(() => {}));
    out['change'] = ep.result;
    out['process'] = ep.proc;
    // A routing change: a VirtualService for svc-0 with a header match. Delta clients read VHDS:
    // svc-0's virtual host goes to each; SotW clients get the whole RDS route config (~300 B per
    // service). No CDS, EDS or LDS.
    await new Promise((r) => setTimeout(r, 1000));
    const routeMarker = 'x-bench-route-marker';
    const vs = parseYaml(
      `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata:\n  name: svc-0\n  namespace: ${NS}\nspec:\n  hosts: [svc-0]\n  http:\n  - match:\n    - headers:\n        ${routeMarker}: {exact: "1"}\n    route:\n    - destination: {host: svc-0}\n  - route:\n    - destination: {host: svc-0}\n`,
      'route-change.yaml',
    );
    if (vs.findings.some((f) => f.severity === 'error')) throw new Error(`route change: ${JSON.stringify(vs.findings)}`);
    if (deadline - Date.now() < 20_000) throw new Error('no time left for the routing change');
    const rt = await measureChange('routeChange', routeMarker, () => cp.store.apply(vs.resources).then(() => {}));
    out['routeChange'] = { ...rt.result, vcpuDuringChange: rt.proc.vcpuDuringChange, cpuS: rt.proc.cpuS, peakRssMB: rt.proc.peakRssMB, push: rt.proc.push };
    if (clients < M) {
      // Projection to M clients: the first client's latency (debounce, rebuild, first write) stays;
      // the rest grows with the number of clients; RSS grows by what each connection costs here.
      const proj = (c: { p99Ms: number; minMs: number }): number => Math.round(c.minMs + (c.p99Ms - c.minMs) * (M / clients));
      const perConnMB = ((out['connectedRssMB'] as number) - (out['preConnectRssMB'] as number)) / clients;
      out['projection'] = {
        clients: M,
        changeP99Ms: proj(ep.result),
        routeChangeP99Ms: proj(rt.result),
        rssMB: Math.round(Math.max(ep.proc.peakRssMB, rt.proc.peakRssMB) + perConnMB * (M - clients)), // the higher of the two changes' peaks
        method: 'p99 = min + (p99 - min) x M / clients; RSS + (M - clients) x RSS per connection measured here',
      };
      log(`projection for ${M} clients: ${JSON.stringify(out['projection'])}`);
    }
    out['note'] = `${clients < M ? `${clients} of ${M} clients (${String(out['clientsLimitedBy'])}); ` : ''}debounce 100 ms included`;
  } catch (e) {
    out['error'] = e instanceof Error ? e.message : String(e);
  } finally {
    child?.kill();
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
