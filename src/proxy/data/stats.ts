// Cheap counters and gauges: one plain object of numbers. Stat names are built once per
// listener / connection manager (see *StatNames) so the per-request path only indexes.
import type { MirrorStats } from './mirror.js';

export class Counters {
  readonly values: Record<string, number> = Object.create(null) as Record<string, number>;

  inc(name: string, by = 1): void {
    this.values[name] = (this.values[name] ?? 0) + by;
  }

  dec(name: string, by = 1): void {
    this.values[name] = (this.values[name] ?? 0) - by;
  }

  snapshot(): Record<string, number> {
    return { ...this.values };
  }
}

export interface ListenerStatNames {
  cxTotal: string;
  cxActive: string;
  cxDestroyedNoBytes: string;
  detectTimeout: string;
  noFilterChain: string;
  sslHandshake: string;
  sslConnectionError: string;
  sslFailVerifyError: string;
  sslNoCertificate: string;
  tcpTunnelTotal: string;
}

export function listenerStatNames(listener: string): ListenerStatNames {
  const p = `listener.${listener}.`;
  return {
    cxTotal: `${p}downstream_cx_total`,
    cxActive: `${p}downstream_cx_active`,
    cxDestroyedNoBytes: `${p}downstream_cx_destroy_no_bytes`,
    detectTimeout: `${p}downstream_pre_cx_timeout`,
    noFilterChain: `${p}no_filter_chain_match`,
    sslHandshake: `${p}ssl.handshake`,
    sslConnectionError: `${p}ssl.connection_error`,
    sslFailVerifyError: `${p}ssl.fail_verify_error`,
    sslNoCertificate: `${p}ssl.no_certificate`,
    tcpTunnelTotal: `${p}tcp_tunnel_total`,
  };
}

export interface HttpStatNames {
  rqTotal: string;
  /** Index by Math.floor(status / 100); 0 and out of range are unused. */
  rqClass: string[];
  rqTimeout: string;
  rqIdleTimeout: string;
  noRoute: string;
  noCluster: string;
  badRequest: string;
  rqMtls: string;
  rqPlaintext: string;
  rqRetry: string;
  cx1: string;
  cx2: string;
  /** The L7 stages (fault.ts, mirror.ts). */
  faultDelays: string;
  faultAborts: string;
  mirror: MirrorStats;
}

/** Names for one HCM; inboundPort adds Istio-style inbound.<port>.rq_mtls / rq_plaintext. */
export function httpStatNames(statPrefix: string, inboundPort: number | undefined): HttpStatNames {
  const p = `http.${statPrefix}.`;
  const ip = inboundPort === undefined ? `http.${statPrefix}.` : `inbound.${inboundPort}.`;
  return {
    rqTotal: `${p}downstream_rq_total`,
    rqClass: ['', `${p}downstream_rq_1xx`, `${p}downstream_rq_2xx`, `${p}downstream_rq_3xx`, `${p}downstream_rq_4xx`, `${p}downstream_rq_5xx`],
    rqTimeout: `${p}downstream_rq_timeout`,
    rqIdleTimeout: `${p}downstream_rq_idle_timeout`,
    noRoute: `${p}no_route`,
    noCluster: `${p}no_cluster`,
    badRequest: `${p}downstream_rq_bad_request`,
    rqMtls: `${ip}rq_mtls`,
    rqPlaintext: `${ip}rq_plaintext`,
    rqRetry: `${p}upstream_rq_retry`,
    cx1: `${p}downstream_cx_http1_total`,
    cx2: `${p}downstream_cx_http2_total`,
    faultDelays: `${p}fault.delays_injected`,
    faultAborts: `${p}fault.aborts_injected`,
    mirror: { total: `${p}rq_mirror_total`, error: `${p}rq_mirror_error` },
  };
}

export function tcpStatNames(statPrefix: string): { cxTotal: string; rxBytes: string; txBytes: string; idleTimeout: string; connectFail: string } {
  const p = `tcp.${statPrefix}.`;
  return {
    cxTotal: `${p}downstream_cx_total`,
    rxBytes: `${p}downstream_cx_rx_bytes_total`,
    txBytes: `${p}downstream_cx_tx_bytes_total`,
    idleTimeout: `${p}idle_timeout`,
    connectFail: `${p}upstream_connect_fail`,
  };
}
