// Outlier detection (Envoy's consecutive-error detectors): each host's consecutive 5xx,
// gateway failures (502/503/504) and, when split, locally originated failures; an
// ejection happens at the Nth consecutive error (enforced with the configured
// probability, within maxEjectionPercent), and a periodic sweep brings hosts back after
// baseEjectionTime x times-ejected (capped by maxEjectionTime). Success resets the count.
import type { OutlierConfig } from './resilience-config.js';
import type { ClusterStats } from './stats.js';
import type { OutlierEjection } from './types.js';
import type { OutlierHostStatus } from '../../types.js';

/** Per-host detector state; lives on the Host so it survives config updates. */
export class OutlierState {
  consecutive5xx = 0;
  consecutiveGateway = 0;
  consecutiveLocal = 0;
  ejected = false;
  ejectedAt = 0;
  timesEjected = 0;
  /** When the host last came back (for decaying timesEjected). */
  returnedAt = 0;
}

export interface OutlierHost {
  readonly key: string;
  readonly outlier: OutlierState;
}

/** Locally originated outcomes (the proxy saw no HTTP status). */
export type LocalOrigin = 'connect-failed' | 'timeout' | 'reset' | 'connect-success';

type Detector = '5xx' | 'gateway' | 'local';

export class OutlierDetector {
  private cfg: OutlierConfig | undefined;
  private hosts: readonly OutlierHost[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stats: ClusterStats,
    /** Called when the set of ejected hosts changes: the cluster rebuilds its load balancer. */
    private readonly onChange: () => void,
  ) {}

  /** New config and host set (hosts keep their state). Undefined config = off: every host returns. */
  configure(cfg: OutlierConfig | undefined, hosts: readonly OutlierHost[]): void {
    const intervalChanged = cfg?.intervalMs !== this.cfg?.intervalMs;
    this.cfg = cfg;
    this.hosts = hosts;
    if (!cfg) {
      this.stopTimer();
      for (const h of hosts) if (h.outlier.ejected) this.uneject(h, Date.now());
      this.stats.outlier.ejectionsActive = 0;
      return;
    }
    if (intervalChanged || !this.timer) {
      this.stopTimer();
      this.timer = setInterval(() => this.sweep(Date.now()), cfg.intervalMs);
      this.timer.unref();
    }
    this.stats.outlier.ejectionsActive = hosts.reduce((n, h) => n + (h.outlier.ejected ? 1 : 0), 0);
  }

  /** An HTTP response from the host (hot path). */
  onStatus(h: OutlierHost, status: number): void {
    const cfg = this.cfg;
    if (!cfg) return;
    const s = h.outlier;
    if (status >= 500 && status <= 599) {
      if (status === 502 || status === 503 || status === 504) {
        if (++s.consecutiveGateway === cfg.consecutiveGatewayFailure) this.detected(h, 'gateway');
      } else s.consecutiveGateway = 0;
      if (++s.consecutive5xx === cfg.consecutive5xx) this.detected(h, '5xx');
    } else {
      s.consecutive5xx = 0;
      s.consecutiveGateway = 0;
    }
  }

  /** A locally originated outcome: with the split off, failures count as 503/504 responses. */
  onLocal(h: OutlierHost, r: LocalOrigin): void {
    const cfg = this.cfg;
    if (!cfg) return;
    if (!cfg.splitExternalLocalOriginErrors) {
      if (r !== 'connect-success') this.onStatus(h, r === 'timeout' ? 504 : 503);
      return;
    }
    const s = h.outlier;
    if (r === 'connect-success') s.consecutiveLocal = 0;
    else if (++s.consecutiveLocal === cfg.consecutiveLocalOriginFailure) this.detected(h, 'local');
  }

