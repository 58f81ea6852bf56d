// The shared object-form readers (src/xds/object-form.ts) as the data path uses them:
// proto3 leaves zeros off the wire, so a present wrapper without `value` is the zero value.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anyType, arr, bool, durationMs, num, obj, str, strs, unwrap } from '../../src/xds/object-form.js';

test('wrappers: bare values, {value}, and a present wrapper without value is zero', () => {
  assert.equal(num(3), 3);
  assert.equal(num({ value: 3 }), 3);
  assert.equal(num({}), 0);
  assert.equal(num('42'), 42); // 64-bit fields
  assert.equal(num(undefined), undefined);
  assert.equal(num('x'), undefined);
  assert.equal(bool(true), true);
  assert.equal(bool({ value: true }), true);
  assert.equal(bool({}), false);
  assert.equal(bool(undefined), undefined);
  assert.equal(unwrap({}, 7), 0);
  assert.equal(unwrap(undefined, 7), 7);
  assert.equal(unwrap({ value: 5 }, 7), 5);
});

test('durations: {seconds, nanos}, the JSON string form, fallback when absent', () => {
  assert.equal(durationMs({ seconds: 1, nanos: 500_000_000 }), 1500);
  assert.equal(durationMs({ seconds: '2' }), 2000);
  assert.equal(durationMs({}), 0);
  assert.equal(durationMs('1.5s'), 1500);
  assert.equal(durationMs(undefined), undefined);
  assert.equal(durationMs(undefined, 25), 25);
  assert.equal(durationMs('soon', 25), 25);
});

test('objects, lists, strings and Any type names', () => {
  assert.deepEqual(obj({ a: 1 }), { a: 1 });
  assert.equal(obj([1]), undefined);
  assert.equal(obj(null), undefined);
  assert.deepEqual(arr([{ a: 1 }, 2, null, [3]]), [{ a: 1 }]);
  assert.deepEqual(strs(['a', 1, 'b']), ['a', 'b']);
  assert.equal(str(1), undefined);
  assert.equal(anyType({ '@type': 'type.googleapis.com/envoy.config.route.v3.FilterConfig' }), 'envoy.config.route.v3.FilterConfig');
  assert.equal(anyType(undefined), '');
});
