// Results types, the issue's targets (MET / NOT MET) and the Markdown summary.
import type { OpenLoopResult } from './open-loop.js';

export interface Scenario {
  id: string;
  proto: 'http1' | 'h2' | 'grpc';
  path: string;
  label: string;
}

export interface ProcUsage {
  role: string;
  cpuS: number;
  /** CPU seconds per wall second over the measurement. */
  vcpu: number;
  cpuSPer1kReq: number;
  peakRssMB: number;
  /** Peak private memory (pages no other process maps); absent in results from before it was measured. */
  peakPrivateMB?: number;
}

export interface TopologyResult {
  name: string;
  available: boolean;
  error?: string;
  notes: string[];
  idle: { role: string; rssMB: number; privateMB?: number }[];
  /**
   * Each process at a steady 1,000 rps (HTTP/1.1 1 KB, open loop) before any max-throughput
   * run: a runtime with a garbage-collected heap keeps for a while what a burst grew it to,
   * so the open-loop runs (after the max runs) show the RSS after a burst.
   */
  steady1k?: ProcUsage[];
  max: Record<string, { tool: string; rps: number; requests: number; errors: number; note?: string; procs: ProcUsage[] }>;
  open: Record<string, Record<string, { result: OpenLoopResult | { error: string }; procs: ProcUsage[] }>>;
}

export interface ControlScaleResult {
  services: number;
  clients: number;
  endpoints?: number;
  error?: string;
  [k: string]: unknown;
}

export interface Target {
  target: string;
  status: 'MET' | 'NOT MET' | 'NOT MEASURED';
  detail: string;
}

export interface Results {
  date: string;
  mode: string;
  machine: { cpus: number; cpuModel: string; memGB: number; node: string; kernel: string };
  method: Record<string, unknown>;
  tools: Record<string, string>;
  topologies: Record<string, TopologyResult>;
  controlPlane?: ControlScaleResult[];
  targets?: Target[];
  durationS?: number;
}

const ms = (us: number): string => (us / 1000).toFixed(3);
const signedMs = (us: number): string => `${us >= 0 ? '+' : ''}${(us / 1000).toFixed(3)}`;

function ol(t: TopologyResult | undefined, id: string, rate: number): OpenLoopResult | undefined {
  const r = t?.open[id]?.[String(rate)]?.result;
  return r && !('error' in r) ? r : undefined;
}

