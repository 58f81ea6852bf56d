// Hashes for the consistent-hash balancers. Keys are hashed on every request (cheap,
// no allocation); host names only when the ring or table is rebuilt.
import { createHash } from 'node:crypto';

/** 32-bit FNV-1a of a string, finished with murmur3's fmix32 so near-identical keys spread over the whole range. */
export function hashKey32(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Two independent 32-bit hashes of a host name (build time only). */
export function hostHashes(s: string): [number, number] {
  const d = createHash('md5').update(s).digest();
  return [d.readUInt32BE(0), d.readUInt32BE(4)];
}

/** Uniform random index below n weighted by weights (sum > 0), without allocation. */
export function weightedIndex<T>(items: readonly T[], weightOf: (t: T) => number, total: number): number {
  let r = Math.random() * total;
  for (let i = 0; i < items.length; i++) {
    r -= weightOf(items[i]!);
    if (r < 0) return i;
  }
  return items.length - 1;
}
