// Envoy's %REQ(...)% command operator in a direct response body: the request header
// named (`:authority`, `:path`, `:method` too; case-insensitive), `%REQ(X?Y)%` falling back
// to Y, `%REQ(X):N%` cut to N characters, "-" when absent. weft's REGISTRY_ONLY reply names
// the blocked host this way. Compiled once per route; bodies without an operator cost nothing.

export type BodyFormat = (value: (name: string) => string | undefined) => string;

const OPERATOR = /%REQ\(([^)?]+)(?:\?([^)]+))?\)(?::(\d+))?%/g;

/** undefined when the text has no %REQ(...)% operator: send it as it is. */
export function compileBodyFormat(text: string): BodyFormat | undefined {
  const parts: (string | { name: string; alt: string | undefined; max: number | undefined })[] = [];
  let last = 0;
  for (const m of text.matchAll(OPERATOR)) {
    parts.push(text.slice(last, m.index));
    parts.push({ name: m[1]!.trim().toLowerCase(), alt: m[2]?.trim().toLowerCase(), max: m[3] === undefined ? undefined : Number(m[3]) });
    last = m.index! + m[0].length;
  }
  if (parts.length === 0) return undefined;
  parts.push(text.slice(last));
  return (value) => {
    let out = '';
    for (const p of parts) {
      if (typeof p === 'string') out += p;
      else {
        const v = value(p.name) ?? (p.alt === undefined ? undefined : value(p.alt));
        out += v === undefined ? '-' : p.max === undefined ? v : v.slice(0, p.max);
      }
    }
    return out;
  };
}
