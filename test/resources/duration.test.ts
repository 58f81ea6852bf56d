import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseDuration, DurationError } from '../../src/resources/index.js';

test('durations parse to milliseconds', () => {
  const cases: [string, number][] = [
    ['5s', 5000],
    ['100ms', 100],
    ['1m30s', 90_000],
    ['1.5s', 1500],
    ['0.3s', 300],
    ['2h', 7_200_000],
    ['1h1m1s1ms', 3_661_001],
    ['500us', 0.5],
    ['0', 0],
  ];
  for (const [text, ms] of cases) assert.equal(parseDuration(text), ms, text);
});

test('bad durations throw DurationError naming the field', () => {
  for (const bad of ['', '5', 's', '5 s', '1x', '-1s', '1.s', 'abc']) {
    assert.throws(
      () => parseDuration(bad, 'spec.http[0].timeout'),
      (e: unknown) => e instanceof DurationError && e.code === 'WEFT_ERR_INVALID_DURATION' && e.message.startsWith('spec.http[0].timeout: '),
      bad,
    );
  }
});
