// TCP and TLS-passthrough routing in the proxy, on real sockets with real ClientHellos:
//   A. a gateway-style listener: filter chains by serverNames with Envoy's precedence
//      (exact > longest wildcard > none, whatever their order), tcp_proxy weightedClusters
//      over >= 2,000 connections, a raw TCP weighted split with server-first backends,
//      garbage instead of a ClientHello (clean close, counter, the proxy keeps serving);
//   B. the sidecar, configured by the xDS generator from VirtualService tls[] and run on
//      the real upstream cluster manager: CONNECT host:443, TLS inside the tunnel routed by
//      SNI through the internal listener, untouched to the "external" TLS servers; and
//      CONNECT through the ORIGINAL_DST PassthroughCluster.
import { test, before, after, describe } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';
import tls from 'node:tls';
import { once } from 'node:events';
import { createDataPlane } from '../../src/proxy/data/index.js';
import type { DataPlane, EnvoyObject } from '../../src/proxy/types.js';
import { parseYaml } from '../../src/resources/index.js';
import { buildModel, type Workload } from '../../src/model/index.js';
import { generateForProxy } from '../../src/xds/generate.js';
import { spiffeId } from '../../src/xds/names.js';
import { bestByServerName, serverNameScore, EXACT_SERVER_NAME } from '../../src/proxy/data/server-names.js';
import { startExternalTls, type ExternalTls } from '../../samples/tcp-tls-routes/src/external-tls.js';
import { firstLine, openTunnel, startTls } from '../../samples/tcp-tls-routes/src/probe.js';
import { generatedSnapshot, info, listener, listen, portOf, seeded, snapshot, TCP_TYPE, TestClusterManager } from './helpers.js';
import { TestIdentity } from '../helpers/pki.js';

/** The ClientHello a Node TLS client sends for this server name (captured once, replayed cheaply). */
async function clientHello(servername: string): Promise<Buffer> {
  const srv = net.createServer();
  const addr = await listen(srv);
  const got = new Promise<Buffer>((resolve) => srv.once('connection', (s) => s.once('data', (b: Buffer) => (resolve(b), s.destroy()))));
  const c = tls.connect({ port: portOf(addr), host: '127.0.0.1', servername, rejectUnauthorized: false });
  c.on('error', () => {});
  const hello = await got;
  c.destroy();
  srv.close();
  return hello;
}

/** A server that names itself to each connection and closes: a server-first protocol. */
async function namer(name: string): Promise<{ server: net.Server; addr: string }> {
  const server = net.createServer((s) => {
    s.on('error', () => s.destroy());
    s.end(`${name}\n`);
  });
  return { server, addr: await listen(server) };
}

/** Connect, optionally send bytes, read what comes back until close. */
function exchange(port: number, send: Buffer | undefined, host = '127.0.0.1', timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, host);
    let buf = '';
    const t = setTimeout(() => (s.destroy(), reject(new Error('no answer'))), timeoutMs);
    s.setEncoding('utf8');
    s.on('data', (c: string) => (buf += c));
    s.on('error', () => {});
    s.on('close', () => (clearTimeout(t), resolve(buf)));
    if (send) s.write(send);
  });
}

/** n exchanges, `concurrency` at a time; answers counted. */
async function many(n: number, concurrency: number, one: () => Promise<string>): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let started = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (started < n) {
        started++;
        const a = (await one()).trim() || '(closed)';
        counts[a] = (counts[a] ?? 0) + 1;
      }
    }),
  );
  return counts;
}

function tlsGreeting(port: number, servername: string): Promise<string> {
  const s = tls.connect({ port, host: '127.0.0.1', servername, rejectUnauthorized: false });
  return firstLine(s).finally(() => s.destroy());
}

const tcpProxy = (cfg: EnvoyObject): EnvoyObject => ({ name: 'envoy.filters.network.tcp_proxy', typedConfig: { '@type': TCP_TYPE, statPrefix: 't', ...cfg } });
const TLS_INSPECTOR = { name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } };

