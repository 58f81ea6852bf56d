// What the four Bookinfo services share: where to listen, a light access log, calls to
// other services (through the pod's sidecar when HTTP_PROXY is set) with header propagation.

import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { EnvHttpProxyAgent, fetch, setGlobalDispatcher } from 'undici';

// HTTP_PROXY / NO_PROXY are honoured for every outbound call. `proxyTunnel: false` sends
// plain absolute-form requests (`GET http://reviews:9080/...`) rather than CONNECT, so the
// sidecar sees each request and can route on its headers.
const dispatcher = new EnvHttpProxyAgent({ proxyTunnel: false });
setGlobalDispatcher(dispatcher);

/**
 * Tracing headers every Bookinfo service passes on, as the original Bookinfo does
 * (W3C, B3, Lightstep, Datadog, Cloud Trace, gRPC, SkyWalking) plus Istio's x-request-id.
 */
export const TRACE_HEADERS: readonly string[] = [
  'x-request-id',
  'traceparent',
  'tracestate',
  'x-b3-traceid',
  'x-b3-spanid',
  'x-b3-parentspanid',
  'x-b3-sampled',
  'x-b3-flags',
  'b3',
  'x-ot-span-context',
  'x-datadog-trace-id',
  'x-datadog-parent-id',
  'x-datadog-sampling-priority',
  'x-cloud-trace-context',
  'grpc-trace-bin',
  'sw8',
];

/** The tracing headers present on `incoming`, plus `extra` (e.g. end-user). */
export function forwardHeaders(incoming: IncomingHttpHeaders, extra: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of TRACE_HEADERS) {
    const value = incoming[name];
    if (typeof value === 'string') out[name] = value;
  }
  return { ...out, ...extra };
}

export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

export interface Upstream {
  status: number;
  body: JsonValue;
}

/** GET a JSON document; rejects on network error, timeout or a body that is not JSON. */
export async function getJson(url: string, headers: Record<string, string>, timeoutMs: number): Promise<Upstream> {
  const res = await fetch(url, { headers, signal: AbortSignal.timeout(timeoutMs) });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as JsonValue };
}

/** Base URL of another Bookinfo service: `<NAME>_URL` if set, else `http://<name>:9080`. */
export function serviceUrl(name: string): string {
  return (process.env[`${name.toUpperCase()}_URL`] ?? `http://${name}:9080`).replace(/\/+$/, '');
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function sendText(res: ServerResponse, status: number, text: string, type = 'text/plain; charset=utf-8'): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Reads a request body up to `limit` bytes; rejects beyond it. */
export async function readBody(req: IncomingMessage, limit = 64 * 1024): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > limit) throw new Error(`request body over ${limit} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

/** A product id (decimal digits) -> the number, else undefined. */
export function parseId(text: string): number | undefined {
  return /^\d{1,9}$/.test(text) ? Number(text) : undefined;
}

// Access log: lines are queued and written together on the next turn of the event loop,
// never inside the request path.
let pending: string[] = [];
function log(line: string): void {
  if (pending.length === 0) setImmediate(flushLog);
  pending.push(line);
}
function flushLog(): void {
  if (pending.length === 0) return;
  const text = pending.join('\n') + '\n';
  pending = [];
  process.stdout.write(text);
}

export type Handler = (req: IncomingMessage, res: ServerResponse, path: string) => void | Promise<void>;

/**
 * Starts a service on `$POD_IP` (or 0.0.0.0) and the port from argv[2], `$PORT` or 9080.
 * Logs one line per request; exits cleanly on SIGTERM/SIGINT.
 */
export function serve(service: string, handler: Handler): Server {
  const host = process.env.POD_IP ?? '0.0.0.0';
  const port = Number(process.argv[2] ?? process.env.PORT ?? 9080);
  const server = createServer((req, res) => {
    const started = process.hrtime.bigint();
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    res.on('finish', () => {
      const ms = Number(process.hrtime.bigint() - started) / 1e6;
      log(`${new Date().toISOString()} ${service} "${req.method} ${req.url}" ${res.statusCode} ${ms.toFixed(1)}ms`);
    });
    (async () => handler(req, res, path))().catch((err: unknown) => {
      log(`${new Date().toISOString()} ${service} error: ${err instanceof Error ? err.message : String(err)}`);
      if (!res.headersSent) sendJson(res, 500, { error: 'internal error' });
      else res.destroy();
    });
  });
  server.listen(port, host, () => log(`${service} listening on http://${host}:${port}`));
  const stop = (): void => {
    flushLog();
    server.close(() => process.exit(0));
    server.closeIdleConnections();
    setTimeout(() => process.exit(0), 2000).unref();
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  return server;
}
