// EDS: one ClusterLoadAssignment per outbound EDS cluster: the pods behind the service,
// ready or not (the proxy balances over healthy ones), tagged for mTLS and telemetry.
// ServiceEntry hosts: their own endpoints, inline in STATIC/DNS clusters (and over EDS
// for proxyless clients, whose clusters are all EDS).
import type { ExternalEndpoint, MeshModel, Service, Workload } from '../model/types.js';
import type { EnvoyObject } from '../proxy/types.js';
import { METADATA } from './names.js';
import { socketAddress, sortBy, struct, wrapped } from './envoy.js';
import { resolveTargetPort, selectedWorkloads, type ServiceTarget } from './mesh.js';
import { targetClusterName } from './passthrough.js';
import { labelsMatch } from '../model/labels.js';

/**
 * Whether labels belong to a subset of a service: "" is the whole service; a subset its
 * DestinationRule defines takes labels including all of the subset's; a subset no rule
 * defines has nothing (the route answers 503, as Istio's would).
 */
export function inSubset(service: Service, subset: string, labels: Record<string, string>): boolean {
  if (subset === '') return true;
  const def = service.destinationPolicy?.subsets.find((s) => s.name === subset);
  return def !== undefined && labelsMatch(def.labels, labels);
}

/** Istio's label for ServiceEntry endpoints that run a sidecar (MESH_INTERNAL only). */
const TLS_MODE_LABEL = 'security.istio.io/tlsMode';

function externalEndpoint(service: Service, e: ExternalEndpoint, port: number): EnvoyObject {
  const meshed = service.external?.location === 'MESH_INTERNAL' && e.labels[TLS_MODE_LABEL] === METADATA.tlsModeMesh;
  return {
    endpoint: { address: socketAddress(e.address, port) },
    ...(e.weight !== undefined && e.weight > 0 ? { loadBalancingWeight: wrapped(e.weight) } : {}),
    ...(meshed ? { metadata: { filterMetadata: { [METADATA.tlsModeFilter]: struct({ [METADATA.tlsModeKey]: METADATA.tlsModeMesh }) } } } : {}),
  };
}

/**
 * A ServiceEntry host's endpoints for one port (and subset): each endpoint's port for
 * the port's name, else the port's targetPort. In input order: DNS_ROUND_ROBIN uses the first.
 */
export function externalLoadAssignment(target: ServiceTarget): EnvoyObject {
  const { service, servicePort } = target;
  const lbEndpoints = (service.external?.endpoints ?? [])
    .filter((e) => inSubset(service, target.subset, e.labels))
    .map((e) => {
      const port = (servicePort.name !== undefined ? e.ports[servicePort.name] : undefined) ?? (typeof servicePort.targetPort === 'number' ? servicePort.targetPort : servicePort.port);
      return externalEndpoint(service, e, port);
    });
  return { clusterName: targetClusterName(target), ...(lbEndpoints.length ? { endpoints: [{ lbEndpoints }] } : {}) };
}

function lbEndpoint(workload: Workload, port: number): EnvoyObject {
  const filterMetadata: Record<string, EnvoyObject> = {};
  // Only a sidecar terminates mesh mTLS; a router's listeners serve its Gateway servers as configured.
  if (workload.meshed && workload.proxyType === 'sidecar') filterMetadata[METADATA.tlsModeFilter] = struct({ [METADATA.tlsModeKey]: METADATA.tlsModeMesh });
  filterMetadata[METADATA.workloadFilter] = struct({
    workload: workload.owner,
    pod: workload.name,
    namespace: workload.namespace,
    identity: workload.identity,
  });
  return {
    endpoint: { address: socketAddress(workload.address, port) },
    healthStatus: workload.ready ? 'HEALTHY' : 'UNHEALTHY',
    metadata: { filterMetadata },
  };
}

/** The endpoints of one outbound cluster. Pods whose named target port is missing are left out, as Kubernetes does. */
export function loadAssignment(model: MeshModel, target: ServiceTarget): EnvoyObject {
  if (target.service.external) return externalLoadAssignment(target);
  const rows: { key: string; ep: EnvoyObject }[] = [];
  for (const w of selectedWorkloads(model, target.service)) {
    if (!inSubset(target.service, target.subset, w.labels)) continue;
    const port = resolveTargetPort(target.servicePort, w);
    if (port === undefined) continue;
    rows.push({ key: `${w.address}:${String(port).padStart(5, '0')}/${w.name}`, ep: lbEndpoint(w, port) });
  }
  const lbEndpoints = sortBy(rows, (r) => r.key).map((r) => r.ep);
  return {
    clusterName: targetClusterName(target),
    ...(lbEndpoints.length ? { endpoints: [{ lbEndpoints }] } : {}),
  };
}
