// selectChain follows Envoy's FilterChainMatch: most specific value per criterion, in the
// order destination port, server name, transport protocol, ALPN; no backtracking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectChain } from '../../src/proxy/data/filter-chain.js';
import { compileListener } from '../../src/proxy/data/listener-config.js';
import type { EnvoyObject } from '../../src/proxy/types.js';
import { hcm, listener, catchAllRoutes } from './helpers.js';

function chain(name: string, match: EnvoyObject): EnvoyObject {
  return { name, filterChainMatch: match, filters: [hcm(catchAllRoutes('c'))] };
}

const l = compileListener(
  'l',
  listener('l', '127.0.0.1', 0, [
    chain('catch-all-tls', { transportProtocol: 'tls' }),
    chain('wild', { serverNames: ['*.example.com'], transportProtocol: 'tls' }),
    chain('wild-deeper', { serverNames: ['*.shop.example.com'] }),
    chain('exact-plain-only', { serverNames: ['plain.example.com'], transportProtocol: 'raw_buffer' }),
    chain('exact', { serverNames: ['WWW.example.com', 'api.example.com'], transportProtocol: 'tls' }),
    chain('h2', { serverNames: ['alpn.test'], applicationProtocols: ['h2'] }),
    chain('h1', { serverNames: ['alpn.test'], applicationProtocols: ['http/1.1'] }),
    chain('port', { destinationPort: 9443 }),
    chain('plain', {}),
  ]),
);

const pick = (serverName: string | undefined, opts: { transport?: 'tls' | 'raw_buffer'; alpn?: string[]; port?: number } = {}) =>
  selectChain(l, { transport: opts.transport ?? 'tls', serverName, applicationProtocols: opts.alpn ?? [] }, opts.port ?? 8443)?.name;

test('server names: exact (case-insensitive) beats the longest wildcard beats chains without names; order in the list does not matter', () => {
  assert.equal(pick('www.example.com'), 'exact');
  assert.equal(pick('API.example.com'), 'exact');
  assert.equal(pick('cart.shop.example.com'), 'wild-deeper');
  assert.equal(pick('a.b.example.com'), 'wild');
  assert.equal(pick('example.com'), 'catch-all-tls', '*.example.com does not match the bare domain');
  assert.equal(pick(undefined), 'catch-all-tls', 'no SNI: only chains without server names');
  assert.equal(pick(undefined, { transport: 'raw_buffer' }), 'plain');
});

test('no backtracking: a server name match that fails a later criterion does not fall back to a wildcard', () => {
  assert.equal(pick('plain.example.com'), undefined);
  assert.equal(pick('plain.example.com', { transport: 'raw_buffer' }), 'exact-plain-only');
});

test("ALPN: the client's first protocol that some chain lists decides", () => {
  assert.equal(pick('alpn.test', { alpn: ['h2', 'http/1.1'] }), 'h2');
  assert.equal(pick('alpn.test', { alpn: ['http/1.1', 'h2'] }), 'h1');
  assert.equal(pick('alpn.test', { alpn: ['h3'] }), undefined);
});

test('destination port: a chain for the port wins over chains without one', () => {
  assert.equal(pick('www.example.com', { port: 9443 }), 'port');
});

test('prefix ranges: the longest range holding the local address wins, then chains without ranges; IPv4-mapped addresses count as IPv4', () => {
  const ranged = compileListener(
    'r',
    listener('r', '0.0.0.0', 0, [
      chain('wide', { prefixRanges: [{ addressPrefix: '10.0.0.0', prefixLen: { value: 8 } }] }),
      chain('narrow', { prefixRanges: [{ addressPrefix: '10.1.2.0', prefixLen: { value: 24 } }] }),
      chain('v6', { prefixRanges: [{ addressPrefix: 'fd00::', prefixLen: { value: 8 } }] }),
      chain('any', {}),
    ]),
  );
  const at = (localAddress: string) => selectChain(ranged, { transport: 'raw_buffer', serverName: undefined, applicationProtocols: [] }, { localPort: 80, localAddress })?.name;
  assert.equal(at('10.1.2.7'), 'narrow');
  assert.equal(at('10.9.9.9'), 'wide');
  assert.equal(at('::ffff:10.1.2.7'), 'narrow');
  assert.equal(at('fd00::1'), 'v6');
  assert.equal(at('192.168.0.1'), 'any');
  assert.throws(() => compileListener('bad', listener('bad', '0.0.0.0', 0, [chain('x', { prefixRanges: [{ addressPrefix: '10.0.0.0', prefixLen: { value: 33 } }] })])), /prefixRanges\[0\].*is not a CIDR range/);
});
