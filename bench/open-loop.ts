// Open-loop load generator (its own process). Requests are due at fixed intended
// times (start + i / rate) whatever happened to earlier ones, and each latency is
// measured from its INTENDED send time, so queueing anywhere (in this generator,
// the proxies or the app) shows up in the percentiles instead of being hidden
// (no coordinated omission, as wrk2). A helper thread sleeps precisely
// (Atomics.wait) until each due time and wakes the sending thread, so the
// generator's own lateness is small; it is measured and reported as `sendLag`.
//
// Usage: node dist/bench/open-loop.js --mode http1|h2|grpc --target HOST:PORT
//          (grpc-js: the same calls through @grpc/grpc-js)
//          [--path /1k] [--absolute http://bench-app:8080] [--authority bench-app:8081]
//          [--rate 1000] [--duration 10] [--warmup 2] [--connections 4]
//          [--grpc-size 1024] [--timeout-ms 5000] [--max-in-flight 20000]
// Prints one JSON object (OpenLoopResult) on stdout.
import { Worker } from 'node:worker_threads';
import http2 from 'node:http2';
import { Pool } from 'undici';
import * as grpc from '@grpc/grpc-js';
import { Histogram, type Summary } from './histogram.js';

export interface OpenLoopOptions {
  /** grpc: unary calls framed on node:http2; grpc-js: the same calls through @grpc/grpc-js. */
  mode: 'http1' | 'h2' | 'grpc' | 'grpc-js';
  target: string;
  path: string;
  absolute?: string;
  authority?: string;
  rate: number;
  durationS: number;
  warmupS: number;
  connections: number;
  grpcSize: number;
  timeoutMs: number;
  maxInFlight: number;
}

export interface OpenLoopResult {
  options: OpenLoopOptions;
  intended: number;
  completed: number;
  errors: number;
  /** Requests never sent because maxInFlight were outstanding (counted in errors too). */
  dropped: number;
  firstError?: string;
  achievedRps: number;
  /** Microseconds from intended send time to the full response. */
  latencyUs: Summary;
  /** Microseconds from the actual send to the full response (hides queueing; for comparison only). */
  serviceUs: Summary;
  /** Microseconds the generator sent late (actual - intended): its own share of latencyUs. */
  sendLagUs: Summary;
  /** CPU seconds the generator used while recording. */
  generatorCpuS: number;
}

const now = (): number => Number(process.hrtime.bigint()) / 1000; // microseconds, same clock in every thread

type Done = (err?: string) => void;
type Sender = { send: (done: Done) => void; close: () => Promise<void> };

function hostPort(target: string): { host: string; port: number } {
  const i = target.lastIndexOf(':');
  return { host: target.slice(0, i), port: Number(target.slice(i + 1)) };
}

function http1Sender(o: OpenLoopOptions): Sender {
  const pool = new Pool(`http://${o.target}`, { connections: o.connections, pipelining: 1, keepAliveTimeout: 60_000, headersTimeout: o.timeoutMs, bodyTimeout: o.timeoutMs });
  const path = o.absolute ? o.absolute + o.path : o.path;
  const headers = o.absolute ? { host: new URL(o.absolute).host } : o.authority ? { host: o.authority } : undefined;
  return {
    send(done) {
      pool.request({ method: 'GET', path, ...(headers ? { headers } : {}) }).then(
        (res) =>
          res.body.dump({ limit: 1 << 20 }).then(
            () => done(res.statusCode === 200 ? undefined : `status ${res.statusCode}`),
            (e: unknown) => done(String(e)),
          ),
        (e: unknown) => done(e instanceof Error ? `${(e as { code?: string }).code ?? ''} ${e.message}` : String(e)),
      );
    },
    close: () => pool.close(),
  };
}

