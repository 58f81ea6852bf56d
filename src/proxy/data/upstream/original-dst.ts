// ORIGINAL_DST clusters (Istio's PassthroughCluster and resolution NONE ServiceEntries):
// the host is where the request was going. With originalDstLbConfig.useHttpHeader the
// destination is the x-envoy-original-dst-host header (or httpHeaderName); when the
// request carries no such header, or the header is not in use, it is the request's
// authority — for an HTTP proxy sidecar that is the original destination (weft has no
// SO_ORIGINAL_DST on the HTTP path). Hostnames are resolved by the dialer at connect.
// Hosts are made on first use and dropped after cleanupInterval without traffic.
import net from 'node:net';
import type { Host } from './host.js';
import type { OriginalDstConfig } from './resilience-config.js';
import type { UpstreamRequest } from './types.js';

export interface Destination {
  address: string;
  port: number;
}

/** "host:port", "[v6]:port", "v6", or "host" (port from the scheme). Undefined when malformed. */
export function parseDestination(value: string, scheme: 'http' | 'https'): Destination | undefined {
  const v = value.trim();
  if (v === '') return undefined;
  const defaultPort = scheme === 'https' ? 443 : 80;
  let address: string;
  let portText: string | undefined;
  if (v.charCodeAt(0) === 91 /* '[' */) {
    const end = v.indexOf(']');
    if (end < 0) return undefined;
    address = v.slice(1, end);
    const rest = v.slice(end + 1);
    if (rest !== '' && rest.charCodeAt(0) !== 58 /* ':' */) return undefined;
    portText = rest === '' ? undefined : rest.slice(1);
  } else if (net.isIPv6(v)) {
    address = v;
  } else {
    const colon = v.lastIndexOf(':');
    address = colon < 0 ? v : v.slice(0, colon);
    portText = colon < 0 ? undefined : v.slice(colon + 1);
  }
  if (address === '' || /[\s/@]/.test(address)) return undefined;
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!Number.isInteger(port) || port < 1 || port > 65535) return undefined;
  return { address, port };
}

export function originalDestination(req: UpstreamRequest, cfg: OriginalDstConfig): Destination | undefined {
  if (cfg.useHttpHeader) {
    const h = req.headers[cfg.headerName];
    const value = Array.isArray(h) ? h[0] : h;
    if (value !== undefined && value !== '') return parseDestination(value, req.scheme);
  }
  return parseDestination(req.authority, req.scheme);
}

/** The hosts of one ORIGINAL_DST cluster, by destination. */
export class OriginalDstHosts {
  private readonly hosts = new Map<string, Host>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly make: (dst: Destination) => Host,
    cleanupMs: number,
    private readonly graceMs: number,
    private readonly onChange: (count: number) => void,
  ) {
    this.timer = setInterval(() => this.cleanup(Date.now() - cleanupMs), cleanupMs);
    this.timer.unref();
  }

  hostFor(dst: Destination): Host {
    const k = `${dst.address}:${dst.port}`;
    let h = this.hosts.get(k);
    if (!h) {
      h = this.make(dst);
      this.hosts.set(k, h);
      this.onChange(this.hosts.size);
    }
    return h;
  }

  /** Drop idle hosts unused since `before`. */
  cleanup(before: number): void {
    let changed = false;
    for (const [k, h] of this.hosts) {
      if (h.active === 0 && h.lastUsed < before) {
        this.hosts.delete(k);
        void h.close(this.graceMs);
        changed = true;
      }
    }
    if (changed) this.onChange(this.hosts.size);
  }

  list(): readonly Host[] {
    return [...this.hosts.values()];
  }

  close(): Promise<void> {
    clearInterval(this.timer);
    const waits = [...this.hosts.values()].map((h) => h.close(this.graceMs));
    this.hosts.clear();
    return Promise.all(waits).then(() => undefined);
  }
}
