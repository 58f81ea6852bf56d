// A small declarative schema for validating YAML nodes, so per-kind validators are
// tables. It walks the `yaml` AST (not plain JS) so every finding carries the line of
// the offending node, and it records each field's line by path for later checks.

import { isAlias, isMap, isScalar, isSeq, type Document, type LineCounter, type Node, type Pair } from 'yaml';
import type { Finding, Severity } from './types.js';
import { isIP } from 'node:net';
import { parseDuration } from './duration.js';

export { parseDuration, DurationError } from './duration.js';

/** Marks a value that failed validation (its findings are already reported). */
export const INVALID: unique symbol = Symbol('invalid');
export type Invalid = typeof INVALID;

/** One validation run over one resource document: collects findings and field lines. */
export class Validation {
  readonly findings: Finding[] = [];
  private readonly lines = new Map<string, number>();

  constructor(
    readonly file: string,
    private readonly doc: Document.Parsed,
    private readonly lineCounter: LineCounter,
    /** Stamped on every finding (the resource being validated). */
    public resource?: Finding['resource'],
  ) {}

  lineOfNode(node: Node | null | undefined): number | undefined {
    const start = node?.range?.[0];
    return start === undefined ? undefined : this.lineCounter.linePos(start).line;
  }

  /** Remember where a path is, so checks after the walk can still point at a line. */
  mark(path: string, node: Node | null | undefined): void {
    const line = this.lineOfNode(node);
    if (line !== undefined && !this.lines.has(path)) this.lines.set(path, line);
  }

  /** The line of `path`, or of its nearest recorded ancestor. */
  lineOf(path: string): number | undefined {
    for (let p = path; ; p = parentPath(p)) {
      const line = this.lines.get(p);
      if (line !== undefined) return line;
      if (p === '') return undefined;
    }
  }

  report(severity: Severity, code: string, path: string, message: string, line = this.lineOf(path)): void {
    const f: Finding = { code, severity, message, file: this.file };
    if (line !== undefined) f.line = line;
    if (path) f.path = path;
    if (this.resource) f.resource = this.resource;
    this.findings.push(f);
  }

  error(code: string, path: string, message: string, line?: number): void {
    this.report('error', code, path, message, line ?? this.lineOf(path));
  }

  warn(code: string, path: string, message: string, line?: number): void {
    this.report('warning', code, path, message, line ?? this.lineOf(path));
  }

  /**
   * WEFT_INVALID_FIELD at `<list>[i].<field>` for each item whose key an earlier item has
   * (items without a key are skipped): `duplicate <what> "<key>" (also <list>[j])`.
   */
  unique<T>(list: string, items: readonly T[] | undefined, key: (item: T) => string | number | undefined, field: string, what: string): void {
    const seen = new Map<string | number, number>();
    items?.forEach((item, i) => {
      const k = key(item);
      if (k === undefined) return;
      const prev = seen.get(k);
      const shown = typeof k === 'number' ? String(k) : `"${k}"`;
      if (prev !== undefined) this.error('WEFT_INVALID_FIELD', `${list}[${i}].${field}`, `duplicate ${what} ${shown} (also ${list}[${prev}])`);
      else seen.set(k, i);
    });
  }

  hasErrors(): boolean {
    return this.findings.some((f) => f.severity === 'error');
  }

  resolve(node: unknown): Node | null {
    if (isAlias(node)) return node.resolve(this.doc) ?? null;
    return (node as Node | null) ?? null;
  }
}

export interface Schema<T> {
  /** For messages: "a string", "an integer" ... */
  readonly expected: string;
  read(node: Node, v: Validation, path: string): T | Invalid;
}

// ---- paths

export function childPath(parent: string, key: string): string {
  const seg = /^[A-Za-z_$][\w$-]*$/.test(key) ? key : JSON.stringify(key);
  if (seg.startsWith('"')) return `${parent}[${seg}]`;
  return parent ? `${parent}.${seg}` : seg;
}

