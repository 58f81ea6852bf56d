// Multi-document YAML -> validated resources + findings (file, line, field path).

import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { LineCounter, isMap, isScalar, isSeq, parseAllDocuments, type Document, type Node, type YAMLMap } from 'yaml';
import type { Finding, Resource } from './types.js';
import { resourceKey } from './types.js';
import { documentSchema, type KindDef, type RawDoc } from './envelope.js';
import { lookupKind } from './registry.js';
import { INVALID, Validation, type Schema } from './schema.js';

export interface ParseResult {
  resources: Resource[];
  findings: Finding[];
}

const schemas = new WeakMap<KindDef<unknown>, Schema<RawDoc>>();
function schemaOf(def: KindDef<unknown>): Schema<RawDoc> {
  let s = schemas.get(def);
  if (!s) schemas.set(def, (s = documentSchema(def)));
  return s;
}

/** Parses every document of one YAML text; `file` names it in findings. */
export function parseYaml(text: string, file: string): ParseResult {
  const out: ParseResult = { resources: [], findings: [] };
  const lc = new LineCounter();
  const docs = parseAllDocuments(text, { lineCounter: lc, prettyErrors: false });
  if (!Array.isArray(docs)) return out; // an empty stream
  for (const doc of docs) {
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        out.findings.push({
          code: 'WEFT_YAML_SYNTAX',
          severity: 'error',
          message: e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, ''),
          file,
          line: lc.linePos(e.pos[0]).line,
        });
      }
      continue;
    }
    for (const w of doc.warnings) {
      out.findings.push({ code: 'WEFT_YAML_WARNING', severity: 'warning', message: w.message.split('\n')[0]!, file, line: lc.linePos(w.pos[0]).line });
    }
    const root = doc.contents;
    if (root === null || (isScalar(root) && root.value === null)) continue; // empty document
    readTop(root, doc, lc, file, out);
  }
  return dedupe(out);
}

function readTop(root: Node, doc: Document.Parsed, lc: LineCounter, file: string, out: ParseResult): void {
  if (!isMap(root)) {
    out.findings.push({ code: 'WEFT_INVALID_FIELD', severity: 'error', message: 'a resource document must be a mapping (apiVersion, kind, metadata ...)', file, line: lc.linePos(root.range?.[0] ?? 0).line });
    return;
  }
  if (scalarAt(root, 'kind') !== 'List') {
    readResource(root, doc, lc, file, out);
    return;
  }
  const items = root.get('items', true) as Node | undefined;
  if (items === undefined || items === null || (isScalar(items) && items.value === null)) return;
  if (!isSeq(items)) {
    out.findings.push({ code: 'WEFT_INVALID_FIELD', severity: 'error', message: 'expected a list', path: 'items', file, line: lc.linePos(items.range?.[0] ?? 0).line, resource: { kind: 'List' } });
    return;
  }
  for (const item of items.items) {
    const node = item as Node;
    if (isMap(node)) readResource(node, doc, lc, file, out);
    else out.findings.push({ code: 'WEFT_INVALID_FIELD', severity: 'error', message: 'a List item must be a mapping', file, line: lc.linePos(node.range?.[0] ?? 0).line, resource: { kind: 'List' } });
  }
}

function scalarAt(m: YAMLMap, key: string): unknown {
  const n = m.get(key, true) as Node | undefined;
  return n !== undefined && isScalar(n) ? n.value : undefined;
}

function keyLine(m: YAMLMap, key: string, lc: LineCounter): number {
  const pair = m.items.find((p) => isScalar(p.key) && p.key.value === key);
  const node = (pair?.key as Node | undefined) ?? m;
  return lc.linePos(node.range?.[0] ?? 0).line;
}

