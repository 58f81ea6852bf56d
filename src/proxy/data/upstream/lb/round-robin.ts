// ROUND_ROBIN: each healthy host in turn. Weights are honoured by smooth weighted round
// robin (nginx's) when they differ; with equal weights it is a plain rotating index.
import type { LbHost, LoadBalancer } from './types.js';

export class RoundRobin<H extends LbHost> implements LoadBalancer<H> {
  private hosts: readonly H[] = [];
  private next = 0;
  private weighted = false;
  private current: number[] = [];
  private total = 0;

  setHosts(hosts: readonly H[]): void {
    this.hosts = hosts;
    // Keep the rotation position so a membership change does not reset the spread.
    if (hosts.length > 0) this.next %= hosts.length;
    else this.next = 0;
    const w0 = hosts[0]?.weight ?? 1;
    this.weighted = hosts.some((h) => h.weight !== w0);
    this.current = hosts.map(() => 0);
    this.total = hosts.reduce((s, h) => s + h.weight, 0);
  }

  pick(): H | undefined {
    const hosts = this.hosts;
    const n = hosts.length;
    if (n === 0) return undefined;
    if (!this.weighted) {
      const h = hosts[this.next]!;
      this.next = this.next + 1 === n ? 0 : this.next + 1;
      return h;
    }
    let best = 0;
    const cur = this.current;
    for (let i = 0; i < n; i++) {
      cur[i]! += hosts[i]!.weight;
      if (cur[i]! > cur[best]!) best = i;
    }
    cur[best]! -= this.total;
    return hosts[best];
  }
}