export function indexPath(parent: string, i: number): string {
  return `${parent}[${i}]`;
}

function parentPath(p: string): string {
  const m = /^(.*?)(?:\.[^.[\]]+|\[[^\]]*\])$/.exec(p);
  return m ? m[1]! : '';
}

// ---- helpers

function describeNode(node: Node): string {
  if (isMap(node)) return 'an object';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) {
    const val = node.value;
    if (val === null) return 'null';
    if (typeof val === 'string') return `string ${JSON.stringify(val)}`;
    return `${typeof val} ${String(val)}`;
  }
  return 'an unsupported value';
}

function mismatch(v: Validation, path: string, node: Node, expected: string): Invalid {
  v.error('WEFT_INVALID_FIELD', path, `expected ${expected}, got ${describeNode(node)}`, v.lineOfNode(node));
  return INVALID;
}

function scalarOf(node: Node): unknown {
  return isScalar(node) ? node.value : undefined;
}

/** Levenshtein distance, for "did you mean". */
export function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = tmp;
    }
  }
  return prev[b.length]!;
}

export function suggest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestD = Infinity;
  const lower = word.toLowerCase();
  for (const c of candidates) {
    const d = c.toLowerCase() === lower ? 0 : editDistance(lower, c.toLowerCase());
    if (d < bestD) {
      best = c;
      bestD = d;
    }
  }
  return best !== undefined && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : undefined;
}

// ---- scalars

export function str(opts: { pattern?: RegExp; patternHint?: string; nonEmpty?: boolean } = {}): Schema<string> {
  return {
    expected: 'a string',
    read(node, v, path) {
      const val = scalarOf(node);
      if (typeof val !== 'string') {
        const hint = typeof val === 'number' || typeof val === 'boolean' ? ' (quote it)' : '';
        return mismatch(v, path, node, `a string${hint}`);
      }
      if (opts.nonEmpty && val === '') return mismatch(v, path, node, 'a non-empty string');
      if (opts.pattern && !opts.pattern.test(val)) {
        v.error('WEFT_INVALID_FIELD', path, `${JSON.stringify(val)} is not ${opts.patternHint ?? `matching ${opts.pattern}`}`, v.lineOfNode(node));
        return INVALID;
      }
      return val;
    },
  };
}

export function int(opts: { min?: number; max?: number } = {}): Schema<number> {
  const range = opts.min !== undefined && opts.max !== undefined ? ` from ${opts.min} to ${opts.max}` : opts.min !== undefined ? ` >= ${opts.min}` : '';
  return {
    expected: `an integer${range}`,
    read(node, v, path) {
      const val = scalarOf(node);
      if (typeof val !== 'number' || !Number.isInteger(val)) return mismatch(v, path, node, this.expected);
      if ((opts.min !== undefined && val < opts.min) || (opts.max !== undefined && val > opts.max)) {
        v.error('WEFT_INVALID_FIELD', path, `${val} is out of range: expected ${this.expected}`, v.lineOfNode(node));
        return INVALID;
      }
      return val;
    },
  };
}

export function num(opts: { min?: number; max?: number } = {}): Schema<number> {
  return {
    expected: 'a number',
    read(node, v, path) {
      const val = scalarOf(node);
      if (typeof val !== 'number' || !Number.isFinite(val)) return mismatch(v, path, node, this.expected);
      if ((opts.min !== undefined && val < opts.min) || (opts.max !== undefined && val > opts.max)) {
        v.error('WEFT_INVALID_FIELD', path, `${val} is out of range [${opts.min ?? '-inf'}, ${opts.max ?? 'inf'}]`, v.lineOfNode(node));
        return INVALID;
      }
      return val;
    },
  };
}

export function bool(): Schema<boolean> {
  return {
    expected: 'true or false',
    read(node, v, path) {
      const val = scalarOf(node);
      return typeof val === 'boolean' ? val : mismatch(v, path, node, this.expected);
    },
  };
}