/** HTTP/2 GET, or (grpc) a gRPC unary call framed by hand on node:http2: cheaper than grpc-js, same bytes on the wire. */
function h2Sender(o: OpenLoopOptions, grpcCall = false): Sender {
  const grpcBody = Buffer.alloc(9);
  grpcBody.writeUInt32BE(4, 1); // flag 0, length 4
  grpcBody.writeUInt32BE(o.grpcSize, 5);
  const headers: http2.OutgoingHttpHeaders = grpcCall
    ? { ':method': 'POST', ':path': '/bench.Bench/Unary', ':scheme': 'http', 'content-type': 'application/grpc', te: 'trailers' }
    : { ':method': 'GET', ':path': o.path, ':scheme': 'http' };
  const sessions: http2.ClientHttp2Session[] = [];
  for (let i = 0; i < o.connections; i++) {
    const s = http2.connect(`http://${o.target}`);
    s.on('error', () => {});
    sessions.push(s);
  }
  let rr = 0;
  const authority = o.authority ?? o.target;
  return {
    send(done) {
      const s = sessions[rr++ % sessions.length]!;
      let req: http2.ClientHttp2Stream;
      try {
        req = s.request({ ...headers, ':authority': authority }, { endStream: !grpcCall });
        if (grpcCall) req.end(grpcBody);
      } catch (e) {
        done(String(e));
        return;
      }
      let status = 0;
      let finished = false;
      const finish = (err?: string): void => {
        if (finished) return;
        finished = true;
        clearTimeout(timer);
        done(err);
      };
      const timer = setTimeout(() => {
        req.close(http2.constants.NGHTTP2_CANCEL);
        finish('timeout');
      }, o.timeoutMs);
      let grpcStatus: string | undefined;
      req.on('response', (h) => {
        status = Number(h[':status']);
        if (h['grpc-status'] !== undefined) grpcStatus = String(h['grpc-status']);
      });
      req.on('trailers', (t) => (grpcStatus = String(t['grpc-status'])));
      req.on('data', () => {});
      req.on('end', () => finish(status !== 200 ? `status ${status}` : grpcCall && grpcStatus !== '0' ? `grpc-status ${grpcStatus}` : undefined));
      req.on('error', (e) => finish(String(e)));
      req.on('close', () => finish(status === 200 && (!grpcCall || grpcStatus === '0') ? undefined : `closed, status ${status}`));
    },
    close: async () => {
      for (const s of sessions) s.close();
    },
  };
}

function grpcSender(o: OpenLoopOptions): Sender {
  const clients: grpc.Client[] = [];
  for (let i = 0; i < o.connections; i++) {
    clients.push(
      new grpc.Client(o.target, grpc.credentials.createInsecure(), {
        'grpc.use_local_subchannel_pool': 1,
        'grpc.enable_retries': 0,
        ...(o.authority ? { 'grpc.default_authority': o.authority } : {}),
      }),
    );
  }
  const body = Buffer.alloc(4);
  body.writeUInt32BE(o.grpcSize);
  const id = (b: Buffer): Buffer => b;
  let rr = 0;
  return {
    send(done) {
      const c = clients[rr++ % clients.length]!;
      c.makeUnaryRequest('/bench.Bench/Unary', id, id, body, { deadline: Date.now() + o.timeoutMs }, (err) => done(err ? `${err.code} ${err.details}` : undefined));
    },
    close: async () => {
      for (const c of clients) c.close();
    },
  };
}

// The clock thread: sleeps until each due index and posts it (coalescing when behind).
const CLOCK = `
const { parentPort, workerData } = require('node:worker_threads');
const { startUs, intervalUs, total } = workerData;
const cell = new Int32Array(new SharedArrayBuffer(4));
const now = () => Number(process.hrtime.bigint()) / 1000;
let i = 0;
while (i < total) {
  const t = now();
  const due = startUs + i * intervalUs;
  if (due > t + 50) { Atomics.wait(cell, 0, 0, (due - t - 30) / 1000); continue; }
  let last = Math.min(total - 1, Math.floor((t - startUs) / intervalUs));
  if (last < i) last = i;
  parentPort.postMessage(last);
  i = last + 1;
}
`;

