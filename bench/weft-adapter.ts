// The one place the suite knows how weft is started and where its entry points
// are. Everything weft-specific (CLI flags, mesh.json layout, the address plan,
// which pod/port is the entry) lives here; run.ts only sees Endpoints and ProcRefs.
//
// It runs `weft --home <runtime>/weft-home up <rendered bench/mesh> --network N`
// in the foreground as its own process group, waits for mesh.json phase "ready",
// and reads the pods' addresses from mesh.json (docs/architecture.md, "Local
// platform"): bench-client's sidecar P:15001 is the mesh entry; bench-app's
// sidecar inbound listener P:8080/8081/8082 in plaintext (PERMISSIVE) is the
// single-hop entry.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import type { ProcRef } from './proc.js';

export interface Entry {
  /** host:port the load generator connects to. */
  target: string;
  /** HTTP/1.1 through an HTTP proxy: the absolute-form prefix, e.g. http://bench-app:8080. */
  absolute?: string;
  /** Host / :authority to send. */
  authority?: string;
}

export interface Endpoints {
  http1: Entry;
  h2: Entry;
  grpc: Entry;
}

export interface WeftTopologies {
  mesh: { endpoints: Endpoints; procs: ProcRef[] };
  single: { endpoints: Endpoints; procs: ProcRef[] };
  /** Every process of the mesh (control plane included), for information. */
  controlPlane?: ProcRef;
  stop(): Promise<void>;
}

export interface WeftOptions {
  repoRoot: string;
  /** Build output root holding src/cli/main.js and bench/upstream.js (dist or dist-bench). */
  distDir: string;
  runtimeDir: string;
  network: number;
  ingressPort: number;
  timeoutMs: number;
  log: (line: string) => void;
}

interface MeshPodLite {
  name: string;
  namespace: string;
  address: string;
  appAddress: string;
  deployment: string;
  ready: boolean;
  pgids?: number[];
}
interface MeshFileLite {
  phase: string;
  error?: string;
  errorDetails?: string[];
  controlPgid?: number;
  supervisorPid?: number;
  pods: MeshPodLite[];
}

/** Copies bench/mesh with absolute command paths and workingDir for this build. */
function renderManifests(o: WeftOptions): string {
  const src = path.join(o.repoRoot, 'bench', 'mesh');
  const out = path.join(o.runtimeDir, 'mesh');
  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  for (const f of fs.readdirSync(src)) {
    if (!/\.ya?ml$/.test(f)) continue;
    const text = fs
      .readFileSync(path.join(src, f), 'utf8')
      .replaceAll('"dist/bench/', `"${path.join(o.distDir, 'bench')}/`)
      .replaceAll('workingDir: ../..', `workingDir: ${o.repoRoot}`);
    fs.writeFileSync(path.join(out, f), text);
  }
  return out;
}

function killGroup(pid: number | undefined, sig: NodeJS.Signals): void {
  if (!pid) return;
  try {
    process.kill(-pid, sig);
  } catch {
    // gone
  }
}

export async function startWeft(o: WeftOptions): Promise<WeftTopologies> {
  const cli = path.join(o.distDir, 'src', 'cli', 'main.js');
  if (!fs.existsSync(cli)) throw new Error(`weft CLI not built: ${cli}`);
  const home = path.join(o.runtimeDir, 'weft-home');
  fs.rmSync(home, { recursive: true, force: true });
  fs.mkdirSync(home, { recursive: true });
  const dir = renderManifests(o);
  const logFile = path.join(o.runtimeDir, 'weft-up.log');
  const logFd = fs.openSync(logFile, 'w');
  const child: ChildProcess = spawn(process.execPath, [cli, '--home', home, 'up', dir, '--network', String(o.network), '--ingress-port', String(o.ingressPort)], {
    cwd: o.repoRoot,
    env: { ...process.env, WEFT_HOME: home },
    stdio: ['ignore', logFd, logFd],
    detached: true,
  });
  fs.closeSync(logFd);
  let exited: string | undefined;
  child.on('exit', (code, sig) => (exited = `weft up exited (${code ?? sig})`));

  const stop = async (): Promise<void> => {
    if (exited === undefined) {
      killGroup(child.pid, 'SIGTERM');
      const until = Date.now() + 15_000;
      while (exited === undefined && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      if (exited === undefined) killGroup(child.pid, 'SIGKILL');
    }
    // Pods run in their own process groups; make sure none outlives the bench.
    const m = readMesh(home);
    for (const p of m?.pods ?? []) for (const g of p.pgids ?? []) killGroup(g, 'SIGKILL');
    killGroup(m?.controlPgid, 'SIGKILL');
  };

  const deadline = Date.now() + o.timeoutMs;
  let mesh: MeshFileLite | undefined;
  for (;;) {
    mesh = readMesh(home);
    if (mesh?.phase === 'ready') break;
    if (mesh?.phase === 'failed' || exited !== undefined || Date.now() > deadline) {
      await stop();
      const why = mesh?.error ?? exited ?? `not ready after ${o.timeoutMs / 1000} s`;
      const tail = fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8').split('\n').slice(-15).join('\n') : '';
      throw new Error(`weft mesh: ${why}${mesh?.errorDetails ? `\n${mesh.errorDetails.join('\n')}` : ''}\n--- ${logFile} (tail)\n${tail}`);
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  const app = mesh.pods.find((p) => p.deployment === 'bench-app');
  const client = mesh.pods.find((p) => p.deployment === 'bench-client');
  if (!app || !client) {
    await stop();
    throw new Error(`weft mesh: pods bench-app and bench-client not both in ${home}/mesh.json`);
  }
  // pgids are [proxy, app] (src/platform/local/pod.ts): the sidecar is the first.
  const sidecar = (p: MeshPodLite, role: string): ProcRef[] => (p.pgids?.[0] ? [{ role, pid: p.pgids[0], group: true }] : []);
  const appSidecar = sidecar(app, 'weft sidecar (server)');
  const clientSidecar = sidecar(client, 'weft sidecar (client)');
  o.log(`weft mesh ready: client sidecar ${client.address}:15001, app sidecar ${app.address}, app ${app.appAddress}`);
  return {
    mesh: {
      endpoints: {
        http1: { target: `${client.address}:15001`, absolute: 'http://bench-app:8080' },
        h2: { target: `${client.address}:15001`, authority: 'bench-app:8081' },
        grpc: { target: `${client.address}:15001`, authority: 'bench-app:8082' },
      },
      procs: [...clientSidecar, ...appSidecar],
    },
    single: {
      endpoints: {
        http1: { target: `${app.address}:8080` },
        h2: { target: `${app.address}:8081` },
        grpc: { target: `${app.address}:8082` },
      },
      procs: appSidecar,
    },
    ...(mesh.controlPgid ? { controlPlane: { role: 'weft control plane', pid: mesh.controlPgid, group: true } } : {}),
    stop,
  };
}

function readMesh(home: string): MeshFileLite | undefined {
  try {
    return JSON.parse(fs.readFileSync(path.join(home, 'mesh.json'), 'utf8')) as MeshFileLite;
  } catch {
    return undefined;
  }
}