/** One of fixed strings. `caseInsensitive` accepts any case and returns the listed spelling. */
export function enumOf<const E extends string>(values: readonly E[], opts: { caseInsensitive?: boolean } = {}): Schema<E> {
  return {
    expected: `one of ${values.join(', ')}`,
    read(node, v, path) {
      const val = scalarOf(node);
      if (typeof val !== 'string') return mismatch(v, path, node, this.expected);
      const hit = values.find((e) => (opts.caseInsensitive ? e.toLowerCase() === val.toLowerCase() : e === val));
      if (hit !== undefined) return hit;
      const close = suggest(val, values);
      v.error('WEFT_INVALID_FIELD', path, `${JSON.stringify(val)} is not ${this.expected}${close ? ` (did you mean "${close}"?)` : ''}`, v.lineOfNode(node));
      return INVALID;
    },
  };
}

/** A duration string ("5s", "100ms", "1m30s"); kept as written, checked with parseDuration. */
export function duration(): Schema<string> {
  return {
    expected: 'a duration like "5s" or "100ms"',
    read(node, v, path) {
      const val = scalarOf(node);
      if (typeof val !== 'string') return mismatch(v, path, node, this.expected);
      try {
        parseDuration(val, path);
        return val;
      } catch (e) {
        v.error('WEFT_INVALID_FIELD', path, (e as Error).message.replace(`${path}: `, ''), v.lineOfNode(node));
        return INVALID;
      }
    },
  };
}

/** A regular expression (checked with JavaScript's engine; RE2-only syntax is rejected). */
export function regex(): Schema<string> {
  return {
    expected: 'a regular expression',
    read(node, v, path) {
      const val = scalarOf(node);
      if (typeof val !== 'string') return mismatch(v, path, node, this.expected);
      try {
        new RegExp(val);
        return val;
      } catch (e) {
        v.error('WEFT_INVALID_FIELD', path, `invalid regular expression: ${(e as Error).message}`, v.lineOfNode(node));
        return INVALID;
      }
    },
  };
}

/** An IP address or a CIDR block ("10.1.0.0/16", "fd00::/8"), as Istio's destinationSubnets. */
export function ipSubnet(): Schema<string> {
  return {
    expected: 'an IP address or CIDR block',
    read(node, v, path) {
      const val = scalarOf(node);
      if (typeof val !== 'string') return mismatch(v, path, node, this.expected);
      if (parseSubnet(val) === undefined) {
        v.error('WEFT_INVALID_FIELD', path, `${JSON.stringify(val)} is not an IP address or CIDR block (a.b.c.d/len)`, v.lineOfNode(node));
        return INVALID;
      }
      return val;
    },
  };
}

/** "a.b.c.d[/len]" or "v6[/len]" -> address and prefix length (full length when absent). */
export function parseSubnet(s: string): { address: string; prefixLen: number } | undefined {
  const slash = s.indexOf('/');
  const address = slash < 0 ? s : s.slice(0, slash);
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  if (slash < 0) return { address, prefixLen: max };
  const text = s.slice(slash + 1);
  const prefixLen = /^\d{1,3}$/.test(text) ? Number(text) : NaN;
  return prefixLen >= 0 && prefixLen <= max ? { address, prefixLen } : undefined;
}

// ---- composites

export function arr<T>(item: Schema<T>, opts: { minItems?: number } = {}): Schema<T[]> {
  return {
    expected: `a list of ${item.expected.replace(/^an? /, '')}`,
    read(node, v, path) {
      if (!isSeq(node)) return mismatch(v, path, node, 'a list');
      const out: T[] = [];
      let ok = true;
      node.items.forEach((raw, i) => {
        const p = indexPath(path, i);
        const child = v.resolve(raw);
        v.mark(p, child);
        if (child === null || (isScalar(child) && child.value === null)) {
          v.error('WEFT_INVALID_FIELD', p, `expected ${item.expected}, got null`, v.lineOfNode(child) ?? v.lineOf(path));
          ok = false;
          return;
        }
        const val = item.read(child, v, p);
        if (val === INVALID) ok = false;
        else out.push(val);
      });
      if (ok && opts.minItems !== undefined && out.length < opts.minItems) {
        v.error('WEFT_INVALID_FIELD', path, `needs at least ${opts.minItems} item${opts.minItems === 1 ? '' : 's'}`, v.lineOfNode(node));
        return INVALID;
      }
      return ok ? out : INVALID;
    },
  };
}

