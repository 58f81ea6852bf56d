// Readiness probes as Kubernetes runs them (httpGet, tcpSocket, exec) with its timings,
// against the pod's app address. Reports transitions only.

import { request } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { spawn } from 'node:child_process';
import type { ContainerSpec, Probe } from '../../resources/kubernetes-types.js';
import { LocalPlatformError } from './errors.js';

export type ProbeCheck =
  | { kind: 'http'; host: string; port: number; path: string; scheme: 'HTTP' | 'HTTPS'; headers: Record<string, string> }
  | { kind: 'tcp'; host: string; port: number }
  | { kind: 'exec'; command: string[]; env: NodeJS.ProcessEnv; cwd?: string }
  /** No probe and no port: ready while the process runs. */
  | { kind: 'running' };

export interface ProbeTimings {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  successThreshold: number;
  failureThreshold: number;
}

/** Kubernetes' defaults. */
export const PROBE_DEFAULTS: ProbeTimings = { initialDelayMs: 0, periodMs: 10_000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3 };
/** Timings of the implicit probe (no readinessProbe: the first containerPort accepts TCP). */
export const IMPLICIT_PROBE_TIMINGS: ProbeTimings = { initialDelayMs: 0, periodMs: 1000, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3 };

export interface ResolvedProbe {
  check: ProbeCheck;
  timings: ProbeTimings;
}

function resolvePort(port: number | string, container: ContainerSpec): number {
  if (typeof port === 'number') return port;
  if (/^\d+$/.test(port)) return Number(port);
  const named = container.ports?.find((p) => p.name === port);
  if (!named) {
    throw new LocalPlatformError('WEFT_ERR_INVALID_INPUT', `container ${container.name}: readinessProbe port "${port}" names no containerPort`);
  }
  return named.containerPort;
}

function timingsOf(p: Probe): ProbeTimings {
  const s = (v: number | undefined, d: number) => (v === undefined ? d : v * 1000);
  return {
    initialDelayMs: s(p.initialDelaySeconds, PROBE_DEFAULTS.initialDelayMs),
    periodMs: s(p.periodSeconds, PROBE_DEFAULTS.periodMs),
    timeoutMs: s(p.timeoutSeconds, PROBE_DEFAULTS.timeoutMs),
    successThreshold: p.successThreshold ?? PROBE_DEFAULTS.successThreshold,
    failureThreshold: p.failureThreshold ?? PROBE_DEFAULTS.failureThreshold,
  };
}

/** The container's readinessProbe against the app address, or the implicit one. */
export function resolveReadinessProbe(container: ContainerSpec, appAddress: string, env: NodeJS.ProcessEnv, cwd?: string): ResolvedProbe {
  const p = container.readinessProbe;
  if (p?.httpGet) {
    const headers: Record<string, string> = {};
    for (const h of p.httpGet.httpHeaders ?? []) headers[h.name] = h.value;
    return {
      check: { kind: 'http', host: appAddress, port: resolvePort(p.httpGet.port, container), path: p.httpGet.path ?? '/', scheme: p.httpGet.scheme ?? 'HTTP', headers },
      timings: timingsOf(p),
    };
  }
  if (p?.tcpSocket) return { check: { kind: 'tcp', host: appAddress, port: resolvePort(p.tcpSocket.port, container) }, timings: timingsOf(p) };
  if (p?.exec) return { check: { kind: 'exec', command: p.exec.command, env, cwd }, timings: timingsOf(p) };
  const first = container.ports?.[0];
  if (first) return { check: { kind: 'tcp', host: appAddress, port: first.containerPort }, timings: IMPLICIT_PROBE_TIMINGS };
  return { check: { kind: 'running' }, timings: IMPLICIT_PROBE_TIMINGS };
}

/** One attempt: resolves true on success, false on failure or timeout. Never rejects. */
export function runCheck(check: ProbeCheck, timeoutMs: number): Promise<boolean> {
  switch (check.kind) {
    case 'running':
      return Promise.resolve(true);
    case 'tcp':
      return new Promise((resolve) => {
        const sock = connect({ host: check.host, port: check.port });
        const t = setTimeout(() => finish(false), timeoutMs);
        function finish(ok: boolean) {
          clearTimeout(t);
          sock.destroy();
          resolve(ok);
        }
        sock.once('connect', () => finish(true));
        sock.once('error', () => finish(false));
      });
    case 'http':
      return new Promise((resolve) => {
        const fn = check.scheme === 'HTTPS' ? httpsRequest : request;
        const req = fn(
          { host: check.host, port: check.port, path: check.path, method: 'GET', headers: { 'user-agent': 'weft-probe/1', ...check.headers }, timeout: timeoutMs, rejectUnauthorized: false, agent: false },
          (res) => {
            res.resume();
            const code = res.statusCode ?? 0;
            resolve(code >= 200 && code < 400);
          },
        );
        req.once('timeout', () => req.destroy());
        req.once('error', () => resolve(false));
        req.end();
      });
    case 'exec':
      return new Promise((resolve) => {
        const [cmd, ...args] = check.command;
        if (!cmd) return resolve(false);
        const child = spawn(cmd, args, { env: check.env, cwd: check.cwd, stdio: 'ignore', detached: true });
        const t = setTimeout(() => {
          try {
            if (child.pid) process.kill(-child.pid, 'SIGKILL');
          } catch {
            /* gone */
          }
        }, timeoutMs);
        child.once('error', () => {
          clearTimeout(t);
          resolve(false);
        });
        child.once('exit', (code) => {
          clearTimeout(t);
          resolve(code === 0);
        });
      });
  }
}

/**
 * Runs a probe periodically. Starts not ready; calls onChange on each transition
 * (after successThreshold successes / failureThreshold failures in a row).
 */
export class ReadinessProber {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private ready = false;
  private successes = 0;
  private failures = 0;

  constructor(
    readonly probe: ResolvedProbe,
    private readonly onChange: (ready: boolean) => void,
  ) {}

  get isReady(): boolean {
    return this.ready;
  }

  start(): void {
    this.stop();
    this.running = true;
    this.successes = 0;
    this.failures = 0;
    this.timer = setTimeout(() => void this.tick(), this.probe.timings.initialDelayMs);
  }

  /** Stops probing; a ready prober reports not ready. */
  stop(): void {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.set(false);
  }

  private set(ready: boolean): void {
    if (ready === this.ready) return;
    this.ready = ready;
    this.onChange(ready);
  }

  private async tick(): Promise<void> {
    const { timings } = this.probe;
    const ok = await runCheck(this.probe.check, timings.timeoutMs);
    if (!this.running) return;
    if (ok) {
      this.failures = 0;
      this.successes++;
      if (this.successes >= timings.successThreshold) this.set(true);
    } else {
      this.successes = 0;
      this.failures++;
      // Before the first success a single failure keeps it not ready (it already is).
      if (this.failures >= timings.failureThreshold) this.set(false);
    }
    this.timer = setTimeout(() => void this.tick(), timings.periodMs);
  }
}
