// Small readers for Envoy resources in protobufjs object form (src/xds/codec.ts):
// camelCase fields, enums as strings, Durations as {seconds, nanos}, wrappers as {value},
// google.protobuf.Struct as {fields: {k: {stringValue | numberValue | boolValue ...}}}.
// Each reader throws ConfigRejectedError naming the resource and the field path.
import { ConfigRejectedError, type EnvoyObject } from '../../types.js';

export type Obj = Record<string, unknown>;

export function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Where a value sits, for error messages: `cluster "x": field a.b.c`. */
export class FieldPath {
  constructor(
    readonly resource: string,
    readonly path: string,
  ) {}
  at(field: string | number): FieldPath {
    if (typeof field === 'number') return new FieldPath(this.resource, `${this.path}[${field}]`);
    return new FieldPath(this.resource, this.path ? `${this.path}.${field}` : field);
  }
  error(problem: string): ConfigRejectedError {
    return new ConfigRejectedError(`${this.resource}: field ${this.path || '(root)'}: ${problem}`);
  }
  /** For expression positions (`x ?? at.reject(...)`); statements use `throw at.error(...)`. */
  reject(problem: string): never {
    throw this.error(problem);
  }
}

export function optObj(v: unknown, at: FieldPath): Obj | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) throw at.error('expected an object');
  return v;
}

export function optString(v: unknown, at: FieldPath): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') throw at.error('expected a string');
  return v;
}

export function optArray(v: unknown, at: FieldPath): unknown[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw at.error('expected a list');
  return v;
}

export function optNumber(v: unknown, at: FieldPath): number | undefined {
  if (v === undefined || v === null) return undefined;
  // google.protobuf.UInt32Value and friends appear as {value: n}.
  // A present wrapper without `value` holds 0: proto3 leaves zeros off the wire.
  const n = isObj(v) ? (v['value'] ?? 0) : v;
  const num = typeof n === 'string' && n.trim() !== '' ? Number(n) : n;
  if (typeof num !== 'number' || !Number.isFinite(num)) throw at.error('expected a number');
  return num;
}

/** google.protobuf.Duration ({seconds, nanos}, or the JSON string "1.5s") -> milliseconds. */
export function optDurationMs(v: unknown, at: FieldPath): number | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v === 'string') {
    const m = /^(-?\d+(?:\.\d+)?)s$/.exec(v);
    if (!m) throw at.error(`expected a duration like "1.5s", got ${JSON.stringify(v)}`);
    return Number(m[1]) * 1000;
  }
  if (!isObj(v)) throw at.error('expected a duration {seconds, nanos}');
  const s = v['seconds'] ?? 0;
  const n = v['nanos'] ?? 0;
  const sec: unknown = typeof s === 'string' ? Number(s) : s;
  if (typeof sec !== 'number' || !Number.isFinite(sec)) throw at.at('seconds').error('expected a number');
  if (typeof n !== 'number' || !Number.isFinite(n)) throw at.at('nanos').error('expected a number');
  return sec * 1000 + n / 1e6;
}

/**
 * google.protobuf.Struct -> plain object. Accepts the object form ({fields: {k: {stringValue}}})
 * and, leniently, an already-plain object ({k: 'v'}).
 */
export function structToPlain(v: unknown): Record<string, unknown> {
  if (!isObj(v)) return {};
  const fields = v['fields'];
  if (!isObj(fields)) return v;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(fields)) out[k] = structValue(fields[k]);
  return out;
}

function structValue(v: unknown): unknown {
  if (!isObj(v)) return v;
  if ('stringValue' in v) return v['stringValue'];
  if ('numberValue' in v) return v['numberValue'];
  if ('boolValue' in v) return v['boolValue'];
  if ('nullValue' in v) return null;
  if ('structValue' in v) return structToPlain(v['structValue']);
  if ('listValue' in v) {
    const lv = v['listValue'];
    const values = isObj(lv) && Array.isArray(lv['values']) ? lv['values'] : [];
    return values.map(structValue);
  }
  return v;
}

/** Inline data source: inlineString, or inlineBytes (base64 in object form). */
export function dataSource(v: unknown, at: FieldPath): string | undefined {
  const ds = optObj(v, at);
  if (!ds) return undefined;
  const s = optString(ds['inlineString'], at.at('inlineString'));
  if (s !== undefined) return s;
  const b = optString(ds['inlineBytes'], at.at('inlineBytes'));
  if (b !== undefined) return Buffer.from(b, 'base64').toString('utf8');
  if (ds['filename'] !== undefined) throw at.at('filename').error('file data sources are not supported; send the data inline or over SDS');
  return undefined;
}

export function resourceName(kind: string, name: string): string {
  return `${kind} ${JSON.stringify(name)}`;
}

export type { EnvoyObject };
