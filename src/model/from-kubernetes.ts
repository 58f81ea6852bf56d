// Kubernetes Services -> model Services. (Deployments are run by the platform, which
// reports their pods as Workloads; the model takes those as given.)

import type { Finding, Resource } from '../resources/types.js';
import type { ServiceSpec } from '../resources/kubernetes-types.js';
import { serviceFqdn } from '../xds/names.js';
import { protocolOfPort } from './protocol.js';
import { findingFor, sourceOf } from './source.js';
import type { Service, ServicePort } from './types.js';

export function serviceFromKubernetes(r: Resource<ServiceSpec>, clusterDomain: string, findings: Finding[]): Service {
  const ports: ServicePort[] = [];
  r.spec.ports.forEach((p, i) => {
    // Only TCP is proxied; the parser already warned about other protocols.
    if (p.protocol !== undefined && p.protocol !== 'TCP') return;
    const port: ServicePort = { port: p.port, targetPort: p.targetPort ?? p.port, protocol: protocolOfPort(p) };
    if (p.name !== undefined) port.name = p.name;
    ports.push(port);
    if (typeof port.targetPort === 'string' && /^\d+$/.test(port.targetPort)) {
      findings.push(findingFor(r, 'warning', 'WEFT_INVALID_FIELD', `spec.ports[${i}].targetPort`, `"${port.targetPort}" is a port name made of digits; use a number`));
    }
  });
  return {
    name: r.metadata.name,
    namespace: r.metadata.namespace,
    hostname: serviceFqdn(r.metadata.name, r.metadata.namespace, clusterDomain),
    ports,
    selector: { ...(r.spec.selector ?? {}) },
    labels: { ...r.metadata.labels },
    source: sourceOf(r),
  };
}
