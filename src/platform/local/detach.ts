// `weft up --detach` and `weft down`: the supervisor as a background process.

import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { LocalPlatformError } from './errors.js';
import { tailLog } from './logs.js';
import { readMeshFile, removeMeshFile, weftPaths, type MeshFile } from './mesh-file.js';
import { groupAlive, pidAlive, stopGroup } from './process.js';

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Starts `command args` detached (own session, stdio to logFile, env WEFT_HOME=home); returns its pid. */
export function spawnDetached(command: string, args: string[], home: string, logFile: string): number {
  mkdirSync(dirname(logFile), { recursive: true });
  const fd = openSync(logFile, 'a');
  try {
    const child = spawn(command, args, { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, WEFT_HOME: home } });
    child.unref();
    if (child.pid === undefined) throw new LocalPlatformError('WEFT_ERR_SPAWN', `cannot start ${command}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Waits until the supervisor with this pid reports phase ready; throws with its log tail when it exits first. */
export async function waitForDetachedMesh(home: string, pid: number, timeoutMs: number): Promise<MeshFile> {
  const deadline = Date.now() + timeoutMs;
  const log = weftPaths(home).supervisorLog;
  while (Date.now() < deadline) {
    const m = readMeshFile(home);
    if (m && m.supervisorPid === pid && m.phase === 'ready') return m;
    if (!pidAlive(pid)) {
      const tail = tailLog(log, 15);
      const errLines = tail.filter((l) => l.startsWith('error:'));
      throw new LocalPlatformError(
        'WEFT_ERR_CONTROL_START',
        errLines.length ? errLines[errLines.length - 1]!.replace(/^error: /, '') : `the mesh stopped while starting (log: ${log})`,
        tail.filter((l) => !l.startsWith('error:')).map((l) => `  ${l}`),
      );
    }
    await sleep(200);
  }
  throw new LocalPlatformError('WEFT_ERR_TIMEOUT', `the mesh was not ready after ${Math.round(timeoutMs / 1000)} s; it keeps starting in the background (weft status, weft down; log: ${log})`);
}

export interface DownResult {
  supervisorPid: number;
  pods: number;
  /** Process groups that had to be killed after the supervisor was gone. */
  killed: number;
}

/** SIGTERM to the supervisor; waits until it and every process it recorded are gone. */
export async function stopMesh(home: string, timeoutMs = 30_000): Promise<DownResult> {
  const m = readMeshFile(home);
  if (!m) throw new LocalPlatformError('WEFT_ERR_NO_MESH', `no mesh is running (WEFT_HOME=${home})`);
  const groups = [m.controlPgid, ...m.pods.flatMap((p) => p.pgids)].filter((g): g is number => typeof g === 'number');
  if (pidAlive(m.supervisorPid)) {
    try {
      process.kill(m.supervisorPid, 'SIGTERM');
    } catch {
      /* gone meanwhile */
    }
  }
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline && (pidAlive(m.supervisorPid) || groups.some(groupAlive))) await sleep(100);
  if (pidAlive(m.supervisorPid)) {
    try {
      process.kill(m.supervisorPid, 'SIGKILL');
    } catch {
      /* gone */
    }
  }
  let killed = 0;
  for (const g of groups) {
    if (groupAlive(g)) {
      killed++;
      await stopGroup(g, 0);
    }
  }
  removeMeshFile(home);
  return { supervisorPid: m.supervisorPid, pods: m.pods.length, killed };
}
