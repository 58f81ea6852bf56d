// RANDOM: a uniformly random healthy host.
import type { LbHost, LoadBalancer } from './types.js';

export class RandomLb<H extends LbHost> implements LoadBalancer<H> {
  private hosts: readonly H[] = [];

  setHosts(hosts: readonly H[]): void {
    this.hosts = hosts;
  }

  pick(): H | undefined {
    const n = this.hosts.length;
    return n === 0 ? undefined : this.hosts[Math.floor(Math.random() * n)];
  }
}
