// Istio host names as users write them ("reviews", "reviews.default", FQDNs, wildcards)
// -> the FQDNs the model uses.

import { serviceFqdn } from '../xds/names.js';

export interface HostContext {
  clusterDomain: string;
  /** Namespaces that exist (declared, or holding resources or workloads). */
  namespaces: ReadonlySet<string>;
}

/**
 * "reviews" -> reviews.<ns>.svc.<domain>; "reviews.default" -> reviews.default.svc.<domain>
 * when "default" is a namespace; "reviews.default.svc" -> + ".<domain>"; anything else as is.
 */
export function expandHost(host: string, namespace: string, ctx: HostContext): string {
  if (host.includes('*')) return host;
  const labels = host.split('.');
  if (labels.length === 1) return serviceFqdn(host, namespace, ctx.clusterDomain);
  if (labels.length === 2 && ctx.namespaces.has(labels[1]!)) return `${host}.svc.${ctx.clusterDomain}`;
  if (labels.length === 3 && labels[2] === 'svc') return `${host}.${ctx.clusterDomain}`;
  return host;
}

/** "name" -> "<ns>/name"; "ns/name" and "mesh" stay; the old "name.ns.svc.cluster.local" form -> "ns/name". */
export function gatewayRef(ref: string, namespace: string): string {
  if (ref === 'mesh' || ref.includes('/')) return ref;
  const labels = ref.split('.');
  if (labels.length > 1) return `${labels[1]}/${labels[0]}`;
  return `${namespace}/${ref}`;
}
