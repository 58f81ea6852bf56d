// $WEFT_HOME layout and mesh.json: what a running `weft up` records for the other commands.

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';
import { LocalPlatformError } from './errors.js';
import { pidAlive } from './process.js';

export interface MeshPod {
  name: string;
  namespace: string;
  /** P */
  address: string;
  /** A */
  appAddress: string;
  adminPort: number;
  proxyType: 'sidecar' | 'router';
  deployment: string;
  ready: boolean;
  /** Ready containers / containers (app + sidecar; 1 for a router). */
  readyContainers: number;
  containers: number;
  /** Restarts of the app and the sidecar together. */
  restarts: number;
  /** ms since epoch. */
  startedAt: number;
  /** Process groups started for this pod (current runs). */
  pgids: number[];
}

export type MeshPhase = 'starting' | 'ready' | 'stopping' | 'failed';

export interface MeshFile {
  network: number;
  controlAddress: string;
  apiUrl: string;
  adminTokenFile: string;
  supervisorPid: number;
  ingressUrl: string;
  /** http://127.0.0.1:<port>/productpage and the like, when a Gateway route exposes a page. */
  appUrls: string[];
  phase: MeshPhase;
  /** Why it failed, when phase is failed. */
  error?: string;
  errorDetails?: string[];
  source: string;
  startedAt: number;
  updatedAt: number;
  controlPgid?: number;
  pods: MeshPod[];
}

export interface WeftPaths {
  home: string;
  state: string;
  logs: string;
  pods: string;
  meshFile: string;
  supervisorLog: string;
}

export function resolveHome(flag?: string, env: NodeJS.ProcessEnv = process.env): string {
  const h = flag ?? env.WEFT_HOME;
  return resolve(h && h.length > 0 ? h : join(homedir(), '.weft'));
}

export function weftPaths(home: string): WeftPaths {
  return {
    home,
    state: join(home, 'state'),
    logs: join(home, 'logs'),
    pods: join(home, 'pods'),
    meshFile: join(home, 'mesh.json'),
    supervisorLog: join(home, 'logs', 'weft-up.log'),
  };
}

export function readMeshFile(home: string): MeshFile | undefined {
  const f = weftPaths(home).meshFile;
  if (!existsSync(f)) return undefined;
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as MeshFile;
  } catch {
    return undefined;
  }
}

/** The running mesh, or a clear error when there is none. */
export function requireMesh(home: string): MeshFile {
  const m = readMeshFile(home);
  if (!m || !pidAlive(m.supervisorPid)) {
    throw new LocalPlatformError('WEFT_ERR_NO_MESH', `no mesh is running (WEFT_HOME=${home}); start one with: weft up DIR`);
  }
  return m;
}

export function writeMeshFile(home: string, m: MeshFile): void {
  const p = weftPaths(home);
  mkdirSync(p.home, { recursive: true });
  const tmp = `${p.meshFile}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(m, null, 2)}\n`);
  renameSync(tmp, p.meshFile);
}

export function removeMeshFile(home: string): void {
  rmSync(weftPaths(home).meshFile, { force: true });
}

export function readAdminToken(m: MeshFile): string {
  try {
    return readFileSync(m.adminTokenFile, 'utf8').trim();
  } catch {
    throw new LocalPlatformError('WEFT_ERR_API', `cannot read the admin token ${m.adminTokenFile}`);
  }
}

export function findPod(m: MeshFile, name: string, namespace?: string): MeshPod {
  const matches = m.pods.filter((p) => (p.name === name || p.deployment === name) && (namespace === undefined || p.namespace === namespace));
  const exact = matches.filter((p) => p.name === name);
  const pick = exact[0] ?? matches[0];
  if (!pick) {
    throw new LocalPlatformError('WEFT_ERR_POD_NOT_FOUND', `pod "${name}"${namespace ? ` in namespace ${namespace}` : ''} not found; see: weft status`);
  }
  return pick;
}
