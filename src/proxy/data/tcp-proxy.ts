// The tcp_proxy network filter: pick the cluster (one, or weightedClusters drawn per
// connection), connect to it and splice the bytes.
import type { Duplex } from 'node:stream';
import type { EnvoyObject } from '../types.js';
import type { ClusterManager } from './upstream/types.js';
import { arr, durationMs, num, obj, str } from '../../xds/object-form.js';
import type { Counters } from './stats.js';
import { tcpStatNames } from './stats.js';
import { splice } from './splice.js';
import { pickByWeight } from './weighted.js';

export const TCP_DEFAULTS = { idleTimeoutMs: 60 * 60 * 1000 } as const;

export interface TcpProxyConfig {
  /** Set when the filter names one cluster. */
  cluster: string | undefined;
  /** weightedClusters (Envoy: each weight >= 1); empty with `cluster`. */
  weighted: { name: string; weight: number }[];
  totalWeight: number;
  idleTimeoutMs: number;
  names: ReturnType<typeof tcpStatNames>;
}

export class TcpProxyConfigError extends Error {
  readonly code = 'WEFT_ERR_TCP_PROXY_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'TcpProxyConfigError';
  }
}

export function compileTcpProxy(typed: EnvoyObject, where: string): TcpProxyConfig {
  const cluster = str(typed.cluster);
  const wc = obj(typed.weightedClusters);
  if (cluster && wc) throw new TcpProxyConfigError(`${where}: tcp_proxy sets both cluster and weightedClusters`);
  const weighted = arr(wc?.clusters).map((c, i) => {
    const name = str(c.name);
    const weight = num(c.weight) ?? 0;
    if (!name) throw new TcpProxyConfigError(`${where}: tcp_proxy.weightedClusters.clusters[${i}].name is required`);
    if (!Number.isInteger(weight) || weight < 1) throw new TcpProxyConfigError(`${where}: tcp_proxy.weightedClusters.clusters[${i}].weight must be an integer >= 1`);
    return { name, weight };
  });
  if (!cluster && weighted.length === 0) throw new TcpProxyConfigError(`${where}: tcp_proxy.cluster or weightedClusters is required`);
  const statPrefix = str(typed.statPrefix) ?? cluster ?? weighted[0]!.name;
  return {
    cluster,
    weighted,
    totalWeight: weighted.reduce((s, c) => s + c.weight, 0),
    idleTimeoutMs: durationMs(typed.idleTimeout) ?? TCP_DEFAULTS.idleTimeoutMs,
    names: tcpStatNames(statPrefix),
  };
}

/** The cluster for one connection: the named one, or a weighted draw with `random` in [0, 1). */
export function pickTcpCluster(cfg: Pick<TcpProxyConfig, 'cluster' | 'weighted' | 'totalWeight'>, random: number): string {
  return cfg.cluster || pickByWeight(cfg.weighted, cfg.totalWeight, random)!.name;
}

export interface TcpProxyRun {
  /** Uniform in [0, 1) for the weighted draw. */
  random?: () => number;
  /** The host:port the downstream asked for (a CONNECT target): ORIGINAL_DST clusters connect there. */
  originalDestination?: string | undefined;
}

/** Connects the downstream socket to the cluster; any failure closes the downstream. */
export function runTcpProxy(
  downstream: Duplex,
  cfg: Pick<TcpProxyConfig, 'cluster' | 'weighted' | 'totalWeight' | 'idleTimeoutMs' | 'names'>,
  cm: ClusterManager,
  counters: Counters,
  run: TcpProxyRun = {},
): void {
  counters.inc(cfg.names.cxTotal);
  downstream.on('error', () => downstream.destroy());
  downstream.pause();
  const cluster = pickTcpCluster(cfg, (run.random ?? Math.random)());
  const opts = run.originalDestination !== undefined ? { originalDestination: run.originalDestination } : undefined;
  cm.connect(cluster, opts).then(
    ({ socket }) => {
      if (downstream.destroyed) {
        socket.destroy();
        return;
      }
      splice(downstream, socket, {
        idleTimeoutMs: cfg.idleTimeoutMs,
        onIdleTimeout: () => counters.inc(cfg.names.idleTimeout),
        onClose: (rx, tx) => {
          counters.inc(cfg.names.rxBytes, rx);
          counters.inc(cfg.names.txBytes, tx);
        },
      });
      downstream.resume();
    },
    () => {
      counters.inc(cfg.names.connectFail);
      downstream.destroy();
    },
  );
}