export function evaluateTargets(res: Results): Target[] {
  const out: Target[] = [];
  const T = res.topologies;
  const mesh = T['weft-mesh'];
  const pair = T['haproxy-pair'];
  const direct = T['direct'];
  // 1. throughput
  {
    const m = mesh?.max['h1-1k']?.rps;
    const p = pair?.max['h1-1k']?.rps;
    if (m === undefined || p === undefined || !p) out.push({ target: 'mesh throughput >= 0.75 x HAProxy pair (HTTP/1.1 1 KB)', status: 'NOT MEASURED', detail: mesh?.available === false ? 'weft mesh did not start' : 'missing run' });
    else {
      const others = Object.keys(mesh!.max)
        .filter((k) => k !== 'h1-1k' && pair!.max[k]?.rps)
        .map((k) => `${k} ${(mesh!.max[k]!.rps / pair!.max[k]!.rps).toFixed(2)}x`)
        .join(', ');
      // The Node floor pair says how much of the gap is Node's own (node-floor.ts).
      const floor = T['node-pair']?.max['h1-1k']?.rps;
      const floorNote = floor ? `; the Node floor pair does ${Math.round(floor)} rps = ${(floor / p).toFixed(2)}x, weft is ${(m / floor).toFixed(2)}x of it` : '';
      // The other C reference, beside the one the target is defined against.
      const ngx = T['nginx-pair']?.max['h1-1k']?.rps;
      const ngxNote = ngx ? `; the nginx pair does ${Math.round(ngx)} rps = ${(ngx / p).toFixed(2)}x, weft is ${(m / ngx).toFixed(2)}x of it` : '';
      out.push({ target: 'mesh throughput >= 0.75 x HAProxy pair (HTTP/1.1 1 KB)', status: m >= 0.75 * p ? 'MET' : 'NOT MET', detail: `${Math.round(m)} vs ${Math.round(p)} rps = ${(m / p).toFixed(2)}x${others ? `; ${others}` : ''}${ngxNote}${floorNote}` });
    }
  }
  // 2. added latency at 1000 rps, 1 KB
  {
    const m = ol(mesh, 'h1-1k', 1000);
    const d = ol(direct, 'h1-1k', 1000);
    const p = ol(pair, 'h1-1k', 1000);
    if (!m || !d) out.push({ target: 'added latency (two sidecars, mTLS) at 1000 rps 1 KB: p50 <= 0.2 ms, p99 <= 0.5 ms', status: 'NOT MEASURED', detail: 'missing run' });
    else {
      const a50 = m.latencyUs.p50 - d.latencyUs.p50;
      const a99 = m.latencyUs.p99 - d.latencyUs.p99;
      const n = ol(T['nginx-pair'], 'h1-1k', 1000);
      const ref =
        (p ? `; HAProxy pair ${signedMs(p.latencyUs.p50 - d.latencyUs.p50)} / ${signedMs(p.latencyUs.p99 - d.latencyUs.p99)} ms` : '') +
        (n ? `; nginx pair ${signedMs(n.latencyUs.p50 - d.latencyUs.p50)} / ${signedMs(n.latencyUs.p99 - d.latencyUs.p99)} ms` : '');
      out.push({
        target: 'added latency (two sidecars, mTLS) at 1000 rps 1 KB: p50 <= 0.2 ms, p99 <= 0.5 ms',
        status: a50 <= 200 && a99 <= 500 && m.errors === 0 ? 'MET' : 'NOT MET',
        detail: `p50 ${signedMs(a50)} ms, p99 ${signedMs(a99)} ms${m.errors ? `, ${m.errors} errors` : ''}${ref}`,
      });
    }
  }
  // 3. sidecar CPU and memory at 1000 rps: memory at a steady 1,000 rps (before the max runs), after them beside it
  {
    const run = mesh?.open['h1-1k']?.['1000'];
    if (!run || 'error' in run.result) out.push({ target: 'sidecar <= 0.2 vCPU per 1000 rps and <= 60 MB RSS at 1000 rps', status: 'NOT MEASURED', detail: 'missing run' });
    else {
      const rate = (run.result as OpenLoopResult).achievedRps || 1000;
      const worst = run.procs.map((p) => {
        const steady = mesh?.steady1k?.find((x) => x.role === p.role);
        return { ...p, per1k: p.vcpu / (rate / 1000), steadyRssMB: steady?.peakRssMB ?? p.peakRssMB, steadyPrivateMB: steady?.peakPrivateMB };
      });
      const ok = worst.every((p) => p.per1k <= 0.2 && p.steadyRssMB <= 60);
      out.push({
        target: 'sidecar <= 0.2 vCPU per 1000 rps and <= 60 MB RSS at 1000 rps',
        status: ok ? 'MET' : 'NOT MET',
        detail: worst
          .map((p) => `${p.role}: ${p.per1k.toFixed(3)} vCPU/1000 rps, ${p.steadyRssMB.toFixed(0)} MB${p.steadyPrivateMB !== undefined ? ` (${p.steadyPrivateMB.toFixed(0)} MB private)` : ''}, ${p.peakRssMB.toFixed(0)} MB after the max runs`)
          .join('; '),
      });
    }
  }
  // 4. control plane
  {
    // The delta row: what weft's proxies speak (the sotw row is a reference).
    const c = res.controlPlane?.find((r) => r.services === 1000 && r['protocol'] !== 'sotw' && ((r['clientsRequested'] as number | undefined) ?? r.clients) >= 2000);
    const change = c?.['change'] as { p99Ms?: number; complete?: boolean; received?: number } | undefined;
    const usage = c?.['process'] as { vcpuDuringChange?: number; peakRssMB?: number } | undefined;
    if (!c || c.error || !change) out.push({ target: 'control plane, 1000 services / 2000 clients: change to all <= 1 s p99, <= 1 vCPU, <= 1 GB', status: 'NOT MEASURED', detail: c?.error ?? (res.mode === 'quick' ? 'quick mode runs 100 services only' : 'missing run') });
    else {
      const reduced = c['clientsRequested'] !== undefined;
      // Both kinds of change count (a routing change is a config change too); memory is the peak over both.
      const route = c['routeChange'] as { p99Ms?: number; complete?: boolean; vcpuDuringChange?: number; peakRssMB?: number } | undefined;
      const peak = Math.max(usage?.peakRssMB ?? Infinity, route?.peakRssMB ?? 0);
      const meets = (p99Ms: number | undefined, complete: boolean | undefined, vcpu: number | undefined): boolean => !!complete && (p99Ms ?? Infinity) <= 1000 && (vcpu ?? Infinity) <= 1;
      const ok = !reduced && meets(change.p99Ms, change.complete, usage?.vcpuDuringChange) && meets(route?.p99Ms, route?.complete, route?.vcpuDuringChange) && peak <= 1024;
      out.push({
        target: 'control plane, 1000 services / 2000 clients: change to all <= 1 s p99, <= 1 vCPU, <= 1 GB',
        status: ok ? 'MET' : 'NOT MET',
        detail: `endpoint change p99 ${change.p99Ms?.toFixed(0)} ms (${change.received}/${c.clients} clients${change.complete ? '' : ', INCOMPLETE'}), ${usage?.vcpuDuringChange?.toFixed(2)} vCPU, ${usage?.peakRssMB?.toFixed(0)} MB${routeDetail(c)}${reduced ? `; only ${c.clients} of ${String(c['clientsRequested'])} clients connected (${String(c['clientsLimitedBy'] ?? 'time')})` : ''}`,
      });
    }
  }
  return out;
}

