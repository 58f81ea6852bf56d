// The proxy's upstream side: clusters, endpoints, load balancing and connection pools,
// behind the ClusterManager seam (./types.ts) the router calls.
import { ConfigRejectedError, type ClusterStatus, type EnvoyObject, type IdentityProvider, type ProxyIdentityInfo } from '../../types.js';
import { Cluster } from './cluster.js';
import { compileCluster, type ClusterConfig } from './cluster-config.js';
import { Dialer } from './dial.js';
import { compileLoadAssignment, type EndpointSpec } from './endpoints.js';
import { FieldPath, resourceName } from './object-form.js';
import { UpstreamError, type ClusterManager, type InternalConnector, type OutlierEjection, type RequestOptions, type UpstreamRequest, type UpstreamResponse } from './types.js';
import type { Duplex } from 'node:stream';

export const CLUSTER_MANAGER_DEFAULTS = {
  /** How long removed endpoints' pools (and close()) wait for in-flight requests before destroying. */
  drainGraceMs: 5_000,
} as const;

export interface ClusterManagerOptions {
  drainGraceMs?: number;
  /** Opens this proxy's internal listeners, for clusters whose endpoints are envoyInternalAddress. */
  internal?: InternalConnector;
}

class Manager implements ClusterManager {
  private clusters = new Map<string, Cluster>();
  private readonly dialer: Dialer;
  private readonly graceMs: number;
  private closed = false;
  /**
   * Compiled configs by Cluster object. Snapshot objects and maps are never mutated
   * (src/proxy/core/xds-state.ts), and an EDS or RDS update passes the same Cluster objects
   * and secrets map again: those clusters are not compiled (and fingerprinted) again.
   */
  private readonly compiled = new WeakMap<EnvoyObject, { key: string; secrets: Map<string, EnvoyObject>; cfg: ClusterConfig }>();

  constructor(
    readonly info: ProxyIdentityInfo,
    identity: IdentityProvider,
    opts: ClusterManagerOptions,
  ) {
    this.dialer = new Dialer(identity, opts.internal);
    this.graceMs = opts.drainGraceMs ?? CLUSTER_MANAGER_DEFAULTS.drainGraceMs;
    identity.onRotate(() => {
      for (const c of this.clusters.values()) c.retireSessions();
    });
  }

  update(clusters: Map<string, EnvoyObject>, endpoints: Map<string, EnvoyObject>, secrets: Map<string, EnvoyObject>): void {
    if (this.closed) throw new ConfigRejectedError('cluster manager is closed');
    // Compile everything first: a rejection leaves the running config untouched.
    const compiled: Array<[ClusterConfig, EndpointSpec[]]> = [];
    for (const [key, raw] of clusters) {
      const cfg = this.compile(key, raw, secrets);
      let specs: EndpointSpec[] = [];
      if (cfg.type === 'EDS') {
        const cla = endpoints.get(cfg.edsName);
        // A load assignment not received yet is not an error: the cluster has no endpoints until it comes.
        if (cla) specs = compileLoadAssignment(cla, new FieldPath(resourceName('cluster load assignment', cfg.edsName), ''), true);
      } else if (cfg.type !== 'ORIGINAL_DST') {
        specs = compileLoadAssignment(cfg.loadAssignment!, new FieldPath(resourceName('cluster', cfg.name), 'loadAssignment'), cfg.type === 'STATIC');
      }
      compiled.push([cfg, specs]);
    }
    const next = new Map<string, Cluster>();
    for (const [cfg, specs] of compiled) {
      const c = this.clusters.get(cfg.name) ?? new Cluster(cfg.name, this.dialer, this.graceMs);
      c.apply(cfg, specs);
      next.set(cfg.name, c);
    }
    for (const [name, c] of this.clusters) if (!next.has(name)) void c.close();
    this.clusters = next;
  }

  private compile(key: string, raw: EnvoyObject, secrets: Map<string, EnvoyObject>): ClusterConfig {
    const hit = this.compiled.get(raw);
    if (hit && hit.key === key && hit.secrets === secrets) return hit.cfg;
    const cfg = compileCluster(key, raw, secrets);
    this.compiled.set(raw, { key, secrets, cfg });
    return cfg;
  }

  has(cluster: string): boolean {
    return this.clusters.has(cluster);
  }

  request(cluster: string, req: UpstreamRequest, opts?: RequestOptions): Promise<UpstreamResponse> {
    const c = this.clusters.get(cluster);
    if (!c) return Promise.reject(new UpstreamError('NC', `no cluster ${cluster}`));
    return c.request(req, opts);
  }

  connect(cluster: string, opts?: RequestOptions): Promise<{ socket: Duplex; endpoint: string; peerIdentity?: string }> {
    const c = this.clusters.get(cluster);
    if (!c) return Promise.reject(new UpstreamError('NC', `no cluster ${cluster}`));
    return c.connect(opts);
  }

  stats(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.clusters.values()) c.render(out);
    return out;
  }

  retryPermit(cluster: string): (() => void) | undefined {
    return this.clusters.get(cluster)?.retryPermit();
  }

  outlierStatus(): Record<string, OutlierEjection[]> {
    const out: Record<string, OutlierEjection[]> = {};
    for (const [name, c] of this.clusters) {
      const ejected = c.outlierStatus();
      if (ejected.length > 0) out[name] = ejected;
    }
    return out;
  }

  clusterStatus(): ClusterStatus[] {
    const now = Date.now();
    return [...this.clusters.values()].map((c) => c.status(now)).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Graceful: in-flight requests finish (up to drainGraceMs), then everything is closed. */
  async close(): Promise<void> {
    this.closed = true;
    const all = [...this.clusters.values()];
    this.clusters = new Map();
    await Promise.all(all.map((c) => c.close()));
  }
}

export function createClusterManager(info: ProxyIdentityInfo, identity: IdentityProvider, opts: ClusterManagerOptions = {}): ClusterManager {
  return new Manager(info, identity, opts);
}

export { UpstreamError } from './types.js';
export type { ClusterManager, UpstreamRequest, UpstreamResponse, RequestOptions, HeaderMap, UpstreamFailure, OutlierEjection } from './types.js';
