// A running cluster: its compiled config, its hosts (kept across updates when unchanged),
// its load balancer over the available hosts (healthy, not ejected, panic aside), its
// circuit breakers and outlier detector, and for DNS types the resolver that keeps the
// hosts current. ORIGINAL_DST clusters make their hosts per destination instead.
import type { Duplex } from 'node:stream';
import { CircuitBreaker } from './circuit-breaker.js';
import type { ClusterConfig } from './cluster-config.js';
import type { Dialer } from './dial.js';
import { DnsRefresher } from './dns.js';
import { endpointKey, lbCandidates, selectTransport, type EndpointSpec } from './endpoints.js';
import { Host, reuseKey, type HostInit } from './host.js';
import { createLoadBalancer } from './lb/index.js';
import type { LbSettings, LoadBalancer } from './lb/types.js';
import { OriginalDstHosts, originalDestination, parseDestination, type Destination } from './original-dst.js';
import { OutlierDetector } from './outlier.js';
import { RESILIENCE_DEFAULTS } from './resilience-config.js';
import { ClusterStats } from './stats.js';
import type { ClusterStatus } from '../../types.js';
import { UpstreamError, type OutlierEjection, type RequestOptions, type UpstreamRequest, type UpstreamResponse } from './types.js';

function sameLb(a: LbSettings, b: LbSettings): boolean {
  return a.choiceCount === b.choiceCount && a.minimumRingSize === b.minimumRingSize && a.maximumRingSize === b.maximumRingSize && a.maglevTableSize === b.maglevTableSize;
}

export class Cluster {
  readonly stats = new ClusterStats();
  readonly breaker: CircuitBreaker;
  private readonly outlier: OutlierDetector;
  private config: ClusterConfig | undefined;
  private specs: readonly EndpointSpec[] = [];
  private hosts = new Map<string, Host>();
  private lb: LoadBalancer<Host> | undefined;
  private panic = false;
  private dns: DnsRefresher | undefined;
  private originalDst: OriginalDstHosts | undefined;

  constructor(
    readonly name: string,
    private readonly dialer: Dialer,
    private readonly graceMs: number,
  ) {
    this.breaker = new CircuitBreaker(name, this.stats);
    this.outlier = new OutlierDetector(this.stats, () => this.refreshLb());
  }

  /** Switch to a new config and endpoint list; pools (and outlier state) of endpoints that remain are kept. */
  apply(config: ClusterConfig, specs: readonly EndpointSpec[]): void {
    const prev = this.config;
    if (config.lbPolicy === 'CLUSTER_PROVIDED') this.lb = undefined;
    else if (!this.lb || prev?.lbPolicy !== config.lbPolicy || !sameLb(prev.resilience.lb, config.resilience.lb)) {
      this.lb = createLoadBalancer<Host>(config.lbPolicy, config.resilience.lb);
    }
    this.config = config;
    this.specs = specs;
    this.breaker.setLimits(config.resilience.breakers);
    if (config.type === 'ORIGINAL_DST') {
      if (!this.originalDst || prev?.resilience.originalDst.cleanupIntervalMs !== config.resilience.originalDst.cleanupIntervalMs) {
        void this.originalDst?.close();
        this.originalDst = new OriginalDstHosts((d) => this.originalDstHost(d), config.resilience.originalDst.cleanupIntervalMs, this.graceMs, (n) => {
          this.stats.membershipTotal = n;
          this.stats.membershipHealthy = n;
        });
      }
    } else if (this.originalDst) {
      void this.originalDst.close();
      this.originalDst = undefined;
    }
    const dnsType = config.type === 'STRICT_DNS' || config.type === 'LOGICAL_DNS';
    if (dnsType) {
      const names = [...new Set(specs.map((s) => s.address))].sort();
      const same = this.dns && this.dns.names.length === names.length && this.dns.names.every((n, i) => n === names[i]);
      if (!same) {
        this.dns?.stop();
        this.dns = new DnsRefresher(names, config.dnsRefreshMs, () => this.rebuild());
      }
    } else if (this.dns) {
      this.dns.stop();
      this.dns = undefined;
    }
    this.rebuild();
  }

  private hostInit(address: string, port: number, spec: Pick<EndpointSpec, 'tlsMatch' | 'healthy' | 'edsHealth' | 'priority' | 'weight' | 'internal'>): HostInit {
    const config = this.config!;
    return {
      cluster: config.name,
      address,
      port,
      key: spec.internal ? `internal:${address}` : endpointKey(address, port),
      ...(spec.internal ? { internal: true } : {}),
      transport: selectTransport(config, spec.tlsMatch),
      protocol: config.protocol,
      connectTimeoutMs: config.connectTimeoutMs,
      stats: this.stats,
      healthy: spec.healthy,
      edsHealth: spec.edsHealth,
      priority: spec.priority,
      weight: spec.weight,
      pool: config.resilience.pool,
      breaker: this.breaker,
      outlier: this.outlier,
    };
  }

  private originalDstHost(d: Destination): Host {
    return new Host(this.hostInit(d.address, d.port, { tlsMatch: {}, healthy: true, edsHealth: 'HEALTHY', priority: 0, weight: 1 }), this.dialer);
  }

  private rebuild(): void {
    const config = this.config!;
    const next = new Map<string, Host>();
    for (const spec of this.specs) {
      let addrs: readonly string[] = this.dns ? this.dns.addresses(spec.address) : [spec.address];
      if (config.type === 'LOGICAL_DNS') addrs = addrs.slice(0, 1);
      for (const address of addrs) {
        const init = this.hostInit(address, spec.port, spec);
        const rk = reuseKey(init);
        if (next.has(rk)) continue;
        const old = this.hosts.get(rk);
        if (old) old.adopt(init, this.graceMs);
        next.set(rk, old ?? new Host(init, this.dialer));
      }
    }
    for (const [rk, old] of this.hosts) if (!next.has(rk)) void old.close(this.graceMs);
    this.hosts = next;
    const all = [...next.values()];
    this.outlier.configure(config.type === 'ORIGINAL_DST' ? undefined : config.resilience.outlier, all);
    this.refreshLb();
  }

