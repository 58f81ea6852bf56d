// DestinationRule credentialName in the model and the generator: SDS names as gateway
// credentials use them, the Secret looked up in the namespace of the proxy using the
// cluster (sidecar or router), sent only to an authenticated proxy, a missing Secret
// reported with the rule, the field path and the namespaces, never a plaintext fallback.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, type Finding } from '../../src/resources/index.js';
import { buildModel, type Workload } from '../../src/model/index.js';
import { generateForProxy, generateGroupsForProxy } from '../../src/xds/generate.js';
import type { EnvoyObject } from '../../src/proxy/types.js';
import { CREDENTIAL } from '../../src/xds/names.js';
import { testWorkload } from '../helpers/workloads.js';
import { makeTlsCa, tlsSecretYaml, type Issued, type TestTlsCa } from '../helpers/tls-certs.js';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => v as Obj;
const b64 = (s: string) => Buffer.from(s).toString('base64');

let ca: TestTlsCa;
let client: Issued;

before(async () => {
  ca = await makeTlsCa('dr-ca');
  client = await ca.issue([], { commonName: 'client' });
});

function workload(name: string, namespace: string, proxyType: Workload['proxyType'], labels: Record<string, string>): Workload {
  const ports = proxyType === 'sidecar' ? [{ containerPort: 8080 }] : [];
  return testWorkload({ name: `${name}-abc`, namespace, labels, serviceAccount: name, address: '127.10.0.7', ports, owner: name, proxyType });
}

const SIDECAR = workload('web', 'default', 'sidecar', { app: 'web' });
const EGRESS = workload('istio-egressgateway', 'istio-system', 'router', { istio: 'egressgateway' });
const CLUSTER = 'outbound|443||api.example.com';

const BASE = `
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: api, namespace: default}
spec:
  hosts: [api.example.com]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: api-tls, namespace: default}
spec:
  host: api.example.com
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy:
      portLevelSettings:
      - port: {number: 443}
        tls: {mode: SIMPLE, credentialName: api-ca, sni: v1.api.example.com}
  trafficPolicy:
    tls: {mode: MUTUAL, credentialName: api-client, subjectAltNames: [api.example.com]}
`;

function caOnlySecret(name: string, namespace: string): string {
  return `apiVersion: v1\nkind: Secret\nmetadata: {name: ${name}, namespace: ${namespace}}\ntype: Opaque\ndata:\n  cacert: ${b64(ca.certPem)}\n`;
}

function build(docs: string[], workloads: Workload[] = [SIDECAR, EGRESS]) {
  const parsed = parseYaml([BASE, ...docs].join('\n---\n'), 'dr.yaml');
  assert.deepEqual(parsed.findings.filter((f) => f.severity === 'error'), []);
  return buildModel(parsed.resources, workloads);
}

const missing = (fs: Finding[]) => fs.filter((f) => f.code === 'WEFT_MISSING_CREDENTIAL');

function tlsContext(clusters: EnvoyObject[], name: string): Obj {
  const c = clusters.find((x) => x['name'] === name);
  assert.ok(c, `cluster ${name}`);
  return obj(obj(obj(c['transportSocket']).typedConfig));
}

test('clusters name the credential with the gateway credential names; SNI and SANs apply', () => {
  const { model } = build([tlsSecretYaml('api-client', 'default', client, ca.certPem), caOnlySecret('api-ca', 'default')]);
  const res = generateForProxy(model, SIDECAR, { rootCertsPem: [ca.certPem], credentials: true });
  const top = tlsContext(res.clusters, CLUSTER);
  const common = obj(top.commonTlsContext);
  assert.deepEqual(
    (common.tlsCertificateSdsSecretConfigs as Obj[]).map((s) => s.name),
    [CREDENTIAL.cert('api-client')],
  );
  assert.equal(CREDENTIAL.cert('api-client'), 'kubernetes://api-client');
  const combined = obj(common.combinedValidationContext);
  assert.equal(obj(combined.validationContextSdsSecretConfig).name, 'kubernetes://api-client-cacert');
  assert.deepEqual(obj(combined.defaultValidationContext).matchTypedSubjectAltNames, [{ sanType: 'DNS', matcher: { exact: 'api.example.com' } }]);
  assert.equal(top.sni, 'api.example.com');
  // The subset's port-level SIMPLE: only the CA, its own SNI.
  const v1 = tlsContext(res.clusters, 'outbound|443|v1|api.example.com');
  assert.equal(obj(v1.commonTlsContext).tlsCertificateSdsSecretConfigs, undefined);
  assert.equal(obj(obj(obj(v1.commonTlsContext).combinedValidationContext).validationContextSdsSecretConfig).name, 'kubernetes://api-ca-cacert');
  assert.equal(v1.sni, 'v1.api.example.com');
  // The secrets: certificate and CA of the MUTUAL credential (CA from its ca.crt), CA of the SIMPLE one (from cacert).
  assert.deepEqual(res.secrets.map((s) => s['name']), ['ROOTCA', 'kubernetes://api-ca-cacert', 'kubernetes://api-client', 'kubernetes://api-client-cacert']);
  const cert = obj(res.secrets.find((s) => s['name'] === 'kubernetes://api-client')!.tlsCertificate);
  assert.equal(obj(cert.certificateChain).inlineString, client.certPem);
  assert.equal(obj(cert.privateKey).inlineString, client.keyPem);
  assert.equal(obj(obj(res.secrets.find((s) => s['name'] === 'kubernetes://api-ca-cacert')!.validationContext).trustedCa).inlineString, ca.certPem);
});

