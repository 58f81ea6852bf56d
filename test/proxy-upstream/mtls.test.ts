// mTLS between sidecars: pooled HTTP/2 over TLS with SAN checks, rotation, weft-tcp, Upgrade.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import net, { type AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { createClusterManager } from '../../src/proxy/data/upstream/index.js';
import { UpstreamError, type ClusterManager } from '../../src/proxy/data/upstream/types.js';
import type { WorkloadCertificate } from '../../src/proxy/types.js';
import { makeCa, TestIdentity, type TestCa } from '../helpers/pki.js';
import { startPeer, type Peer } from './helpers/peer.js';
import { cla, cluster, get, INFO, maps, readAll, rootSecret } from './helpers/xds.js';
import { parseYaml } from '../../src/resources/index.js';
import { buildModel } from '../../src/model/index.js';
import { generateForProxy } from '../../src/xds/generate.js';
import { testWorkload } from '../helpers/workloads.js';

const SERVER_ID = 'spiffe://cluster.local/ns/default/sa/server';
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/client';
const C = 'outbound|8080||svc.default.svc.cluster.local';

function fingerprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

describe('mTLS upstream', () => {
  let pki: TestCa;
  let serverLeaf: WorkloadCertificate;
  let clientLeaf: WorkloadCertificate;
  let peer: Peer;
  let identity: TestIdentity;
  let cm: ClusterManager;

  before(async () => {
    pki = await makeCa();
    serverLeaf = await pki.issue(SERVER_ID);
    clientLeaf = await pki.issue(CLIENT_ID);
    peer = await startPeer(pki, serverLeaf);
    identity = new TestIdentity(clientLeaf);
    cm = createClusterManager(INFO, identity);
    cm.update(...maps([cluster(C, { sans: [SERVER_ID] })], [cla(C, [{ address: peer.address, port: peer.port, mesh: true }])], [rootSecret(pki.certPem)]));
  });

  after(async () => {
    await cm.close();
    await peer.close();
  });

  it('sends 200 concurrent requests over one TLS connection and records the peer identity', async () => {
    const results = await Promise.all(
      Array.from({ length: 200 }, async (_, i) => {
        const res = await cm.request(C, get(`/r${i}`));
        const body = (await readAll(res.body)).toString();
        return { res, body, i };
      }),
    );
    for (const { res, body, i } of results) {
      assert.equal(res.status, 200);
      assert.equal(body, `hello /r${i}`);
      assert.equal(res.peerIdentity, SERVER_ID);
      assert.equal(res.endpoint, `${peer.address}:${peer.port}`);
    }
    assert.equal(peer.connections.length, 1);
    assert.equal(peer.connections[0]!.alpn, 'h2');
    assert.match(peer.connections[0]!.clientSan, /URI:spiffe:\/\/cluster.local\/ns\/default\/sa\/client/);
    const s = cm.stats();
    assert.equal(s[`cluster.${C}.upstream_rq_total`], 200);
    assert.equal(s[`cluster.${C}.upstream_rq_2xx`], 200);
    assert.equal(s[`cluster.${C}.upstream_cx_total`], 1);
    assert.equal(s[`cluster.${C}.upstream_cx_active`], 1);
    assert.equal(s[`cluster.${C}.ssl.handshake`], 1);
    assert.equal(s[`cluster.${C}.membership_healthy`], 1);
  });

  it('keeps the client protocol on the mesh hop when the cluster offers h2 and http/1.1 (Istio default h2UpgradePolicy)', async () => {
    const D = 'outbound|8080||downstream.default.svc.cluster.local';
    const local = createClusterManager(INFO, identity);
    try {
      local.update(...maps([cluster(D, { sans: [SERVER_ID], alpn: ['h2', 'http/1.1'], protocol: 'downstream' })], [cla(D, [{ address: peer.address, port: peer.port, mesh: true }])], [rootSecret(pki.certPem)]));
      const before = peer.connections.length;
      const h1 = await local.request(D, { ...get('/one'), downstreamProtocol: 'http/1.1' });
      assert.equal((await readAll(h1.body)).toString(), 'plain h1', "answered by the peer's HTTP/1.1 server");
      assert.equal(h1.peerIdentity, SERVER_ID);
      const h2 = await local.request(D, { ...get('/two'), downstreamProtocol: 'h2' });
      assert.equal((await readAll(h2.body)).toString(), 'hello /two', "answered by the peer's HTTP/2 server");
      assert.deepEqual(peer.connections.slice(before).map((c) => c.alpn).sort(), ['h2', 'http/1.1']);
      // A second HTTP/1.1 request reuses the kept-alive TLS connection.
      const again = await local.request(D, { ...get('/three'), downstreamProtocol: 'http/1.1' });
      await readAll(again.body);
      assert.equal(peer.connections.length, before + 2);
    } finally {
      await local.close();
    }
  });

  it('clusters from the generator: HTTP/1.1 stays HTTP/1.1 on the mTLS hop unless the port is grpc/http2 or the DestinationRule says UPGRADE', async () => {
    const yaml = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080}, {name: grpc-api, port: 9090}, {name: http2-api, port: 9091}]
---
apiVersion: v1
kind: Service
metadata: {name: up, namespace: default}
spec:
  selector: {app: up}
  ports: [{name: http, port: 8080}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: up, namespace: default}
spec:
  host: up
  trafficPolicy: {connectionPool: {http: {h2UpgradePolicy: UPGRADE}}}
`;
    const parsed = parseYaml(yaml, 'h2.yaml');
    assert.deepEqual(parsed.findings.filter((f) => f.severity === 'error'), []);
    const client = testWorkload({ name: 'client', address: '127.0.0.10', serviceAccount: 'client' });
    const web = testWorkload({ name: 'web', address: '127.0.0.11', serviceAccount: 'server' });
    const up = testWorkload({ name: 'up', address: '127.0.0.12', serviceAccount: 'server' });
    const { model } = buildModel(parsed.resources, [client, web, up]);
    const res = generateForProxy(model, client, { rootCertsPem: [pki.certPem] });
    const expected: Record<string, string> = {
      'outbound|8080||web.default.svc.cluster.local': 'http/1.1',
      'outbound|9090||web.default.svc.cluster.local': 'h2',
      'outbound|9091||web.default.svc.cluster.local': 'h2',
      'outbound|8080||up.default.svc.cluster.local': 'h2',
    };
    const clusters = res.clusters.filter((c) => String(c['name']) in expected);
    assert.equal(clusters.length, 4);
    for (const c of clusters) {
      // The precondition: every one of them offers both protocols on the mesh hop.
      assert.match(JSON.stringify(c['transportSocketMatches']), /"alpnProtocols":\["h2","http\/1\.1"\]/, String(c['name']));
    }
    const local = createClusterManager(INFO, identity);
    try {
      const endpoints = Object.keys(expected).map((n) => cla(n, [{ address: peer.address, port: peer.port, mesh: true }]));
      local.update(...maps(clusters, endpoints, [rootSecret(pki.certPem)]));
      for (const [name, alpn] of Object.entries(expected)) {
        const before = peer.connections.length;
        const r = await local.request(name, { ...get('/h'), downstreamProtocol: 'http/1.1' });
        const body = (await readAll(r.body)).toString();
        assert.equal(peer.connections.at(-1)!.alpn, alpn, name);
        assert.equal(peer.connections.length, before + 1, name);
        assert.equal(body, alpn === 'h2' ? 'hello /h' : 'plain h1', name);
      }
    } finally {
      await local.close();
    }
  });

  it('keeps in-flight streams when the server sends GOAWAY and moves on to a new connection', async () => {
    const before = peer.connections.length;
    const first = await cm.request(C, get('/goaway'));
    assert.equal((await readAll(first.body)).toString(), 'after goaway');
    const next = await cm.request(C, get('/after'));
    assert.equal((await readAll(next.body)).toString(), 'hello /after');
    assert.equal(peer.connections.length, before + 1);
  });

  it('fails with UF and counts ssl.fail_verify_san when the server SAN is not allowed', async () => {
    const other = 'outbound|8080||other.default.svc.cluster.local';
    cm.update(
      ...maps(
        [cluster(C, { sans: [SERVER_ID] }), cluster(other, { sans: ['spiffe://cluster.local/ns/default/sa/someone-else'] })],
        [cla(C, [{ address: peer.address, port: peer.port, mesh: true }]), cla(other, [{ address: peer.address, port: peer.port, mesh: true }])],
        [rootSecret(pki.certPem)],
      ),
    );
    await assert.rejects(cm.request(other, get('/x')), (err: unknown) => err instanceof UpstreamError && err.flag === 'UF' && /SAN/.test(err.message));
    await assert.rejects(cm.connect(other), (err: unknown) => err instanceof UpstreamError && err.flag === 'UF');
    await new Promise((r) => setImmediate(r)); // sockets emit 'close' a tick after destroy
    const s = cm.stats();
    assert.equal(s[`cluster.${other}.ssl.fail_verify_san`], 2);
    assert.equal(s[`cluster.${other}.upstream_cx_active`], 0);
  });

  it('after rotation new connections present the new certificate; open streams finish on the old one', async () => {
    const slow = cm.request(C, get('/slow'));
    await new Promise((r) => setTimeout(r, 50));
    const newLeaf = await pki.issue(CLIENT_ID);
    const before = peer.connections.length;
    identity.rotate(newLeaf);
    const res = await cm.request(C, get('/rotated'));
    assert.equal((await readAll(res.body)).toString(), 'hello /rotated');
    const oldRes = await slow;
    assert.equal((await readAll(oldRes.body)).toString(), 'slow done');
    assert.equal(peer.connections.length, before + 1);
    assert.equal(peer.connections.at(-1)!.clientFingerprint, fingerprint(newLeaf.certChainPem));
    assert.notEqual(peer.connections[0]!.clientFingerprint, fingerprint(newLeaf.certChainPem));
    // connect() dials fresh, so it presents the new certificate too.
    const { socket } = await cm.connect(C);
    socket.write('x');
    await new Promise((r) => socket.once('data', r));
    socket.destroy();
    assert.equal(peer.connections.at(-1)!.clientFingerprint, fingerprint(newLeaf.certChainPem));
  });

  it('connect() speaks ALPN weft-tcp and passes bytes both ways', async () => {
    const { socket, endpoint, peerIdentity } = await cm.connect(C);
    assert.equal(endpoint, `${peer.address}:${peer.port}`);
    assert.equal(peerIdentity, SERVER_ID);
    socket.write('ping over mesh');
    const echoed = await new Promise<string>((resolve) => socket.once('data', (d: Buffer) => resolve(d.toString())));
    assert.equal(echoed, 'ping over mesh');
    assert.equal(peer.connections.at(-1)!.alpn, 'weft-tcp');
    socket.destroy();
  });

  it('an Upgrade request gets a fresh http/1.1 connection and the raw socket after 101', async () => {
    const res = await cm.request(C, { ...get('/ws'), upgrade: 'websocket', headers: { 'sec-websocket-version': '13' } });
    assert.equal(res.status, 101);
    assert.equal(res.headers['upgrade'], 'websocket');
    assert.equal(res.headers['x-path'], '/ws');
    assert.equal(res.peerIdentity, SERVER_ID);
    assert.equal(peer.connections.at(-1)!.alpn, 'http/1.1');
    const sock = res.upgradedSocket!;
    sock.write('frame');
    const echoed = await new Promise<string>((resolve) => sock.once('data', (d: Buffer) => resolve(d.toString())));
    assert.equal(echoed, 'frame');
    sock.destroy();
  });

  it('fails with UF within the connect timeout when the TLS handshake never completes', async () => {
    const sink = net.createServer(() => {}); // accepts TCP, never speaks TLS
    const held: net.Socket[] = [];
    sink.on('connection', (s) => held.push(s));
    await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
    const port = (sink.address() as AddressInfo).port;
    const slowC = 'outbound|9|slow|svc';
    const cm2 = createClusterManager(INFO, identity);
    cm2.update(...maps([cluster(slowC, { sans: [SERVER_ID], connectTimeoutMs: 300 })], [cla(slowC, [{ address: '127.0.0.1', port, mesh: true }])], [rootSecret(pki.certPem)]));
    const t0 = Date.now();
    await assert.rejects(cm2.request(slowC, get('/')), (err: unknown) => err instanceof UpstreamError && err.flag === 'UF' && /timeout/.test(err.message));
    const took = Date.now() - t0;
    assert.ok(took >= 280 && took < 1500, `took ${took} ms`);
    assert.equal(cm2.stats()[`cluster.${slowC}.upstream_cx_connect_fail`], 1);
    await cm2.close();
    for (const s of held) s.destroy();
    await new Promise<void>((r) => sink.close(() => r()));
  });

  it('fails with UF before the first workload certificate, and when ROOTCA has not arrived', async () => {
    const noCert = createClusterManager(INFO, new TestIdentity());
    noCert.update(...maps([cluster(C, { sans: [SERVER_ID] })], [cla(C, [{ address: peer.address, port: peer.port, mesh: true }])], [rootSecret(pki.certPem)]));
    await assert.rejects(noCert.request(C, get('/')), (err: unknown) => err instanceof UpstreamError && err.flag === 'UF' && /certificate/.test(err.message));
    noCert.update(...maps([cluster(C, { sans: [SERVER_ID] })], [cla(C, [{ address: peer.address, port: peer.port, mesh: true }])], []));
    await assert.rejects(noCert.request(C, get('/')), (err: unknown) => err instanceof UpstreamError && err.flag === 'UF');
    await noCert.close();
  });

  it('a ROOTCA that arrives later (same Cluster object, new secrets map) is used; repeated updates with the same maps keep working', async () => {
    const late = createClusterManager(INFO, new TestIdentity(clientLeaf));
    const [clusters, endpoints, none] = maps([cluster(C, { sans: [SERVER_ID] })], [cla(C, [{ address: peer.address, port: peer.port, mesh: true }])], []);
    late.update(clusters, endpoints, none);
    await assert.rejects(late.request(C, get('/')), (err: unknown) => err instanceof UpstreamError && err.flag === 'UF' && /ROOTCA/.test(err.message));
    const secrets = maps([], [], [rootSecret(pki.certPem)])[2];
    late.update(clusters, endpoints, secrets);
    const res = await late.request(C, get('/'));
    assert.equal(res.status, 200);
    await readAll(res.body);
    late.update(clusters, endpoints, secrets);
    const again = await late.request(C, get('/'));
    assert.equal(again.status, 200);
    await readAll(again.body);
    await late.close();
  });
});
