// The reference topologies: the bench upstream alone (direct), an HAProxy pair
// with mTLS between the two (the C reference of the mesh's shape), the same pair as
// the least a Node.js proxy can do (node-floor.ts: what Node itself costs) and one
// plaintext HAProxy (single hop); the nginx pair and single are in nginx.ts. Addresses are on 127.77.0.0/16, away from
// weft's 127.N plan (the suite runs weft on another N) and other users of 127.0.0.1.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { Endpoints } from './weft-adapter.js';
import type { ProcRef } from './proc.js';
import { haproxyBin } from './programs.js';
import { PROXY_NODE_FLAGS } from '../src/platform/local/node-flags.js';

export const ADDR = {
  upstream: '127.77.0.10',
  haproxyA: '127.77.0.11',
  haproxyB: '127.77.0.12',
  haproxySingle: '127.77.0.13',
  nodeA: '127.77.0.14',
  nodeB: '127.77.0.15',
  nginxA: '127.77.0.16',
  nginxB: '127.77.0.17',
  nginxSingle: '127.77.0.18',
};
export const UPSTREAM_PORT = 8080; // +1 h2c, +2 gRPC

export interface Running {
  procs: ProcRef[];
  stop(): Promise<void>;
}

export function waitPort(host: string, port: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  return new Promise((resolve, reject) => {
    const attempt = (): void => {
      const s = net.connect(port, host);
      s.once('connect', () => {
        s.destroy();
        resolve();
      });
      s.once('error', () => {
        s.destroy();
        if (Date.now() > until) reject(new Error(`${host}:${port} not listening after ${timeoutMs} ms`));
        else setTimeout(attempt, 100);
      });
    };
    attempt();
  });
}

export function startProcess(cmd: string, args: string[], logFile: string): ChildProcess {
  const fd = fs.openSync(logFile, 'w');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], detached: true });
  fs.closeSync(fd);
  return child;
}

export async function stopProcess(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const gone = new Promise<void>((r) => child.once('exit', () => r()));
  try {
    process.kill(-child.pid, 'SIGTERM');
  } catch {
    return;
  }
  const t = setTimeout(() => {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // gone
    }
  }, 3000);
  await gone;
  clearTimeout(t);
}

export async function startUpstream(upstreamJs: string, runtimeDir: string): Promise<Running & { pid: number }> {
  const child = startProcess(process.execPath, [upstreamJs, '--host', ADDR.upstream, '--port', String(UPSTREAM_PORT)], path.join(runtimeDir, 'upstream.log'));
  await waitPort(ADDR.upstream, UPSTREAM_PORT + 2, 10_000);
  return { pid: child.pid!, procs: [{ role: 'upstream app', pid: child.pid! }], stop: () => stopProcess(child) };
}

/** HTTP/1.1, h2c and gRPC on three consecutive ports of one address (every topology's entry). */
export function endpointsAt(address: string, port = UPSTREAM_PORT): Endpoints {
  return { http1: { target: `${address}:${port}` }, h2: { target: `${address}:${port + 1}` }, grpc: { target: `${address}:${port + 2}` } };
}

export const directEndpoints: Endpoints = endpointsAt(ADDR.upstream);

const COMMON = (threads: number): string => `global
  nbthread ${threads}
  maxconn 4000
  tune.ssl.default-dh-param 2048
defaults
  mode http
  option http-keep-alive
  http-reuse always
  timeout connect 5s
  timeout client 60s
  timeout server 60s
  timeout http-keep-alive 60s
`;

/** A: plaintext in (HTTP/1.1 on 8080, h2c on 8081 and 8082) -> mTLS HTTP/2 to B -> app. */
function pairConfigs(certs: string, threads: number): { a: string; b: string } {
  const u = ADDR.upstream;
  const toB = (port: number): string =>
    `server b ${ADDR.haproxyB}:${port} ssl crt ${certs}/a.pem ca-file ${certs}/ca.crt verify required verifyhost haproxy-b sni str(haproxy-b) alpn h2`;
  const a =
    COMMON(threads) +
    `frontend h1
  bind ${ADDR.haproxyA}:8080
  default_backend b_h1
frontend h2
  bind ${ADDR.haproxyA}:8081 proto h2
  default_backend b_h2
frontend grpc
  bind ${ADDR.haproxyA}:8082 proto h2
  default_backend b_grpc
backend b_h1
  ${toB(9443)}
backend b_h2
  ${toB(9444)}
backend b_grpc
  ${toB(9445)}
`;
  const tlsIn = (port: number): string => `bind ${ADDR.haproxyB}:${port} ssl crt ${certs}/b.pem ca-file ${certs}/ca.crt verify required alpn h2,http/1.1`;
  const b =
    COMMON(threads) +
    `frontend h1
  ${tlsIn(9443)}
  default_backend app_h1
frontend h2
  ${tlsIn(9444)}
  default_backend app_h2
frontend grpc
  ${tlsIn(9445)}
  default_backend app_grpc
backend app_h1
  server app ${u}:${UPSTREAM_PORT}
backend app_h2
  server app ${u}:${UPSTREAM_PORT + 1} proto h2
backend app_grpc
  server app ${u}:${UPSTREAM_PORT + 2} proto h2
`;
  return { a, b };
}

