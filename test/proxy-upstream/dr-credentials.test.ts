// DestinationRule TLS origination with credentialName over real TLS: Istio YAML -> model ->
// generated CDS/SDS for a sidecar -> the upstream cluster manager -> real HTTPS servers.
// MUTUAL presents the Secret's client certificate and verifies the server against its CA;
// a wrong CA fails (UF, ssl.fail_verify_error); SIMPLE with only a CA works; subjectAltNames
// are checked; a Secret in another namespace is not used (fails closed, never plaintext);
// a rotated Secret reaches new connections.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import https from 'node:https';
import type tls from 'node:tls';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import { createClusterManager } from '../../src/proxy/data/upstream/index.js';
import { UpstreamError, type ClusterManager } from '../../src/proxy/data/upstream/types.js';
import { parseYaml } from '../../src/resources/index.js';
import { buildModel, type Workload } from '../../src/model/index.js';
import { generateForProxy } from '../../src/xds/generate.js';
import { spiffeId } from '../../src/xds/names.js';
import { makeCa, TestIdentity } from '../helpers/pki.js';
import { makeTlsCa, tlsSecretYaml, type Issued, type TestTlsCa } from '../helpers/tls-certs.js';
import { get, INFO, maps, readAll } from './helpers/xds.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');
const cluster = (host: string) => `outbound|443||${host}`;

const SIDECAR: Workload = {
  name: 'client-abc',
  namespace: 'default',
  labels: { app: 'client' },
  serviceAccount: 'client',
  identity: spiffeId('default', 'client'),
  address: '127.0.0.1',
  appAddress: '127.0.0.1',
  ports: [{ containerPort: 9000 }],
  ready: true,
  meshed: true,
  owner: 'client',
  proxyType: 'sidecar',
};

/** A ServiceEntry for `host` on port 443 (HTTP: the sidecar originates TLS) at 127.0.0.1:`port`, and its DestinationRule. */
function external(host: string, port: number, tls: string): string {
  const name = host.split('.')[0]!;
  return `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${name}, namespace: default}
spec:
  hosts: [${host}]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: http-port, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1, ports: {http-port: ${port}}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: ${name}, namespace: default}
spec:
  host: ${host}
  trafficPolicy:
    tls: ${tls}
`;
}

/** An Opaque Secret with only a CA bundle (`cacert`). */
function caSecretYaml(name: string, namespace: string, caPem: string): string {
  return `apiVersion: v1\nkind: Secret\nmetadata: {name: ${name}, namespace: ${namespace}}\ntype: Opaque\ndata:\n  cacert: ${b64(caPem)}\n`;
}

function listen(opts: https.ServerOptions): Promise<{ server: https.Server; port: number; clientCerts: string[] }> {
  const clientCerts: string[] = [];
  const server = https.createServer(opts, (req, res) => {
    const peer = (req.socket as tls.TLSSocket).getPeerCertificate();
    clientCerts.push(peer.fingerprint256 ?? '');
    res.end(`hello ${peer.subject?.CN ?? 'anonymous'}`);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, port: (server.address() as AddressInfo).port, clientCerts })));
}

