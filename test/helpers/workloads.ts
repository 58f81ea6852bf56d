// A registry Workload for model and xDS tests: a ready, meshed sidecar pod in `default`
// whose identity follows its namespace and service account. Tests state only what they
// are about; every field can be overridden.
import type { Workload } from '../../src/model/types.js';
import { spiffeId } from '../../src/xds/names.js';

type Required = Pick<Workload, 'name' | 'address'>;

export function testWorkload(w: Required & Partial<Workload>): Workload {
  const namespace = w.namespace ?? 'default';
  const serviceAccount = w.serviceAccount ?? 'default';
  return {
    namespace,
    labels: { app: w.name },
    serviceAccount,
    identity: spiffeId(namespace, serviceAccount),
    appAddress: w.address,
    ports: [{ name: 'http', containerPort: 8080 }],
    ready: true,
    meshed: true,
    owner: w.name,
    proxyType: 'sidecar',
    ...w,
  };
}