/** A mapping with free-form string keys (labels, headers ...). */
export function map<T>(value: Schema<T>): Schema<Record<string, T>> {
  return {
    expected: 'an object',
    read(node, v, path) {
      if (!isMap(node)) return mismatch(v, path, node, 'an object');
      const out: Record<string, T> = {};
      let ok = true;
      for (const pair of node.items as Pair<unknown, unknown>[]) {
        const key = String(scalarOf(v.resolve(pair.key) as Node) ?? '');
        const p = childPath(path, key);
        const child = v.resolve(pair.value);
        v.mark(p, (pair.key as Node) ?? child);
        if (child === null) {
          v.error('WEFT_INVALID_FIELD', p, `expected ${value.expected}, got null`, v.lineOfNode(pair.key as Node));
          ok = false;
          continue;
        }
        const val = value.read(child, v, p);
        if (val === INVALID) ok = false;
        else out[key] = val;
      }
      return ok ? out : INVALID;
    },
  };
}

/** The first alternative that reads without errors (e.g. int or string). */
export function oneOf<A, B>(a: Schema<A>, b: Schema<B>): Schema<A | B> {
  const expected = `${a.expected} or ${b.expected}`;
  return {
    expected,
    read(node, v, path) {
      for (const s of [a, b] as Schema<A | B>[]) {
        const before = v.findings.length;
        const val = s.read(node, v, path);
        if (val !== INVALID) return val;
        v.findings.splice(before);
      }
      return mismatch(v, path, node, expected);
    },
  };
}

export function intOrString(): Schema<number | string> {
  return oneOf(int({ min: 0 }), str({ nonEmpty: true }));
}

// ---- object fields

interface RequiredField<T> {
  readonly $field: 'required';
  readonly schema: Schema<T>;
  /** Why it is required, when not obvious (appears in the message). */
  readonly why?: string;
}
interface DefaultField<T> {
  readonly $field: 'default';
  readonly schema: Schema<T>;
  readonly value: () => T;
}
interface UnsupportedField<T> {
  readonly $field: 'unsupported';
  readonly reason: string;
  /** When given, the value is validated and kept in the spec; otherwise it is checked for nothing and dropped. */
  readonly schema?: Schema<T>;
}

type AnyField = Schema<unknown> | RequiredField<unknown> | DefaultField<unknown> | UnsupportedField<unknown>;
// A schema may be stricter than its type (e.g. `command` is optional upstream, required locally).
type OptionalFieldOf<V> = Schema<V> | UnsupportedField<V> | RequiredField<V> | DefaultField<V>;
type FieldOf<V> = undefined extends V ? OptionalFieldOf<Exclude<V, undefined>> : RequiredField<V> | DefaultField<V>;

/**
 * Fields of an object of type T: each key of T must have a field of its type (optional keys
 * a plain or unsupported schema, required keys `required()`/`withDefault()`); extra keys
 * (valid upstream, ignored by weft) may only be `unsupported(reason)`.
 */
export type Fields<T> = { [K in keyof T]-?: FieldOf<T[K]> } & { [extra: string]: AnyField };

export function required<T>(schema: Schema<T>, why?: string): RequiredField<T> {
  return why === undefined ? { $field: 'required', schema } : { $field: 'required', schema, why };
}

export function withDefault<T>(schema: Schema<T>, value: () => T): DefaultField<T> {
  return { $field: 'default', schema, value };
}

/** Valid upstream, accepted, not acted on by weft: a WEFT_UNSUPPORTED_FIELD warning. */
export function unsupported<T = never>(reason: string, schema?: Schema<T>): UnsupportedField<T> {
  return schema ? { $field: 'unsupported', reason, schema } : { $field: 'unsupported', reason };
}

