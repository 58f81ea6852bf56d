// One interface for every load-balancing strategy. A strategy is built per cluster and
// re-fed the healthy hosts whenever membership changes; pick() is the per-request hot path.

/** What a strategy needs to know about an endpoint. */
export interface LbHost {
  /** host:port */
  readonly key: string;
  readonly weight: number;
  /** Requests in flight to this host (for LEAST_REQUEST). */
  readonly active: number;
}

export type LbPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'RING_HASH' | 'MAGLEV';

export interface LoadBalancer<H extends LbHost = LbHost> {
  /** Replace the candidate set (already filtered to healthy hosts of the best priority). */
  setHosts(hosts: readonly H[]): void;
  /** Pick one host, or undefined when there is none. */
  pick(hashKey?: string): H | undefined;
}
