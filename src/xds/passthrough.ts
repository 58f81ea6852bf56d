// The sidecar's PassthroughCluster (Istio's name): where the http_proxy catch-all sends
// hosts the mesh does not know under outboundTrafficPolicy ALLOW_ANY. It rides the
// outbound-target pipeline as a port-0 target (no service port is 0), so the generator
// emits it like any other referenced target.
import type { OutboundTrafficMode, Service, ServicePort } from '../model/types.js';
import type { EnvoyObject } from '../proxy/types.js';
import { duration } from './envoy.js';
import { outboundClusterName } from './names.js';
import type { OutboundTarget, ServiceTarget } from './mesh.js';

export const PASSTHROUGH_CLUSTER = 'PassthroughCluster';

export function passthroughTarget(): ServiceTarget {
  const servicePort: ServicePort = { port: 0, targetPort: 0, protocol: 'http' };
  const service: Service = {
    name: PASSTHROUGH_CLUSTER,
    namespace: '',
    hostname: '*',
    ports: [servicePort],
    selector: {},
    labels: {},
    source: { kind: 'MeshConfig', namespace: '', name: 'outboundTrafficPolicy' },
    external: { location: 'MESH_EXTERNAL', resolution: 'NONE', addresses: [], endpoints: [] },
  };
  return { fqdn: '*', port: 0, subset: '', service, servicePort };
}

export function isPassthroughTarget(t: OutboundTarget): boolean {
  return t.port === 0;
}

/** The cluster name of a target: outbound|port|subset|fqdn, or PassthroughCluster. */
export function targetClusterName(t: OutboundTarget): string {
  return isPassthroughTarget(t) ? PASSTHROUGH_CLUSTER : outboundClusterName(t.port, t.fqdn, t.subset);
}

/**
 * The http_proxy's last virtual host, `*`, for hosts the mesh does not know: under
 * ALLOW_ANY to the PassthroughCluster (the request's authority), under REGISTRY_ONLY a
 * 502 as Istio's BlackHoleCluster gives. `%REQ(:AUTHORITY)%` is Envoy's command
 * operator for the request host; the proxy expands it in the body.
 */
export function catchAllVirtualHost(mode: OutboundTrafficMode | undefined, targets?: Map<string, OutboundTarget>): EnvoyObject {
  if (mode === 'REGISTRY_ONLY') {
    return {
      name: 'block_all',
      domains: ['*'],
      routes: [{ name: 'block_all', match: { prefix: '/' }, directResponse: { status: 502, body: { inlineString: 'weft: REGISTRY_ONLY blocks %REQ(:AUTHORITY)%' } } }],
    };
  }
  const target = passthroughTarget();
  targets?.set(PASSTHROUGH_CLUSTER, target);
  return { name: 'allow_any', domains: ['*'], routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: PASSTHROUGH_CLUSTER, timeout: duration(0) } }] };
}
