// The load-balancing strategies by Envoy lbPolicy name. Adding a policy = one file + one line here.
import { LeastRequest } from './least-request.js';
import { Maglev } from './maglev.js';
import { RandomLb } from './random.js';
import { RingHash } from './ring-hash.js';
import { RoundRobin } from './round-robin.js';
import { LB_DEFAULTS, type LbHost, type LbPolicy, type LbSettings, type LoadBalancer } from './types.js';

export const LB_POLICIES: Record<LbPolicy, <H extends LbHost>(s: LbSettings) => LoadBalancer<H>> = {
  ROUND_ROBIN: () => new RoundRobin(),
  LEAST_REQUEST: (s) => new LeastRequest(s.choiceCount),
  RANDOM: () => new RandomLb(),
  RING_HASH: (s) => new RingHash(s.minimumRingSize, s.maximumRingSize),
  MAGLEV: (s) => new Maglev(s.maglevTableSize),
};

export function createLoadBalancer<H extends LbHost>(policy: LbPolicy, settings: LbSettings = LB_DEFAULTS): LoadBalancer<H> {
  return LB_POLICIES[policy]<H>(settings);
}

export { LB_DEFAULTS } from './types.js';
export type { LbHost, LbPolicy, LbSettings, LoadBalancer } from './types.js';
