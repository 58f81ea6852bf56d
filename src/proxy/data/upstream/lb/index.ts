// The load-balancing strategies by Envoy lbPolicy name. Adding a policy = one file + one line here.
import { LeastRequest } from './least-request.js';
import { RandomLb } from './random.js';
import { RingHash } from './ring-hash.js';
import { RoundRobin } from './round-robin.js';
import type { LbHost, LbPolicy, LoadBalancer } from './types.js';

export const LB_POLICIES: Record<LbPolicy, <H extends LbHost>() => LoadBalancer<H>> = {
  ROUND_ROBIN: () => new RoundRobin(),
  LEAST_REQUEST: () => new LeastRequest(),
  RANDOM: () => new RandomLb(),
  RING_HASH: () => new RingHash(),
  MAGLEV: () => new RingHash(),
};

export function createLoadBalancer<H extends LbHost>(policy: LbPolicy): LoadBalancer<H> {
  return LB_POLICIES[policy]<H>();
}

export type { LbHost, LbPolicy, LoadBalancer } from './types.js';
