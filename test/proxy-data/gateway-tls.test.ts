// A gateway's HTTPS over real TLS: Istio YAML -> model -> generated LDS/RDS/SDS -> the data
// plane, with real clients. Certificate by SNI (exact, wildcard, the chain without server
// names for other names and for no SNI), MUTUAL client certificates, httpsRedirect's 301,
// rotation that new handshakes see while open connections keep going, a bad secret
// rejected (the last good one keeps serving), and a secret that has not arrived yet.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import https from 'node:https';
import net from 'node:net';
import type tls from 'node:tls';
import { createDataPlane } from '../../src/proxy/data/index.js';
import type { DataPlane, EnvoyObject, XdsSnapshot } from '../../src/proxy/types.js';
import { parseYaml } from '../../src/resources/index.js';
import { buildModel, type Workload } from '../../src/model/index.js';
import { generateForProxy } from '../../src/xds/generate.js';
import { spiffeId } from '../../src/xds/names.js';
import { TestClusterManager, info, listen, testApp, snapshot } from './helpers.js';
import { makeTlsCa, tlsSecretYaml, type Issued, type TestTlsCa } from '../helpers/tls-certs.js';
import { makeCa, TestIdentity } from '../helpers/pki.js';

const NS = 'istio-system';
const ROUTER: Workload = {
  name: 'istio-ingressgateway-abc',
  namespace: NS,
  labels: { istio: 'ingressgateway' },
  serviceAccount: 'istio-ingressgateway',
  identity: spiffeId(NS, 'istio-ingressgateway'),
  address: '127.0.0.1',
  appAddress: '127.0.0.1',
  ports: [],
  ready: true,
  meshed: true,
  owner: 'istio-ingressgateway',
  proxyType: 'router',
};

let serverCa: TestTlsCa;
let clientCa: TestTlsCa;
let strangerCa: TestTlsCa;
const certs: Record<string, Issued> = {};
let clientCert: Issued;
let strangerCert: Issued;
let app: http.Server;
let dp: DataPlane;
let httpPort: number;
let httpsPort: number;

function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
  });
}

function meshYaml(secrets: Record<string, Issued>): string {
  const secretDocs = Object.entries(secrets).map(([name, c]) => tlsSecretYaml(name, NS, c, name === 'secure-cert' ? clientCa.certPem : undefined));
  return [
    `apiVersion: v1
kind: Service
metadata: {name: istio-ingressgateway, namespace: ${NS}}
spec:
  selector: {istio: ingressgateway}
  ports: [{name: http2, port: 80, targetPort: ${httpPort}}, {name: https, port: 443, targetPort: ${httpsPort}}]`,
    `apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080}]`,
    `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
    tls: {httpsRedirect: true}
  - port: {number: 443, name: www, protocol: HTTPS}
    hosts: [www.example.com]
    tls: {mode: SIMPLE, credentialName: www-cert}
  - port: {number: 443, name: wild, protocol: HTTPS}
    hosts: ["*.example.com"]
    tls: {mode: SIMPLE, credentialName: wild-cert}
  - port: {number: 443, name: fallback, protocol: HTTPS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: fallback-cert}
  - port: {number: 443, name: secure, protocol: HTTPS}
    hosts: [secure.test]
    tls: {mode: MUTUAL, credentialName: secure-cert}`,
    `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: ["*"]
  gateways: [gw]
  http:
  - route: [{destination: {host: web, port: {number: 8080}}}]`,
    ...secretDocs,
  ].join('\n---\n');
}

/** What the control plane would send this gateway for these Secrets. */
function configFor(secrets: Record<string, Issued>): XdsSnapshot {
  const parsed = parseYaml(meshYaml(secrets), 'gateway.yaml');
  assert.deepEqual(parsed.findings.filter((f) => f.severity === 'error'), []);
  const { model } = buildModel(parsed.resources, [ROUTER]);
  const res = generateForProxy(model, ROUTER, { rootCertsPem: [serverCa.certPem], credentials: true });
  return snapshot(res.listeners, res.routes, res.secrets);
}

before(async () => {
  [serverCa, clientCa, strangerCa] = await Promise.all([makeTlsCa('server-ca'), makeTlsCa('client-ca'), makeTlsCa('stranger-ca')]);
  certs['www-cert'] = await serverCa.issue(['www.example.com']);
  certs['wild-cert'] = await serverCa.issue(['*.example.com'], { commonName: 'wildcard.example.com' });
  certs['fallback-cert'] = await serverCa.issue(['fallback.test']);
  certs['secure-cert'] = await serverCa.issue(['secure.test']);
  clientCert = await clientCa.issue([], { commonName: 'good-client' });
  strangerCert = await strangerCa.issue([], { commonName: 'stranger' });
  [httpPort, httpsPort] = await Promise.all([freePort(), freePort()]);
  app = testApp();
  const cm = new TestClusterManager();
  cm.targets.set('outbound|8080||web.default.svc.cluster.local', await listen(app));
  const mesh = await makeCa('mesh');
  dp = createDataPlane({ ...info('127.0.0.1', ROUTER.identity), type: 'router', namespace: NS }, new TestIdentity(await mesh.issue(ROUTER.identity)), { clusterManager: cm });
  await dp.apply(configFor(certs));
});

after(async () => {
  await dp.close();
  app.closeAllConnections();
  app.close();
});

interface Answer {
  status: number;
  cn: string;
  serial: string;
  socket: tls.TLSSocket;
}

