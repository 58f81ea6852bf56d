// Envoy's server-name match (filterChainMatch.serverNames against the ClientHello SNI):
// an exact name beats the longest matching "*.suffix" wildcard, which beats a chain that
// names no server; a chain whose names all miss does not match. Names and SNI compare
// case-insensitively (the sniffer and the listener compiler lower-case both).

/** An exact name matched. */
export const EXACT_SERVER_NAME = Number.MAX_SAFE_INTEGER;

/**
 * How well `names` match `sni`: -1 no match; 0 the list is empty (any SNI, or none);
 * the suffix length for a wildcard ("*.example.com" matches "a.example.com" and
 * "a.b.example.com", not "example.com"); EXACT_SERVER_NAME for an exact name.
 */
export function serverNameScore(names: readonly string[], sni: string | undefined): number {
  if (names.length === 0) return 0;
  if (!sni) return -1;
  let best = -1;
  for (const n of names) {
    if (n === sni) return EXACT_SERVER_NAME;
    if (n.startsWith('*.') && sni.length > n.length - 1 && sni.endsWith(n.slice(1))) best = Math.max(best, n.length - 1);
  }
  return best;
}

/** The items whose server names match `sni` best (Envoy's server-name step); empty when none matches. */
export function bestByServerName<T>(items: readonly T[], namesOf: (item: T) => readonly string[], sni: string | undefined): T[] {
  let best = -1;
  let out: T[] = [];
  for (const item of items) {
    const score = serverNameScore(namesOf(item), sni);
    if (score < 0 || score < best) continue;
    if (score > best) {
      best = score;
      out = [];
    }
    out.push(item);
  }
  return out;
}
