// One interface for every load-balancing strategy. A strategy is built per cluster and
// re-fed the candidate hosts whenever membership or health changes; pick() is the
// per-request hot path.

/** What a strategy needs to know about an endpoint. */
export interface LbHost {
  /** host:port */
  readonly key: string;
  readonly weight: number;
  /** Requests in flight to this host (for LEAST_REQUEST). */
  readonly active: number;
}

export type LbPolicy = 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'RANDOM' | 'RING_HASH' | 'MAGLEV';

/** Per-policy settings from the Cluster (leastRequestLbConfig, ringHashLbConfig, maglevLbConfig). */
export interface LbSettings {
  /** LEAST_REQUEST: hosts drawn per pick (Envoy's choiceCount, default 2). */
  choiceCount: number;
  /** RING_HASH: virtual nodes on the ring in total, at least (default 1024). */
  minimumRingSize: number;
  /** RING_HASH: at most (default 8M). */
  maximumRingSize: number;
  /** MAGLEV: lookup table size, a prime (default 65537). */
  maglevTableSize: number;
}

export const LB_DEFAULTS: LbSettings = {
  choiceCount: 2,
  minimumRingSize: 1024,
  maximumRingSize: 8 * 1024 * 1024,
  maglevTableSize: 65537,
};

export interface LoadBalancer<H extends LbHost = LbHost> {
  /** Replace the candidate set (already filtered: healthy, not ejected, best priority, or every host in panic). */
  setHosts(hosts: readonly H[]): void;
  /** Pick one host, or undefined when there is none. */
  pick(hashKey?: string): H | undefined;
}
