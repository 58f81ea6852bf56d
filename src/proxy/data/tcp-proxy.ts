// The tcp_proxy network filter: connect to the cluster and splice the bytes.
import type { Duplex } from 'node:stream';
import type { EnvoyObject } from '../types.js';
import type { ClusterManager } from './upstream/types.js';
import { durationMs, str } from '../../xds/object-form.js';
import type { Counters } from './stats.js';
import { tcpStatNames } from './stats.js';
import { splice } from './splice.js';

export const TCP_DEFAULTS = { idleTimeoutMs: 60 * 60 * 1000 } as const;

export interface TcpProxyConfig {
  cluster: string;
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
  if (!cluster) throw new TcpProxyConfigError(`${where}: tcp_proxy.cluster is required`);
  const statPrefix = str(typed.statPrefix) ?? cluster;
  return { cluster, idleTimeoutMs: durationMs(typed.idleTimeout) ?? TCP_DEFAULTS.idleTimeoutMs, names: tcpStatNames(statPrefix) };
}

/** Connects the downstream socket to the cluster; any failure closes the downstream. */
export function runTcpProxy(downstream: Duplex, cfg: Pick<TcpProxyConfig, 'cluster' | 'idleTimeoutMs' | 'names'>, cm: ClusterManager, counters: Counters): void {
  counters.inc(cfg.names.cxTotal);
  downstream.on('error', () => downstream.destroy());
  downstream.pause();
  cm.connect(cfg.cluster).then(
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
