import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadProxyOptionsFromEnv, resolveProxyOptions, parseLabels } from '../../src/proxy/core/options.js';
import { createLogger } from '../../src/proxy/core/log.js';
import { Backoff } from '../../src/proxy/core/backoff.js';
import { ProxyOptionsError } from '../../src/proxy/core/errors.js';

test('defaults: plaintext xDS on 15010, CA on 15012 of the same host, admin 15000, drain 5 s', () => {
  const o = resolveProxyOptions({ pod: 'p-1', ip: '127.10.0.3' });
  assert.equal(o.type, 'sidecar');
  assert.equal(o.namespace, 'default');
  assert.equal(o.listenAddress, '127.10.0.3');
  assert.equal(o.xdsAddress, '127.0.0.1:15010');
  assert.equal(o.xdsTls, false);
  assert.equal(o.caAddress, '127.0.0.1:15012');
  assert.equal(o.adminPort, 15000);
  assert.equal(o.drainSeconds, 5);
  assert.equal(o.identity, 'spiffe://cluster.local/ns/default/sa/default');
  assert.equal(o.xdsProtocol, 'delta');
});

test('a root file turns on TLS for xDS (15012); the CA follows the xDS host', () => {
  const o = resolveProxyOptions({ pod: 'p', ip: '127.10.0.3', caRootFile: '/r.pem', namespace: 'shop', serviceAccount: 'sa1', trustDomain: 'example.org' });
  assert.equal(o.xdsAddress, '127.0.0.1:15012');
  assert.equal(o.xdsTls, true);
  const p = resolveProxyOptions({ pod: 'p', ip: '127.10.0.3', xdsAddress: '127.10.0.1:15010' });
  assert.equal(p.caAddress, '127.10.0.1:15012');
  assert.equal(o.identity, 'spiffe://example.org/ns/shop/sa/sa1');
});

test('bad settings name the field', () => {
  assert.throws(() => resolveProxyOptions({ pod: 'p', ip: 'nope' }), (e: ProxyOptionsError) => e.code === 'WEFT_ERR_PROXY_OPTIONS' && /^ip:/.test(e.message));
  assert.throws(() => resolveProxyOptions({ pod: 'p', ip: '127.0.0.1', xdsAddress: 'x' }), /xdsAddress/);
  assert.throws(() => resolveProxyOptions({ pod: 'p', ip: '127.0.0.1', adminPort: 70000 }), /adminPort/);
  assert.throws(() => loadProxyOptionsFromEnv({ WEFT_POD_IP: '127.0.0.1' }), /WEFT_POD_NAME/);
  assert.throws(() => loadProxyOptionsFromEnv({ WEFT_POD_NAME: 'p', WEFT_POD_IP: '127.0.0.1', WEFT_ADMIN_PORT: 'x' }), /WEFT_ADMIN_PORT/);
  assert.throws(() => loadProxyOptionsFromEnv({ WEFT_POD_NAME: 'p', WEFT_POD_IP: '127.0.0.1', WEFT_PROXY_TYPE: 'gateway' }), /WEFT_PROXY_TYPE/);
  assert.throws(() => loadProxyOptionsFromEnv({ WEFT_POD_NAME: 'p', WEFT_POD_IP: '127.0.0.1', WEFT_XDS_PROTOCOL: 'incremental' }), /WEFT_XDS_PROTOCOL: expected delta or sotw, got "incremental"/);
  assert.equal(loadProxyOptionsFromEnv({ WEFT_POD_NAME: 'p', WEFT_POD_IP: '127.0.0.1', WEFT_XDS_PROTOCOL: 'sotw' }).xdsProtocol, 'sotw');
  assert.throws(() => resolveProxyOptions({ pod: 'p', ip: '127.0.0.1', xdsProtocol: 'x' as 'sotw' }), /xdsProtocol/);
});

test('loadProxyOptionsFromEnv reads the WEFT_* variables', () => {
  const o = loadProxyOptionsFromEnv({
    WEFT_PROXY_TYPE: 'router',
    WEFT_POD_NAME: 'ingress-1',
    WEFT_POD_NAMESPACE: 'weft-system',
    WEFT_SERVICE_ACCOUNT: 'ingress',
    WEFT_POD_IP: '127.10.0.9',
    WEFT_LISTEN_ADDRESS: '127.0.0.1',
    WEFT_POD_LABELS: 'app=ingress,istio=ingressgateway',
    WEFT_XDS_ADDRESS: '127.10.0.1:15012',
    WEFT_CA_ROOT_FILE: '/state/root.pem',
    WEFT_TOKEN_FILE: '/state/token',
    WEFT_ADMIN_PORT: '15100',
    WEFT_DRAIN_SECONDS: '2',
  });
  assert.deepEqual(o.labels, { app: 'ingress', istio: 'ingressgateway' });
  const r = resolveProxyOptions(o);
  assert.equal(r.type, 'router');
  assert.equal(r.listenAddress, '127.0.0.1');
  assert.equal(r.caAddress, '127.10.0.1:15012');
  assert.equal(r.adminPort, 15100);
  assert.equal(r.drainSeconds, 2);
  assert.deepEqual(parseLabels('{"a":"b"}'), { a: 'b' });
});

test('logger: JSON lines, buffered and written asynchronously; child fields; flush', async () => {
  const chunks: string[] = [];
  const log = createLogger({ level: 'info', sink: async (c) => void chunks.push(c), base: { pod: 'p' } });
  log.debug('hidden');
  log.info('one', { n: 1 });
  log.child({ component: 'x' }).warn('two');
  assert.equal(chunks.length, 0, 'nothing written synchronously');
  await log.flush();
  const lines = chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 2);
  assert.equal(lines[0]!['msg'], 'one');
  assert.equal(lines[0]!['pod'], 'p');
  assert.equal(lines[1]!['component'], 'x');
  assert.equal(lines[1]!['level'], 'warn');
});

test('logger drops lines over its buffer cap and says how many', async () => {
  const chunks: string[] = [];
  const log = createLogger({ sink: async (c) => void chunks.push(c), maxBufferedChars: 300 });
  for (let i = 0; i < 50; i++) log.info('line', { i });
  await log.flush();
  const text = chunks.join('');
  assert.match(text, /"msg":"log lines dropped","dropped":\d+/);
});

test('backoff grows to its cap with jitter', () => {
  const b = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 1 });
  assert.deepEqual([b.next(), b.next(), b.next(), b.next(), b.next(), b.next()], [100, 200, 400, 800, 1000, 1000]);
  const j = new Backoff({ initialMs: 100, maxMs: 1000, random: () => 0 });
  assert.equal(j.next(), 50);
  b.reset();
  assert.equal(b.next(), 100);
});
