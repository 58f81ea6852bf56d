// CIDR ranges of filter chain matches (Envoy CidrRange: addressPrefix + prefixLen) and
// whether an address falls in one, with node's net.BlockList (built once per range at
// config time). IPv4-mapped IPv6 addresses ("::ffff:10.0.0.1", as Node reports
// dual-stack sockets) match IPv4 ranges, as BlockList does.
import net from 'node:net';

export interface Cidr {
  prefixLen: number;
  /** As configured, for messages. */
  text: string;
  list: net.BlockList;
}

/** undefined when the prefix is not an IP or the length does not fit its family. */
export function compileCidr(addressPrefix: string, prefixLen: number): Cidr | undefined {
  const family = net.isIP(addressPrefix);
  if (family === 0) return undefined;
  if (!Number.isInteger(prefixLen) || prefixLen < 0 || prefixLen > (family === 4 ? 32 : 128)) return undefined;
  const list = new net.BlockList();
  list.addSubnet(addressPrefix, prefixLen, family === 4 ? 'ipv4' : 'ipv6');
  return { prefixLen, text: `${addressPrefix}/${prefixLen}`, list };
}

/** Whether `address` is inside the range. */
export function cidrContains(c: Cidr, address: string | undefined): boolean {
  if (!address) return false;
  const family = net.isIP(address);
  return family !== 0 && c.list.check(address, family === 4 ? 'ipv4' : 'ipv6');
}
