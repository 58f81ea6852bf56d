// MAGLEV: Google's consistent hashing lookup table (Eisenbud et al., NSDI 2016), with
// Envoy's weighting: a host of maximum weight claims a slot every round, one of a third
// of that weight every third round. O(1) picks; removing a host moves about 1/N of keys
// (a little more than a ring). Requests without a hash key go to a random host.
import { hashKey32, hostHashes } from './hash.js';
import type { LbHost, LoadBalancer } from './types.js';

export class Maglev<H extends LbHost> implements LoadBalancer<H> {
  private hosts: readonly H[] = [];
  private table = new Int32Array(0);

  constructor(private readonly tableSize = 65537) {}

  setHosts(hosts: readonly H[]): void {
    this.hosts = hosts;
    const m = this.tableSize;
    if (hosts.length === 0) {
      this.table = new Int32Array(0);
      return;
    }
    const table = new Int32Array(m).fill(-1);
    const maxWeight = Math.max(...hosts.map((h) => h.weight));
    const entries = hosts.map((h) => {
      const [a, b] = hostHashes(h.key);
      return { offset: a % m, skip: (b % (m - 1)) + 1, next: 0, target: 0, weight: h.weight / maxWeight };
    });
    let filled = 0;
    for (let round = 1; filled < m; round++) {
      for (let i = 0; i < entries.length && filled < m; i++) {
        const e = entries[i]!;
        if (round * e.weight < e.target) continue;
        e.target += 1;
        let c = (e.offset + e.skip * e.next) % m;
        while (table[c] !== -1) {
          e.next++;
          c = (e.offset + e.skip * e.next) % m;
        }
        table[c] = i;
        e.next++;
        filled++;
      }
    }
    this.table = table;
  }

  pick(hashKey?: string): H | undefined {
    if (this.hosts.length === 0) return undefined;
    if (hashKey === undefined) return this.hosts[Math.floor(Math.random() * this.hosts.length)];
    return this.hosts[this.table[hashKey32(hashKey) % this.tableSize]!];
  }
}
