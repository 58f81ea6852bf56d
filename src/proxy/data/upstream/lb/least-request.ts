// LEAST_REQUEST as Envoy does it. Equal weights: power of choiceCount choices — draw that
// many hosts at random and take the one with the fewest requests in flight. Unequal
// weights: each host's chance is weight / (active + 1) (Envoy's EDF with active_request_bias 1).
import type { LbHost, LoadBalancer } from './types.js';

export class LeastRequest<H extends LbHost> implements LoadBalancer<H> {
  private hosts: readonly H[] = [];
  private weighted = false;

  constructor(private readonly choiceCount = 2) {}

  setHosts(hosts: readonly H[]): void {
    this.hosts = hosts;
    this.weighted = hosts.some((h) => h.weight !== hosts[0]!.weight);
  }

  pick(): H | undefined {
    const hosts = this.hosts;
    const n = hosts.length;
    if (n <= 1) return hosts[0];
    if (this.weighted) return this.pickWeighted();
    let best = hosts[Math.floor(Math.random() * n)]!;
    for (let i = 1; i < this.choiceCount; i++) {
      const c = hosts[Math.floor(Math.random() * n)]!;
      if (c.active < best.active) best = c;
    }
    return best;
  }

  private pickWeighted(): H {
    const hosts = this.hosts;
    let total = 0;
    for (const h of hosts) total += h.weight / (h.active + 1);
    let r = Math.random() * total;
    for (const h of hosts) {
      r -= h.weight / (h.active + 1);
      if (r < 0) return h;
    }
    return hosts[hosts.length - 1]!;
  }
}