function readResource(node: YAMLMap, doc: Document.Parsed, lc: LineCounter, file: string, out: ParseResult): void {
  const line = lc.linePos(node.range?.[0] ?? 0).line;
  const kind = scalarAt(node, 'kind');
  const apiVersion = scalarAt(node, 'apiVersion');
  const meta = node.get('metadata', true) as Node | undefined;
  const name = meta && isMap(meta) ? scalarAt(meta, 'name') : undefined;
  const ns = meta && isMap(meta) ? scalarAt(meta, 'namespace') : undefined;
  for (const [field, val] of [['apiVersion', apiVersion], ['kind', kind]] as const) {
    if (typeof val !== 'string' || val === '') {
      out.findings.push({ code: 'WEFT_MISSING_FIELD', severity: 'error', message: `required field is missing: every resource needs apiVersion and kind`, path: field, file, line });
      return;
    }
  }
  const found = lookupKind(apiVersion as string, kind as string);
  const who: Finding['resource'] = { kind: kind as string, apiVersion: apiVersion as string };
  if (typeof name === 'string') who.name = name;
  if ('error' in found) {
    out.findings.push({ code: 'WEFT_UNKNOWN_KIND', severity: 'error', message: found.error, file, line: keyLine(node, 'kind', lc), resource: who });
    return;
  }
  const { def } = found;
  const namespace = def.clusterScoped ? '' : typeof ns === 'string' ? ns : 'default';
  if (namespace) who.namespace = namespace;
  const v = new Validation(file, doc, lc, who);
  const raw = schemaOf(def).read(node, v, '');
  if (raw !== INVALID) {
    if (def.clusterScoped && raw.metadata.namespace !== undefined) {
      v.warn('WEFT_UNSUPPORTED_FIELD', 'metadata.namespace', `accepted, not acted on: ${def.kind} is cluster-scoped`);
    }
    const res: Resource = {
      apiVersion: raw.apiVersion,
      kind: raw.kind,
      metadata: { name: raw.metadata.name, namespace, labels: raw.metadata.labels ?? {}, annotations: raw.metadata.annotations ?? {} },
      spec: def.topLevelSpec ? topLevelSpec(raw, def.topLevelSpec) : raw.spec ?? def.emptySpec?.() ?? {},
      origin: { file, line },
    };
    def.finish?.(res, v);
    if (!v.hasErrors()) out.resources.push(res);
  }
  out.findings.push(...v.findings);
}

/** The top-level fields a kind keeps beside metadata (Secret's type, data ...), gathered as its spec. */
function topLevelSpec(raw: RawDoc, fields: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(fields)) {
    const v = (raw as unknown as Record<string, unknown>)[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** A later definition of the same kind/namespace/name replaces an earlier one (as `kubectl apply` would), with a warning. */
function dedupe(result: ParseResult): ParseResult {
  const last = new Map<string, number>();
  result.resources.forEach((r, i) => last.set(resourceKey(r), i));
  if (last.size === result.resources.length) return result;
  const kept: Resource[] = [];
  result.resources.forEach((r) => {
    const later = result.resources[last.get(resourceKey(r))!]!;
    if (later === r) {
      kept.push(r);
      return;
    }
    const f: Finding = {
      code: 'WEFT_DUPLICATE_RESOURCE',
      severity: 'warning',
      message: `defined again at ${later.origin?.file}:${later.origin?.line}; the later definition is used`,
      resource: { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name },
    };
    if (r.origin) Object.assign(f, { file: r.origin.file, line: r.origin.line });
    result.findings.push(f);
  });
  return { resources: kept, findings: result.findings };
}

const YAML_EXT = new Set(['.yaml', '.yml']);

function listYamlFiles(dir: string, recursive: boolean): string[] {
  const files: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const p = join(d, entry.name);
      if (entry.isDirectory()) {
        if (recursive) walk(p);
      }
      else if (entry.isFile() && YAML_EXT.has(extname(entry.name).toLowerCase())) files.push(p);
    }
  };
  walk(dir);
  // Sorted by path relative to the root, so the same folder always loads the same way.
  return files.sort((a, b) => (relative(dir, a) < relative(dir, b) ? -1 : relative(dir, a) > relative(dir, b) ? 1 : 0));
}

/**
 * Loads a YAML file, or every *.yaml / *.yml in a folder, sorted. Like `kubectl apply -f`,
 * sub-folders are read only when `recursive` is set, so a folder can keep examples beside
 * what it runs.
 */
export function loadPath(path: string, opts: { recursive?: boolean } = {}): ParseResult {
  let files: string[];
  try {
    files = statSync(path).isDirectory() ? listYamlFiles(path, opts.recursive ?? false) : [path];
  } catch (e) {
    return { resources: [], findings: [{ code: 'WEFT_READ_ERROR', severity: 'error', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file: path }] };
  }
  const all: ParseResult = { resources: [], findings: [] };
  for (const file of files) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (e) {
      all.findings.push({ code: 'WEFT_READ_ERROR', severity: 'error', message: `cannot read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`, file });
      continue;
    }
    const r = parseYaml(text, file);
    all.resources.push(...r.resources);
    all.findings.push(...r.findings);
  }
  return dedupe(all);
}
