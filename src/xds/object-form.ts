// Readers for Envoy resources in protobufjs object form (codec.ts): camelCase fields,
// enums as strings, wrapper types (BoolValue, UInt32Value ...) as {value: x}, Durations as
// {seconds, nanos}, Struct as {fields: {k: {stringValue | numberValue | boolValue |
// structValue | listValue | nullValue}}}. Both writers and readers of Envoy objects go
// through these so nobody guesses.

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** `v` when it is an object (not null, not an array), else undefined. */
export function obj(v: unknown): Obj | undefined {
  return isObj(v) ? v : undefined;
}

/** The objects of a list (other entries dropped); [] when absent. */
export function arr(v: unknown): Obj[] {
  return Array.isArray(v) ? (v.filter(isObj) as Obj[]) : [];
}

/** The strings of a list (other entries dropped); [] when absent. */
export function strs(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/**
 * A present value that is not what the field needs: the problem, and the sub-field it is
 * in (a Duration's `seconds`). The checked readers (src/proxy/data/upstream/object-form.ts)
 * turn it into an error naming the field path; the lenient readers here read it as absent.
 */
export class Invalid {
  constructor(
    readonly problem: string,
    readonly field?: string,
  ) {}
}

/**
 * A finite number, a numeric string (a 64-bit field), or a UInt32Value/DoubleValue wrapper
 * {value}; undefined when absent. A present wrapper without `value` holds 0 (see `unwrap`).
 */
export function readNumber(v: unknown): number | Invalid | undefined {
  if (v === undefined || v === null) return undefined;
  if (isObj(v)) return v.value === undefined || v.value === null ? 0 : readNumber(v.value);
  const n = typeof v === 'string' && v.trim() !== '' ? Number(v) : v;
  return typeof n === 'number' && Number.isFinite(n) ? n : new Invalid('expected a number');
}

/** `readNumber`, reading anything that is not a number as absent. */
export function num(v: unknown): number | undefined {
  const n = readNumber(v);
  return typeof n === 'number' ? n : undefined;
}

/** A boolean or a BoolValue wrapper {value}; undefined when absent. A present wrapper without `value` holds false. */
export function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  return isObj(v) ? (bool(v.value) ?? false) : undefined;
}

/**
 * A google.protobuf.*Value wrapper (or a bare value) -> the value, or `fallback` when the
 * field is absent. A present wrapper without `value` holds the zero value: proto3 does not
 * put zeros on the wire, so `{value: 0}` arrives as `{}` and must read as 0, not as the default.
 */
export function unwrap<T extends boolean | number | string>(v: unknown, fallback: T): T {
  if (v === undefined || v === null) return fallback;
  if (isObj(v)) return (v.value === undefined ? zeroOf(fallback) : (v.value as T));
  return v as T;
}

function zeroOf<T extends boolean | number | string>(like: T): T {
  return (typeof like === 'number' ? 0 : typeof like === 'boolean' ? false : '') as T;
}

/** The '@type' of an Any: the message name after the last '/' ('' when absent). */
export function anyType(v: unknown): string {
  const t = str(obj(v)?.['@type']) ?? '';
  return t.slice(t.lastIndexOf('/') + 1);
}

/** google.protobuf.Value -> plain JSON value (undefined when no kind is set). */
function valueToJson(v: unknown): unknown {
  if (!isObj(v)) return undefined;
  if ('stringValue' in v) return v.stringValue;
  if ('numberValue' in v) return v.numberValue;
  if ('boolValue' in v) return v.boolValue;
  if ('nullValue' in v) return null;
  if ('structValue' in v) return structToJson(v.structValue);
  if ('listValue' in v) {
    const list = v.listValue;
    return isObj(list) && Array.isArray(list.values) ? list.values.map(valueToJson) : [];
  }
  return undefined;
}

/**
 * google.protobuf.Struct in object form -> plain JSON object; undefined when absent.
 * An empty Struct decodes as `{}`. A plain object with other keys ({tlsMode: 'istio'}, the
 * proto3 *JSON* mapping) is Invalid: the codec drops such keys when it encodes, so
 * accepting it here would make an in-process config mean something it cannot mean on the wire.
 */
