// LEAST_REQUEST: Envoy's default choice of two — pick two hosts at random and take the one
// with fewer requests in flight.
import type { LbHost, LoadBalancer } from './types.js';

export class LeastRequest<H extends LbHost> implements LoadBalancer<H> {
  private hosts: readonly H[] = [];

  setHosts(hosts: readonly H[]): void {
    this.hosts = hosts;
  }

  pick(): H | undefined {
    const hosts = this.hosts;
    const n = hosts.length;
    if (n <= 1) return hosts[0];
    const a = hosts[Math.floor(Math.random() * n)]!;
    const b = hosts[Math.floor(Math.random() * n)]!;
    return b.active < a.active ? b : a;
  }
}