test('the Secret is looked up in the namespace of the proxy using the cluster (sidecar or router)', () => {
  // Only the egress gateway's namespace has the Secrets: the router gets them, the sidecar does not.
  const { model, findings } = build([tlsSecretYaml('api-client', 'istio-system', client, ca.certPem), caOnlySecret('api-ca', 'istio-system')]);
  const router = generateForProxy(model, EGRESS, { rootCertsPem: [ca.certPem], credentials: true });
  assert.deepEqual(router.secrets.map((s) => s['name']), ['ROOTCA', 'kubernetes://api-ca-cacert', 'kubernetes://api-client', 'kubernetes://api-client-cacert']);
  const sidecar = generateForProxy(model, SIDECAR, { rootCertsPem: [ca.certPem], credentials: true });
  assert.deepEqual(sidecar.secrets.map((s) => s['name']), ['ROOTCA']);
  // The sidecar's cluster still asks for them: it fails closed (UF at the proxy), it is not plaintext.
  assert.equal(obj(sidecar.clusters.find((c) => c['name'] === CLUSTER)!.transportSocket).name, 'envoy.transport_sockets.tls');
  const m = missing(findings);
  assert.equal(m.length, 2, JSON.stringify(m));
  const top = m.find((f) => f.path === 'spec.trafficPolicy.tls.credentialName')!;
  assert.deepEqual(top.resource, { kind: 'DestinationRule', namespace: 'default', name: 'api-tls' });
  assert.match(top.message, /MUTUAL credentialName api-client: Secret default\/api-client not found/);
  assert.doesNotMatch(top.message, /istio-system/);
  const sub = m.find((f) => f.path === 'spec.subsets[0].trafficPolicy.portLevelSettings[0].tls.credentialName')!;
  assert.match(sub.message, /SIMPLE credentialName api-ca: no CA to verify the server with: Secret default\/api-ca not found and Secret default\/api-ca-cacert not found/);
});

test('MUTUAL takes its CA from "<name>-cacert" when the Secret has none; a Secret without a key is reported', () => {
  const { model, findings } = build([tlsSecretYaml('api-client', 'default', client), caOnlySecret('api-client-cacert', 'default'), caOnlySecret('api-ca', 'default')], [SIDECAR]);
  assert.deepEqual(missing(findings), []);
  const res = generateForProxy(model, SIDECAR, { rootCertsPem: [ca.certPem], credentials: true });
  assert.ok(res.secrets.some((s) => s['name'] === 'kubernetes://api-client-cacert'));
  // A CA-only Secret cannot serve MUTUAL.
  const bad = build([caOnlySecret('api-client', 'default'), caOnlySecret('api-ca', 'default')], [SIDECAR]);
  assert.match(missing(bad.findings)[0]!.message, /Secret default\/api-client has no client certificate and key/);
});

test('credentials are sent only to a proxy the control plane authenticated', () => {
  const { model } = build([tlsSecretYaml('api-client', 'default', client, ca.certPem), caOnlySecret('api-ca', 'default')]);
  for (const credentials of [false, undefined]) {
    const res = generateForProxy(model, SIDECAR, { rootCertsPem: [ca.certPem], ...(credentials === false ? { credentials } : {}) });
    assert.deepEqual(res.secrets.map((s) => s['name']), ['ROOTCA']);
  }
  // Secret groups: names are disjoint across groups, and the client group is shared by sidecars of a namespace.
  const g1 = generateGroupsForProxy(model, SIDECAR, { rootCertsPem: [ca.certPem], credentials: true });
  const g2 = generateGroupsForProxy(model, { ...SIDECAR, name: 'web-def' }, { rootCertsPem: [ca.certPem], credentials: true });
  assert.equal(g1.secrets.length, 2);
  assert.equal(g1.secrets[1], g2.secrets[1]);
});

test('no workloads yet: nothing to check; a proxy in a namespace without the Secret makes a finding naming it', () => {
  assert.deepEqual(missing(build([], []).findings), []);
  const { findings } = build([tlsSecretYaml('api-client', 'default', client, ca.certPem), caOnlySecret('api-ca', 'default')]);
  const m = missing(findings);
  assert.equal(m.length, 2);
  assert.ok(m.every((f) => /istio-system/.test(f.message) && /fail \(UF\), never plaintext/.test(f.message)), JSON.stringify(m));
});