function singleConfig(threads: number): string {
  const u = ADDR.upstream;
  const s = ADDR.haproxySingle;
  return (
    COMMON(threads) +
    `frontend h1
  bind ${s}:8080
  default_backend app_h1
frontend h2
  bind ${s}:8081 proto h2
  default_backend app_h2
frontend grpc
  bind ${s}:8082 proto h2
  default_backend app_grpc
backend app_h1
  server app ${u}:${UPSTREAM_PORT}
backend app_h2
  server app ${u}:${UPSTREAM_PORT + 1} proto h2
backend app_grpc
  server app ${u}:${UPSTREAM_PORT + 2} proto h2
`
  );
}

async function startHaproxy(name: string, config: string, runtimeDir: string, probe: { host: string; port: number }): Promise<ChildProcess> {
  const cfg = path.join(runtimeDir, `${name}.cfg`);
  fs.writeFileSync(cfg, config);
  const check = spawn(haproxyBin(), ['-c', '-q', '-f', cfg], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  check.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  // Not installed: a clear reason (the run marks the topology unavailable), not a crash.
  check.on('error', (e) => (err += `haproxy: ${e.message} (bash bench/setup.sh installs it)`));
  const code = await new Promise<number | null>((r) => check.on('close', r));
  if (code !== 0) throw new Error(`haproxy config ${cfg} invalid: ${err.trim()}`);
  const child = startProcess(haproxyBin(), ['-db', '-f', cfg], path.join(runtimeDir, `${name}.log`));
  await waitPort(probe.host, probe.port, 10_000);
  return child;
}

export async function startHaproxyPair(certs: string, runtimeDir: string, threads: number): Promise<Running & { endpoints: Endpoints }> {
  const { a, b } = pairConfigs(certs, threads);
  const pb = await startHaproxy('haproxy-b', b, runtimeDir, { host: ADDR.haproxyB, port: 9443 });
  const pa = await startHaproxy('haproxy-a', a, runtimeDir, { host: ADDR.haproxyA, port: 8080 }).catch(async (e: unknown) => {
    await stopProcess(pb);
    throw e;
  });
  return {
    endpoints: endpointsAt(ADDR.haproxyA),
    procs: [
      { role: 'haproxy A (client side)', pid: pa.pid! },
      { role: 'haproxy B (server side)', pid: pb.pid! },
    ],
    stop: async () => {
      await stopProcess(pa);
      await stopProcess(pb);
    },
  };
}

export async function startHaproxySingle(runtimeDir: string, threads: number): Promise<Running & { endpoints: Endpoints }> {
  const p = await startHaproxy('haproxy-single', singleConfig(threads), runtimeDir, { host: ADDR.haproxySingle, port: 8080 });
  return {
    endpoints: endpointsAt(ADDR.haproxySingle),
    procs: [{ role: 'haproxy (single)', pid: p.pid! }],
    stop: () => stopProcess(p),
  };
}

/** The Node floor pair (node-floor.ts): A plain in -> mTLS (h1 or h2 by ALPN) -> B -> app. */
export async function startNodePair(nodeFloorJs: string, certs: string, runtimeDir: string): Promise<Running & { endpoints: Endpoints }> {
  // The same V8 flags as weft's proxies, so the floor differs from weft only in what each does.
  const b = startProcess(process.execPath, [...PROXY_NODE_FLAGS, nodeFloorJs, 'b', '--listen', ADDR.nodeB, '--peer', ADDR.upstream, '--certs', certs], path.join(runtimeDir, 'node-b.log'));
  const a = startProcess(process.execPath, [...PROXY_NODE_FLAGS, nodeFloorJs, 'a', '--listen', ADDR.nodeA, '--peer', `${ADDR.nodeB}:9443`, '--certs', certs], path.join(runtimeDir, 'node-a.log'));
  const stop = async (): Promise<void> => {
    await stopProcess(a);
    await stopProcess(b);
  };
  try {
    await waitPort(ADDR.nodeB, 9443, 10_000);
    await waitPort(ADDR.nodeA, 8082, 10_000);
  } catch (e) {
    await stop();
    throw e;
  }
  return {
    endpoints: endpointsAt(ADDR.nodeA),
    procs: [
      { role: 'node floor A (client side)', pid: a.pid! },
      { role: 'node floor B (server side)', pid: b.pid! },
    ],
    stop,
  };
}
