// One endpoint of a cluster and its connection pools (created on first use):
// HTTP/2 (mTLS h2 or h2c), HTTP/1.1 keep-alive, per-request Upgrade connections,
// and opaque TCP (mTLS with ALPN weft-tcp, or plain). Every request passes the cluster's
// circuit breakers and reports its outcome to the cluster's outlier detector.
import type { Duplex } from 'node:stream';
import type { CircuitBreaker } from './circuit-breaker.js';
import type { HttpProtocol } from './cluster-config.js';
import type { Dialer, DialTarget } from './dial.js';
import type { LbHost } from './lb/types.js';
import { OutlierState, type OutlierDetector, type OutlierHost } from './outlier.js';
import { H1Pool } from './pool-h1.js';
import { H2Pool } from './pool-h2.js';
import type { PoolLimits } from './resilience-config.js';
import type { ClusterStats } from './stats.js';
import type { TransportSocket } from './tls-config.js';
import { UpstreamError, type RequestOptions, type UpstreamRequest, type UpstreamResponse } from './types.js';
import { upgradeRequest } from './upgrade.js';
import type { HostStatus } from '../../types.js';
import { ALPN_WEFT_TCP } from '../../../xds/names.js';

/** The mesh's own ALPN for opaque TCP between sidecars. */
export const ALPN_TCP = ALPN_WEFT_TCP;

export interface HostInit {
  cluster: string;
  /** Resolved IP address (or, for ORIGINAL_DST, a hostname the dialer resolves). */
  address: string;
  port: number;
  key: string;
  /** `address` names an internal listener of this proxy (dialled in memory). */
  internal?: boolean;
  transport: TransportSocket;
  protocol: HttpProtocol;
  connectTimeoutMs: number;
  stats: ClusterStats;
  healthy: boolean;
  edsHealth: HostStatus['edsHealth'];
  priority: number;
  weight: number;
  pool: PoolLimits;
  /** The cluster's (shared by its hosts). */
  breaker: CircuitBreaker;
  outlier: OutlierDetector;
}

/** Pools are kept across updates for hosts whose address, transport and protocol are unchanged. */
export function reuseKey(h: Pick<HostInit, 'key' | 'transport' | 'protocol'>): string {
  return `${h.key}|${h.transport.fingerprint}|${h.protocol}`;
}

function sameLimits(a: PoolLimits, b: PoolLimits): boolean {
  return a.maxRequestsPerConnection === b.maxRequestsPerConnection && a.idleTimeoutMs === b.idleTimeoutMs;
}

export class Host implements LbHost, OutlierHost {
  readonly key: string;
  readonly outlier = new OutlierState();
  healthy: boolean;
  edsHealth: HostStatus['edsHealth'];
  priority: number;
  weight: number;
  active = 0;
  /** Last time a request was sent (ORIGINAL_DST cleanup). */
  lastUsed = 0;
  private readonly target: { -readonly [K in keyof DialTarget]: DialTarget[K] };
  private readonly protocol: HttpProtocol;
  private readonly breaker: CircuitBreaker;
  private readonly detector: OutlierDetector;
  private pool: PoolLimits;
  private h2: H2Pool | undefined;
  private h1: H1Pool | undefined;
  /** The cluster's maxConnections when the HTTP/1.1 pool was made (the pool's own connection cap). */
  private h1MaxConnections = 0;

  constructor(
    init: HostInit,
    private readonly dialer: Dialer,
  ) {
    this.key = init.key;
    this.healthy = init.healthy;
    this.edsHealth = init.edsHealth;
    this.priority = init.priority;
    this.weight = init.weight;
    this.protocol = init.protocol;
    this.breaker = init.breaker;
    this.detector = init.outlier;
    this.pool = init.pool;
    this.target = {
      cluster: init.cluster,
      address: init.address,
      port: init.port,
      key: init.key,
      internal: init.internal === true,
      transport: init.transport,
      connectTimeoutMs: init.connectTimeoutMs,
      stats: init.stats,
    };
  }

  get address(): string {
    return this.target.address;
  }

  get port(): number {
    return this.target.port;
  }

  get isTls(): boolean {
    return this.target.transport.kind === 'tls';
  }

  /**
   * Take the mutable settings of a newer config for the same endpoint (pools stay unless
   * their limits changed). The cluster has already applied its new breaker limits.
   */
  adopt(init: HostInit, graceMs: number): void {
    this.healthy = init.healthy;
    this.edsHealth = init.edsHealth;
    this.priority = init.priority;
    this.weight = init.weight;
    this.target.connectTimeoutMs = init.connectTimeoutMs;
    const limitsChanged = !sameLimits(this.pool, init.pool);
    if (limitsChanged || (this.h1 && this.h1MaxConnections !== this.breaker.maxConnections)) {
      this.pool = init.pool;
      // New connections get the new limits; the old pool finishes its requests.
      const old = this.h1;
      this.h1 = undefined;
      if (old) void old.close(graceMs);
    }
    if (limitsChanged && this.h2) {
      const old = this.h2;
      this.h2 = undefined;
      void old.close(graceMs);
    }
  }

