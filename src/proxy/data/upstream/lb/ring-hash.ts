// RING_HASH (and MAGLEV, served by the same ring): consistent hashing of RequestOptions.hashKey
// onto a ring of virtual nodes, so removing one host only moves that host's keys.
// Requests without a hash key fall back to a random host.
import { createHash } from 'node:crypto';
import type { LbHost, LoadBalancer } from './types.js';

/** Virtual nodes per unit of weight (Envoy's minimum ring size is 1024 in total). */
const VNODES_PER_HOST = 128;

function hash32(s: string): number {
  // FNV-1a: cheap, good enough spread for picking, no allocation.
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

export class RingHash<H extends LbHost> implements LoadBalancer<H> {
  private hosts: readonly H[] = [];
  private points = new Uint32Array(0);
  private owners: H[] = [];

  setHosts(hosts: readonly H[]): void {
    this.hosts = hosts;
    const entries: Array<[number, H]> = [];
    for (const h of hosts) {
      const n = VNODES_PER_HOST * Math.max(1, Math.min(h.weight, 16));
      for (let i = 0; i < n; i++) {
        // A strong hash at build time (rare) spreads the virtual nodes evenly.
        entries.push([createHash('md5').update(`${h.key}_${i}`).digest().readUInt32BE(0), h]);
      }
    }
    entries.sort((a, b) => a[0] - b[0]);
    this.points = Uint32Array.from(entries, (e) => e[0]);
    this.owners = entries.map((e) => e[1]);
  }

  pick(hashKey?: string): H | undefined {
    const n = this.points.length;
    if (n === 0) return undefined;
    if (hashKey === undefined) return this.hosts[Math.floor(Math.random() * this.hosts.length)];
    const x = hash32(hashKey);
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.points[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return this.owners[lo === n ? 0 : lo];
  }
}