export async function runOpenLoop(o: OpenLoopOptions): Promise<OpenLoopResult> {
  const sender = o.mode === 'http1' ? http1Sender(o) : o.mode === 'h2' ? h2Sender(o) : o.mode === 'grpc' ? h2Sender(o, true) : grpcSender(o);
  // Warm up: open the connections and heat the JIT with a bounded closed-loop burst.
  const warm = Math.max(o.connections * 4, Math.round(o.rate * o.warmupS));
  await new Promise<void>((resolve) => {
    let left = warm;
    let inflight = 0;
    const deadline = Date.now() + Math.max(2000, o.warmupS * 3000);
    const next = (): void => {
      while (inflight < o.connections && left > 0 && Date.now() < deadline) {
        left--;
        inflight++;
        sender.send(() => {
          inflight--;
          if ((left === 0 || Date.now() >= deadline) && inflight === 0) resolve();
          else next();
        });
      }
    };
    next();
  });

  const total = Math.max(1, Math.round(o.rate * o.durationS));
  const intervalUs = 1e6 / o.rate;
  const lat = new Histogram();
  const svc = new Histogram();
  const lag = new Histogram();
  let completed = 0;
  let errors = 0;
  let dropped = 0;
  let inFlight = 0;
  let firstError: string | undefined;
  let lastDone = 0;
  const startUs = now() + 20_000;
  const cpu0 = process.cpuUsage();

  await new Promise<void>((resolve) => {
    let sent = 0;
    let finished = 0;
    const settle = (): void => {
      finished++;
      if (finished === total) resolve();
    };
    const fire = (idx: number): void => {
      const intended = startUs + idx * intervalUs;
      if (inFlight >= o.maxInFlight) {
        dropped++;
        errors++;
        firstError ??= `more than ${o.maxInFlight} requests in flight`;
        settle();
        return;
      }
      const sentAt = now();
      lag.record(sentAt - intended);
      inFlight++;
      sender.send((err) => {
        const t = now();
        inFlight--;
        lastDone = t;
        if (err) {
          errors++;
          firstError ??= err;
        } else {
          completed++;
          lat.record(t - intended);
          svc.record(t - sentAt);
        }
        settle();
      });
    };
    const clock = new Worker(CLOCK, { eval: true, workerData: { startUs, intervalUs, total } });
    clock.on('message', (last: number) => {
      while (sent <= last) fire(sent++);
    });
    clock.on('error', (e) => {
      firstError ??= `clock: ${String(e)}`;
    });
    // Hard bound: the run ends duration + timeout + 5 s after its start whatever happens.
    const guard = setTimeout(() => {
      errors += total - finished;
      firstError ??= `run did not finish: ${total - finished} requests outstanding`;
      resolve();
    }, o.durationS * 1000 + o.timeoutMs + 5000);
    guard.unref();
  });
  const cpu = process.cpuUsage(cpu0);
  await sender.close();
  const elapsedS = Math.max(1e-6, (lastDone - startUs) / 1e6);
  return {
    options: o,
    intended: total,
    completed,
    errors,
    dropped,
    ...(firstError !== undefined ? { firstError } : {}),
    achievedRps: completed / Math.max(elapsedS, o.durationS),
    latencyUs: lat.summary(),
    serviceUs: svc.summary(),
    sendLagUs: lag.summary(),
    generatorCpuS: (cpu.user + cpu.system) / 1e6,
  };
}

function parseArgs(argv: string[]): OpenLoopOptions {
  const get = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const num = (name: string, d: number): number => {
    const v = get(name);
    if (v === undefined) return d;
    const n = Number(v);
    if (!Number.isFinite(n) || n < 0) throw new Error(`--${name}: not a number: ${v}`);
    return n;
  };
  const mode = (get('mode') ?? 'http1') as OpenLoopOptions['mode'];
  if (!['http1', 'h2', 'grpc', 'grpc-js'].includes(mode)) throw new Error(`--mode: http1, h2, grpc or grpc-js, got ${mode}`);
  const target = get('target');
  if (!target) throw new Error('--target HOST:PORT is required');
  const absolute = get('absolute');
  const authority = get('authority');
  const o: OpenLoopOptions = {
    mode,
    target,
    path: get('path') ?? '/',
    rate: num('rate', 1000),
    durationS: num('duration', 10),
    warmupS: num('warmup', 1),
    connections: num('connections', 4),
    grpcSize: num('grpc-size', 1024),
    timeoutMs: num('timeout-ms', 5000),
    maxInFlight: num('max-in-flight', 20_000),
  };
  if (absolute) o.absolute = absolute;
  if (authority) o.authority = authority;
  if (o.rate <= 0 || o.rate > 100_000) throw new Error('--rate: 1..100000');
  if (o.durationS <= 0 || o.durationS > 600) throw new Error('--duration: up to 600 s');
  void hostPort;
  return o;
}

if (process.argv[1] && import.meta.url === (await import('node:url')).pathToFileURL(process.argv[1]).href) {
  try {
    const res = await runOpenLoop(parseArgs(process.argv.slice(2)));
    process.stdout.write(`${JSON.stringify(res)}\n`);
    process.exit(0);
  } catch (e) {
    process.stderr.write(`open-loop: ${e instanceof Error ? e.message : String(e)}\n`);
    process.exit(2);
  }
}