test('serverNames: exact beats the longest wildcard beats a chain without names; a miss matches nothing', () => {
  assert.equal(serverNameScore(['a.example.test'], 'a.example.test'), EXACT_SERVER_NAME);
  assert.equal(serverNameScore(['*.example.test'], 'x.y.example.test'), '.example.test'.length);
  assert.equal(serverNameScore(['*.example.test'], 'example.test'), -1);
  assert.equal(serverNameScore([], undefined), 0);
  assert.equal(serverNameScore(['a.example.test'], undefined), -1);
  const chains = [{ n: [] as string[] }, { n: ['*.test'] }, { n: ['*.example.test'] }, { n: ['a.example.test', 'b.other'] }];
  const pick = (sni: string | undefined) => bestByServerName(chains, (c) => c.n, sni).map((c) => chains.indexOf(c));
  assert.deepEqual(pick('a.example.test'), [3]);
  assert.deepEqual(pick('q.example.test'), [2]);
  assert.deepEqual(pick('q.test'), [1]);
  assert.deepEqual(pick('elsewhere.io'), [0]);
  assert.deepEqual(pick(undefined), [0]);
  assert.deepEqual(bestByServerName([{ n: ['a.x'] }], (c) => c.n, 'b.x'), []);
});

describe('A. gateway-style listeners: SNI chains and weighted tcp_proxy', () => {
  const cm = new TestClusterManager();
  let dp: DataPlane;
  let external: ExternalTls[];
  const namers: net.Server[] = [];
  let sniPort = 0;
  let tcpPort = 0;

  before(async () => {
    external = await startExternalTls([
      { name: 'exact', port: 0 },
      { name: 'wild', port: 0 },
      { name: 'longer-wild', port: 0 },
    ]);
    for (const e of external) cm.targets.set(e.name, `127.0.0.1:${e.port}`);
    for (const n of ['w1', 'w3', 'v1', 'v2']) {
      const { server, addr } = await namer(n);
      namers.push(server);
      cm.targets.set(n, addr);
    }
    dp = createDataPlane(info('127.0.0.1'), new TestIdentity(), { clusterManager: cm, random: seeded(7), firstBytesTimeoutMs: 2000 });
    // Chains in an order where "first fit" would be wrong: Envoy's precedence must decide.
    const sni = {
      ...listener('gw-sni', '127.0.0.1', 0, [
        { filterChainMatch: { serverNames: ['*.example.test'] }, filters: [tcpProxy({ cluster: 'wild' })], name: 'wild' },
        { filterChainMatch: { serverNames: ['*.b.example.test'] }, filters: [tcpProxy({ cluster: 'longer-wild' })], name: 'longer' },
        { filterChainMatch: { serverNames: ['a.example.test'] }, filters: [tcpProxy({ cluster: 'exact' })], name: 'exact' },
        {
          filterChainMatch: { serverNames: ['split.test'] },
          filters: [tcpProxy({ weightedClusters: { clusters: [{ name: 'w1', weight: 1 }, { name: 'w3', weight: 3 }] } })],
          name: 'split',
        },
      ]),
      listenerFilters: [TLS_INSPECTOR],
    };
    const tcp = listener('gw-tcp', '127.0.0.1', 0, [{ filters: [tcpProxy({ weightedClusters: { clusters: [{ name: 'v1', weight: 4 }, { name: 'v2', weight: 1 }] } })] }]);
    await dp.apply(snapshot([sni, tcp]));
    sniPort = portOf(dp.boundListeners()['gw-sni']!);
    tcpPort = portOf(dp.boundListeners()['gw-tcp']!);
  });

  after(async () => {
    await dp.close();
    await Promise.all(external.map((e) => e.close()));
    for (const s of namers) s.close();
    await cm.close();
  });

  test('a real TLS client reaches the backend its SNI names; the TLS is not terminated (the backend sees the SNI)', async () => {
    assert.equal(await tlsGreeting(sniPort, 'a.example.test'), 'exact sni=a.example.test');
    assert.equal(await tlsGreeting(sniPort, 'x.example.test'), 'wild sni=x.example.test');
    assert.equal(await tlsGreeting(sniPort, 'deep.x.b.example.test'), 'longer-wild sni=deep.x.b.example.test');
  });

  test('an SNI no chain names, and no SNI at all, match nothing: closed and counted', async () => {
    const before = dp.stats()['listener.gw-sni.no_filter_chain_match'] ?? 0;
    await assert.rejects(tlsGreeting(sniPort, 'elsewhere.io'));
    await assert.rejects(firstLine(tls.connect({ port: sniPort, host: '127.0.0.1', rejectUnauthorized: false })));
    assert.equal(dp.stats()['listener.gw-sni.no_filter_chain_match'], before + 2);
  });

  test('garbage instead of a ClientHello: a clean close and a counter, and the listener keeps serving', async () => {
    const before = dp.stats()['listener.gw-sni.no_filter_chain_match'] ?? 0;
    const answers = await Promise.all([exchange(sniPort, Buffer.from('GET / HTTP/1.1\r\n\r\n')), exchange(sniPort, Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 1, 2, 3, 4, 5])), exchange(sniPort, Buffer.alloc(64, 0xff))]);
    assert.deepEqual(answers, ['', '', ''], 'closed without a byte');
    assert.equal(dp.stats()['listener.gw-sni.no_filter_chain_match'], before + 3);
    assert.equal(await tlsGreeting(sniPort, 'a.example.test'), 'exact sni=a.example.test');
  });

  test('weightedClusters by SNI: 2,400 ClientHellos split 1:3 within 2 points', async () => {
    const hello = await clientHello('split.test');
    const t0 = Date.now();
    const counts = await many(2400, 32, () => exchange(sniPort, hello));
    const total = (counts.w1 ?? 0) + (counts.w3 ?? 0);
    assert.equal(total, 2400, JSON.stringify(counts));
    const share = (counts.w3 ?? 0) / total;
    assert.ok(Math.abs(share - 0.75) <= 0.02, `w3 share ${share.toFixed(4)} (counts ${JSON.stringify(counts)}, ${Date.now() - t0} ms)`);
  });

  test('raw TCP weightedClusters: 2,400 connections to server-first backends split 4:1 within 2 points', async () => {
    // No listener filters: the chain is chosen at once, so the backend may speak first.
    const t0 = Date.now();
    const cx = () => dp.stats()['tcp.t.downstream_cx_total'] ?? 0;
    const before = cx();
    const counts = await many(2400, 32, () => exchange(tcpPort, undefined));
    const total = (counts.v1 ?? 0) + (counts.v2 ?? 0);
    assert.equal(total, 2400, JSON.stringify(counts));
    const share = (counts.v1 ?? 0) / total;
    assert.ok(Math.abs(share - 0.8) <= 0.02, `v1 share ${share.toFixed(4)} (${Date.now() - t0} ms)`);
    assert.equal(cx() - before, 2400, 'every connection went through tcp_proxy');
  });
});

