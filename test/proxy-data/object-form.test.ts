// The shared object-form readers (src/xds/object-form.ts) as the data path uses them:
// proto3 leaves zeros off the wire, so a present wrapper without `value` is the zero value.
// The checked readers (upstream/object-form.ts) read the same way but name the field path
// of a bad value; each place the two used to differ is pinned here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { anyType, arr, bool, durationMs, Invalid, jsonToStruct, num, obj, readDuration, readStruct, str, strs, structToJson, unwrap } from '../../src/xds/object-form.js';
import { FieldPath, optDurationMs, optNumber, optStruct } from '../../src/proxy/data/upstream/object-form.js';
import { compileCluster } from '../../src/proxy/data/upstream/cluster-config.js';
import { compileRetry } from '../../src/proxy/data/retry.js';
import { decode, encode, TYPE } from '../../src/xds/codec.js';

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

test('durations are whole milliseconds, truncated as Envoy truncates; negative ones are invalid', () => {
  // Envoy's DurationUtil::durationToMilliseconds: seconds * 1000 + nanos / 10^6, integer division.
  assert.equal(durationMs({ nanos: 500_000 }), 0);
  assert.equal(durationMs({ nanos: 1_999_999 }), 1);
  assert.equal(durationMs({ seconds: 1, nanos: 999_999_999 }), 1999);
  assert.equal(durationMs('0.0005s'), 0);
  assert.equal(durationMs('1.0015s'), 1001);
  assert.equal(readDuration({ nanos: 500_000 }), 0.5); // exact, for "greater than zero" rules
  // Envoy rejects negative and out-of-range durations; the lenient reader reads them as absent.
  assert.equal(durationMs({ seconds: -1 }, 25), 25);
  assert.equal(durationMs('-1s', 25), 25);
  assert.equal(durationMs({ nanos: 1_000_000_000 }, 25), 25);
  assert.ok(readDuration({ seconds: -1 }) instanceof Invalid);
  assert.deepEqual(readDuration({ seconds: 'x' }), new Invalid('expected a number', 'seconds'));
});

test('a Struct is read in object form only; a plain object is not a Struct', () => {
  const s = jsonToStruct({ tlsMode: 'istio', n: 2, on: true, none: null, list: ['a'], sub: { k: 'v' } });
  assert.deepEqual(structToJson(s), { tlsMode: 'istio', n: 2, on: true, none: null, list: ['a'], sub: { k: 'v' } });
  assert.deepEqual(structToJson({}), {}); // an empty Struct decodes as {}
  assert.deepEqual(structToJson(undefined), {});
  // The proto3 JSON spelling: the codec drops its keys on the wire, so it must not read as a match.
  const plain = { tlsMode: 'istio' };
  const wire = decode(TYPE.endpoint, encode(TYPE.endpoint, {
    clusterName: 'c',
    endpoints: [{ lbEndpoints: [{ metadata: { filterMetadata: { m: plain } } }] }],
  }));
  assert.deepEqual(structToJson(obj(obj(arr(arr(wire.endpoints)[0]!.lbEndpoints)[0]!.metadata)!.filterMetadata)!.m), {});
  assert.deepEqual(structToJson(plain), {});
  assert.ok(readStruct(plain) instanceof Invalid);
});

test('checked readers name the field path of a bad value', () => {
  const at = new FieldPath('cluster "x"', 'outlierDetection');
  assert.equal(optNumber({ value: '7' }, at), 7);
  assert.equal(optNumber({}, at), 0);
  assert.throws(() => optNumber('seven', at.at('consecutive_5xx')), /cluster "x": field outlierDetection\.consecutive_5xx: expected a number/);
  assert.throws(() => optDurationMs({ seconds: 'x' }, at.at('interval')), /field outlierDetection\.interval\.seconds: expected a number/);
  assert.throws(() => optDurationMs({ nanos: 2_000_000_000 }, at.at('interval')), /field outlierDetection\.interval\.nanos: out of range/);
  assert.throws(() => optDurationMs({ seconds: -1 }, at.at('interval')), /field outlierDetection\.interval: must not be negative/);
  assert.throws(() => optStruct({ tlsMode: 'istio' }, at.at('match')), /field outlierDetection\.match: expected a google\.protobuf\.Struct in object form .*"tlsMode"/);
  assert.deepEqual(optStruct(jsonToStruct({ tlsMode: 'istio' }), at), { tlsMode: 'istio' });
  assert.deepEqual(optStruct(undefined, at), {});
});

test('sub-millisecond durations: accepted where Envoy only asks for more than zero, and read as whole ms', () => {
  const at = new FieldPath('cluster "x"', 'connectTimeout');
  // Envoy validates `gt: {}` on the Duration itself and then truncates: 0.5 ms is valid and is 0 ms.
  assert.equal(optDurationMs({ nanos: 500_000 }, at, 'positive'), 0);
  assert.equal(optDurationMs({ nanos: 2_500_000 }, at, 'positive'), 2);
  assert.throws(() => optDurationMs({}, at, 'positive'), /field connectTimeout: must be greater than zero/);
  const c = compileCluster('x', { name: 'x', type: 'STATIC', loadAssignment: { clusterName: 'x' }, connectTimeout: { nanos: 1_500_000 } }, new Map());
  assert.equal(c.connectTimeoutMs, 1);
  // Envoy rounds a retry back-off base interval under 1 ms up to 1 ms.
  assert.equal(compileRetry({ retryOn: '5xx', retryBackOff: { baseInterval: { nanos: 100_000 } } })!.backoffBaseMs, 1);
  assert.equal(compileRetry({ retryOn: '5xx', retryBackOff: { baseInterval: { nanos: 7_900_000 } } })!.backoffBaseMs, 7);
});

test('a transport socket match written as a plain object is rejected with its field path', () => {
  const bad = { name: 'x', type: 'STATIC', loadAssignment: { clusterName: 'x' }, transportSocketMatches: [{ name: 'm', match: { tlsMode: 'istio' } }] };
  assert.throws(() => compileCluster('x', bad, new Map()), /cluster "x": field transportSocketMatches\[0\]\.match: expected a google\.protobuf\.Struct/);
  const good = compileCluster('x', { ...bad, transportSocketMatches: [{ name: 'm', match: jsonToStruct({ tlsMode: 'istio' }) }] }, new Map());
  assert.deepEqual(good.transportSocketMatches[0]!.match, { tlsMode: 'istio' });
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
