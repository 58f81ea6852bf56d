// A small Prometheus text-format registry (counters and gauges), and the
// control plane's own metrics defined in one place.
export type Labels = Record<string, string>;

/** Single-label texts, made once: a push counts thousands of responses under a handful of labels. */
const singleLabelText = new Map<string, string>();

function labelText(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length === 0) return '';
  if (keys.length === 1) {
    const k = keys[0]!;
    const id = `${k}\u0000${labels[k]!}`;
    let t = singleLabelText.get(id);
    if (t === undefined) singleLabelText.set(id, (t = labelTextOf([k], labels)));
    return t;
  }
  return labelTextOf(keys.sort(), labels);
}

function labelTextOf(keys: string[], labels: Labels): string {
  const esc = (v: string) => v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
  return `{${keys.map((k) => `${k}="${esc(labels[k]!)}"`).join(',')}}`;
}

export class Counter {
  readonly #values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}

  inc(labels: Labels = {}, by = 1): void {
    const k = labelText(labels);
    this.#values.set(k, (this.#values.get(k) ?? 0) + by);
  }

  get(labels: Labels = {}): number {
    return this.#values.get(labelText(labels)) ?? 0;
  }

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    if (this.#values.size === 0) lines.push(`${this.name} 0`);
    for (const [k, v] of this.#values) lines.push(`${this.name}${k} ${v}`);
    return lines.join('\n');
  }
}

export class Gauge {
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly collect: () => number | { labels: Labels; value: number }[],
  ) {}

  render(): string {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    const v = this.collect();
    if (typeof v === 'number') lines.push(`${this.name} ${v}`);
    else for (const s of v) lines.push(`${this.name}${labelText(s.labels)} ${s.value}`);
    return lines.join('\n');
  }
}

export class MetricsRegistry {
  readonly #items: (Counter | Gauge)[] = [];

  counter(name: string, help: string): Counter {
    const c = new Counter(name, help);
    this.#items.push(c);
    return c;
  }

  gauge(name: string, help: string, collect: () => number | { labels: Labels; value: number }[]): Gauge {
    const g = new Gauge(name, help, collect);
    this.#items.push(g);
    return g;
  }

  render(): string {
    return `${this.#items.map((i) => i.render()).join('\n')}\n`;
  }
}

/** The control plane's counters; gauges are added by whoever owns the value. */
export interface ControlMetrics {
  registry: MetricsRegistry;
  /** DiscoveryResponses sent, by type (LDS, CDS, ...). */
  xdsPushes: Counter;
  /** NACKs received, by type. */
  xdsRejects: Counter;
  /** Config rebuilds (model + generation) after store/registry changes. */
  rebuilds: Counter;
  /** Per-proxy generation failures; the proxy keeps its last good config. */
  generateErrors: Counter;
  certsIssued: Counter;
  /** Certificate requests refused, by reason (code). */
  certsRejected: Counter;
}

export function createControlMetrics(): ControlMetrics {
  const registry = new MetricsRegistry();
  return {
    registry,
    xdsPushes: registry.counter('weft_xds_pushes_total', 'xDS responses sent to proxies, by type.'),
    xdsRejects: registry.counter('weft_xds_rejects_total', 'xDS responses rejected (NACKed) by proxies, by type.'),
    rebuilds: registry.counter('weft_config_rebuilds_total', 'Mesh model rebuilds after store or registry changes.'),
    generateErrors: registry.counter('weft_xds_generate_errors_total', 'Failures generating xDS for one proxy.'),
    certsIssued: registry.counter('weft_ca_certificates_issued_total', 'Workload certificates issued.'),
    certsRejected: registry.counter('weft_ca_certificates_rejected_total', 'Certificate requests refused, by reason.'),
  };
}
