// Subject-alternative-name checks on the upstream's certificate (Envoy's
// matchTypedSubjectAltNames) and the SPIFFE identity it proves.
import type { SanMatcher, SanType } from './tls-config.js';

export interface PeerSans {
  uri: string[];
  dns: string[];
  email: string[];
  ip: string[];
}

const NODE_SAN_PREFIX: Record<string, keyof PeerSans> = { URI: 'uri', DNS: 'dns', email: 'email', 'IP Address': 'ip' };
const FIELD: Record<SanType, keyof PeerSans> = { URI: 'uri', DNS: 'dns', EMAIL: 'email', IP_ADDRESS: 'ip' };

/** Parse Node's `subjectaltname` string ("URI:spiffe://..., DNS:x, IP Address:1.2.3.4"; values with commas are JSON-quoted). */
export function parseSubjectAltName(san: string | undefined): PeerSans {
  const out: PeerSans = { uri: [], dns: [], email: [], ip: [] };
  if (!san) return out;
  let i = 0;
  while (i < san.length) {
    const colon = san.indexOf(':', i);
    if (colon < 0) break;
    const kind = san.slice(i, colon);
    let value: string;
    let end: number;
    if (san[colon + 1] === '"') {
      // JSON string literal: find its closing quote.
      let j = colon + 2;
      while (j < san.length && san[j] !== '"') j += san[j] === '\\' ? 2 : 1;
      end = j + 1;
      try {
        value = JSON.parse(san.slice(colon + 1, end)) as string;
      } catch {
        value = san.slice(colon + 2, j);
      }
    } else {
      const comma = san.indexOf(', ', colon + 1);
      end = comma < 0 ? san.length : comma;
      value = san.slice(colon + 1, end);
    }
    const field = NODE_SAN_PREFIX[kind];
    if (field) out[field].push(value);
    i = end;
    if (san.startsWith(', ', i)) i += 2;
  }
  return out;
}

function matches(m: SanMatcher, raw: string): boolean {
  const v = m.ignoreCase ? raw.toLowerCase() : raw;
  const lc = (s: string): string => (m.ignoreCase ? s.toLowerCase() : s);
  if (m.exact !== undefined) return v === lc(m.exact);
  if (m.prefix !== undefined) return v.startsWith(lc(m.prefix));
  if (m.suffix !== undefined) return v.endsWith(lc(m.suffix));
  if (m.contains !== undefined) return v.includes(lc(m.contains));
  if (m.regex) return m.regex.test(raw);
  return false;
}

/** True when the list is empty or any matcher accepts any SAN of its type. */
export function sanAllowed(matchers: readonly SanMatcher[], sans: PeerSans): boolean {
  if (matchers.length === 0) return true;
  for (const m of matchers) {
    for (const v of sans[FIELD[m.type]]) if (matches(m, v)) return true;
  }
  return false;
}

/** The SPIFFE id among the URI SANs, if any. */
export function spiffeIdOf(sans: PeerSans): string | undefined {
  for (const u of sans.uri) if (u.startsWith('spiffe://')) return u;
  return undefined;
}
