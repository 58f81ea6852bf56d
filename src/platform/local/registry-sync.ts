// The registry outlives a mesh (it is on disk in $WEFT_HOME/state), but local pods do not:
// pod names are random per run while addresses are reused, so workloads a previous
// `weft up` left would stand as not-ready endpoints on the new pods' addresses.

import type { ControlApiClient } from './control-api.js';

/** Deletes every registered workload that is not one of `keep`; returns the ones removed ("ns/name"). */
export async function pruneStaleWorkloads(api: Pick<ControlApiClient, 'workloads' | 'deleteWorkload'>, keep: readonly { namespace: string; name: string }[]): Promise<string[]> {
  const wanted = new Set(keep.map((p) => `${p.namespace}/${p.name}`));
  const removed: string[] = [];
  for (const w of await api.workloads()) {
    const key = `${w.namespace}/${w.name}`;
    if (wanted.has(key)) continue;
    await api.deleteWorkload(w.namespace, w.name);
    removed.push(key);
  }
  return removed;
}
