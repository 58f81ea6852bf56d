// The local egress gateway: Istio's istio-egressgateway (demo profile) Service and labels.
// Unlike the ingress gateway it is not exposed on the host: it listens on its own pod
// address, on the Service's target ports, where sidecars reach it over EDS.

import { gatewayServiceYaml } from './ingress.js';

export const EGRESS = {
  name: 'istio-egressgateway',
  namespace: 'istio-system',
  serviceAccount: 'istio-egressgateway-service-account',
  labels: { istio: 'egressgateway', app: 'istio-egressgateway' } as Record<string, string>,
  /** Istio's: the gateway runs unprivileged, so Gateway ports 80 and 443 land on 8080 and 8443. */
  ports: [
    { name: 'http2', port: 80, targetPort: 8080 },
    { name: 'https', port: 443, targetPort: 8443 },
  ],
} as const;

export function egressServiceYaml(): string {
  return gatewayServiceYaml(EGRESS, 'ClusterIP', EGRESS.ports);
}
