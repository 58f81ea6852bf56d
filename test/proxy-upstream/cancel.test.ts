// Cancel: the router's per-request cancellation, read by the upstream side as an AbortSignal would be.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Cancel } from '../../src/proxy/data/upstream/cancel.js';
import { abortError } from '../../src/proxy/data/upstream/dial.js';

test('listeners run once, in order; removed ones and ones added after the abort never run', () => {
  const c = new Cancel();
  const calls: string[] = [];
  const a = (): void => void calls.push('a');
  const b = (): void => void calls.push('b');
  const gone = (): void => void calls.push('gone');
  c.addEventListener('abort', a);
  c.addEventListener('abort', gone);
  c.addEventListener('abort', b);
  c.removeEventListener('abort', gone);
  c.removeEventListener('abort', (): void => {}); // not registered: nothing happens
  assert.equal(c.aborted, false);
  c.abort();
  c.abort();
  c.addEventListener('abort', () => calls.push('late'));
  assert.deepEqual(calls, ['a', 'b']);
  assert.equal(c.aborted, true);
});

test("the default reason is AbortController's AbortError; a given reason is kept", () => {
  const c = new Cancel();
  c.abort();
  assert.ok(c.reason instanceof Error);
  assert.equal((c.reason as Error).name, 'AbortError');
  assert.equal(abortError(c), c.reason);
  const d = new Cancel();
  const why = new Error('per-try timeout');
  d.abort(why);
  assert.equal(d.reason, why);
  assert.equal(abortError(d), why);
});