  /**
   * One request. The caller (the cluster) has admitted it against maxRequests and hands
   * over that admission: it is released here when the response body closes or the request fails.
   */
  request(req: UpstreamRequest, opts: RequestOptions | undefined): Promise<UpstreamResponse> {
    if (this.target.internal) {
      // Internal listeners take TCP and tunnels (connect()); the HTTP pools need a socket.
      this.breaker.releaseRequest();
      return Promise.reject(new UpstreamError('UF', `${this.target.cluster}: an internal listener endpoint (${this.key}) carries CONNECT tunnels and TCP, not HTTP requests`));
    }
    this.active++;
    this.lastUsed = Date.now();
    if (req.upgrade !== undefined) return this.track(upgradeRequest(this.target, this.dialer, req, opts?.signal), false);
    if (this.useH2(req)) return this.track(this.h2Pool().request(req, opts), false);
    const slot = this.breaker.acquireConnection(opts?.signal);
    if (slot === true) return this.track(this.h1Pool().request(req, opts), true);
    if (slot === false) {
      this.finished();
      return Promise.reject(this.breaker.overflow('pending requests'));
    }
    // Queued for a connection slot: the slot is held only once the wait is over.
    let held = false;
    return this.track(
      slot.then(() => {
        held = true;
        return this.h1Pool().request(req, opts);
      }),
      () => held,
    );
  }

  /**
   * Count the outcome: release the request admission (and the HTTP/1.1 connection slot
   * when held) once the body closes or the request fails; feed the outlier detector.
   */
  private track(p: Promise<UpstreamResponse>, connection: boolean | (() => boolean)): Promise<UpstreamResponse> {
    return p.then(
      (res) => {
        this.target.stats.response(res.status);
        this.detector.onStatus(this, res.status);
        const done = (): void => {
          if (connection === true || (connection !== false && connection())) this.breaker.releaseConnection();
          this.finished();
        };
        if (res.upgradedSocket) done();
        else res.body.once('close', done);
        return res;
      },
      (err: unknown) => {
        if (connection === true || (connection !== false && connection())) this.breaker.releaseConnection();
        this.finished();
        this.reportFailure(err);
        throw err;
      },
    );
  }

  private finished(): void {
    this.active--;
    this.breaker.releaseRequest();
  }

  private reportFailure(err: unknown): void {
    if (!(err instanceof UpstreamError)) return; // aborted by the caller: says nothing about the host
    if (err.flag === 'UF') this.detector.onLocal(this, 'connect-failed');
    else if (err.flag === 'UR') this.detector.onLocal(this, 'reset');
    else if (err.flag === 'UT') this.detector.onLocal(this, 'timeout');
  }

  async connect(opts: RequestOptions | undefined): Promise<{ socket: Duplex; endpoint: string; peerIdentity?: string }> {
    const t = this.target.transport;
    const alpn = t.kind === 'tls' ? (t.tls.cert.kind === 'workload' ? [ALPN_TCP] : t.tls.alpn.length > 0 ? t.tls.alpn : undefined) : undefined;
    this.lastUsed = Date.now();
    let d;
    try {
      d = await this.dialer.open(this.target, alpn, opts?.signal, opts?.originalDestination);
    } catch (err) {
      if (err instanceof UpstreamError) this.detector.onLocal(this, 'connect-failed');
      throw err;
    }
    this.detector.onLocal(this, 'connect-success');
    return d.peerIdentity === undefined ? { socket: d.socket, endpoint: this.key } : { socket: d.socket, endpoint: this.key, peerIdentity: d.peerIdentity };
  }

  private useH2(req: UpstreamRequest): boolean {
    const t = this.target.transport;
    // TLS that offers only h2 (alpnProtocols [h2]) can only be HTTP/2.
    if (t.kind === 'tls' && t.tls.alpn.length > 0 && t.tls.alpn.every((p) => p === 'h2')) return true;
    if (this.protocol === 'h2') return true;
    if (this.protocol === 'downstream') return req.downstreamProtocol === 'h2';
    return false;
  }

  private h2Pool(): H2Pool {
    return (this.h2 ??= new H2Pool(this.target, this.dialer, this.pool));
  }

  private h1Pool(): H1Pool {
    if (!this.h1) {
      this.h1MaxConnections = this.breaker.maxConnections;
      this.h1 = new H1Pool(this.target, this.dialer, { ...this.pool, maxConnections: this.h1MaxConnections });
    }
    return this.h1;
  }

  /** Identity rotation: the next request opens a session with the new certificate. */
  retireSessions(): void {
    if (this.isTls) this.h2?.retire();
  }

  close(graceMs: number): Promise<void> {
    const waits: Promise<void>[] = [];
    if (this.h2) waits.push(this.h2.close(graceMs));
    if (this.h1) waits.push(this.h1.close(graceMs));
    return Promise.all(waits).then(() => undefined);
  }
}
