// The proxy's workload identity: makes a key, asks the control plane's CA for a
// certificate, checks it, serves it, renews it at half life (retrying with
// backoff while the current one keeps being served), and tells listeners.
import type { IdentityProvider, WorkloadCertificate } from '../types.js';
import { Backoff } from './backoff.js';
import { requestCertificate } from './ca-client.js';
import { checkIssuedCertificate } from './cert-check.js';
import { readPemFile, readTokenFile } from './control-channel.js';
import { makeKeyAndCsr } from './csr.js';
import { errorMessage } from './errors.js';
import { silentLogger, type Logger } from './log.js';

export interface WorkloadIdentityOptions {
  /** spiffe://<trust-domain>/ns/<ns>/sa/<sa> */
  identity: string;
  /** The CA's gRPC TLS address, host:port (e.g. 127.10.0.1:15012). */
  caAddress: string;
  /** File with the PEM root(s) that sign the control plane's serving certificate and the workload certificates. */
  caRootFile: string;
  /** File with the bootstrap token (re-read on every request). */
  tokenFile: string;
  /** TLS name verified for the CA (default weft-control). */
  serverName?: string;
  /** Requested lifetime (default 24 h; the CA may cap it). */
  validitySeconds?: number;
  /** Renew when this fraction of the lifetime has passed (default 0.5). */
  renewFraction?: number;
  /** Retry backoff on failure (defaults 1 s .. 30 s). */
  retryInitialMs?: number;
  retryMaxMs?: number;
  requestTimeoutMs?: number;
  logger?: Logger;
}

export interface IdentityStatus {
  identity: string;
  hasCertificate: boolean;
  serial?: string;
  notBefore?: Date;
  notAfter?: Date;
  /** When the next renewal (or retry) is due. */
  nextAttemptAt?: Date;
  rotations: number;
  failures: number;
  lastError?: { code: string; message: string; at: Date };
}

interface Held {
  cert: WorkloadCertificate;
  notBefore: Date;
  serial: string;
  rootsPem: string;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

export class WorkloadIdentity implements IdentityProvider {
  readonly identity: string;
  private held: Held | undefined;
  private readonly listeners: Array<(cert: WorkloadCertificate) => void> = [];
  private readonly backoff: Backoff;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private nextAttemptAt: Date | undefined;
  private inFlight: Promise<void> | undefined;
  private stopped = false;
  private started = false;
  private rotationCount = 0;
  private failureCount = 0;
  private lastErr: IdentityStatus['lastError'];
  private readyWaiters: Array<(cert: WorkloadCertificate) => void> = [];

  constructor(private readonly opts: WorkloadIdentityOptions) {
    this.identity = opts.identity;
    this.backoff = new Backoff({ initialMs: opts.retryInitialMs ?? 1000, maxMs: opts.retryMaxMs ?? 30_000 });
    this.log = (opts.logger ?? silentLogger).child({ component: 'identity' });
  }

  /** Starts the issue/renew loop; returns at once. */
  start(): void {
    if (this.started || this.stopped) return;
    this.started = true;
    this.schedule(0);
  }

