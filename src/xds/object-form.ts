// Readers for the parts of protobufjs object form that are not plain JSON:
// wrapper types (BoolValue, UInt32Value ...) arrive as {value: x}, Struct as
// {fields: {k: {stringValue | numberValue | boolValue | structValue | listValue | nullValue}}}.
// Both writers and readers of Envoy objects go through these so nobody guesses.

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
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

/** google.protobuf.Value -> plain JSON value. */
export function valueToJson(v: unknown): unknown {
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

export function jsonToValue(v: unknown): Obj {
  if (v === null || v === undefined) return { nullValue: 'NULL_VALUE' };
  if (typeof v === 'string') return { stringValue: v };
  if (typeof v === 'number') return { numberValue: v };
  if (typeof v === 'boolean') return { boolValue: v };
  if (Array.isArray(v)) return { listValue: { values: v.map(jsonToValue) } };
  return { structValue: jsonToStruct(v as Record<string, unknown>) };
}

/** google.protobuf.Duration object form ({seconds, nanos}) -> milliseconds; `fallback` when absent. */
export function durationMs(d: unknown, fallback: number): number {
  if (!isObj(d)) return fallback;
  const seconds = Number(d.seconds ?? 0);
  const nanos = Number(d.nanos ?? 0);
  return seconds * 1000 + Math.round(nanos / 1e6);
}

/** Endpoint or cluster metadata: filterMetadata[filter] as plain JSON. */
export function filterMetadata(metadata: unknown, filter: string): Record<string, unknown> {
  if (!isObj(metadata) || !isObj(metadata.filterMetadata)) return {};
  return structToJson(metadata.filterMetadata[filter]);
}
