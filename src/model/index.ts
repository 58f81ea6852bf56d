// Public entry of src/model: every accepted dialect -> one MeshModel, with findings.
// Precedence between resources is decided here, in one place.

import type { Finding, Resource } from '../resources/types.js';
import type { ServiceSpec } from '../resources/kubernetes-types.js';
import type { GatewaySpec, VirtualServiceSpec } from '../resources/istio-networking.js';
import { ISTIO_NETWORKING_VERSIONS } from '../resources/istio-networking.js';
import { DEFAULT_TRUST_DOMAIN } from '../xds/names.js';
import { serviceFromKubernetes } from './from-kubernetes.js';
import { gatewayServersFromIstio, routesFromIstio } from './from-istio.js';
import type { HostContext } from './hosts.js';
import { findingFor } from './source.js';
import type { MeshModel, Workload } from './types.js';

export { protocolOfPort } from './protocol.js';
export { expandHost, gatewayRef, type HostContext } from './hosts.js';
export * from './types.js';

export interface BuildModelOptions {
  /** SPIFFE trust domain (default cluster.local). */
  trustDomain?: string;
  /** DNS suffix of service FQDNs (default cluster.local). */
  clusterDomain?: string;
}

export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

const isIstio = (r: Resource, kind: string): boolean => r.kind === kind && (ISTIO_NETWORKING_VERSIONS as readonly string[]).includes(r.apiVersion);
const isCore = (r: Resource, kind: string): boolean => r.kind === kind && r.apiVersion === 'v1';

/** Resources (already validated by src/resources) + workloads from the platform -> the mesh model. */
export function buildModel(resources: Resource[], workloads: Workload[], opts: BuildModelOptions = {}): { model: MeshModel; findings: Finding[] } {
  const clusterDomain = opts.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN;
  const findings: Finding[] = [];
  const model: MeshModel = { trustDomain: opts.trustDomain ?? DEFAULT_TRUST_DOMAIN, services: [], workloads: [...workloads], routes: [], gatewayServers: [] };

  const namespaces = new Set<string>(['default']);
  for (const r of resources) {
    if (isCore(r, 'Namespace')) namespaces.add(r.metadata.name);
    else if (r.metadata.namespace) namespaces.add(r.metadata.namespace);
  }
  for (const w of workloads) namespaces.add(w.namespace);
  const hosts: HostContext = { clusterDomain, namespaces };

  for (const r of resources) {
    if (isCore(r, 'Service')) model.services.push(serviceFromKubernetes(r as Resource<ServiceSpec>, clusterDomain, findings));
  }
  const gateways = new Set<string>();
  for (const r of resources) {
    if (!isIstio(r, 'Gateway')) continue;
    gateways.add(`${r.metadata.namespace}/${r.metadata.name}`);
    model.gatewayServers.push(...gatewayServersFromIstio(r as Resource<GatewaySpec>, findings));
  }
  const serviceHosts = new Set(model.services.map((s) => s.hostname));
  const ctx = { hosts, serviceHosts, gateways, findings };
  const routeSources: Resource[] = [];
  for (const r of resources) {
    if (!isIstio(r, 'VirtualService')) continue;
    for (const set of routesFromIstio(r as Resource<VirtualServiceSpec>, ctx)) {
      model.routes.push(set);
      routeSources.push(r);
    }
  }
  reportRouteConflicts(model, routeSources, findings);
  return { model, findings };
}

/**
 * Two route sets for the same host and attachment: the first (in input order) is the one
 * proxies use, as Istio does for sidecars; the later one is reported.
 */
function reportRouteConflicts(model: MeshModel, sources: Resource[], findings: Finding[]): void {
  const owner = new Map<string, string>();
  model.routes.forEach((set, i) => {
    for (const target of set.attachTo) {
      for (const host of set.hosts) {
        const key = `${target} ${host}`;
        const first = owner.get(key);
        const me = `${set.source.namespace}/${set.source.name}`;
        if (first === undefined) owner.set(key, me);
        else if (first !== me) {
          findings.push(findingFor(sources[i]!, 'warning', 'WEFT_ROUTE_CONFLICT', 'spec.hosts', `host "${host}" on ${target} is already routed by VirtualService ${first}, which takes precedence`));
        }
      }
    }
  });
}
