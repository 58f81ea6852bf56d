// The bench summary (bench/report.ts) with both C references: nginx rows sit beside
// HAProxy's, every "vs haproxy-pair" ratio is against the HAProxy pair (the targets'
// reference), and the targets name the nginx pair's numbers too.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { evaluateTargets, renderMarkdown, type Results, type TopologyResult } from '../../bench/report.js';
import type { OpenLoopResult } from '../../bench/open-loop.js';

const summary = (p50: number, p99: number) => ({ p50, p90: p99, p99, max: p99, mean: p50, count: 1000 }) as unknown as OpenLoopResult['latencyUs'];

function topo(name: string, rps: number, p50Us: number, p99Us: number, roles: string[]): TopologyResult {
  const procs = roles.map((role) => ({ role, cpuS: 1, vcpu: 0.1, cpuSPer1kReq: 0.02, peakRssMB: 20 }));
  const result = { completed: 10000, errors: 0, dropped: 0, achievedRps: 1000, intended: 10000, latencyUs: summary(p50Us, p99Us), serviceUs: summary(p50Us, p99Us), sendLagUs: summary(10, 50), generatorCpuS: 1 } as unknown as OpenLoopResult;
  return {
    name,
    available: true,
    notes: [],
    idle: roles.map((role) => ({ role, rssMB: 15 })),
    max: { 'h1-1k': { tool: 'wrk', rps, requests: rps * 10, errors: 0, procs } },
    open: { 'h1-1k': { '1000': { result, procs } } },
  };
}

const res: Results = {
  date: '2026-11-22T00:00:00.000Z',
  mode: 'quick',
  machine: { cpus: 2, cpuModel: 'x', memGB: 24, node: 'v20', kernel: '6' },
  method: { maxThroughput: 'closed loop', haproxyThreads: 1, nginxWorkers: 1 },
  tools: { haproxy: 'HAProxy version 2.6.12', nginx: 'nginx version: nginx/1.22.1' },
  topologies: {
    direct: topo('direct', 40000, 200, 1000, ['upstream app']),
    'weft-mesh': topo('weft-mesh', 8000, 600, 3000, ['weft sidecar (client)', 'weft sidecar (app)']),
    'haproxy-pair': topo('haproxy-pair', 32000, 350, 2000, ['haproxy A (client side)', 'haproxy B (server side)']),
    'nginx-pair': topo('nginx-pair', 16000, 400, 3000, ['nginx A (client side)', 'nginx B (server side)']),
    'haproxy-single': topo('haproxy-single', 36000, 250, 1200, ['haproxy (single)']),
    'nginx-single': { name: 'nginx-single', available: false, error: 'nginx is not installed (bash bench/setup.sh installs the Debian package)', notes: [], idle: [], max: {}, open: {} },
  },
};

test('bench report: nginx rows beside HAProxy, ratios against the HAProxy pair, nginx processes in the CPU table', () => {
  res.targets = evaluateTargets(res);
  const md = renderMarkdown(res);
  assert.match(md, /Tools: HAProxy version 2\.6\.12; nginx version: nginx\/1\.22\.1\./);
  assert.match(md, /nginx with worker_processes 1/);
  assert.match(md, /\*\*nginx-single: not available\*\* — nginx is not installed/);
  assert.match(md, /\| topology \| h1-1k \| vs haproxy-pair \|/);
  assert.match(md, /\| haproxy-pair \| 32000 \| 1\.00x \|/);
  assert.match(md, /\| nginx-pair \| 16000 \| 0\.50x \|/);
  // Added p99 1000 us / the pair's 1000 us; 2000 / 1000 for nginx.
  assert.match(md, /\| h1-1k \| 1000 \| nginx-pair \| 0\.400 \| 3\.000 \| 3\.000 \| 3\.000 \| \+0\.200 \| \+2\.000 \| 2\.00x \|/);
  assert.match(md, /\| nginx-pair \| nginx A \(client side\) \| 15\.0 \|/);
  assert.match(md, /\| nginx-pair \| nginx B \(server side\) \| 15\.0 \|/);
  // Order: the pairs together, then the single hops.
  const rows = md.split('\n').filter((l) => /^\| (direct|weft-mesh|haproxy-pair|nginx-pair|haproxy-single) \| \d+ \|/.test(l));
  assert.deepEqual(rows.map((l) => l.split(' | ')[0]!.slice(2)), ['direct', 'weft-mesh', 'haproxy-pair', 'nginx-pair', 'haproxy-single']);
});

test('bench targets: measured against the HAProxy pair, the nginx pair given beside', () => {
  const [throughput, latency] = evaluateTargets(res);
  assert.equal(throughput!.status, 'NOT MET');
  assert.match(throughput!.detail, /^8000 vs 32000 rps = 0\.25x; the nginx pair does 16000 rps = 0\.50x, weft is 0\.50x of it$/);
  assert.match(latency!.detail, /; HAProxy pair \+0\.150 \/ \+1\.000 ms; nginx pair \+0\.200 \/ \+2\.000 ms$/);
});

test('bench targets: sidecar memory is judged at a steady 1,000 rps, with the RSS after the max runs beside it', () => {
  const mesh = res.topologies['weft-mesh']!;
  const after = mesh.open['h1-1k']!['1000']!;
  const withBurst: Results = {
    ...res,
    topologies: {
      ...res.topologies,
      'weft-mesh': {
        ...mesh,
        steady1k: after.procs.map((p) => ({ ...p, peakRssMB: 55, peakPrivateMB: 30 })),
        open: { 'h1-1k': { '1000': { ...after, procs: after.procs.map((p) => ({ ...p, peakRssMB: 90 })) } } },
      },
    },
  };
  const sidecar = evaluateTargets(withBurst)[2]!;
  assert.equal(sidecar.status, 'MET', sidecar.detail);
  assert.match(sidecar.detail, /weft sidecar \(client\): 0\.100 vCPU\/1000 rps, 55 MB \(30 MB private\), 90 MB after the max runs/);
  const md = renderMarkdown(withBurst);
  assert.match(md, /\| weft-mesh \| weft sidecar \(client\) \| 15\.0 \| 55\.0 \| 30\.0 \| 90\.0 \|/);
  // Without the steady run (older results) the open-loop RSS is what is judged.
  const old = evaluateTargets({ ...withBurst, topologies: { ...withBurst.topologies, 'weft-mesh': { ...withBurst.topologies['weft-mesh']!, steady1k: undefined } } })[2]!;
  assert.equal(old.status, 'NOT MET');
});
