// The ADS client the proxy-core tests run against a real control plane: the
// productpage-1 sidecar (127.10.0.5) of a namespace, with quick reconnects.
import { XdsClient, type XdsClientOptions } from '../../../src/proxy/core/xds-client.js';
import type { DataPlane } from '../../../src/proxy/types.js';

export function productpageClient(address: string, namespace: string, dataPlane: Pick<DataPlane, 'apply'>, extra: Partial<XdsClientOptions> = {}): XdsClient {
  return new XdsClient({
    target: { address },
    node: { type: 'sidecar', ip: '127.10.0.5', pod: 'productpage-1', namespace, serviceAccount: 'productpage', labels: { app: 'productpage' } },
    dataPlane,
    backoffInitialMs: 50,
    backoffMaxMs: 200,
    ...extra,
  });
}