  /** Resolves with the first certificate (or the current one). */
  whenReady(): Promise<WorkloadCertificate> {
    if (this.held) return Promise.resolve(this.held.cert);
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  current(): WorkloadCertificate | undefined {
    return this.held?.cert;
  }

  onRotate(listener: (cert: WorkloadCertificate) => void): void {
    this.listeners.push(listener);
  }

  get notAfter(): Date | undefined {
    return this.held?.cert.notAfter;
  }

  get rotations(): number {
    return this.rotationCount;
  }

  get lastError(): IdentityStatus['lastError'] {
    return this.lastErr;
  }

  /** The roots that came with the last certificate (PEM), for /certs. */
  get rootsPem(): string | undefined {
    return this.held?.rootsPem;
  }

  status(): IdentityStatus {
    return {
      identity: this.identity,
      hasCertificate: this.held !== undefined,
      serial: this.held?.serial,
      notBefore: this.held?.notBefore,
      notAfter: this.held?.cert.notAfter,
      nextAttemptAt: this.nextAttemptAt,
      rotations: this.rotationCount,
      failures: this.failureCount,
      lastError: this.lastErr,
    };
  }

  stats(): Record<string, number> {
    const now = Date.now();
    return {
      'identity.cert_held': this.held ? 1 : 0,
      'identity.rotations': this.rotationCount,
      'identity.failures': this.failureCount,
      'identity.cert_expiry_seconds': this.held ? Math.max(0, Math.floor((this.held.cert.notAfter.getTime() - now) / 1000)) : 0,
    };
  }

  /** Renews now (out of schedule); resolves when this attempt has finished. */
  async renewNow(): Promise<void> {
    if (this.stopped) return;
    await this.inFlight?.catch(() => {});
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    await this.attempt();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.nextAttemptAt = undefined;
    // An in-flight request is not awaited (it may take up to its timeout); its result is dropped.
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const d = Math.max(0, Math.min(delayMs, MAX_TIMER_MS));
    this.nextAttemptAt = new Date(Date.now() + d);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.attempt();
    }, d);
    this.timer.unref();
  }

  private attempt(): Promise<void> {
    if (this.inFlight) return this.inFlight;
    this.inFlight = this.issue()
      .then(
        () => {},
        (err: unknown) => {
          this.failureCount++;
          const code = (err as { code?: unknown }).code;
          this.lastErr = { code: typeof code === 'string' ? code : 'WEFT_ERR_IDENTITY', message: errorMessage(err), at: new Date() };
          const delay = this.backoff.next();
          this.log.warn('certificate request failed; will retry', { code: this.lastErr.code, error: this.lastErr.message, retryMs: delay, serving: this.held?.serial ?? null });
          this.schedule(delay);
        },
      )
      .finally(() => {
        this.inFlight = undefined;
      });
    return this.inFlight;
  }

  private scheduleRenewal(): void {
    if (!this.held) return;
    const start = this.held.notBefore.getTime();
    const end = this.held.cert.notAfter.getTime();
    const at = start + (end - start) * (this.opts.renewFraction ?? 0.5);
    this.schedule(at - Date.now());
  }

  private async issue(): Promise<void> {
    const rootsPem = await readPemFile(this.opts.caRootFile, 'CA root file');
    const token = await readTokenFile(this.opts.tokenFile);
    const { keyPem, csrPem } = await makeKeyAndCsr(this.identity);
    const res = await requestCertificate(
      { address: this.opts.caAddress, rootPem: rootsPem, serverName: this.opts.serverName },
      token,
      { csr: csrPem, validitySeconds: this.opts.validitySeconds ?? 86_400 },
      this.opts.requestTimeoutMs,
    );
    if (this.stopped) return;
    const chainPem = res.certChain ?? [];
    const checked = checkIssuedCertificate({ chainPem, rootsPem, identity: this.identity, keyPem });
    const cert: WorkloadCertificate = {
      keyPem,
      certChainPem: chainPem.map((p) => (p.endsWith('\n') ? p : p + '\n')).join(''),
      identity: this.identity,
      notAfter: checked.notAfter,
    };
    const first = this.held === undefined;
    this.held = { cert, notBefore: checked.notBefore, serial: checked.serial, rootsPem: (res.rootCerts ?? []).join('\n') || rootsPem };
    this.lastErr = undefined;
    if (!first) this.rotationCount++;
    this.backoff.reset();
    this.scheduleRenewal();
    this.log.info(first ? 'workload certificate issued' : 'workload certificate rotated', {
      identity: this.identity,
      serial: checked.serial,
      notAfter: checked.notAfter.toISOString(),
    });
    if (first) {
      const waiters = this.readyWaiters;
      this.readyWaiters = [];
      for (const w of waiters) w(cert);
    }
    for (const l of this.listeners) {
      try {
        l(cert);
      } catch (err) {
        this.log.error('onRotate listener threw', { error: errorMessage(err) });
      }
    }
  }
}
