// One supervised OS process: spawned in its own process group (so stopping it also stops
// whatever it started), output appended to a log file, restarted with exponential backoff.

import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { EventEmitter } from 'node:events';
import { LocalPlatformError } from './errors.js';

export interface ProcessSpec {
  /** For messages: "productpage-v1-... app". */
  name: string;
  command: string;
  args: string[];
  env: NodeJS.ProcessEnv;
  cwd?: string;
  /** stdout and stderr are appended here. */
  logFile: string;
}

export interface RestartPolicy {
  /** Restart after an exit (never after stop()). */
  restart: boolean;
  initialBackoffMs: number;
  maxBackoffMs: number;
  /** A run this long resets the backoff to its initial value. */
  resetAfterMs: number;
}

export const DEFAULT_RESTART: RestartPolicy = { restart: true, initialBackoffMs: 1000, maxBackoffMs: 30_000, resetAfterMs: 60_000 };
export const DEFAULT_STOP_GRACE_MS = 5000;

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** How long this run lasted. */
  uptimeMs: number;
  /** Delay before the next start, or undefined when it will not restart. */
  restartInMs?: number;
}

/** Next backoff: doubles up to the maximum; resets after a long enough run. */
export function nextBackoff(previousMs: number | undefined, uptimeMs: number, p: RestartPolicy): number {
  if (previousMs === undefined || uptimeMs >= p.resetAfterMs) return p.initialBackoffMs;
  return Math.min(previousMs * 2, p.maxBackoffMs);
}

/** True while any process of the group is alive. */
export function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    /* already gone */
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** SIGTERM to the group, then SIGKILL after graceMs; resolves once the group is empty (or after the kill). */
export async function stopGroup(pgid: number, graceMs = DEFAULT_STOP_GRACE_MS): Promise<void> {
  if (!groupAlive(pgid)) return;
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (Date.now() < deadline) {
    if (!groupAlive(pgid)) return;
    await sleep(50);
  }
  signalGroup(pgid, 'SIGKILL');
  for (let i = 0; i < 40 && groupAlive(pgid); i++) await sleep(50);
}

export interface SupervisedProcessEvents {
  start: [pid: number];
  exit: [info: ExitInfo];
}

export class SupervisedProcess extends EventEmitter<SupervisedProcessEvents> {
  private child: ChildProcess | undefined;
  private startedAt = 0;
  private backoffMs: number | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  private exited: Promise<void> = Promise.resolve();
  /** Exits that led (or will lead) to a restart. */
  restarts = 0;
  /** Process-group ids of every run, for checking that nothing is left. */
  readonly pgids: number[] = [];

  constructor(
    readonly spec: ProcessSpec,
    readonly policy: RestartPolicy = DEFAULT_RESTART,
  ) {
    super();
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  get running(): boolean {
    return this.child !== undefined;
  }

  get runningSince(): number | undefined {
    return this.child ? this.startedAt : undefined;
  }

  /** Spawns the process; rejects when it cannot be spawned (missing binary, bad cwd). */
  async start(): Promise<number> {
    this.stopped = false;
    return this.spawnOnce();
  }

  private spawnOnce(): Promise<number> {
    mkdirSync(dirname(this.spec.logFile), { recursive: true });
    const fd = openSync(this.spec.logFile, 'a');
    let child: ChildProcess;
    try {
      child = spawn(this.spec.command, this.spec.args, {
        cwd: this.spec.cwd,
        env: this.spec.env,
        detached: true,
        stdio: ['ignore', fd, fd],
      });
    } finally {
      closeSync(fd);
    }
    return new Promise<number>((resolve, reject) => {
      child.on('error', (err: NodeJS.ErrnoException) => {
        if (child.pid === undefined) {
          reject(new LocalPlatformError('WEFT_ERR_SPAWN', `${this.spec.name}: cannot start ${this.spec.command}: ${err.code ?? err.message}`));
        }
      });
      child.once('spawn', () => {
        const pid = child.pid!;
        this.child = child;
        this.startedAt = Date.now();
        this.pgids.push(pid);
        let done!: () => void;
        this.exited = new Promise<void>((r) => (done = r));
        child.once('exit', (code, signal) => {
          this.child = undefined;
          // Whatever the app left behind in its group goes with it.
          signalGroup(pid, 'SIGKILL');
          const uptimeMs = Date.now() - this.startedAt;
          const info: ExitInfo = { code, signal, uptimeMs, restartInMs: this.scheduleRestart(uptimeMs) };
          done();
          this.emit('exit', info);
        });
        this.emit('start', pid);
        resolve(pid);
      });
    });
  }

  /** Plans the next start after an exit (or a failed spawn); returns the delay, or undefined when none. */
  private scheduleRestart(uptimeMs: number): number | undefined {
    if (this.stopped || !this.policy.restart) return undefined;
    const delay = nextBackoff(this.backoffMs, uptimeMs, this.policy);
    this.backoffMs = delay;
    this.restarts++;
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (this.stopped) return;
      this.spawnOnce().catch(() => {
        // Could not even spawn: counts as an immediate exit.
        this.emit('exit', { code: null, signal: null, uptimeMs: 0, restartInMs: this.scheduleRestart(0) });
      });
    }, delay);
    return delay;
  }

  /** Stops the process and its group: SIGTERM, then SIGKILL after graceMs. No restart follows. */
  async stop(graceMs = DEFAULT_STOP_GRACE_MS): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = undefined;
    const pgid = this.child?.pid;
    if (pgid !== undefined) {
      await stopGroup(pgid, graceMs);
      await this.exited;
    }
    // Groups of earlier runs were killed at their exit; make sure.
    for (const g of this.pgids) if (groupAlive(g)) await stopGroup(g, 0);
  }
}