test('a certificate named "<x>-cacert" and DestinationRule x\'s CA: the certificate keeps the SDS name, x\'s cluster fails closed (UF) without failing the config, and the finding names both and the Secret', async () => {
  const other = await ca.issue(['b.example.com']);
  const docs = [
    ...['a', 'b'].map(
      (h) => `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: ${h}, namespace: default}
spec:
  hosts: [${h}.example.com]
  location: MESH_EXTERNAL
  ports: [{number: 443, name: http, protocol: HTTP}]
  resolution: STATIC
  endpoints: [{address: 127.0.0.1}]`,
    ),
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: a-tls, namespace: default}
spec:
  host: a.example.com
  trafficPolicy: {tls: {mode: SIMPLE, credentialName: a}}`,
    `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: b-tls, namespace: default}
spec:
  host: b.example.com
  trafficPolicy: {tls: {mode: MUTUAL, credentialName: a-cacert}}`,
    // On the gateway, a server's certificate takes the name too.
    `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: egress, namespace: istio-system}
spec:
  selector: {istio: egressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [b.example.com]
    tls: {mode: SIMPLE, credentialName: a-cacert}`,
    caOnlySecret('a', 'default'),
    tlsSecretYaml('a-cacert', 'default', other, ca.certPem),
    caOnlySecret('a', 'istio-system'),
    tlsSecretYaml('a-cacert', 'istio-system', other, ca.certPem),
    // BASE's own credentials, so that only the clash is reported.
    tlsSecretYaml('api-client', 'default', client, ca.certPem),
    caOnlySecret('api-ca', 'default'),
    tlsSecretYaml('api-client', 'istio-system', client, ca.certPem),
    caOnlySecret('api-ca', 'istio-system'),
  ];
  const { model, findings } = build(docs);
  assert.deepEqual(missing(findings), []);
  const clash = findings.filter((f) => f.code === 'WEFT_CREDENTIAL_CLASH');
  assert.deepEqual(clash.map((f) => [f.resource?.name, f.path]), [['a-tls', 'spec.trafficPolicy.tls.credentialName']]);
  assert.match(clash[0]!.message, /^tls SIMPLE credentialName a: its CA would be served under the SDS name "a-cacert", which is /);
  assert.match(clash[0]!.message, /the client certificate of DestinationRule default\/b-tls \(tls MUTUAL credentialName a-cacert: Secret default\/a-cacert\)/);
  assert.match(clash[0]!.message, /the certificate of server https \(port 443, hosts b\.example\.com\) of Gateway istio-system\/egress \(Secret istio-system\/a-cacert\)/);

  // No Secret a or a-cacert in istio-system: a-tls's and b-tls's credentials (and the gateway's certificate)
  // reported missing there, and the clash in default is still reported.
  const gone = new Set([caOnlySecret('a', 'istio-system'), tlsSecretYaml('a-cacert', 'istio-system', other, ca.certPem)]);
  const partial = build(docs.filter((d) => !gone.has(d))).findings;
  assert.deepEqual(missing(partial).map((f) => f.resource?.name).sort(), ['a-tls', 'b-tls', 'egress']);
  const partialClash = partial.filter((f) => f.code === 'WEFT_CREDENTIAL_CLASH');
  assert.deepEqual(partialClash.map((f) => f.resource?.name), ['a-tls']);
  assert.match(partialClash[0]!.message, /DestinationRule default\/b-tls/);
  assert.doesNotMatch(partialClash[0]!.message, /Gateway istio-system\/egress/);

  const { createClusterManager } = await import('../../src/proxy/data/upstream/index.js');
  const { UpstreamError } = await import('../../src/proxy/data/upstream/types.js');
  const { TestIdentity } = await import('../helpers/pki.js');
  for (const proxy of [SIDECAR, EGRESS]) {
    const res = generateForProxy(model, proxy, { rootCertsPem: [ca.certPem], credentials: true });
    const name = CREDENTIAL.ca('a');
    assert.ok(res.secrets.find((s) => s['name'] === name)?.['tlsCertificate'], `${proxy.name}: ${name} is the certificate`);
    if (proxy === EGRESS) assert.ok(res.listeners.some((l) => l['name'] === 'gateway|443'), 'the gateway server keeps its chain');
    const byName = (list: EnvoyObject[], key = 'name') => new Map(list.map((o) => [String(o[key]), o]));
    const cm = createClusterManager(
      { type: proxy.proxyType, pod: proxy.name, namespace: proxy.namespace, serviceAccount: proxy.serviceAccount, identity: proxy.identity, ip: '127.0.0.1', listenAddress: '127.0.0.1', labels: {}, trustDomain: 'cluster.local' },
      new TestIdentity(),
    );
    try {
      // The proxy takes the whole config (no NACK); only a.example.com's cluster fails, closed.
      cm.update(byName(res.clusters), byName(res.endpoints, 'clusterName'), byName(res.secrets));
      await assert.rejects(cm.connect('outbound|443||a.example.com'), (e: unknown) => e instanceof UpstreamError && e.flag === 'UF' && /validation secret "kubernetes:\/\/a-cacert" holds no validation context/.test(e.message));
    } finally {
      await cm.close();
    }
  }
});