export function readStruct(s: unknown): Record<string, unknown> | Invalid | undefined {
  if (s === undefined || s === null) return undefined;
  if (!isObj(s)) return new Invalid('expected a google.protobuf.Struct {fields}');
  const fields = s.fields;
  if (fields === undefined || fields === null) {
    const extra = Object.keys(s).filter((k) => k !== '@type');
    if (extra.length) return new Invalid(`expected a google.protobuf.Struct in object form {fields: {k: {stringValue: ...}}}, got a plain object with ${extra.map((k) => JSON.stringify(k)).join(', ')}`);
    return {};
  }
  if (!isObj(fields)) return new Invalid('expected an object', 'fields');
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(fields)) out[k] = valueToJson(fields[k]);
  return out;
}

/** `readStruct`, reading anything that is not a Struct as empty: {} when absent or invalid. */
export function structToJson(s: unknown): Record<string, unknown> {
  const r = readStruct(s);
  return r === undefined || r instanceof Invalid ? {} : r;
}

/** Plain JSON object -> google.protobuf.Struct object form. */
export function jsonToStruct(obj: Record<string, unknown>): Obj {
  const fields: Obj = {};
  for (const [k, v] of Object.entries(obj)) fields[k] = jsonToValue(v);
  return { fields };
}

function jsonToValue(v: unknown): Obj {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  return { structValue: jsonToStruct(v as Record<string, unknown>) };
}

// Duration bounds (google/protobuf/duration.proto); Envoy rejects negative durations
// ("Expected positive duration") and converts the rest to whole milliseconds, truncating.
const MAX_SECONDS = 315_576_000_000;

/**
 * google.protobuf.Duration ({seconds, nanos}, or the JSON form "1.5s") -> exact milliseconds,
 * possibly fractional; undefined when absent. Negative and out-of-range durations are Invalid,
 * as in Envoy. Callers take whole milliseconds with `Math.trunc` (see `durationMs`) and
 * check "greater than zero" rules against the exact value, as Envoy's validation does.
 */
export function readDuration(d: unknown): number | Invalid | undefined {
  if (d === undefined || d === null) return undefined;
  if (typeof d === 'string') {
    const m = /^(\d+)(?:\.(\d{1,9}))?s$/.exec(d);
    if (!m) return new Invalid(`expected a non-negative duration like "1.5s", got ${JSON.stringify(d)}`);
    return checkDuration(Number(m[1]), Number((m[2] ?? '').padEnd(9, '0')));
  }
  if (!isObj(d)) return new Invalid('expected a duration {seconds, nanos}');
  const seconds = readNumber(d.seconds) ?? 0;
  if (seconds instanceof Invalid) return new Invalid(seconds.problem, 'seconds');
  const nanos = d.nanos === undefined || d.nanos === null ? 0 : d.nanos;
  if (typeof nanos !== 'number' || !Number.isInteger(nanos)) return new Invalid('expected a whole number', 'nanos');
  if (!Number.isInteger(seconds)) return new Invalid('expected a whole number', 'seconds');
  return checkDuration(seconds, nanos);
}

function checkDuration(seconds: number, nanos: number): number | Invalid {
  if (seconds < 0 || nanos < 0) return new Invalid('must not be negative');
  if (seconds > MAX_SECONDS) return new Invalid(`out of range (at most ${MAX_SECONDS} s)`, 'seconds');
  if (nanos > 999_999_999) return new Invalid('out of range (0-999999999)', 'nanos');
  return seconds * 1000 + nanos / 1e6;
}

/**
 * google.protobuf.Duration -> whole milliseconds, truncated as Envoy's
 * DurationUtil::durationToMilliseconds does (so 0.5 ms is 0, which for a timeout means
 * "none", as in Envoy); `fallback` (undefined unless given) when absent or not a duration.
 */
export function durationMs(d: unknown): number | undefined;
export function durationMs(d: unknown, fallback: number): number;
export function durationMs(d: unknown, fallback?: number): number | undefined {
  const ms = readDuration(d);
  return typeof ms === 'number' ? Math.trunc(ms) : fallback;
}