  private detected(h: OutlierHost, kind: Detector): void {
    const cfg = this.cfg!;
    const o = this.stats.outlier;
    let enforcing: number;
    if (kind === '5xx') {
      o.ejectionsDetected5xx++;
      enforcing = cfg.enforcingConsecutive5xx;
    } else if (kind === 'gateway') {
      o.ejectionsDetectedGatewayFailure++;
      enforcing = cfg.enforcingConsecutiveGatewayFailure;
    } else {
      o.ejectionsDetectedLocalOriginFailure++;
      enforcing = cfg.enforcingConsecutiveLocalOriginFailure;
    }
    // Each detector's count starts over once it has fired, ejected or not.
    const s = h.outlier;
    if (kind === '5xx') s.consecutive5xx = 0;
    else if (kind === 'gateway') s.consecutiveGateway = 0;
    else s.consecutiveLocal = 0;
    if (s.ejected || !(Math.random() * 100 < enforcing)) return;
    // Envoy: eject while (ejected + 1) stays within maxEjectionPercent of the hosts, and always allow the first.
    const active = o.ejectionsActive;
    if (active > 0 && (100 * (active + 1)) / this.hosts.length > cfg.maxEjectionPercent) {
      o.ejectionsOverflow++;
      return;
    }
    s.ejected = true;
    s.ejectedAt = Date.now();
    s.timesEjected++;
    s.consecutive5xx = 0;
    s.consecutiveGateway = 0;
    s.consecutiveLocal = 0;
    o.ejectionsActive++;
    o.ejectionsTotal++;
    o.ejectionsEnforcedTotal++;
    if (kind === '5xx') o.ejectionsEnforced5xx++;
    else if (kind === 'gateway') o.ejectionsEnforcedGatewayFailure++;
    else o.ejectionsEnforcedLocalOriginFailure++;
    this.onChange();
  }

  /** How long a host with this many ejections stays out. */
  private ejectionMs(times: number): number {
    const cfg = this.cfg!;
    return Math.min(cfg.baseEjectionTimeMs * times, cfg.maxEjectionTimeMs);
  }

  /** The interval sweep: return hosts whose time is up; decay the multiplier of hosts that stayed healthy. */
  sweep(now: number): void {
    const cfg = this.cfg;
    if (!cfg) return;
    let changed = false;
    for (const h of this.hosts) {
      const s = h.outlier;
      if (s.ejected) {
        if (now - s.ejectedAt >= this.ejectionMs(s.timesEjected)) {
          this.uneject(h, now);
          changed = true;
        }
      } else if (s.timesEjected > 0 && now - s.returnedAt >= cfg.baseEjectionTimeMs) {
        s.timesEjected--;
        s.returnedAt = now;
      }
    }
    if (changed) this.onChange();
  }

  private uneject(h: OutlierHost, now: number): void {
    const s = h.outlier;
    if (!s.ejected) return;
    s.ejected = false;
    s.returnedAt = now;
    s.consecutive5xx = 0;
    s.consecutiveGateway = 0;
    s.consecutiveLocal = 0;
    this.stats.outlier.ejectionsActive--;
  }

  /** Ejected endpoints now (ClusterManager.outlierStatus). */
  ejected(now = Date.now()): OutlierEjection[] {
    const out: OutlierEjection[] = [];
    for (const h of this.hosts) {
      const s = h.outlier;
      if (s.ejected) out.push({ endpoint: h.key, ejectedAt: s.ejectedAt, ejectedForMs: this.remainingMs(s, now), timesEjected: s.timesEjected });
    }
    return out;
  }

  /** One host's detector state (admin /clusters). */
  status(h: OutlierHost, now = Date.now()): OutlierHostStatus {
    const s = h.outlier;
    return {
      ejected: s.ejected,
      ...(s.ejected ? { ejectedAt: s.ejectedAt, ejectionRemainingMs: this.remainingMs(s, now) } : {}),
      timesEjected: s.timesEjected,
      consecutive5xx: s.consecutive5xx,
      consecutiveGatewayFailure: s.consecutiveGateway,
      consecutiveLocalOriginFailure: s.consecutiveLocal,
    };
  }

  private remainingMs(s: OutlierState, now: number): number {
    return this.cfg ? Math.max(0, this.ejectionMs(s.timesEjected) - (now - s.ejectedAt)) : 0;
  }

  private stopTimer(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  close(): void {
    this.stopTimer();
  }
}
