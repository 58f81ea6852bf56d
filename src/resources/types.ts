// The envelope every parsed resource shares, and findings (errors and warnings)
// that name file, line and field path. Per-kind spec types live beside their parser.

export interface ObjectMeta {
  name: string;
  namespace: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

/** Where a resource was read from. */
export interface Origin {
  file: string;
  /** 1-based line of the document's first line. */
  line: number;
}

export interface Resource<Spec = unknown> {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  /** The validated spec (kind-specific; for Service/Deployment etc. the `spec` field). */
  spec: Spec;
  origin?: Origin;
}

export type Severity = 'error' | 'warning';

/** One problem found in input. `code` is stable (e.g. WEFT_YAML_SYNTAX, WEFT_UNKNOWN_FIELD, WEFT_UNKNOWN_KIND). */
export interface Finding {
  code: string;
  severity: Severity;
  message: string;
  file?: string;
  line?: number;
  /** Dotted field path inside the resource, e.g. spec.template.spec.containers[0].command */
  path?: string;
  resource?: { kind: string; namespace?: string; name?: string };
}

export function formatFinding(f: Finding): string {
  const where = f.file ? `${f.file}${f.line ? `:${f.line}` : ''}: ` : '';
  const what = f.resource ? `${f.resource.kind}${f.resource.name ? ` ${f.resource.namespace ? `${f.resource.namespace}/` : ''}${f.resource.name}` : ''}: ` : '';
  const field = f.path ? `${f.path}: ` : '';
  return `${where}${f.severity}: ${what}${field}${f.message} [${f.code}]`;
}

/** Thrown when input cannot be used at all; carries every finding. */
export class InvalidResourcesError extends Error {
  readonly code = 'WEFT_ERR_INVALID_RESOURCES';
  constructor(readonly findings: Finding[]) {
    super(findings.filter((f) => f.severity === 'error').map(formatFinding).join('\n'));
    this.name = 'InvalidResourcesError';
  }
}

/** Identifies a resource in the store. */
export function resourceKey(r: { kind: string; metadata: { namespace: string; name: string } }): string {
  return `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
}
