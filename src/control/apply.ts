// `weft apply` on the control plane: parse and validate YAML, store the valid
// resources, report each resource's fate. An invalid resource is rejected with
// its findings and whatever was stored under its name stays in force.
import { resourceKey, type Finding } from '../resources/types.js';
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
  // A resource with an error is rejected, and so is a valid definition of the same
  // resource elsewhere in the text: the user's latest intent for it did not validate.
  const rejected = new Map<string, ApplyResultEntry>();
  for (const f of findings) {
    if (f.severity !== 'error' || !f.resource?.name) continue;
    const entry: ApplyResultEntry = { kind: f.resource.kind, namespace: f.resource.namespace ?? '', name: f.resource.name, action: 'rejected' };
    rejected.set(resourceKey({ apiVersion: f.resource.apiVersion ?? '', kind: entry.kind, metadata: { namespace: entry.namespace, name: entry.name } }), entry);
  }
  const valid = resources.filter((r) => !rejected.has(resourceKey(r)));
  const stored = await store.apply(valid);
  const results: ApplyResultEntry[] = [
    ...stored.map((r) => ({ kind: r.kind, namespace: r.namespace, name: r.name, action: r.action })),
    ...rejected.values(),
  ];
  return { response: { results, findings }, anyValid: valid.length > 0 };
}
