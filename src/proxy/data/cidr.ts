// CIDR ranges of filter chain matches (Envoy CidrRange: addressPrefix + prefixLen) and
// whether an address falls in one. IPv4-mapped IPv6 addresses ("::ffff:10.0.0.1", as
// Node reports dual-stack sockets) are read as IPv4.
import net from 'node:net';

export interface Cidr {
  family: 4 | 6;
  /** The address as a big-endian integer (32 or 128 bits). */
  bits: bigint;
  prefixLen: number;
  /** As configured, for messages. */
  text: string;
}

function toBits(address: string): { family: 4 | 6; bits: bigint } | undefined {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  const a = mapped ? mapped[1]! : address;
  const family = net.isIP(a);
  if (family === 4) return { family: 4, bits: a.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) };
  if (family !== 6) return undefined;
  // Expand "::" and an embedded IPv4 tail into eight 16-bit groups.
  let s = a.replace(/%.*$/, '');
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const o = v4[1]!.split('.').map(Number);
    s = s.slice(0, -v4[1]!.length) + `${((o[0]! << 8) | o[1]!).toString(16)}:${((o[2]! << 8) | o[3]!).toString(16)}`;
  }
  const [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  return { family: 6, bits: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n) };
}

/** undefined when the prefix is not an IP or the length does not fit its family. */
export function compileCidr(addressPrefix: string, prefixLen: number): Cidr | undefined {
  const b = toBits(addressPrefix);
  if (!b) return undefined;
  const max = b.family === 4 ? 32 : 128;
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > max) return undefined;
  return { ...b, prefixLen, text: `${addressPrefix}/${prefixLen}` };
}

/** Whether `address` is inside the range. */
export function cidrContains(c: Cidr, address: string | undefined): boolean {
  if (!address) return false;
  const b = toBits(address);
  if (!b || b.family !== c.family) return false;
  const width = BigInt(c.family === 4 ? 32 : 128);
  const shift = width - BigInt(c.prefixLen);
  return b.bits >> shift === c.bits >> shift;
}
