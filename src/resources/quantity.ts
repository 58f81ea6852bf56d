// Kubernetes resource quantities ("1", "500m", "0.5", "1k", "2Ki", "1e3") as SMI and
// Linkerd write weights. Parsed exactly enough for weights: to a number of milli-units.

import { INVALID, type Schema } from './schema.js';
import { isScalar } from 'yaml';

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  '': 1,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

// Kubernetes' grammar: sign, digits with an optional fraction, then a binary/decimal suffix or an exponent.
const QUANTITY = /^([+-]?)(\d+(?:\.\d*)?|\.\d+)(?:(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)|[eE]([+-]?\d+))?$/;

export class QuantityError extends Error {
  readonly code = 'WEFT_ERR_INVALID_QUANTITY';
  constructor(message: string) {
    super(message);
    this.name = 'QuantityError';
  }
}

/** A quantity as a number ("900m" -> 0.9, "1k" -> 1000). Throws QuantityError naming the text. */
export function parseQuantity(text: string | number): number {
  if (typeof text === 'number') {
    if (!Number.isFinite(text)) throw new QuantityError(`invalid quantity ${text}`);
    return text;
  }
  const m = QUANTITY.exec(text.trim());
  if (!m) throw new QuantityError(`invalid quantity ${JSON.stringify(text)}: expected a number with an optional suffix, e.g. "1", "500m", "0.5", "1k"`);
  const sign = m[1] === '-' ? -1 : 1;
  const scale = m[4] !== undefined ? 10 ** Number(m[4]) : SUFFIX[m[3] ?? '']!;
  // Round away float noise ("0.3" * 1000 is 300.00000000000006).
  return sign * Math.round(Number(m[2]) * scale * 1e9) / 1e9;
}

/** A non-negative quantity, written as a YAML number or a string; kept as written. */
export function quantity(): Schema<string | number> {
  return {
    expected: 'a quantity like 1, "500m" or "0.5"',
    read(node, v, path) {
      const val = isScalar(node) ? node.value : undefined;
      if (typeof val !== 'string' && typeof val !== 'number') {
        v.error('WEFT_INVALID_FIELD', path, `expected ${this.expected}`, v.lineOfNode(node));
        return INVALID;
      }
      try {
        if (parseQuantity(val) < 0) throw new QuantityError(`${JSON.stringify(val)} is negative`);
        return val;
      } catch (e) {
        v.error('WEFT_INVALID_FIELD', path, (e as Error).message, v.lineOfNode(node));
        return INVALID;
      }
    },
  };
}

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/**
 * Relative weights (quantities) -> the smallest integers with the same ratios, as Envoy
 * weights must be integers: ["900m","100m"] -> [9,1]; [1,"500m"] -> [2,1].
 */
export function integerWeights(weights: readonly (string | number)[]): number[] {
  // Milli-units are the finest SMI and Linkerd weights use.
  const milli = weights.map((w) => Math.round(parseQuantity(w) * 1000));
  const d = milli.reduce((g, w) => gcd(g, w), 0);
  return d === 0 ? milli.map(() => 0) : milli.map((w) => w / d);
}
