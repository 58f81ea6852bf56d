// weft's own cluster extension `weft.retry_budget` (docs/architecture.md): a Linkerd
// ServiceProfile retry budget carried on the service's outbound clusters, as
// typedExtensionProtocolOptions['weft.retry_budget'] = google.protobuf.Struct
// {retryRatio, minRetriesPerSecond, ttlSeconds}. Envoy's own circuit-breaker retry
// budget limits concurrent retries; Linkerd's limits retries to a ratio of requests
// over a time window, which this carries.
import type { MeshModel, RetryBudget } from '../model/types.js';
import type { EnvoyObject } from '../proxy/types.js';
import { jsonToStruct } from './object-form.js';

export const RETRY_BUDGET_EXTENSION = 'weft.retry_budget';
export const STRUCT_TYPE = 'type.googleapis.com/google.protobuf.Struct';

/** The budget of the service `fqdn`, if a policy gives one. */
export function retryBudgetOf(model: MeshModel, fqdn: string): RetryBudget | undefined {
  return model.serviceHttpPolicies?.find((p) => p.host === fqdn)?.retryBudget;
}

/** The extension's Any (a Struct in object form). */
export function retryBudgetAny(b: RetryBudget): EnvoyObject {
  return { '@type': STRUCT_TYPE, ...jsonToStruct({ retryRatio: b.retryRatio, minRetriesPerSecond: b.minRetriesPerSecond, ttlSeconds: b.ttlMs / 1000 }) };
}

/** The cluster with the service's retry budget added (unchanged when it has none). */
export function withRetryBudget(model: MeshModel, fqdn: string, cluster: EnvoyObject): EnvoyObject {
  const b = retryBudgetOf(model, fqdn);
  if (!b) return cluster;
  const options = (cluster.typedExtensionProtocolOptions as EnvoyObject | undefined) ?? {};
  return { ...cluster, typedExtensionProtocolOptions: { ...options, [RETRY_BUDGET_EXTENSION]: retryBudgetAny(b) } };
}
