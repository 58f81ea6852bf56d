// Hostname resolution for STRICT_DNS / LOGICAL_DNS clusters: dns.lookup (the system
// resolver, like getaddrinfo in Envoy's default), refreshed every dnsRefreshRate.
// A failed refresh keeps the last good answer.
import { lookup } from 'node:dns/promises';
import net from 'node:net';

export class DnsRefresher {
  private readonly answers = new Map<string, readonly string[]>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;
  /** Settles after the first round of lookups. */
  readonly ready: Promise<void>;

  constructor(
    readonly names: readonly string[],
    private readonly refreshMs: number,
    private readonly onChange: () => void,
  ) {
    this.ready = this.resolveAll().then(() => this.schedule());
  }

  /** Addresses for a hostname (IP literals resolve to themselves); empty until resolved. */
  addresses(name: string): readonly string[] {
    if (net.isIP(name) !== 0) return [name];
    return this.answers.get(name) ?? [];
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      void this.resolveAll().then(() => this.schedule());
    }, this.refreshMs);
    this.timer.unref();
  }

  private async resolveAll(): Promise<void> {
    let changed = false;
    await Promise.all(
      this.names.map(async (name) => {
        if (net.isIP(name) !== 0) return;
        try {
          const found = await lookup(name, { all: true });
          const addrs = found.map((a) => a.address);
          const prev = this.answers.get(name);
          if (!prev || prev.length !== addrs.length || prev.some((a, i) => a !== addrs[i])) {
            this.answers.set(name, addrs);
            changed = true;
          }
        } catch {
          // keep the last good answer
        }
      }),
    );
    if (changed && !this.stopped) this.onChange();
  }
}
