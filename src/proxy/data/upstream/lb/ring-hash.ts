// RING_HASH: a ketama-style ring. Each host owns minimumRingSize virtual nodes per unit
// of the smallest weight (so the ring holds at least minimumRingSize entries, at most
// maximumRingSize); a key goes to the first node clockwise of its hash. A host's nodes
// depend only on its own name and weight, never on the other hosts, so removing a host
// moves exactly the keys it owned and adding one takes keys only for itself. (Envoy sizes
// the whole ring to minimumRingSize instead, which reshuffles some keys among the hosts
// that stay; weft trades memory for stability: 1024 x 4 bytes x 2 per host.)
// Requests without a hash key go to a random host.
import { hashKey32 } from './hash.js';
import type { LbHost, LoadBalancer } from './types.js';

/** Node hash and host index share one float64 for a fast numeric sort: hash * 2^21 + index. */
const INDEX_SPAN = 2 ** 21;

export class RingHash<H extends LbHost> implements LoadBalancer<H> {
  private hosts: readonly H[] = [];
  private points = new Uint32Array(0);
  private owners = new Uint32Array(0);

  constructor(
    private readonly minimumRingSize = 1024,
    private readonly maximumRingSize = 8 * 1024 * 1024,
  ) {}

  setHosts(hosts: readonly H[]): void {
    this.hosts = hosts;
    const n = Math.min(hosts.length, INDEX_SPAN);
    if (n === 0) {
      this.points = new Uint32Array(0);
      this.owners = new Uint32Array(0);
      return;
    }
    let minWeight = Infinity;
    for (let i = 0; i < n; i++) minWeight = Math.min(minWeight, hosts[i]!.weight);
    const counts = new Uint32Array(n);
    let base = this.minimumRingSize;
    for (let pass = 0; pass < 2; pass++) {
      let total = 0;
      for (let i = 0; i < n; i++) total += counts[i] = Math.max(1, Math.ceil((base * hosts[i]!.weight) / minWeight));
      if (total <= this.maximumRingSize) break;
      base = Math.max(1, Math.floor((base * this.maximumRingSize) / total));
    }
    let total = 0;
    for (let i = 0; i < n; i++) total += counts[i]!;
    const packed = new Float64Array(total);
    let k = 0;
    for (let i = 0; i < n; i++) {
      const key = hosts[i]!.key;
      for (let v = 0; v < counts[i]!; v++) packed[k++] = hashKey32(`${key}_${v}`) * INDEX_SPAN + i;
    }
    packed.sort();
    const points = new Uint32Array(k);
    const owners = new Uint32Array(k);
    for (let j = 0; j < k; j++) {
      const p = packed[j]!;
      const idx = p % INDEX_SPAN;
      owners[j] = idx;
      points[j] = (p - idx) / INDEX_SPAN;
    }
    this.points = points;
    this.owners = owners;
  }

  /** Virtual nodes on the ring now (for tests and admin). */
  get size(): number {
    return this.points.length;
  }

  pick(hashKey?: string): H | undefined {
    const n = this.points.length;
    if (n === 0) return undefined;
    if (hashKey === undefined) return this.hosts[Math.floor(Math.random() * this.hosts.length)];
    const x = hashKey32(hashKey);
    const points = this.points;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (points[mid]! < x) lo = mid + 1;
      else hi = mid;
    }
    return this.hosts[this.owners[lo === n ? 0 : lo]!];
  }
}
