// A test server whose failures are set per pod, for watching the mesh's resilience
// features act: `node server.js [port]`.
//
//   env FAIL=always | <0..1>   answer FAIL_STATUS (default 500) always, or with that probability
//   env DELAY_MS=<ms>          hold every answer this long
//   ?delay=<ms>, ?status=<n>   the same for one request (override the env)
//   GET /health                200, never delayed, never failed, never counted (readiness probes)
//   GET /stats                 what the server saw: requests, answered, aborted (the caller went
//                              away before the answer), in flight and the peak, statuses, hosts
//   POST /stats/reset          zero the counters
//
// Any other request is answered JSON {pod, version, method, path, host, status}.
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';

export interface Stats {
  requests: number;
  answered: number;
  aborted: number;
  inFlight: number;
  peakInFlight: number;
  byStatus: Record<string, number>;
  /** Requests per Host header (mirrored copies arrive as "<host>-shadow"). */
  byHost: Record<string, number>;
}

const LIMITS = { maxDelayMs: 120_000, maxHosts: 32 } as const;

function fresh(): Stats {
  return { requests: 0, answered: 0, aborted: 0, inFlight: 0, peakInFlight: 0, byStatus: {}, byHost: {} };
}

let stats = fresh();
const pod = process.env.POD_NAME ?? 'local';
const version = process.env.VERSION ?? '';
const envDelayMs = boundedInt(process.env.DELAY_MS, 0, LIMITS.maxDelayMs) ?? 0;
const failStatus = boundedInt(process.env.FAIL_STATUS, 100, 599) ?? 500;
const failRate = process.env.FAIL === 'always' ? 1 : Math.min(1, Math.max(0, Number(process.env.FAIL ?? 0) || 0));

function boundedInt(v: string | null | undefined, min: number, max: number): number | undefined {
  if (v === undefined || v === null || !/^\d+$/.test(v)) return undefined;
  return Math.min(max, Math.max(min, Number(v)));
}

function send(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function count(rec: Record<string, number>, key: string, cap = Infinity): void {
  if (key in rec || Object.keys(rec).length < cap) rec[key] = (rec[key] ?? 0) + 1;
}

function answer(req: IncomingMessage, res: ServerResponse, url: URL): void {
  const s = stats;
  s.requests++;
  s.inFlight++;
  s.peakInFlight = Math.max(s.peakInFlight, s.inFlight);
  const host = req.headers.host ?? '';
  count(s.byHost, host, LIMITS.maxHosts);
  const delayMs = boundedInt(url.searchParams.get('delay'), 0, LIMITS.maxDelayMs) ?? envDelayMs;
  const status = boundedInt(url.searchParams.get('status'), 100, 599) ?? (Math.random() < failRate ? failStatus : 200);
  let timer: NodeJS.Timeout | undefined;
  res.once('close', () => {
    if (timer) clearTimeout(timer);
    s.inFlight--;
    if (res.writableFinished) s.answered++;
    else s.aborted++;
  });
  const reply = (): void => {
    timer = undefined;
    count(s.byStatus, String(status));
    send(res, status, { pod, version, method: req.method, path: url.pathname, host, status });
  };
  req.resume();
  if (delayMs > 0) timer = setTimeout(reply, delayMs);
  else reply();
}

const server = createServer((req, res) => {
  const url = new URL(req.url ?? '/', 'http://local');
  if (url.pathname === '/health') return send(res, 200, { status: 'ok', pod });
  if (url.pathname === '/stats' && req.method === 'GET') return send(res, 200, { pod, version, ...stats });
  if (url.pathname === '/stats/reset' && req.method === 'POST') {
    stats = fresh();
    return send(res, 200, { pod, reset: true });
  }
  answer(req, res, url);
});

const host = process.env.POD_IP ?? '0.0.0.0';
const port = Number(process.argv[2] ?? process.env.PORT ?? 8080);
server.listen(port, host, () => process.stdout.write(`resilience server ${pod} on http://${host}:${port} (fail ${failRate}, delay ${envDelayMs} ms)\n`));
const stop = (): void => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
  setTimeout(() => process.exit(0), 1000).unref();
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