/** GET over TLS with SNI `servername` (none when absent), trusting the server CA; `anyName` skips the client's RFC 6125 name check. */
function get(opts: { servername?: string; agent?: https.Agent; cert?: Issued; path?: string; anyName?: boolean }): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      {
        host: '127.0.0.1',
        port: httpsPort,
        path: opts.path ?? '/hello',
        headers: { host: opts.servername ?? 'nosni.test' },
        ca: serverCa.certPem,
        ...(opts.servername ? { servername: opts.servername } : {}),
        ...(!opts.servername || opts.anyName ? { checkServerIdentity: () => undefined } : {}),
        ...(opts.cert ? { cert: opts.cert.certPem, key: opts.cert.keyPem } : {}),
        agent: opts.agent ?? false,
      },
      (res) => {
        // Read now: a keep-alive agent takes the socket back at the end of the response.
        const sock = res.socket as tls.TLSSocket;
        const peer = sock.getPeerCertificate();
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, cn: String(peer.subject?.CN), serial: peer.serialNumber, socket: sock }));
      },
    );
    req.on('error', reject);
    req.end();
  });
}

test('the certificate is chosen by SNI: exact name, then the longest wildcard, then the chain without server names', async () => {
  const www = await get({ servername: 'www.example.com' });
  assert.equal(www.status, 200);
  assert.equal(www.cn, 'www.example.com', 'exact beats *.example.com');
  assert.equal((await get({ servername: 'shop.example.com' })).cn, 'wildcard.example.com');
  // Envoy's *.example.com chain also matches deeper names (a client's own name check would not accept the certificate there).
  assert.equal((await get({ servername: 'a.b.example.com', anyName: true })).cn, 'wildcard.example.com');
  assert.equal((await get({ servername: 'fallback.test' })).cn, 'fallback.test');
  // Other names and clients without SNI get the server with hosts "*" (no serverNames).
  const none = await get({});
  assert.equal(none.status, 200);
  assert.equal(none.cn, 'fallback.test');
  // The chain is verified against the server CA by the client (rejectUnauthorized is on): a wrong CA fails.
  await assert.rejects(
    new Promise((resolve, reject) => {
      https.get({ host: '127.0.0.1', port: httpsPort, servername: 'www.example.com', ca: strangerCa.certPem, agent: false }, resolve).on('error', reject);
    }),
    /self-signed|unable to verify|certificate/i,
  );
});

test('MUTUAL: a client certificate from the Secret\'s ca.crt is accepted; none, or one from another CA, is refused', async () => {
  const ok = await get({ servername: 'secure.test', cert: clientCert });
  assert.equal(ok.status, 200);
  assert.equal(ok.cn, 'secure.test');
  await assert.rejects(get({ servername: 'secure.test' }));
  await assert.rejects(get({ servername: 'secure.test', cert: strangerCert }));
  const stats = dp.stats();
  assert.ok((stats['listener.gateway|443.ssl.no_certificate'] ?? 0) >= 1, JSON.stringify(stats));
  assert.ok((stats['listener.gateway|443.ssl.fail_verify_error'] ?? 0) >= 1);
});

test('httpsRedirect: a plain request gets 301 to https://<host as sent><path and query>', async () => {
  const res = await new Promise<http.IncomingMessage>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: httpPort, path: '/productpage?u=1', headers: { host: 'www.example.com' }, agent: false }, resolve).on('error', reject);
  });
  res.resume();
  assert.equal(res.statusCode, 301);
  assert.equal(res.headers.location, 'https://www.example.com/productpage?u=1');
});

test('rotation: new handshakes get the new certificate, an open connection keeps working on the old one; a bad secret is rejected', async () => {
  const agent = new https.Agent({ keepAlive: true, maxSockets: 1 });
  try {
    const first = await get({ servername: 'www.example.com', agent });
    const before = first.serial;
    const rotated = { ...certs, 'www-cert': await serverCa.issue(['www.example.com']) };
    await dp.apply(configFor(rotated));
    const fresh = await get({ servername: 'www.example.com' });
    assert.equal(fresh.cn, 'www.example.com');
    assert.notEqual(fresh.serial, before, 'a new handshake sees the new certificate');
    const again = await get({ servername: 'www.example.com', agent });
    assert.equal(again.status, 200);
    assert.equal(again.socket, first.socket, 'the same connection carried on');
    assert.equal(again.serial, before);

    // A key that does not match its certificate: the snapshot is refused, naming the secret.
    const bad = configFor(rotated);
    const s = bad.secrets.get('kubernetes://www-cert')!;
    const tc = s.tlsCertificate as EnvoyObject;
    bad.secrets.set('kubernetes://www-cert', { ...s, tlsCertificate: { ...tc, privateKey: { inlineString: certs['wild-cert']!.keyPem } } });
    await assert.rejects(dp.apply(bad), /secret "kubernetes:\/\/www-cert": field tlsCertificate: .*key values mismatch/);
    assert.equal((await get({ servername: 'www.example.com' })).serial, fresh.serial, 'the last good certificate keeps serving');
  } finally {
    agent.destroy();
  }
});

test('a listener whose secret has not arrived yet closes handshakes until it does', async () => {
  const partial = configFor(certs);
  partial.secrets.delete('kubernetes://www-cert');
  await dp.apply(partial);
  await assert.rejects(get({ servername: 'www.example.com' }));
  assert.equal((await get({ servername: 'shop.example.com' })).cn, 'wildcard.example.com', 'other servers keep serving');
  await dp.apply(configFor(certs));
  const now = await get({ servername: 'www.example.com' });
  assert.equal(now.status, 200);
  assert.equal(now.cn, 'www.example.com');
  assert.ok((dp.stats()['listener.gateway|443.ssl.connection_error'] ?? 0) >= 1, 'the refused handshake was counted');
});
