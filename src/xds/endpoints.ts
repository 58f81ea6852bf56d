// EDS: one ClusterLoadAssignment per outbound cluster: the pods behind the service,
// ready or not (the proxy balances over healthy ones), tagged for mTLS and telemetry.
import type { MeshModel, Workload } from '../model/types.js';
import type { EnvoyObject } from '../proxy/types.js';
import { METADATA, outboundClusterName } from './names.js';
import { socketAddress, sortBy, struct } from './envoy.js';
import { resolveTargetPort, selectedWorkloads, type ServiceTarget } from './mesh.js';

/**
 * Which of a service's workloads belong to a subset. Subset label selectors come from
 * DestinationRule, which the model does not carry yet: until then a subset has all of
 * the service's workloads.
 */
function inSubset(_subset: string, _workload: Workload): boolean {
  return true;
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
  const rows: { key: string; ep: EnvoyObject }[] = [];
  for (const w of selectedWorkloads(model, target.service)) {
    if (!inSubset(target.subset, w)) continue;
    const port = resolveTargetPort(target.servicePort, w);
    if (port === undefined) continue;
    rows.push({ key: `${w.address}:${String(port).padStart(5, '0')}/${w.name}`, ep: lbEndpoint(w, port) });
  }
  const lbEndpoints = sortBy(rows, (r) => r.key).map((r) => r.ep);
  return {
    clusterName: outboundClusterName(target.port, target.fqdn, target.subset),
    ...(lbEndpoints.length ? { endpoints: [{ lbEndpoints }] } : {}),
  };
}