/** The routing change (every proxy's RDS), the target's second change. */
function routeDetail(c: ControlScaleResult): string {
  const r = c['routeChange'] as { p99Ms?: number; vcpuDuringChange?: number; peakRssMB?: number } | undefined;
  return r?.p99Ms !== undefined ? `; routing change (to all) p99 ${r.p99Ms.toFixed(0)} ms, ${r.vcpuDuringChange?.toFixed(2)} vCPU, ${r.peakRssMB?.toFixed(0)} MB` : '';
}

function table(head: string[], rows: (string | number)[][]): string {
  const lines = [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`];
  for (const r of rows) lines.push(`| ${r.join(' | ')} |`);
  return lines.join('\n');
}

const ORDER = ['direct', 'weft-mesh', 'haproxy-pair', 'nginx-pair', 'node-pair', 'weft-single', 'haproxy-single', 'nginx-single'];

export function renderMarkdown(res: Results): string {
  const out: string[] = [];
  const topo = ORDER.filter((n) => res.topologies[n]).map((n) => res.topologies[n]!);
  const pair = res.topologies['haproxy-pair'];
  const direct = res.topologies['direct'];
  out.push(`# weft bench — ${res.date.slice(0, 16).replace('T', ' ')} UTC (${res.mode})`);
  out.push('');
  out.push(`Machine: ${res.machine.cpus} cores (${res.machine.cpuModel}), ${res.machine.memGB} GB, Node ${res.machine.node}, Linux ${res.machine.kernel}. Tools: ${Object.values(res.tools).join('; ')}.`);
  const workers = res.method['nginxWorkers'];
  out.push(
    `Everything (load generator, proxies, app) shares the same ${res.machine.cpus} cores. HAProxy runs with nbthread ${String(res.method['haproxyThreads'])}${workers !== undefined ? `, nginx with worker_processes ${String(workers)} (plus its master, idle)` : ''}. "vs haproxy-pair" columns are against the HAProxy pair, the reference the targets are defined by, for every row (the nginx rows included).`,
  );
  for (const t of topo) if (!t.available) out.push(`\n**${t.name}: not available** — ${(t.error ?? '').split('\n')[0]}`);
  out.push('\n## Targets\n');
  out.push(table(['target', 'status', 'numbers'], (res.targets ?? []).map((t) => [t.target, `**${t.status}**`, t.detail])));

  const maxIds = [...new Set(topo.flatMap((t) => Object.keys(t.max)))];
  if (maxIds.length) {
    out.push('\n## Max throughput (closed loop, requests/s)\n');
    out.push(String(res.method['maxThroughput']));
    out.push('');
    out.push(
      table(
        ['topology', ...maxIds.flatMap((id) => [id, 'vs haproxy-pair'])],
        topo
          .filter((t) => t.available)
          .map((t) => [
            t.name,
            ...maxIds.flatMap((id) => {
              const r = t.max[id];
              const p = pair?.max[id]?.rps;
              return [r ? `${Math.round(r.rps)}${r.errors ? ` (${r.errors} err)` : ''}` : '-', r && p ? `${(r.rps / p).toFixed(2)}x` : '-'];
            }),
          ]),
      ),
    );
  }

  out.push('\n## Latency, open loop (ms, from intended send time; 4 connections)\n');
  out.push('`+p50`/`+p99` = added latency: this topology minus direct in the same run. `lag p99` = the generator\'s own send lateness (included in every row alike).\n');
  const rows: (string | number)[][] = [];
  for (const id of [...new Set(topo.flatMap((t) => Object.keys(t.open)))]) {
    for (const rate of [...new Set(topo.flatMap((t) => Object.keys(t.open[id] ?? {})))].sort((a, b) => Number(a) - Number(b))) {
      for (const t of topo.filter((x) => x.available)) {
        const r = ol(t, id, Number(rate));
        const e = t.open[id]?.[rate]?.result;
        if (!r) {
          rows.push([id, rate, t.name, e && 'error' in e ? `error: ${e.error.slice(0, 60)}` : '-', '', '', '', '', '', '', '', '']);
          continue;
        }
        const d = ol(direct, id, Number(rate));
        const p = ol(pair, id, Number(rate));
        rows.push([
          id,
          rate,
          t.name,
          ms(r.latencyUs.p50),
          ms(r.latencyUs.p90),
          ms(r.latencyUs.p99),
          ms(r.latencyUs.max),
          d && t.name !== 'direct' ? signedMs(r.latencyUs.p50 - d.latencyUs.p50) : '',
          d && t.name !== 'direct' ? signedMs(r.latencyUs.p99 - d.latencyUs.p99) : '',
          // A ratio of two added latencies means something only when both are above the noise floor (> 0).
          p && d && t.name !== 'haproxy-pair' && t.name !== 'direct' && p.latencyUs.p99 - d.latencyUs.p99 > 0 && r.latencyUs.p99 - d.latencyUs.p99 > 0
            ? `${((r.latencyUs.p99 - d.latencyUs.p99) / (p.latencyUs.p99 - d.latencyUs.p99)).toFixed(2)}x`
            : '',
          `${Math.round(r.achievedRps)}${r.errors ? ` / ${r.errors} err` : ''}`,
          ms(r.sendLagUs.p99),
        ]);
      }
    }
  }
  out.push(table(['scenario', 'rps', 'topology', 'p50', 'p90', 'p99', 'max', '+p50', '+p99', '+p99 vs haproxy-pair', 'achieved / errors', 'lag p99'], rows));

  out.push('\n## Proxy CPU and memory\n');
  out.push('CPU s/1k req = CPU seconds per 1,000 requests; vCPU/1k rps = cores busy per 1,000 requests/s. "at 1000 rps" is the open-loop HTTP/1.1 1 KB run; "at max" the closed-loop HTTP/1.1 1 KB run. "steady" is 1,000 rps before any max run; the open-loop runs come after the max runs, and a garbage-collected heap keeps for a while what a burst grew it to. "private" is the memory no other process shares (what one more such proxy adds to a machine); RSS also counts the binary and libraries, shared by every process that runs them: 30-42 MB of the RSS of a Node process is the node binary.\n');
  const prow: (string | number)[][] = [];
  for (const t of topo.filter((x) => x.available)) {
    const at1k = t.open['h1-1k']?.['1000'];
    const atMax = t.max['h1-1k'];
    const rate = at1k && !('error' in at1k.result) ? at1k.result.achievedRps || 1000 : 1000;
    for (const idle of t.idle) {
      const steady = t.steady1k?.find((p) => p.role === idle.role);
      const a = at1k?.procs.find((p) => p.role === idle.role);
      const m = atMax?.procs.find((p) => p.role === idle.role);
      prow.push([
        t.name,
        idle.role,
        idle.rssMB.toFixed(1) + (idle.privateMB !== undefined ? ` (${idle.privateMB.toFixed(1)})` : ''),
        steady ? steady.peakRssMB.toFixed(1) : '-',
        steady?.peakPrivateMB !== undefined ? steady.peakPrivateMB.toFixed(1) : '-',
        a ? a.peakRssMB.toFixed(1) : '-',
        a ? a.cpuSPer1kReq.toFixed(3) : '-',
        a ? (a.vcpu / (rate / 1000)).toFixed(3) : '-',
        m ? m.peakRssMB.toFixed(1) : '-',
        m ? m.cpuSPer1kReq.toFixed(3) : '-',
        m ? m.vcpu.toFixed(2) : '-',
      ]);
    }
  }
  out.push(table(['topology', 'process', 'idle RSS MB (private)', 'RSS MB at 1000 rps, steady', 'private MB at 1000 rps, steady', 'RSS MB at 1000 rps, after the max runs', 'CPU s/1k req at 1000 rps', 'vCPU/1k rps', 'RSS MB at max', 'CPU s/1k req at max', 'vCPU at max'], prow));

  if (res.controlPlane?.length) {
    out.push('\n## Control plane at scale (one process; ADS clients in two other processes)\n');
    out.push(
      table(
        [
          'services',
          'endpoints',
          'clients',
          'ADS',
          'initial sync all (s)',
          'endpoint change p50 / p99 (ms)',
          'received',
          'vCPU during change (clients)',
          'peak RSS MB',
          'routing change p50 / p99 (ms)',
          'projected for all clients: p99 endpoint / routing (ms), RSS MB',
          'note',
        ],
        res.controlPlane.map((c) => {
          const ch = c['change'] as { p50Ms?: number; p99Ms?: number; received?: number; complete?: boolean; clientVcpu?: number } | undefined;
          const rt = c['routeChange'] as { p50Ms?: number; p99Ms?: number } | undefined;
          const init = c['initialSync'] as { allMs?: number; received?: number } | undefined;
          const pr = c['process'] as { vcpuDuringChange?: number; peakRssMB?: number } | undefined;
          const pj = c['projection'] as { changeP99Ms?: number; routeChangeP99Ms?: number; rssMB?: number } | undefined;
          const pair = (x: { p50Ms?: number; p99Ms?: number } | undefined): string => (x?.p99Ms !== undefined ? `${x.p50Ms?.toFixed(0)} / ${x.p99Ms.toFixed(0)}` : '-');
          return [
            c.services,
            c.endpoints ?? c.services * 5,
            c['clientsRequested'] !== undefined ? `${c.clients} (of ${String(c['clientsRequested'])})` : c.clients,
            // Runs before delta xDS spoke state of the world.
            String(c['protocol'] ?? 'sotw'),
            init?.allMs !== undefined ? (init.allMs / 1000).toFixed(1) : '-',
            pair(ch),
            ch ? `${ch.received}/${c.clients}` : '-',
            pr?.vcpuDuringChange !== undefined ? `${pr.vcpuDuringChange.toFixed(2)} (${ch?.clientVcpu?.toFixed(2) ?? '-'})` : '-',
            pr?.peakRssMB?.toFixed(0) ?? '-',
            pair(rt),
            pj ? `${pj.changeP99Ms} / ${pj.routeChangeP99Ms}, ${pj.rssMB}` : '-',
            c.error ? c.error.slice(0, 120) : String(c['note'] ?? ''),
          ];
        }),
      ),
    );
  }
  out.push('');
  return out.join('\n');
}
