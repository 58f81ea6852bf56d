// RANDOM: a random candidate, in proportion to endpoint weight.
import { weightedIndex } from './hash.js';
import type { LbHost, LoadBalancer } from './types.js';

const weightOf = (h: LbHost): number => h.weight;

export class RandomLb<H extends LbHost> implements LoadBalancer<H> {
  private hosts: readonly H[] = [];
  private total = 0;
  private weighted = false;

  setHosts(hosts: readonly H[]): void {
    this.hosts = hosts;
    this.total = hosts.reduce((s, h) => s + h.weight, 0);
    this.weighted = hosts.some((h) => h.weight !== hosts[0]!.weight);
  }

  pick(): H | undefined {
    const n = this.hosts.length;
    if (n === 0) return undefined;
    if (!this.weighted) return this.hosts[Math.floor(Math.random() * n)];
    return this.hosts[weightedIndex(this.hosts, weightOf, this.total)];
  }
}