export interface ObjectOptions<T> {
  /** At most one of these keys may be set (a protobuf oneof); with `exactlyOne`, exactly one. */
  oneOf?: { keys: readonly (keyof T & string)[]; exactlyOne?: boolean };
  /** Cross-field checks after the fields validated; report through `v` (lines via v.lineOf). */
  check?: (value: T, v: Validation, path: string) => void;
}

function isFieldMarker(f: unknown): f is RequiredField<unknown> | DefaultField<unknown> | UnsupportedField<unknown> {
  return typeof f === 'object' && f !== null && '$field' in f;
}

export function obj<T>(fields: Fields<T>, opts: ObjectOptions<T> = {}): Schema<T> {
  const table = fields as unknown as Record<string, Schema<unknown> | RequiredField<unknown> | DefaultField<unknown> | UnsupportedField<unknown>>;
  const known = Object.keys(table);
  return {
    expected: 'an object',
    read(node, v, path) {
      if (!isMap(node)) return mismatch(v, path, node, 'an object');
      const out: Record<string, unknown> = {};
      const seen = new Set<string>();
      let ok = true;
      for (const pair of node.items as Pair<unknown, unknown>[]) {
        const keyNode = v.resolve(pair.key);
        const key = String(scalarOf(keyNode as Node) ?? '');
        const p = childPath(path, key);
        v.mark(p, keyNode);
        const keyLine = v.lineOfNode(keyNode);
        const field = table[key];
        if (!Object.hasOwn(table, key) || field === undefined) {
          const close = suggest(key, known);
          v.error('WEFT_UNKNOWN_FIELD', p, `unknown field${close ? ` (did you mean "${close}"?)` : ''}`, keyLine);
          ok = false;
          continue;
        }
        seen.add(key);
        const child = v.resolve(pair.value);
        // An explicit null means "not set", as in Kubernetes.
        if (child === null || (isScalar(child) && child.value === null)) continue;
        if (isFieldMarker(field) && field.$field === 'unsupported') {
          v.warn('WEFT_UNSUPPORTED_FIELD', p, `accepted, not acted on: ${field.reason}`, keyLine);
          if (!field.schema) continue;
          const val = field.schema.read(child, v, p);
          if (val === INVALID) ok = false;
          else out[key] = val;
          continue;
        }
        const schema = isFieldMarker(field) ? field.schema! : field;
        const val = schema.read(child, v, p);
        if (val === INVALID) ok = false;
        else out[key] = val;
      }
      for (const [key, field] of Object.entries(table)) {
        if (out[key] !== undefined || !isFieldMarker(field)) continue;
        if (field.$field === 'default') out[key] = field.value();
        else if (field.$field === 'required' && !(seen.has(key) && !ok)) {
          const p = childPath(path, key);
          v.error('WEFT_MISSING_FIELD', p, field.why ? `required ${field.why}` : 'required field is missing', v.lineOfNode(node));
          ok = false;
        }
      }
      if (ok && opts.oneOf) {
        const set = opts.oneOf.keys.filter((k) => out[k] !== undefined);
        if (set.length > 1) {
          v.error('WEFT_INVALID_FIELD', childPath(path, set[1]!), `only one of ${opts.oneOf.keys.join(', ')} may be set (found ${set.join(' and ')})`);
          ok = false;
        } else if (set.length === 0 && opts.oneOf.exactlyOne) {
          v.error('WEFT_MISSING_FIELD', path, `one of ${opts.oneOf.keys.join(', ')} is required`, v.lineOfNode(node));
          ok = false;
        }
      }
      if (!ok) return INVALID;
      const value = out as T;
      if (opts.check) {
        const before = v.findings.filter((f) => f.severity === 'error').length;
        opts.check(value, v, path);
        if (v.findings.filter((f) => f.severity === 'error').length > before) return INVALID;
      }
      return value;
    },
  };
}
