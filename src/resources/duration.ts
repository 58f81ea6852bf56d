// Duration strings as Istio and Kubernetes write them ("5s", "100ms", "1m30s", "1.5s", "1h").

export class DurationError extends Error {
  readonly code = 'WEFT_ERR_INVALID_DURATION';
  constructor(message: string) {
    super(message);
    this.name = 'DurationError';
  }
}

const UNIT_MS: Record<string, number> = { h: 3_600_000, m: 60_000, s: 1000, ms: 1, us: 0.001, 'µs': 0.001, ns: 0.000_001 };
const PART = /(\d+(?:\.\d+)?|\.\d+)(ms|us|µs|ns|h|m|s)/y;

/** Parses a duration into milliseconds. `field` names the field in the error message. */
export function parseDuration(text: string, field = 'duration'): number {
  const src = text.trim();
  if (src === '') throw new DurationError(`${field}: empty duration`);
  if (src === '0') return 0;
  let total = 0;
  PART.lastIndex = 0;
  while (PART.lastIndex < src.length) {
    const at = PART.lastIndex;
    const m = PART.exec(src);
    if (!m) {
      throw new DurationError(
        `${field}: invalid duration ${JSON.stringify(text)} at "${src.slice(at)}": expected a number and a unit (h, m, s, ms, us, ns), e.g. "5s", "100ms", "1m30s"`,
      );
    }
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
  }
  // Round away float noise ("0.3s" is 300, not 300.00000000000006).
  return Math.round(total * 1e6) / 1e6;
}
