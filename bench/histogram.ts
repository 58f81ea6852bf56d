// A small log-linear (HDR-style) histogram of non-negative integers (the bench
// records microseconds): values below 256 are exact, above that each power of two
// is split into 128 sub-buckets, so any recorded value is reported within 1/128
// (0.8 %) of itself. Fixed memory (3.4k counters up to 2^31), O(1) record.
const SUB = 128;
const EXACT = 2 * SUB;
const MAX_SHIFT = 24;
const SIZE = (MAX_SHIFT + 2) * SUB;

export interface Summary {
  count: number;
  min: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

export class Histogram {
  readonly counts = new Float64Array(SIZE);
  count = 0;
  sum = 0;
  min = Number.POSITIVE_INFINITY;
  max = 0;

  static indexOf(v: number): number {
    if (v < EXACT) return v;
    const msb = 31 - Math.clz32(v);
    const shift = msb - 7;
    if (shift > MAX_SHIFT) return SIZE - 1;
    return (shift + 1) * SUB + ((v >>> shift) - SUB);
  }

  /** The highest value that lands in bucket `i`. */
  static valueOf(i: number): number {
    if (i < EXACT) return i;
    const shift = Math.floor(i / SUB) - 1;
    const sub = (i % SUB) + SUB;
    return ((sub + 1) << shift) - 1;
  }

  record(value: number): void {
    const v = value < 0 ? 0 : value > 0x7fffffff ? 0x7fffffff : Math.round(value);
    this.counts[Histogram.indexOf(v)]!++;
    this.count++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  /** The value at quantile q (0..1): the bucket's upper bound, capped at the exact max. */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const rank = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < SIZE; i++) {
      seen += this.counts[i]!;
      if (seen >= rank) return Math.min(Histogram.valueOf(i), this.max);
    }
    return this.max;
  }

  summary(): Summary {
    return {
      count: this.count,
      min: this.count ? this.min : 0,
      mean: this.count ? this.sum / this.count : 0,
      p50: this.quantile(0.5),
      p90: this.quantile(0.9),
      p99: this.quantile(0.99),
      p999: this.quantile(0.999),
      max: this.max,
    };
  }
}
