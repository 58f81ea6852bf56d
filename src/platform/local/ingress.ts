// The local ingress gateway: Istio's istio-ingressgateway Service and its labels, and the
// URLs a folder exposes through it (for `weft up`'s summary).

import { stringify } from 'yaml';
import type { Resource } from '../../resources/types.js';
import type { VirtualServiceSpec } from '../../resources/istio-networking.js';

export const INGRESS = {
  name: 'istio-ingressgateway',
  namespace: 'istio-system',
  serviceAccount: 'istio-ingressgateway-service-account',
  labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' } as Record<string, string>,
} as const;

/** The https host port defaults to the http one + 363 (8080 -> 8443), so two meshes never clash. */
export function defaultIngressHttpsPort(httpPort: number): number {
  return httpPort + 363;
}

/** The Service of a built-in gateway, selecting its labels. */
export function gatewayServiceYaml(
  g: { name: string; namespace: string; labels: Record<string, string> },
  type: 'LoadBalancer' | 'ClusterIP',
  ports: readonly { name: string; port: number; targetPort: number }[],
): string {
  return stringify({
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name: g.name, namespace: g.namespace, labels: g.labels },
    spec: { type, selector: g.labels, ports: ports.map((p) => ({ ...p, protocol: 'TCP' })) },
  });
}

export function ingressServiceYaml(httpPort: number, httpsPort: number): string {
  return gatewayServiceYaml(INGRESS, 'LoadBalancer', [
    { name: 'http2', port: 80, targetPort: httpPort },
    { name: 'https', port: 443, targetPort: httpsPort },
  ]);
}

/**
 * Paths VirtualServices bound to a Gateway route to (exact matches, then prefixes other than "/"),
 * as ingress URLs. A bookinfo-like folder yields http://127.0.0.1:8080/productpage first.
 */
export function exposedUrls(resources: Resource[], ingressUrl: string): string[] {
  const gateways = new Set(resources.filter((r) => r.kind === 'Gateway').map((r) => r.metadata.name));
  const paths: string[] = [];
  for (const r of resources) {
    if (r.kind !== 'VirtualService') continue;
    const spec = r.spec as VirtualServiceSpec;
    if (!spec.gateways?.some((g) => g !== 'mesh' && gateways.has(g.split('/').pop()!))) continue;
    for (const m of (spec.http ?? []).flatMap((h) => h.match ?? [])) {
      if (m.uri?.exact !== undefined) paths.push(m.uri.exact);
      else if (m.uri?.prefix !== undefined && m.uri.prefix !== '/') paths.push(m.uri.prefix);
    }
  }
  const unique = [...new Set(paths)].sort((a, b) => (a === '/productpage' ? -1 : b === '/productpage' ? 1 : 0));
  return unique.slice(0, 3).map((p) => `${ingressUrl}${p}`);
}
