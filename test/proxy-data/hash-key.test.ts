// Route hashPolicy -> hash key: each policy type, combination, terminal, generated cookies.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { addSetCookie, compileHashPolicy, computeHashKey, cookieValue, HashPolicyError, queryValue } from '../../src/proxy/data/hash-key.js';

const input = (headers: Record<string, string | string[]> = {}, path = '/', sourceIp: string | undefined = '10.0.0.7') => ({ headers, path, sourceIp });

describe('hash key', () => {
  it('no policy or an empty list: no key', () => {
    assert.equal(compileHashPolicy(undefined), undefined);
    assert.equal(compileHashPolicy([]), undefined);
    assert.deepEqual(computeHashKey(undefined, input()), { hashKey: undefined, setCookie: undefined });
  });

  it('header: the value; all values (sorted) of a repeated header; missing -> no key; regexRewrite applies', () => {
    const p = compileHashPolicy([{ header: { headerName: 'X-User' } }]);
    assert.equal(computeHashKey(p, input({ 'x-user': 'jason' })).hashKey, 'jason');
    assert.equal(computeHashKey(p, input({ 'x-user': ['b', 'a'] })).hashKey, computeHashKey(p, input({ 'x-user': ['a', 'b'] })).hashKey);
    assert.equal(computeHashKey(p, input({})).hashKey, undefined);
    const r = compileHashPolicy([{ header: { headerName: ':path', regexRewrite: { pattern: { regex: '\\?.*' }, substitution: '' } } }]);
    assert.equal(computeHashKey(r, input({ ':path': '/a?x=1' })).hashKey, '/a');
  });

  it('cookie: the value (quotes stripped); missing with no ttl -> no key and no cookie', () => {
    const p = compileHashPolicy([{ cookie: { name: 'session' } }]);
    assert.equal(computeHashKey(p, input({ cookie: 'a=1; session="s-42"; b=2' })).hashKey, 's-42');
    assert.deepEqual(computeHashKey(p, input({ cookie: 'a=1' })), { hashKey: undefined, setCookie: undefined });
  });

  it('cookie with ttl: a missing cookie is generated from the source address and set (Envoy format); present -> not set again', () => {
    const p = compileHashPolicy([{ cookie: { name: 'sticky', ttl: { seconds: 3600 }, path: '/app' } }]);
    const first = computeHashKey(p, input({}, '/', '10.0.0.7'));
    assert.match(first.hashKey!, /^[0-9a-f]{16}$/);
    assert.equal(first.setCookie, `sticky="${first.hashKey}"; Max-Age=3600; Path=/app; HttpOnly`);
    // The same client gets the same value, so its first request lands where the next ones will.
    assert.equal(computeHashKey(p, input({}, '/', '10.0.0.7')).hashKey, first.hashKey);
    assert.notEqual(computeHashKey(p, input({}, '/', '10.0.0.8')).hashKey, first.hashKey);
    const again = computeHashKey(p, input({ cookie: `sticky="${first.hashKey}"` }));
    assert.deepEqual(again, { hashKey: first.hashKey, setCookie: undefined });
    // A zero ttl makes a session cookie (no Max-Age).
    const session = compileHashPolicy([{ cookie: { name: 's', ttl: { seconds: 0 } } }]);
    assert.match(computeHashKey(session, input()).setCookie!, /^s="[0-9a-f]{16}"; HttpOnly$/);
  });

  it('connectionProperties.sourceIp: the peer address; sourceIp false finds nothing', () => {
    const p = compileHashPolicy([{ connectionProperties: { sourceIp: true } }]);
    assert.equal(computeHashKey(p, input({}, '/', '192.168.1.9')).hashKey, '192.168.1.9');
    assert.equal(computeHashKey(p, { headers: {}, path: '/', sourceIp: undefined }).hashKey, undefined);
    assert.equal(compileHashPolicy([{ connectionProperties: { sourceIp: false } }]), undefined);
  });

  it('queryParameter: the first value, as sent', () => {
    const p = compileHashPolicy([{ queryParameter: { name: 'user' } }]);
    assert.equal(computeHashKey(p, input({}, '/p?a=1&user=al%20ice&user=bob')).hashKey, 'al%20ice');
    assert.equal(computeHashKey(p, input({}, '/p?username=x')).hashKey, undefined);
    assert.equal(computeHashKey(p, input({}, '/p')).hashKey, undefined);
    assert.equal(queryValue('/p?flag&x=1', 'flag'), '');
  });

  it('several policies combine; a terminal policy that found its input stops the list; one that did not is skipped', () => {
    const both = compileHashPolicy([{ header: { headerName: 'x-a' } }, { header: { headerName: 'x-b' } }]);
    const ab = computeHashKey(both, input({ 'x-a': '1', 'x-b': '2' })).hashKey;
    assert.notEqual(ab, computeHashKey(both, input({ 'x-a': '1', 'x-b': '3' })).hashKey);
    assert.equal(computeHashKey(both, input({ 'x-b': '2' })).hashKey, '2');
    const term = compileHashPolicy([{ header: { headerName: 'x-a' }, terminal: true }, { header: { headerName: 'x-b' } }]);
    assert.equal(computeHashKey(term, input({ 'x-a': '1', 'x-b': '2' })).hashKey, '1');
    assert.equal(computeHashKey(term, input({ 'x-a': '1', 'x-b': '3' })).hashKey, '1');
    assert.equal(computeHashKey(term, input({ 'x-b': '2' })).hashKey, '2');
  });

  it('unsupported policies (filterState) find nothing; bad entries name the field', () => {
    assert.equal(compileHashPolicy([{ filterState: { key: 'k' } }]), undefined);
    assert.throws(() => compileHashPolicy([{ header: {} }], 'routes[0].route.hashPolicy'), (e: unknown) => e instanceof HashPolicyError && /routes\[0\]\.route\.hashPolicy\[0\]\.header\.headerName: missing/.test(e.message));
    assert.throws(() => compileHashPolicy([{ cookie: {} }]), /hashPolicy\[0\]\.cookie\.name/);
  });

  it('cookie parsing and Set-Cookie merging', () => {
    assert.equal(cookieValue(['x=1', 'y=2; z=3'], 'z'), '3');
    assert.equal(cookieValue('xy=1', 'y'), undefined);
    const h: Record<string, string | string[]> = { 'set-cookie': 'a=1' };
    addSetCookie(h, 'b=2');
    assert.deepEqual(h['set-cookie'], ['a=1', 'b=2']);
  });
});
