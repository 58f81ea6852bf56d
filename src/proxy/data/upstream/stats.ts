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
  membershipHealthy = 0;
  membershipTotal = 0;

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
    out[`${p}ssl.handshake`] = this.sslHandshake;
    out[`${p}ssl.fail_verify_san`] = this.sslFailVerifySan;
    out[`${p}membership_healthy`] = this.membershipHealthy;
    out[`${p}membership_total`] = this.membershipTotal;
  }
}
