// A second `weft up` in the same WEFT_HOME: the workloads the previous run registered are
// removed before the new pods register, against a real control plane and its HTTP API.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { runControl } from '../../src/control/main.js';
import { createMemoryLogger } from '../../src/control/log.js';
import { ControlApiClient } from '../../src/platform/local/control-api.js';
import { pruneStaleWorkloads } from '../../src/platform/local/registry-sync.js';
import { fakePipeline, tmpStateDir, workload } from '../control/helpers.js';

test('workloads of a previous run are pruned; this run\'s are kept', async () => {
  const cp = await runControl({ stateDir: await tmpStateDir(), ports: { xds: 0, xdsTls: 0, api: 0, monitoring: 0 }, pipeline: fakePipeline, debounceMs: 30, log: createMemoryLogger() });
  try {
    const api = new ControlApiClient(`http://127.0.0.1:${cp.ports.api}`, cp.adminToken);
    // The previous run's pods, not ready, on the addresses the new run reuses.
    await api.putWorkload({ ...workload('default', 'echo-v1-aaaa', '127.9.1.1'), ready: false });
    await api.putWorkload({ ...workload('sandbox', 'sleep-bbbb', '127.9.1.2'), ready: false });
    await api.putWorkload(workload('default', 'echo-v1-cccc', '127.9.1.1'));
    const removed = await pruneStaleWorkloads(api, [{ namespace: 'default', name: 'echo-v1-cccc' }, { namespace: 'istio-system', name: 'not-registered-yet' }]);
    assert.deepEqual(removed.sort(), ['default/echo-v1-aaaa', 'sandbox/sleep-bbbb']);
    assert.deepEqual((await api.workloads()).map((w) => `${w.namespace}/${w.name}`), ['default/echo-v1-cccc']);
    assert.deepEqual(await pruneStaleWorkloads(api, [{ namespace: 'default', name: 'echo-v1-cccc' }]), []);
  } finally {
    await cp.close();
  }
});
