// Per-cluster counters and gauges: plain number fields bumped on the hot path,
// rendered to Envoy-style dotted names only when stats() is asked for.

export class ClusterStats {
  rqTotal = 0;
  /** Index = status / 100 (1..5). */
  readonly rqClass = [0, 0, 0, 0, 0, 0];
  cxTotal = 0;
  cxActive = 0;
  cxConnectFail = 0;
  sslHandshake = 0;
  sslFailVerifySan = 0;
  /** The server's chain did not verify against the cluster's CA (Envoy's ssl.fail_verify_error). */
  sslFailVerifyError = 0;
  membershipHealthy = 0;
  membershipTotal = 0;
  /** Circuit breaking. */
  rqPendingOverflow = 0;
  rqPendingTotal = 0;
  cxOverflow = 0;
  rqRetryOverflow = 0;
  /** Requests balanced over every host because too few were healthy (panic mode). */
  lbHealthyPanic = 0;
  readonly outlier = {
    ejectionsActive: 0,
    ejectionsTotal: 0,
    ejectionsEnforcedTotal: 0,
    ejectionsOverflow: 0,
    ejectionsEnforced5xx: 0,
    ejectionsDetected5xx: 0,
    ejectionsEnforcedGatewayFailure: 0,
    ejectionsDetectedGatewayFailure: 0,
    ejectionsEnforcedLocalOriginFailure: 0,
    ejectionsDetectedLocalOriginFailure: 0,
  };

  response(status: number): void {
    const c = (status / 100) | 0;
    if (c >= 1 && c <= 5) this.rqClass[c]!++;
  }

  render(cluster: string, out: Record<string, number>): void {
    const p = `cluster.${cluster}.`;
    out[`${p}upstream_rq_total`] = this.rqTotal;
    for (let c = 1; c <= 5; c++) out[`${p}upstream_rq_${c}xx`] = this.rqClass[c]!;
    out[`${p}upstream_cx_total`] = this.cxTotal;
    out[`${p}upstream_cx_active`] = this.cxActive;
    out[`${p}upstream_cx_connect_fail`] = this.cxConnectFail;
    out[`${p}upstream_cx_overflow`] = this.cxOverflow;
    out[`${p}upstream_rq_pending_overflow`] = this.rqPendingOverflow;
    out[`${p}upstream_rq_pending_total`] = this.rqPendingTotal;
    out[`${p}upstream_rq_retry_overflow`] = this.rqRetryOverflow;
    out[`${p}ssl.handshake`] = this.sslHandshake;
    out[`${p}ssl.fail_verify_san`] = this.sslFailVerifySan;
    out[`${p}ssl.fail_verify_error`] = this.sslFailVerifyError;
    out[`${p}membership_healthy`] = this.membershipHealthy;
    out[`${p}membership_total`] = this.membershipTotal;
    out[`${p}lb_healthy_panic`] = this.lbHealthyPanic;
    const o = this.outlier;
    const q = `${p}outlier_detection.`;
    out[`${q}ejections_active`] = o.ejectionsActive;
    out[`${q}ejections_total`] = o.ejectionsTotal;
    out[`${q}ejections_enforced_total`] = o.ejectionsEnforcedTotal;
    out[`${q}ejections_overflow`] = o.ejectionsOverflow;
    out[`${q}ejections_enforced_consecutive_5xx`] = o.ejectionsEnforced5xx;
    out[`${q}ejections_detected_consecutive_5xx`] = o.ejectionsDetected5xx;
    out[`${q}ejections_enforced_consecutive_gateway_failure`] = o.ejectionsEnforcedGatewayFailure;
    out[`${q}ejections_detected_consecutive_gateway_failure`] = o.ejectionsDetectedGatewayFailure;
    out[`${q}ejections_enforced_consecutive_local_origin_failure`] = o.ejectionsEnforcedLocalOriginFailure;
    out[`${q}ejections_detected_consecutive_local_origin_failure`] = o.ejectionsDetectedLocalOriginFailure;
  }
}
