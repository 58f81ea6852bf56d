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
  /** The resource the finding is about; `apiVersion` tells apart kinds of the same name in different API groups. */
  resource?: { kind: string; namespace?: string; name?: string; apiVersion?: string };
}

export function formatFinding(f: Finding): string {
  const where = f.file ? `${f.file}${f.line ? `:${f.line}` : ''}: ` : '';
  const what = f.resource ? `${f.resource.kind}${f.resource.name ? ` ${f.resource.namespace ? `${f.resource.namespace}/` : ''}${f.resource.name}` : ''}: ` : '';
  const field = f.path ? `${f.path}: ` : '';
  return `${where}${f.severity}: ${what}${field}${f.message} [${f.code}]`;
}

/** The API group of an apiVersion: "networking.istio.io/v1" -> "networking.istio.io"; "v1" (core) -> "". */
export function apiGroup(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

/**
 * Identifies a resource: API group + kind + namespace + name, so Istio's `Gateway` and
 * the Gateway API's `Gateway` (or Linkerd's and the Gateway API's `HTTPRoute`) with the
 * same name are different resources. The control plane's store keys the same way.
 */
export function resourceKey(r: { apiVersion: string; kind: string; metadata: { namespace: string; name: string } }): string {
  return `${apiGroup(r.apiVersion)}/${r.kind}/${r.metadata.namespace}/${r.metadata.name}`;
}
