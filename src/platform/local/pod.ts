// One local pod: an optional sidecar (or router) process, an optional app process, and
// their readiness. The app starts once the sidecar is ready; crashes of either make the
// pod not ready at once and restart the process with backoff.

import { LocalPlatformError } from './errors.js';
import { tailLog } from './logs.js';
import { DEFAULT_RESTART, SupervisedProcess, type ExitInfo, type ProcessSpec, type RestartPolicy } from './process.js';
import { ReadinessProber, type ResolvedProbe } from './probe.js';

export interface PodRunnerOptions {
  name: string;
  /** The proxy beside the app (sidecar) or alone (router); its admin /ready decides its readiness. */
  proxy?: { spec: ProcessSpec; readyUrl: string; startTimeoutMs?: number };
  app?: { spec: ProcessSpec; probe: ResolvedProbe };
  restart?: RestartPolicy;
  /** Called on every change of the pod's readiness. */
  onReadyChange?: (ready: boolean) => void;
  /** Called on each exit of a process (for logs and status). */
  onExit?: (which: 'app' | 'proxy', info: ExitInfo) => void;
}

export const PROXY_READY_TIMEOUT_MS = 30_000;

export class PodRunner {
  readonly proxy: SupervisedProcess | undefined;
  readonly app: SupervisedProcess | undefined;
  private readonly proxyProber: ReadinessProber | undefined;
  private readonly appProber: ReadinessProber | undefined;
  private ready = false;
  private stopping = false;
  readonly startedAt = Date.now();

  constructor(private readonly opts: PodRunnerOptions) {
    const restart = opts.restart ?? DEFAULT_RESTART;
    if (opts.proxy) {
      this.proxy = new SupervisedProcess(opts.proxy.spec, restart);
      this.proxyProber = new ReadinessProber(
        {
          check: { kind: 'http', ...splitUrl(opts.proxy.readyUrl), scheme: 'HTTP', headers: {} },
          timings: { initialDelayMs: 100, periodMs: 500, timeoutMs: 1000, successThreshold: 1, failureThreshold: 3 },
        },
        () => this.update(),
      );
      this.proxy.on('start', () => this.proxyProber!.start());
      this.proxy.on('exit', (info) => {
        this.proxyProber!.stop();
        this.opts.onExit?.('proxy', info);
      });
    }
    if (opts.app) {
      this.app = new SupervisedProcess(opts.app.spec, restart);
      this.appProber = new ReadinessProber(opts.app.probe, () => this.update());
      this.app.on('start', () => this.appProber!.start());
      this.app.on('exit', (info) => {
        this.appProber!.stop();
        this.opts.onExit?.('app', info);
      });
    }
  }

  get isReady(): boolean {
    return this.ready;
  }

  get restarts(): number {
    return (this.proxy?.restarts ?? 0) + (this.app?.restarts ?? 0);
  }

  get containers(): number {
    return (this.proxy ? 1 : 0) + (this.app ? 1 : 0);
  }

  get readyContainers(): number {
    return (this.proxyProber?.isReady ? 1 : 0) + (this.appProber?.isReady ? 1 : 0);
  }

  /** Process groups of the current runs. */
  get pgids(): number[] {
    return [this.proxy?.pid, this.app?.pid].filter((p): p is number => p !== undefined);
  }

  private update(): void {
    const ready = !this.stopping && (!this.proxyProber || this.proxyProber.isReady) && (!this.appProber || this.appProber.isReady);
    if (ready === this.ready) return;
    this.ready = ready;
    this.opts.onReadyChange?.(ready);
  }

  /** Starts the proxy, waits for its /ready, then starts the app. Throws when the proxy never becomes ready. */
  async start(): Promise<void> {
    if (this.proxy && this.proxyProber && this.opts.proxy) {
      await this.proxy.start();
      const timeout = this.opts.proxy.startTimeoutMs ?? PROXY_READY_TIMEOUT_MS;
      const deadline = Date.now() + timeout;
      while (!this.proxyProber.isReady) {
        if (this.stopping) return;
        if (Date.now() > deadline) {
          throw new LocalPlatformError(
            'WEFT_ERR_PROXY_START',
            `${this.opts.name}: proxy not ready after ${Math.round(timeout / 1000)} s (${this.opts.proxy.readyUrl})`,
            tailLog(this.opts.proxy.spec.logFile).map((l) => `  ${l}`),
          );
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    if (this.app && !this.stopping) await this.app.start();
  }

  /** Stops the app, then the proxy (each SIGTERM, then SIGKILL after graceMs). */
  async stop(graceMs?: number): Promise<void> {
    this.stopping = true;
    this.update();
    this.appProber?.stop();
    await this.app?.stop(graceMs);
    this.proxyProber?.stop();
    await this.proxy?.stop(graceMs);
  }
}

function splitUrl(url: string): { host: string; port: number; path: string } {
  const u = new URL(url);
  return { host: u.hostname, port: Number(u.port || 80), path: `${u.pathname}${u.search}` };
}
