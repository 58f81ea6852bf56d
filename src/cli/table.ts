// Aligned plain-text tables: upper-case headers, columns separated by three spaces,
// no trailing spaces. `-` stands in for empty cells.

export type Cell = string | number | boolean | undefined | null;

export function renderTable(headers: string[], rows: Cell[][], opts: { indent?: string; gap?: number } = {}): string {
  const indent = opts.indent ?? '';
  const gap = ' '.repeat(opts.gap ?? 3);
  const text = rows.map((r) => headers.map((_, i) => cellText(r[i])));
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => r[i]!.length)));
  const line = (cells: string[]) => indent + cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join(gap).trimEnd();
  return [line(headers), ...text.map(line)].join('\n');
}

/** Label/value pairs, labels padded to one width. */
export function renderPairs(pairs: [string, Cell][], indent = ''): string {
  const w = Math.max(0, ...pairs.map(([k]) => k.length));
  return pairs.map(([k, v]) => `${indent}${k.padEnd(w)}   ${cellText(v)}`.trimEnd()).join('\n');
}

function cellText(c: Cell): string {
  if (c === undefined || c === null || c === '') return '-';
  return String(c);
}

/** Kubernetes-style age: 45s, 3m12s, 2h5m, 3d4h. */
export function age(sinceMs: number, now = Date.now()): string {
  const s = Math.max(0, Math.floor((now - sinceMs) / 1000));
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${s % 60 ? `${s % 60}s` : ''}`;
  const h = Math.floor(m / 60);
  if (h < 24) return `${h}h${m % 60 ? `${m % 60}m` : ''}`;
  const d = Math.floor(h / 24);
  return `${d}d${h % 24 ? `${h % 24}h` : ''}`;
}
