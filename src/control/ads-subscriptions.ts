// What a stream subscribed to, per type, shared between streams: 2,000 sidecars
// of one namespace ask EDS for the same ~1,000 cluster names, and each would
// otherwise hold its own decoded names, their joined key and the request bytes
// (~150 KB a stream). Equal requests (byte for byte) get one Subscription; it is
// counted and dropped when no stream holds it.
import type { XdsType } from './snapshot.js';

/** Types whose empty subscription means "all" (Envoy's wildcard); the others list names. */
export const WILDCARD_TYPES: ReadonlySet<XdsType> = new Set(['LDS', 'CDS']);

export interface Subscription {
  readonly type: XdsType;
  /** Sorted and unique; null = wildcard. */
  readonly names: readonly string[] | null;
  /** Identifies `names` for this type: equal subscriptions share selections under it (snapshot.ts select). */
  readonly key: string;
  /** The resource_names bytes it was made from, when the request kept them (ads-wire.ts). */
  readonly bytes: Buffer | undefined;
}

interface Entry extends Subscription {
  refs: number;
}

export function normalizeNames(type: XdsType, names: readonly string[] | undefined): string[] | null {
  const list = names ?? [];
  if (WILDCARD_TYPES.has(type) && (list.length === 0 || list.includes('*'))) return null;
  return sortedUnique(list);
}

/** The names sorted and unique; clients usually send them so (EDS ACKs carry every cluster): then a copy, no sort. */
function sortedUnique(list: readonly string[]): string[] {
  let sorted = true;
  for (let i = 1; i < list.length && sorted; i++) sorted = list[i - 1]! < list[i]!;
  if (sorted) return [...list];
  return [...new Set(list)].sort();
}

/**
 * A delta subscription's names after a request: `held` (sorted, unique) with `add` merged
 * in and `drop` taken out, sorted and unique. Linear in the names (a proxy's first EDS
 * request subscribes ~1,000 at 1,000 services).
 */
export function updatedNames(held: readonly string[], add: readonly string[], drop: readonly string[]): string[] {
  const added = sortedUnique(add);
  const dropped = drop.length > 0 ? new Set(drop) : undefined;
  const out: string[] = [];
  let i = 0;
  let j = 0;
  while (i < held.length || j < added.length) {
    const a = held[i];
    const b = added[j];
    let n: string;
    if (b === undefined || (a !== undefined && a < b)) n = held[i++]!;
    else if (a === undefined || b < a) n = added[j++]!;
    else {
      n = a;
      i++;
      j++;
    }
    if (!dropped?.has(n)) out.push(n);
  }
  return out;
}

export function sameNames(a: readonly string[] | null, b: readonly string[] | null): boolean {
  if (a === null || b === null) return a === b;
  return a.length === b.length && a.every((n, i) => n === b[i]);
}

export class SubscriptionTable {
  readonly #byKey = new Map<string, Entry>();

  /** Distinct subscriptions held by some stream. */
  get size(): number {
    return this.#byKey.size;
  }

  /**
   * The shared subscription for a request's names. With `bytes` (the raw resource_names)
   * an equal one already held is found without decoding `names()`.
   */
  acquire(type: XdsType, bytes: Buffer | undefined, names: () => readonly string[] | undefined): Subscription {
    if (bytes && bytes.length > 0) {
      const key = `${type}\u0000b${bytes.toString('latin1')}`;
      // A copy: the request's buffer is not kept alive by the subscription.
      return this.#hold(key, () => ({ type, names: normalizeNames(type, names()), key, bytes: Buffer.from(bytes) }));
    }
    return this.acquireNames(type, normalizeNames(type, names()));
  }

  /** The shared subscription for names already sorted and unique (null: wildcard), as a delta stream keeps them. */
  acquireNames(type: XdsType, names: readonly string[] | null): Subscription {
    const key = names === null ? `${type}\u0000*` : `${type}\u0000n${names.join('\n')}`;
    return this.#hold(key, () => ({ type, names, key, bytes: undefined }));
  }

  #hold(key: string, make: () => Subscription): Subscription {
    let e = this.#byKey.get(key);
    if (!e) this.#byKey.set(key, (e = { ...make(), refs: 0 }));
    e.refs++;
    return e;
  }

  release(sub: Subscription): void {
    const e = this.#byKey.get(sub.key);
    if (e !== sub) return;
    if (--e.refs <= 0) this.#byKey.delete(sub.key);
  }
}
