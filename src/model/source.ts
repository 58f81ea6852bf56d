// Model findings and SourceRefs point back at the resource they came from; which
// dialect a resource is (kind + apiVersion, as kinds repeat across API groups).

import type { Finding, Resource } from '../resources/types.js';
import type { SourceRef } from './types.js';

/** The resource is `kind` in one of `versions` (Istio's and the Gateway API's `Gateway` share a kind). */
export function isOf(r: Resource, kind: string, versions: readonly string[]): boolean {
  return r.kind === kind && versions.includes(r.apiVersion);
}

export function sourceOf(r: Resource): SourceRef {
  const ref: SourceRef = { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name };
  if (r.origin) ref.origin = `${r.origin.file}:${r.origin.line}`;
  return ref;
}

export function findingFor(r: Resource, severity: Finding['severity'], code: string, path: string | undefined, message: string): Finding {
  const f: Finding = { code, severity, message, resource: { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name } };
  if (r.origin) {
    f.file = r.origin.file;
    f.line = r.origin.line;
  }
  if (path) f.path = path;
  return f;
}

/** What each dialect's route translator starts from: its resource, that resource's namespace, and warnings on it. */
export abstract class ResourceTranslator<S> {
  constructor(
    protected readonly r: Resource<S>,
    private readonly findings: Finding[],
  ) {}

  protected get ns(): string {
    return this.r.metadata.namespace;
  }

  protected warn(code: string, path: string, message: string): void {
    this.findings.push(findingFor(this.r as Resource, 'warning', code, path, message));
  }
}