describe('B. sidecar: CONNECT + TLS routed by SNI (config from the xDS generator, real cluster manager)', () => {
  const POD = '127.41.0.1';
  let dp: DataPlane;
  let external: ExternalTls[];
  const proxy = { host: POD, port: 15001 };

  before(async () => {
    external = await startExternalTls([
      { name: 'api', port: 0 },
      { name: 'mirror', port: 0 },
    ]);
    const [api, mirror] = external;
    // One MESH_EXTERNAL host per server, its STATIC endpoint on loopback.
    const entry = (host: string, port: number) => `---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${host.split('.')[0]}}
spec:
  hosts: [${host}]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 443, name: tls, protocol: TLS}]
  endpoints: [{address: 127.0.0.1, ports: {tls: ${port}}}]
`;
    const yaml = `${entry('api.external.test', api!.port)}${entry('mirror.external.test', mirror!.port)}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: api-by-sni}
spec:
  hosts: [api.external.test, "*.api.external.test"]
  tls:
  - match: [{sniHosts: [beta.api.external.test]}]
    route: [{destination: {host: mirror.external.test}}]
  - match: [{sniHosts: ["*.api.external.test"]}]
    route:
    - {destination: {host: api.external.test}, weight: 1}
    - {destination: {host: mirror.external.test}, weight: 1}
`;
    const { resources, findings } = parseYaml(yaml, 'sidecar.yaml');
    assert.deepEqual(findings.filter((f) => f.severity === 'error'), []);
    const sleep: Workload = {
      name: 'sleep-1',
      namespace: 'default',
      labels: { app: 'sleep' },
      serviceAccount: 'sleep',
      identity: spiffeId('default', 'sleep'),
      address: POD,
      appAddress: '127.41.100.1',
      ports: [],
      ready: true,
      meshed: true,
      owner: 'sleep',
      proxyType: 'sidecar',
    };
    const { model } = buildModel(resources, [sleep]);
    const res = generateForProxy(model, sleep, { rootCertsPem: [] });
    const snap = generatedSnapshot({ ...res, secrets: [] });
    dp = createDataPlane(info(POD), new TestIdentity(), { random: seeded(11) });
    await dp.apply(snap);
    assert.ok(dp.boundListeners().virtualOutbound);
    assert.equal(dp.boundListeners()['tls_sni|443|api.external.test'], undefined, 'internal listeners bind nothing');
  });

  after(async () => {
    await dp?.close();
    await Promise.all(external.map((e) => e.close()));
  });

  async function viaSidecar(target: string, sni: string): Promise<string> {
    const s = startTls(await openTunnel(proxy, target), sni);
    try {
      return await firstLine(s);
    } finally {
      s.destroy();
    }
  }

  test('exact SNI rule, wildcard rule (weighted over both), and an SNI no rule names (the CONNECT target itself)', async () => {
    assert.equal(await viaSidecar('api.external.test:443', 'beta.api.external.test'), 'mirror sni=beta.api.external.test');
    assert.equal(await viaSidecar('api.external.test:443', 'other.example.org'), 'api sni=other.example.org');
    const seen = new Set<string>();
    for (let i = 0; i < 24; i++) seen.add((await viaSidecar('api.external.test:443', `n${i}.api.external.test`)).split(' ')[0]!);
    assert.deepEqual([...seen].sort(), ['api', 'mirror'], 'the wildcard rule splits 1:1');
    const stats = dp.stats();
    assert.ok((stats['cluster.tls_sni|443|api.external.test.upstream_cx_total'] ?? 0) >= 26);
    assert.ok((stats['listener.tls_sni|443|api.external.test.downstream_cx_total'] ?? 0) >= 26);
  });

  test('garbage in the tunnel instead of a ClientHello: the tunnel is closed and counted, nothing crashes', async () => {
    const name = 'listener.tls_sni|443|api.external.test.no_filter_chain_match';
    const before = dp.stats()[name] ?? 0;
    const s = await openTunnel(proxy, 'api.external.test:443');
    s.write('this is not TLS\r\n\r\n');
    s.resume();
    await once(s, 'close');
    assert.equal(dp.stats()[name], before + 1);
    assert.equal(await viaSidecar('api.external.test:443', 'beta.api.external.test'), 'mirror sni=beta.api.external.test');
  });

  test('CONNECT to a host the mesh does not know goes through the ORIGINAL_DST PassthroughCluster to the CONNECT target', async () => {
    assert.equal(await viaSidecar(`127.0.0.1:${external[1]!.port}`, 'whatever.test'), 'mirror sni=whatever.test');
  });
});
