// `weft apply` on the control plane: parse and validate YAML, store the valid
// resources, report each resource's fate. An invalid resource is rejected with
// its findings and whatever was stored under its name stays in force.
import type { Finding } from '../resources/types.js';
import type { ParseYamlFn } from './pipeline.js';
import type { ApplyAction, ResourceStore } from './store.js';

export interface ApplyResultEntry {
  kind: string;
  namespace: string;
  name: string;
  action: ApplyAction | 'rejected';
}

export interface ApplyResponse {
  results: ApplyResultEntry[];
  findings: Finding[];
}

export async function applyYaml(store: ResourceStore, parseYaml: ParseYamlFn, text: string, source: string): Promise<{ response: ApplyResponse; anyValid: boolean }> {
  const { resources, findings } = parseYaml(text, source);
  const rejected = new Map<string, ApplyResultEntry>();
  for (const f of findings) {
    if (f.severity !== 'error' || !f.resource?.name) continue;
    const entry: ApplyResultEntry = { kind: f.resource.kind, namespace: f.resource.namespace ?? '', name: f.resource.name, action: 'rejected' };
    rejected.set(`${entry.kind}/${entry.namespace}/${entry.name}`, entry);
  }
  const isRejected = (kind: string, namespace: string, name: string): boolean =>
    rejected.has(`${kind}/${namespace}/${name}`) || rejected.has(`${kind}//${name}`);
  const valid = resources.filter((r) => !isRejected(r.kind, r.metadata.namespace, r.metadata.name));
  const stored = await store.apply(valid);
  const results: ApplyResultEntry[] = [
    ...stored.map((r) => ({ kind: r.kind, namespace: r.namespace, name: r.name, action: r.action })),
    ...rejected.values(),
  ];
  return { response: { results, findings }, anyValid: valid.length > 0 };
}
