// A running cluster: its compiled config, its hosts (kept across updates when unchanged),
// its load balancer and, for DNS types, the resolver that keeps the hosts current.
import type { Duplex } from 'node:stream';
import type { ClusterConfig } from './cluster-config.js';
import type { Dialer } from './dial.js';
import { DnsRefresher } from './dns.js';
import { activeHosts, endpointKey, selectTransport, type EndpointSpec } from './endpoints.js';
import { Host, reuseKey, type HostInit } from './host.js';
import { createLoadBalancer } from './lb/index.js';
import type { LoadBalancer } from './lb/types.js';
import { ClusterStats } from './stats.js';
import { UpstreamError, type RequestOptions, type UpstreamRequest, type UpstreamResponse } from './types.js';

export class Cluster {
  readonly stats = new ClusterStats();
  private config: ClusterConfig | undefined;
  private specs: readonly EndpointSpec[] = [];
  private hosts = new Map<string, Host>();
  private lb: LoadBalancer<Host> | undefined;
  private dns: DnsRefresher | undefined;

  constructor(
    readonly name: string,
    private readonly dialer: Dialer,
    private readonly graceMs: number,
  ) {}

  /** Switch to a new config and endpoint list; pools of endpoints that remain are kept. */
  apply(config: ClusterConfig, specs: readonly EndpointSpec[]): void {
    if (!this.lb || this.config?.lbPolicy !== config.lbPolicy) this.lb = createLoadBalancer<Host>(config.lbPolicy);
    this.config = config;
    this.specs = specs;
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

  private rebuild(): void {
    const config = this.config!;
    const next = new Map<string, Host>();
    for (const spec of this.specs) {
      let addrs: readonly string[] = this.dns ? this.dns.addresses(spec.address) : [spec.address];
      if (config.type === 'LOGICAL_DNS') addrs = addrs.slice(0, 1);
      for (const address of addrs) {
        const init: HostInit = {
          cluster: config.name,
          address,
          port: spec.port,
          key: endpointKey(address, spec.port),
          transport: selectTransport(config, spec.tlsMatch),
          protocol: config.protocol,
          connectTimeoutMs: config.connectTimeoutMs,
          stats: this.stats,
          healthy: spec.healthy,
          priority: spec.priority,
          weight: spec.weight,
        };
        const rk = reuseKey(init);
        if (next.has(rk)) continue;
        const old = this.hosts.get(rk);
        if (old) old.adopt(init);
        next.set(rk, old ?? new Host(init, this.dialer));
      }
    }
    for (const [rk, old] of this.hosts) if (!next.has(rk)) void old.close(this.graceMs);
    this.hosts = next;
    const all = [...next.values()];
    const candidates = activeHosts(all);
    this.lb!.setHosts(candidates);
    this.stats.membershipTotal = all.length;
    this.stats.membershipHealthy = all.filter((h) => h.healthy).length;
  }

  /** The host for one request, waiting for the first DNS answer when there is none yet. */
  private pick(opts: RequestOptions | undefined): Host | Promise<Host> {
    const h = this.lb!.pick(opts?.hashKey);
    if (h) return h;
    const dns = this.dns;
    if (dns && this.hosts.size === 0) {
      return dns.ready.then(() => this.lb!.pick(opts?.hashKey) ?? Promise.reject(this.noHealthy()));
    }
    throw this.noHealthy();
  }

  private noHealthy(): UpstreamError {
    return new UpstreamError('UH', `no healthy upstream in cluster ${this.name} (${this.stats.membershipHealthy}/${this.stats.membershipTotal} healthy)`);
  }

  request(req: UpstreamRequest, opts: RequestOptions | undefined): Promise<UpstreamResponse> {
    this.stats.rqTotal++;
    let h: Host | Promise<Host>;
    try {
      h = this.pick(opts);
    } catch (err) {
      return Promise.reject(err);
    }
    return h instanceof Host ? h.request(req, opts) : h.then((host) => host.request(req, opts));
  }

  connect(opts: RequestOptions | undefined): Promise<{ socket: Duplex; endpoint: string; peerIdentity?: string }> {
    let h: Host | Promise<Host>;
    try {
      h = this.pick(opts);
    } catch (err) {
      return Promise.reject(err);
    }
    return h instanceof Host ? h.connect(opts) : h.then((host) => host.connect(opts));
  }

  /** Identity rotation: new mTLS sessions use the new certificate; open streams finish on the old ones. */
  retireSessions(): void {
    for (const h of this.hosts.values()) h.retireSessions();
  }

  /** Hosts by endpoint (for tests and admin). */
  hostList(): readonly Host[] {
    return [...this.hosts.values()];
  }

  close(): Promise<void> {
    this.dns?.stop();
    const waits = [...this.hosts.values()].map((h) => h.close(this.graceMs));
    this.hosts = new Map();
    this.lb?.setHosts([]);
    return Promise.all(waits).then(() => undefined);
  }
}
