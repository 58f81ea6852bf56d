// One weighted draw for the router's weightedClusters and tcp_proxy's: Envoy's rule, each
// entry takes weight/total of [0, 1) in order.

/**
 * The entry `random` (in [0, 1)) lands on. When the weights add up to less than `total`
 * (a totalWeight larger than their sum), the rest goes to the last entry.
 */
export function pickByWeight<T extends { weight: number }>(entries: readonly T[], total: number, random: number): T | undefined {
  let x = random * total;
  for (const e of entries) {
    if (x < e.weight) return e;
    x -= e.weight;
  }
  return entries[entries.length - 1];
}
