// One endpoint of a cluster and its connection pools (created on first use):
// HTTP/2 (mTLS h2 or h2c), HTTP/1.1 keep-alive, per-request Upgrade connections,
// and opaque TCP (mTLS with ALPN weft-tcp, or plain).
import type { Duplex } from 'node:stream';
import type { HttpProtocol } from './cluster-config.js';
import type { Dialer, DialTarget } from './dial.js';
import type { LbHost } from './lb/types.js';
import { H1Pool } from './pool-h1.js';
import { H2Pool } from './pool-h2.js';
import type { ClusterStats } from './stats.js';
import type { TransportSocket } from './tls-config.js';
import type { RequestOptions, UpstreamRequest, UpstreamResponse } from './types.js';
import { upgradeRequest } from './upgrade.js';

/** The mesh's own ALPN for opaque TCP between sidecars. */
export const ALPN_TCP = 'weft-tcp';

export interface HostInit {
  cluster: string;
  /** Resolved IP address. */
  address: string;
  port: number;
  key: string;
  transport: TransportSocket;
  protocol: HttpProtocol;
  connectTimeoutMs: number;
  stats: ClusterStats;
  healthy: boolean;
  priority: number;
  weight: number;
}

/** Pools are kept across updates for hosts whose address, transport and protocol are unchanged. */
export function reuseKey(h: Pick<HostInit, 'key' | 'transport' | 'protocol'>): string {
  return `${h.key}|${h.transport.fingerprint}|${h.protocol}`;
}

export class Host implements LbHost {
  readonly key: string;
  readonly reuseKey: string;
  healthy: boolean;
  priority: number;
  weight: number;
  active = 0;
  private readonly target: { -readonly [K in keyof DialTarget]: DialTarget[K] };
  private readonly protocol: HttpProtocol;
  private h2: H2Pool | undefined;
  private h1: H1Pool | undefined;
  private readonly release = (): void => {
    this.active--;
  };

  constructor(
    init: HostInit,
    private readonly dialer: Dialer,
  ) {
    this.key = init.key;
    this.reuseKey = reuseKey(init);
    this.healthy = init.healthy;
    this.priority = init.priority;
    this.weight = init.weight;
    this.protocol = init.protocol;
    this.target = {
      cluster: init.cluster,
      address: init.address,
      port: init.port,
      key: init.key,
      transport: init.transport,
      connectTimeoutMs: init.connectTimeoutMs,
      stats: init.stats,
    };
  }

  get isTls(): boolean {
    return this.target.transport.kind === 'tls';
  }

  /** Take the mutable settings of a newer config for the same endpoint (pools stay). */
  adopt(init: HostInit): void {
    this.healthy = init.healthy;
    this.priority = init.priority;
    this.weight = init.weight;
    this.target.connectTimeoutMs = init.connectTimeoutMs;
  }

  request(req: UpstreamRequest, opts: RequestOptions | undefined): Promise<UpstreamResponse> {
    this.active++;
    const p = req.upgrade !== undefined ? upgradeRequest(this.target, this.dialer, req, opts?.signal) : this.useH2(req) ? this.h2Pool().request(req, opts) : this.h1Pool().request(req, opts);
    return p.then(
      (res) => {
        this.target.stats.response(res.status);
        if (res.upgradedSocket) this.active--;
        else res.body.once('close', this.release);
        return res;
      },
      (err: unknown) => {
        this.active--;
        throw err;
      },
    );
  }

  async connect(opts: RequestOptions | undefined): Promise<{ socket: Duplex; endpoint: string; peerIdentity?: string }> {
    const t = this.target.transport;
    const alpn = t.kind === 'tls' ? (t.tls.cert.kind === 'workload' ? [ALPN_TCP] : t.tls.alpn.length > 0 ? t.tls.alpn : undefined) : undefined;
    const d = await this.dialer.dial(this.target, alpn, opts?.signal);
    return d.peerIdentity === undefined ? { socket: d.socket, endpoint: this.key } : { socket: d.socket, endpoint: this.key, peerIdentity: d.peerIdentity };
  }

  private useH2(req: UpstreamRequest): boolean {
    const t = this.target.transport;
    if (t.kind === 'tls' && t.tls.alpn.includes('h2')) return true;
    if (this.protocol === 'h2') return true;
    if (this.protocol === 'downstream') return req.downstreamProtocol === 'h2';
    return false;
  }

  private h2Pool(): H2Pool {
    return (this.h2 ??= new H2Pool(this.target, this.dialer));
  }

  private h1Pool(): H1Pool {
    return (this.h1 ??= new H1Pool(this.target, this.dialer));
  }

  /** Identity rotation: the next request opens a session with the new certificate. */
  retireSessions(): void {
    if (this.isTls) this.h2?.retire();
  }

  /** Open HTTP/2 sessions (for tests and admin). */
  get h2Sessions(): number {
    return this.h2?.sessionCount ?? 0;
  }

  close(graceMs: number): Promise<void> {
    const waits: Promise<void>[] = [];
    if (this.h2) waits.push(this.h2.close(graceMs));
    if (this.h1) waits.push(this.h1.close(graceMs));
    return Promise.all(waits).then(() => undefined);
  }
}