describe('DestinationRule credentialName (TLS origination)', () => {
  let serverCa: TestTlsCa;
  let clientCa: TestTlsCa;
  let strangerCa: TestTlsCa;
  let client1: Issued;
  let client2: Issued;
  let mutualServer: Awaited<ReturnType<typeof listen>>;
  let simpleServer: Awaited<ReturnType<typeof listen>>;
  let cm: ClusterManager;

  before(async () => {
    [serverCa, clientCa, strangerCa] = await Promise.all([makeTlsCa('server-ca'), makeTlsCa('client-ca'), makeTlsCa('stranger-ca')]);
    const [mtlsCert, simpleCert] = await Promise.all([serverCa.issue(['mtls.external.test', 'wrongca.external.test', 'other-ns.external.test']), serverCa.issue(['simple.external.test', 'san.external.test'])]);
    [client1, client2] = await Promise.all([clientCa.issue([], { commonName: 'client-one' }), clientCa.issue([], { commonName: 'client-two' })]);
    mutualServer = await listen({ cert: mtlsCert.certPem, key: mtlsCert.keyPem, ca: clientCa.certPem, requestCert: true, rejectUnauthorized: true });
    simpleServer = await listen({ cert: simpleCert.certPem, key: simpleCert.keyPem });
    cm = createClusterManager(INFO, new TestIdentity(await (await makeCa()).issue(SIDECAR.identity)));
  });

  after(async () => {
    await cm.close();
    mutualServer.server.closeAllConnections();
    simpleServer.server.closeAllConnections();
    await Promise.all([new Promise((r) => mutualServer.server.close(r)), new Promise((r) => simpleServer.server.close(r))]);
  });

  function apply(clientCert: Issued): { findings: string[] } {
    const yaml = [
      external('mtls.external.test', mutualServer.port, '{mode: MUTUAL, credentialName: client-cred}'),
      external('wrongca.external.test', mutualServer.port, '{mode: MUTUAL, credentialName: wrong-ca}'),
      external('other-ns.external.test', mutualServer.port, '{mode: MUTUAL, credentialName: elsewhere}'),
      external('simple.external.test', simpleServer.port, '{mode: SIMPLE, credentialName: server-ca}'),
      external('san.external.test', simpleServer.port, '{mode: SIMPLE, credentialName: server-ca, subjectAltNames: [not-this.example]}'),
      tlsSecretYaml('client-cred', 'default', clientCert, serverCa.certPem),
      tlsSecretYaml('wrong-ca', 'default', clientCert, strangerCa.certPem),
      // Istio looks the Secret up in the proxy's namespace: this one is not the sidecar's.
      tlsSecretYaml('elsewhere', 'egress', clientCert, serverCa.certPem),
      caSecretYaml('server-ca', 'default', serverCa.certPem),
    ].join('---\n');
    const parsed = parseYaml(yaml, 'dr.yaml');
    assert.deepEqual(parsed.findings.filter((f) => f.severity === 'error'), []);
    const { model, findings } = buildModel(parsed.resources, [SIDECAR]);
    const res = generateForProxy(model, SIDECAR, { rootCertsPem: [serverCa.certPem], credentials: true });
    cm.update(...maps(res.clusters, res.endpoints, res.secrets));
    return { findings: findings.filter((f) => f.code === 'WEFT_MISSING_CREDENTIAL').map((f) => f.message) };
  }

  const stat = (host: string, name: string): number | undefined => cm.stats()[`cluster.${cluster(host)}.${name}`];

  it('MUTUAL presents the client certificate and verifies the server against the Secret CA', async () => {
    const { findings } = apply(client1);
    assert.equal(findings.length, 1, 'only the Secret in another namespace is missing');
    assert.match(findings[0]!, /credentialName elsewhere: Secret default\/elsewhere not found/);
    const res = await cm.request(cluster('mtls.external.test'), get('/', 'mtls.external.test'));
    assert.equal(res.status, 200);
    assert.equal((await readAll(res.body)).toString(), 'hello client-one');
    assert.equal(stat('mtls.external.test', 'ssl.handshake'), 1);
  });

  it('a Secret whose CA did not sign the server fails the connection with UF and counts ssl.fail_verify_error', async () => {
    await assert.rejects(cm.request(cluster('wrongca.external.test'), get('/', 'wrongca.external.test')), (e: unknown) => e instanceof UpstreamError && e.flag === 'UF' && /not verified/.test(e.message));
    assert.equal(stat('wrongca.external.test', 'ssl.fail_verify_error'), 1);
    assert.equal(stat('wrongca.external.test', 'ssl.handshake'), 0);
  });

  it('SIMPLE with a CA-only Secret verifies the server and sends no client certificate; subjectAltNames are checked', async () => {
    const res = await cm.request(cluster('simple.external.test'), get('/', 'simple.external.test'));
    assert.equal(res.status, 200);
    assert.equal((await readAll(res.body)).toString(), 'hello anonymous');
    await assert.rejects(cm.request(cluster('san.external.test'), get('/', 'san.external.test')), (e: unknown) => e instanceof UpstreamError && e.flag === 'UF' && /SAN/.test(e.message));
    assert.equal(stat('san.external.test', 'ssl.fail_verify_san'), 1);
  });

  it('a Secret only in another namespace is not used: the cluster fails closed, nothing reaches the server', async () => {
    const before = mutualServer.clientCerts.length;
    await assert.rejects(cm.request(cluster('other-ns.external.test'), get('/', 'other-ns.external.test')), (e: unknown) => e instanceof UpstreamError && e.flag === 'UF' && /kubernetes:\/\/elsewhere/.test(e.message));
    assert.equal(mutualServer.clientCerts.length, before);
  });

  it('a rotated Secret reaches new connections', async () => {
    apply(client2);
    const res = await cm.request(cluster('mtls.external.test'), get('/', 'mtls.external.test'));
    assert.equal((await readAll(res.body)).toString(), 'hello client-two');
    assert.equal(mutualServer.clientCerts.at(-1), new X509Certificate(client2.certPem).fingerprint256);
  });
});