  /** Feed the load balancer the hosts that may take traffic now (membership, health, ejections, panic). */
  private refreshLb(): void {
    if (!this.lb || !this.config) return;
    const all = [...this.hosts.values()];
    const c = lbCandidates(all, this.config.resilience.healthyPanicThreshold);
    this.panic = c.panic;
    this.lb.setHosts(c.hosts);
    this.stats.membershipTotal = all.length;
    this.stats.membershipHealthy = all.reduce((n, h) => n + (h.healthy && !h.outlier.ejected ? 1 : 0), 0);
  }

  /** The host for one request, waiting for the first DNS answer when there is none yet. */
  private pick(req: UpstreamRequest | undefined, opts: RequestOptions | undefined): Host | Promise<Host> {
    if (this.originalDst) {
      const cfg = this.config!.resilience.originalDst;
      const d = req ? originalDestination(req, cfg) : undefined;
      if (!d) throw new UpstreamError('UH', `${this.name}: no original destination (${cfg.useHttpHeader ? `${cfg.headerName} header or ` : ''}request authority)`);
      return this.originalDst.hostFor(d);
    }
    const lb = this.lb!;
    const h = lb.pick(opts?.hashKey);
    if (h) {
      if (this.panic) this.stats.lbHealthyPanic++;
      return h;
    }
    const dns = this.dns;
    if (dns && this.hosts.size === 0) {
      return dns.ready.then(() => this.lb?.pick(opts?.hashKey) ?? Promise.reject(this.noHealthy()));
    }
    throw this.noHealthy();
  }

  private noHealthy(): UpstreamError {
    return new UpstreamError('UH', `no healthy upstream in cluster ${this.name} (${this.stats.membershipHealthy}/${this.stats.membershipTotal} healthy)`);
  }

  request(req: UpstreamRequest, opts: RequestOptions | undefined): Promise<UpstreamResponse> {
    this.stats.rqTotal++;
    if (!this.breaker.tryRequest()) return Promise.reject(this.breaker.overflow('max requests'));
    let h: Host | Promise<Host>;
    try {
      h = this.pick(req, opts);
    } catch (err) {
      this.breaker.releaseRequest();
      return Promise.reject(err);
    }
    if (h instanceof Host) return h.request(req, opts);
    return h.then(
      (host) => host.request(req, opts),
      (err: unknown) => {
        this.breaker.releaseRequest();
        throw err;
      },
    );
  }

  connect(opts: RequestOptions | undefined): Promise<{ socket: Duplex; endpoint: string; peerIdentity?: string }> {
    let h: Host | Promise<Host>;
    try {
      if (this.originalDst) {
        // A tunnel names its destination in the CONNECT target (port always given).
        const d = opts?.originalDestination !== undefined ? parseDestination(opts.originalDestination, 'https') : undefined;
        if (!d) throw new UpstreamError('UH', `${this.name}: ORIGINAL_DST needs the downstream's destination (a CONNECT target or an HTTP request)`);
        h = this.originalDst.hostFor(d);
      } else h = this.pick(undefined, opts);
    } catch (err) {
      return Promise.reject(err);
    }
    return h instanceof Host ? h.connect(opts) : h.then((host) => host.connect(opts));
  }

  /** A permit for one retry under the maxRetries breaker; undefined = overflow. */
  retryPermit(): (() => void) | undefined {
    return this.breaker.tryRetry();
  }

  /** Endpoints the outlier detector has ejected now. */
  outlierStatus(): OutlierEjection[] {
    return this.outlier.ejected();
  }

  /** The cluster and its hosts' health and outlier state, hosts by address (admin /clusters). */
  status(now = Date.now()): ClusterStatus {
    const config = this.config;
    return {
      name: this.name,
      outlierDetection: config !== undefined && config.type !== 'ORIGINAL_DST' && config.resilience.outlier !== undefined,
      breakers: { ...(config?.resilience.breakers ?? RESILIENCE_DEFAULTS.breakers) },
      hosts: this.hostList()
        .map((h) => ({
          address: h.address,
          port: h.port,
          edsHealth: h.edsHealth,
          weight: h.weight,
          priority: h.priority,
          activeRequests: h.active,
          outlier: this.outlier.status(h, now),
        }))
        .sort((a, b) => a.address.localeCompare(b.address) || a.port - b.port),
    };
  }

  /** Identity rotation: new mTLS sessions use the new certificate; open streams finish on the old ones. */
  retireSessions(): void {
    for (const h of this.hostList()) h.retireSessions();
  }

  private hostList(): readonly Host[] {
    return this.originalDst ? this.originalDst.list() : [...this.hosts.values()];
  }

  render(out: Record<string, number>): void {
    const p = `cluster.${this.name}.`;
    this.stats.render(this.name, out);
    this.breaker.render(p, out);
  }

  close(): Promise<void> {
    this.dns?.stop();
    this.outlier.close();
    this.breaker.close();
    const waits = [...this.hosts.values()].map((h) => h.close(this.graceMs));
    if (this.originalDst) waits.push(this.originalDst.close());
    this.originalDst = undefined;
    this.hosts = new Map();
    this.lb?.setHosts([]);
    return Promise.all(waits).then(() => undefined);
  }
}
