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
 * A number, a numeric string (a 64-bit field), or a UInt32Value/DoubleValue wrapper {value};
 * undefined when absent. A present wrapper without `value` holds 0 (see `unwrap`).
 */
export function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '' && !Number.isNaN(Number(v))) return Number(v);
  return isObj(v) ? (num(v.value) ?? 0) : undefined;
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

/** google.protobuf.Value -> plain JSON value. */
function valueToJson(v: unknown): unknown {
  if (!isObj(v)) return v;
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

/** google.protobuf.Struct -> plain JSON object ({} when absent). */
export function structToJson(s: unknown): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (!isObj(s) || !isObj(s.fields)) return out;
  for (const [k, v] of Object.entries(s.fields)) out[k] = valueToJson(v);
  return out;
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

/**
 * google.protobuf.Duration ({seconds, nanos}, or the JSON form "1.5s") -> milliseconds;
 * `fallback` (undefined unless given) when absent or not a duration.
 */
export function durationMs(d: unknown): number | undefined;
export function durationMs(d: unknown, fallback: number): number;
export function durationMs(d: unknown, fallback?: number): number | undefined {
  if (typeof d === 'string') {
    const m = /^(-?\d+(?:\.\d+)?)s$/.exec(d);
    return m ? Math.round(Number(m[1]) * 1000) : fallback;
  }
  if (!isObj(d)) return fallback;
  return Math.round((num(d.seconds) ?? 0) * 1000 + (num(d.nanos) ?? 0) / 1e6);
}
