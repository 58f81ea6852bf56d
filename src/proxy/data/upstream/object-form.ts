// Checked readers for Envoy resources in object form: the shared readers of
// src/xds/object-form.ts (one reading of wrappers, Durations and Structs), except that a
// present value of the wrong shape throws ConfigRejectedError naming the resource and the
// field path instead of reading as absent.
import { Invalid, readDuration, readNumber, readStruct } from '../../../xds/object-form.js';
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

function checked<T>(v: T | Invalid | undefined, at: FieldPath): T | undefined {
  if (v instanceof Invalid) throw (v.field ? at.at(v.field) : at).error(v.problem);
  return v;
}

/** A number, numeric string or {value} wrapper (absent wrapper value: 0). */
export function optNumber(v: unknown, at: FieldPath): number | undefined {
  return checked(readNumber(v), at);
}

/**
 * google.protobuf.Duration -> whole milliseconds, truncated as Envoy truncates. With
 * `positive`, the duration itself must be greater than zero (Envoy's `gt: {}` rule), so a
 * sub-millisecond duration is accepted and reads as 0 ms, as in Envoy.
 */
export function optDurationMs(v: unknown, at: FieldPath, rule?: 'positive'): number | undefined {
  const ms = checked(readDuration(v), at);
  if (ms === undefined) return undefined;
  if (rule === 'positive' && !(ms > 0)) throw at.error('must be greater than zero');
  return Math.trunc(ms);
}

/** google.protobuf.Struct (object form) -> plain object; {} when absent. */
export function optStruct(v: unknown, at: FieldPath): Record<string, unknown> {
  return checked(readStruct(v), at) ?? {};
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
