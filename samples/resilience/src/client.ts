// A small load client for the resilience sample, meant for `weft exec <pod> -- node client.js`
// (its requests then leave through that pod's sidecar, from HTTP_PROXY):
//
//   node client.js URL [--count N] [--concurrency C] [--header name:value]... [--timeout ms]
//
// Prints one JSON line: requests sent, answers by status, weft's response flags
// (x-weft-flags: UO overflow, UT timeout ...), answers per pod, latency min/p50/p99/max in
// ms, and transport errors. Count, concurrency and timeout are bounded.
import { Agent, EnvHttpProxyAgent, request, type Dispatcher } from 'undici';

interface Options {
  url: string;
  count: number;
  concurrency: number;
  headers: Record<string, string>;
  timeoutMs: number;
}

const LIMITS = { count: 100_000, concurrency: 256, timeoutMs: 120_000 } as const;

function parseArgs(argv: string[]): Options {
  const out: Options = { url: '', count: 1, concurrency: 1, headers: {}, timeoutMs: 10_000 };
  const num = (flag: string, v: string | undefined, max: number): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 1 || n > max) throw new Error(`${flag} must be a whole number 1..${max}, got ${JSON.stringify(v)}`);
    return n;
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--count') out.count = num(a, argv[++i], LIMITS.count);
    else if (a === '--concurrency') out.concurrency = num(a, argv[++i], LIMITS.concurrency);
    else if (a === '--timeout') out.timeoutMs = num(a, argv[++i], LIMITS.timeoutMs);
    else if (a === '--header') {
      const h = argv[++i] ?? '';
      const colon = h.indexOf(':');
      if (colon <= 0) throw new Error(`--header needs name:value, got ${JSON.stringify(h)}`);
      out.headers[h.slice(0, colon).trim().toLowerCase()] = h.slice(colon + 1).trim();
    } else if (!a.startsWith('--') && !out.url) out.url = a;
    else throw new Error(`unknown argument ${JSON.stringify(a)}`);
  }
  if (!/^https?:\/\//.test(out.url)) throw new Error('usage: client.js URL [--count N] [--concurrency C] [--header name:value] [--timeout ms]');
  return out;
}

interface Report {
  requests: number;
  statuses: Record<string, number>;
  flags: Record<string, number>;
  pods: Record<string, number>;
  errors: Record<string, number>;
  latencyMs: { min: number; p50: number; p99: number; max: number };
}

function bump(rec: Record<string, number>, key: string): void {
  rec[key] = (rec[key] ?? 0) + 1;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

async function run(o: Options, dispatcher: Dispatcher): Promise<Report> {
  const report: Report = { requests: 0, statuses: {}, flags: {}, pods: {}, errors: {}, latencyMs: { min: 0, p50: 0, p99: 0, max: 0 } };
  const latencies: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < o.count) {
      next++;
      report.requests++;
      const t0 = performance.now();
      try {
        const res = await request(o.url, { dispatcher, headers: o.headers, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs });
        const text = await res.body.text();
        latencies.push(performance.now() - t0);
        bump(report.statuses, String(res.statusCode));
        const flags = res.headers['x-weft-flags'];
        if (typeof flags === 'string') for (const f of flags.split(',')) bump(report.flags, f.trim());
        try {
          const pod = (JSON.parse(text) as { pod?: unknown }).pod;
          if (typeof pod === 'string') bump(report.pods, pod);
        } catch {
          // not one of the sample's answers (a proxy's local reply)
        }
      } catch (err) {
        bump(report.errors, (err as { code?: string }).code ?? (err as Error).name);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(o.concurrency, o.count) }, worker));
  latencies.sort((a, b) => a - b);
  const r = (n: number) => Math.round(n * 10) / 10;
  report.latencyMs = { min: r(latencies[0] ?? 0), p50: r(quantile(latencies, 0.5)), p99: r(quantile(latencies, 0.99)), max: r(latencies[latencies.length - 1] ?? 0) };
  return report;
}

async function main(): Promise<void> {
  let o: Options;
  try {
    o = parseArgs(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(2);
  }
  // Plain absolute-form requests (not CONNECT) so the sidecar sees and routes each one.
  const proxied = process.env.HTTP_PROXY ?? process.env.http_proxy;
  const dispatcher = proxied ? new EnvHttpProxyAgent({ proxyTunnel: false, connections: o.concurrency }) : new Agent({ connections: o.concurrency });
  try {
    process.stdout.write(`${JSON.stringify(await run(o, dispatcher))}\n`);
  } finally {
    await dispatcher.close();
  }
}

await main();
