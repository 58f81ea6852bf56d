// Clusters whose endpoint is an internal listener (envoyInternalAddress): the upstream dialer
// opens them in memory through the connector the data plane gives it, like any other host
// of a STATIC cluster: TCP streams with the CONNECT target passed on, the cluster's TLS on
// top when it has one, counted on the cluster; no listener is UH; HTTP requests are refused
// (the listener takes TCP and tunnels); a DNS cluster cannot name one.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import { createClusterManager } from '../../src/proxy/data/upstream/index.js';
import { UpstreamError, type ClusterManager } from '../../src/proxy/data/upstream/types.js';
import { duplexPair } from '../../src/proxy/data/internal-listener.js';
import { ConfigRejectedError, type EnvoyObject } from '../../src/proxy/types.js';
import { TestIdentity } from '../helpers/pki.js';
import { makeTlsCa, type Issued } from '../helpers/tls-certs.js';
import { UPSTREAM_TLS_TYPE, typed } from '../helpers/envoy.js';
import { get, INFO, maps } from './helpers/xds.js';

function internalCluster(name: string, listener: string, extra: EnvoyObject = {}): EnvoyObject {
  return {
    name,
    type: 'STATIC',
    connectTimeout: '1s',
    loadAssignment: { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address: { envoyInternalAddress: { serverListenerName: listener } } } }] }] },
    ...extra,
  };
}

/** Reads until `n` bytes arrived. */
function readBytes(s: Duplex, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let got = '';
    const onData = (c: Buffer): void => {
      got += c.toString();
      if (got.length >= n) {
        s.off('data', onData);
        resolve(got);
      }
    };
    s.on('data', onData);
    s.once('error', reject);
  });
}

describe('internal listener endpoints', () => {
  let cm: ClusterManager;
  let server: Issued;
  const opened: { listener: string; originalDestination: string | undefined }[] = [];

  before(async () => {
    server = await (await makeTlsCa('internal-ca')).issue(['inner.test']);
    // The "listeners": "echo" answers "echo:" + what it reads; "tls-echo" does the same inside TLS.
    cm = createClusterManager(INFO, new TestIdentity(), {
      internal: (listener, meta) => {
        opened.push({ listener, originalDestination: meta.originalDestination });
        if (listener !== 'echo' && listener !== 'tls-echo') return undefined;
        const [client, serverEnd] = duplexPair();
        const end: Duplex = listener === 'echo' ? serverEnd : new tls.TLSSocket(serverEnd, { isServer: true, secureContext: tls.createSecureContext({ cert: server.certPem, key: server.keyPem }) });
        end.on('data', (c: Buffer) => end.write(`echo:${c.toString()}`));
        end.on('error', () => {});
        return client;
      },
    });
    cm.update(
      ...maps([
        internalCluster('tls_sni|443|echo', 'echo'),
        internalCluster('gone', 'no-such-listener'),
        internalCluster('tls-inner', 'tls-echo', { transportSocket: { name: 'envoy.transport_sockets.tls', typedConfig: typed(UPSTREAM_TLS_TYPE, { sni: 'inner.test' }) } }),
      ]),
    );
  });

  after(() => cm.close());

  it('connects in memory, passes the CONNECT target on, and counts the connection on the cluster', async () => {
    const { socket, endpoint } = await cm.connect('tls_sni|443|echo', { originalDestination: 'api.example.com:443' });
    assert.equal(endpoint, 'internal:echo');
    assert.deepEqual(opened.at(-1), { listener: 'echo', originalDestination: 'api.example.com:443' });
    const reply = readBytes(socket, 'echo:hello'.length);
    socket.write('hello');
    assert.equal(await reply, 'echo:hello');
    assert.equal(cm.stats()['cluster.tls_sni|443|echo.upstream_cx_active'], 1);
    socket.destroy();
    await new Promise((r) => setImmediate(r));
    const stats = cm.stats();
    assert.equal(stats['cluster.tls_sni|443|echo.upstream_cx_total'], 1);
    assert.equal(stats['cluster.tls_sni|443|echo.upstream_cx_active'], 0);
  });

  it('runs the cluster\'s TLS over the internal connection', async () => {
    const { socket } = await cm.connect('tls-inner');
    assert.ok(socket instanceof tls.TLSSocket);
    assert.equal((socket as tls.TLSSocket).getPeerCertificate().subject.CN, 'inner.test');
    const reply = readBytes(socket, 'echo:over tls'.length);
    socket.write('over tls');
    assert.equal(await reply, 'echo:over tls');
    socket.destroy();
    assert.equal(cm.stats()['cluster.tls-inner.ssl.handshake'], 1);
  });

  it('a listener that is not configured fails the connection with UH', async () => {
    await assert.rejects(cm.connect('gone'), (e: unknown) => e instanceof UpstreamError && e.flag === 'UH' && /internal listener no-such-listener is not configured/.test(e.message));
    assert.equal(cm.stats()['cluster.gone.upstream_cx_connect_fail'], 1);
  });

  it('an HTTP request to an internal listener cluster is refused, naming the cluster', async () => {
    await assert.rejects(cm.request('tls_sni|443|echo', get('/')), (e: unknown) => e instanceof UpstreamError && e.flag === 'UF' && /tls_sni\|443\|echo: an internal listener endpoint .* not HTTP requests/.test(e.message));
  });

  it('a DNS cluster cannot name an internal listener', () => {
    const bad = { ...internalCluster('dns', 'echo'), type: 'STRICT_DNS' };
    assert.throws(() => cm.update(...maps([bad])), (e: unknown) => e instanceof ConfigRejectedError && /envoyInternalAddress: an internal listener is named, not resolved/.test(e.message));
    // The running config is untouched.
    assert.ok(cm.has('tls_sni|443|echo'));
  });
});
