// The admin /clusters page in Envoy's two forms, from the data plane's ClusterStatus:
// text lines `cluster::host::name::value` (`health_flags::/failed_outlier_check` for an
// ejected host, as in Envoy) and, with ?format=json, Envoy's `cluster_statuses` shape.
// Envoy does not report a host's outlier counters; weft adds them as `outlier_*` lines
// and an `outlier_detection` object, only for clusters with outlier detection on.
import { endpointKey } from '../data/upstream/endpoints.js';
import type { ClusterStatus, HostStatus } from '../types.js';

const EDS_FLAGS: Record<HostStatus['edsHealth'], string> = {
  HEALTHY: '',
  UNHEALTHY: '/failed_eds_health',
  DEGRADED: '/degraded_eds_health',
  DRAINING: '/eds_status_draining',
};

/** Envoy's health_flags: `healthy`, or the failed flags in Envoy's order (outlier before EDS). */
export function healthFlags(h: HostStatus): string {
  const flags = (h.outlier.ejected ? '/failed_outlier_check' : '') + EDS_FLAGS[h.edsHealth];
  return flags || 'healthy';
}

function iso(ms: number | undefined): string | undefined {
  return ms === undefined ? undefined : new Date(ms).toISOString();
}

export function clustersText(clusters: readonly ClusterStatus[]): string {
  const lines: string[] = [];
  for (const c of clusters) {
    const p = `${c.name}::`;
    lines.push(`${p}observability_name::${c.name}`);
    lines.push(`${p}default_priority::max_connections::${c.breakers.maxConnections}`);
    lines.push(`${p}default_priority::max_pending_requests::${c.breakers.maxPendingRequests}`);
    lines.push(`${p}default_priority::max_requests::${c.breakers.maxRequests}`);
    lines.push(`${p}default_priority::max_retries::${c.breakers.maxRetries}`);
    lines.push(`${p}added_via_api::true`);
    for (const h of c.hosts) {
      const hp = `${p}${endpointKey(h.address, h.port)}::`;
      lines.push(`${hp}rq_active::${h.activeRequests}`);
      lines.push(`${hp}health_flags::${healthFlags(h)}`);
      lines.push(`${hp}weight::${h.weight}`);
      lines.push(`${hp}priority::${h.priority}`);
      if (!c.outlierDetection) continue;
      const o = h.outlier;
      if (o.ejected) {
        lines.push(`${hp}outlier_ejected_since::${iso(o.ejectedAt)}`);
        lines.push(`${hp}outlier_ejection_time_left_ms::${o.ejectionRemainingMs}`);
      }
      lines.push(`${hp}outlier_times_ejected::${o.timesEjected}`);
      lines.push(`${hp}outlier_consecutive_5xx::${o.consecutive5xx}`);
      lines.push(`${hp}outlier_consecutive_gateway_failure::${o.consecutiveGatewayFailure}`);
      lines.push(`${hp}outlier_consecutive_local_origin_failure::${o.consecutiveLocalOriginFailure}`);
    }
  }
  return lines.map((l) => `${l}\n`).join('');
}

export function clustersJson(clusters: readonly ClusterStatus[]): Record<string, unknown> {
  return {
    cluster_statuses: clusters.map((c) => ({
      name: c.name,
      observability_name: c.name,
      added_via_api: true,
      circuit_breakers: {
        thresholds: [
          {
            priority: 'DEFAULT',
            max_connections: c.breakers.maxConnections,
            max_pending_requests: c.breakers.maxPendingRequests,
            max_requests: c.breakers.maxRequests,
            max_retries: c.breakers.maxRetries,
          },
        ],
      },
      host_statuses: c.hosts.map((h) => ({
        address: { socket_address: { address: h.address, port_value: h.port } },
        stats: [{ type: 'GAUGE', name: 'rq_active', value: String(h.activeRequests) }],
        health_status: { eds_health_status: h.edsHealth, ...(h.outlier.ejected ? { failed_outlier_check: true } : {}) },
        weight: h.weight,
        priority: h.priority,
        ...(c.outlierDetection
          ? {
              outlier_detection: {
                ejected: h.outlier.ejected,
                ...(h.outlier.ejected ? { ejected_since: iso(h.outlier.ejectedAt), ejection_time_left_ms: h.outlier.ejectionRemainingMs } : {}),
                times_ejected: h.outlier.timesEjected,
                consecutive_5xx: h.outlier.consecutive5xx,
                consecutive_gateway_failure: h.outlier.consecutiveGatewayFailure,
                consecutive_local_origin_failure: h.outlier.consecutiveLocalOriginFailure,
              },
            }
          : {}),
      })),
    })),
  };
}
