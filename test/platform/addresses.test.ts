import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appAddress, checkNetwork, controlAddress, MAX_PODS, podAddress, podAddresses } from '../../src/platform/local/addresses.js';
import { LocalPlatformError } from '../../src/platform/local/errors.js';

test('control plane is 127.N.0.1', () => {
  assert.equal(controlAddress(10), '127.10.0.1');
  assert.equal(controlAddress(254), '127.254.0.1');
});

test('pod k: P = 127.N.<1+(k-1)/250>.<1+(k-1)%250>, A in 101+', () => {
  assert.equal(podAddress(10, 1), '127.10.1.1');
  assert.equal(appAddress(10, 1), '127.10.101.1');
  assert.equal(podAddress(10, 250), '127.10.1.250');
  assert.equal(podAddress(10, 251), '127.10.2.1');
  assert.equal(appAddress(10, 251), '127.10.102.1');
  assert.equal(podAddress(10, MAX_PODS), '127.10.100.250');
  assert.equal(appAddress(10, MAX_PODS), '127.10.200.250');
  assert.deepEqual(podAddresses(33, 7), { index: 7, address: '127.33.1.7', appAddress: '127.33.101.7' });
});

test('pod and app addresses never collide with each other or the control plane', () => {
  const seen = new Set<string>([controlAddress(10)]);
  for (let k = 1; k <= MAX_PODS; k += 97) {
    for (const a of [podAddress(10, k), appAddress(10, k)]) {
      assert.ok(!seen.has(a), a);
      seen.add(a);
    }
  }
});

test('bad network octets and pod indexes are refused with a stable code', () => {
  for (const n of [0, 255, -1, 1.5, Number.NaN]) {
    assert.throws(() => checkNetwork(n), (e: unknown) => e instanceof LocalPlatformError && e.code === 'WEFT_ERR_INVALID_NETWORK');
  }
  assert.throws(() => podAddress(10, 0), (e: unknown) => e instanceof LocalPlatformError && e.code === 'WEFT_ERR_INVALID_INPUT');
  assert.throws(() => appAddress(10, MAX_PODS + 1), LocalPlatformError);
});
