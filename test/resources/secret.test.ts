// The Secret kind: TLS credentials as Istio reads them, validated (base64, PEM, key match,
// expiry) with file:line:path findings, and never shown with their values.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, redactSecret, tlsMaterial, type Finding, type SecretSpec, type Resource } from '../../src/resources/index.js';
import { makeTlsCa, tlsSecretYaml, type Issued, type TestTlsCa } from '../helpers/tls-certs.js';

const errors = (fs: Finding[]) => fs.filter((f) => f.severity === 'error');
const b64 = (s: string) => Buffer.from(s).toString('base64');
const indent = (s: string, n: number) => s.trimEnd().split('\n').map((l) => ' '.repeat(n) + l).join('\n');

let ca: TestTlsCa;
let good: Issued;
let other: Issued;
let expired: Issued;

before(async () => {
  ca = await makeTlsCa('test-ca');
  good = await ca.issue(['www.example.com']);
  other = await ca.issue(['other.example.com']);
  expired = await ca.issue(['old.example.com'], { notBefore: new Date(Date.now() - 3 * 86_400_000), notAfter: new Date('2020-01-02T03:04:05Z') });
});

test('kubernetes.io/tls Secret: decoded material, default namespace, no findings', () => {
  const { resources, findings } = parseYaml(tlsSecretYaml('www-cert', 'istio-system', good, ca.certPem), 's.yaml');
  assert.deepEqual(findings, []);
  const r = resources[0] as Resource<SecretSpec>;
  assert.equal(r.kind, 'Secret');
  assert.equal(r.metadata.namespace, 'istio-system');
  assert.equal(r.spec.type, 'kubernetes.io/tls');
  assert.deepEqual(tlsMaterial(r.spec), { certChainPem: good.certPem, keyPem: good.keyPem, caPem: ca.certPem });
});

test("Opaque Secret with Istio's generic keys and stringData (stringData wins over data)", () => {
  const text = [
    'apiVersion: v1',
    'kind: Secret',
    'metadata: {name: generic}',
    'data:',
    `  cert: ${b64('overridden')}`,
    'stringData:',
    '  cert: |',
    indent(good.certPem, 4),
    '  key: |',
    indent(good.keyPem, 4),
    '  cacert: |',
    indent(ca.certPem, 4),
    '',
  ].join('\n');
  const { resources, findings } = parseYaml(text, 'g.yaml');
  assert.deepEqual(errors(findings), []);
  const spec = (resources[0] as Resource<SecretSpec>).spec;
  assert.equal(spec.type, 'Opaque');
  const m = tlsMaterial(spec);
  assert.equal(m.certChainPem?.trim(), good.certPem.trim());
  assert.equal(m.keyPem?.trim(), good.keyPem.trim());
  assert.equal(m.caPem?.trim(), ca.certPem.trim());
});

test('a CA-only Secret (the "<name>-cacert" convention) is valid', () => {
  const text = ['apiVersion: v1', 'kind: Secret', 'metadata: {name: www-cert-cacert}', 'data:', `  cacert: ${b64(ca.certPem)}`, ''].join('\n');
  const { resources, findings } = parseYaml(text, 'c.yaml');
  assert.deepEqual(findings, []);
  assert.equal(tlsMaterial((resources[0] as Resource<SecretSpec>).spec).caPem, ca.certPem);
});

test('bad base64, bad PEM, a key that does not match: errors with file:line:path, resource rejected', () => {
  const text = [
    'apiVersion: v1', // 1
    'kind: Secret',
    'metadata: {name: bad, namespace: istio-system}',
    'type: kubernetes.io/tls',
    'data:', // 5
    '  tls.crt: "not base64!"',
    `  tls.key: ${b64(good.keyPem)}`,
    '---',
    'apiVersion: v1',
    'kind: Secret', // 10
    'metadata: {name: garbage}',
    'type: kubernetes.io/tls',
    'data:',
    `  tls.crt: ${b64('-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n')}`,
    `  tls.key: ${b64(good.keyPem)}`, // 15
    '---',
    'apiVersion: v1',
    'kind: Secret',
    'metadata: {name: mismatch}',
    'type: kubernetes.io/tls', // 20
    'data:',
    `  tls.crt: ${b64(good.certPem)}`,
    `  tls.key: ${b64(other.keyPem)}`,
    '',
  ].join('\n');
  const { resources, findings } = parseYaml(text, 'bad.yaml');
  assert.deepEqual(resources, []);
  const es = errors(findings);
  const b = es.find((f) => f.resource?.name === 'bad')!;
  assert.equal(b.file, 'bad.yaml');
  assert.equal(b.line, 6);
  assert.equal(b.path, 'data["tls.crt"]');
  assert.match(b.message, /not valid base64/);
  const g = es.find((f) => f.resource?.name === 'garbage')!;
  assert.equal(g.line, 14);
  assert.equal(g.path, 'data["tls.crt"]');
  assert.match(g.message, /does not parse/);
  const m = es.find((f) => f.resource?.name === 'mismatch')!;
  assert.equal(m.line, 23);
  assert.equal(m.path, 'data["tls.key"]');
  assert.match(m.message, /does not match the certificate in tls\.crt \(CN=www\.example\.com\)/);
  // Errors never quote key material.
  for (const f of es) assert.doesNotMatch(f.message, /PRIVATE KEY|MI[GH]/);
});

test('kubernetes.io/tls needs both keys; a lone cert in an Opaque Secret is an error too', () => {
  const tlsNoKey = ['apiVersion: v1', 'kind: Secret', 'metadata: {name: a}', 'type: kubernetes.io/tls', 'data:', `  tls.crt: ${b64(good.certPem)}`, ''].join('\n');
  const r1 = parseYaml(tlsNoKey, 'a.yaml');
  assert.deepEqual(r1.resources, []);
  assert.ok(errors(r1.findings).some((f) => f.path === 'data["tls.key"]' && /needs tls\.key/.test(f.message)));
  const opaqueNoKey = ['apiVersion: v1', 'kind: Secret', 'metadata: {name: b}', 'data:', `  cert: ${b64(good.certPem)}`, ''].join('\n');
  const r2 = parseYaml(opaqueNoKey, 'b.yaml');
  assert.ok(errors(r2.findings).some((f) => f.path === 'data.cert' && /no tls\.key or key/.test(f.message)));
});

test('an expired certificate is accepted with a warning naming the secret and its notAfter', () => {
  const { resources, findings } = parseYaml(tlsSecretYaml('old-cert', 'istio-system', expired), 'old.yaml');
  assert.equal(resources.length, 1);
  const w = findings.find((f) => f.code === 'WEFT_CERT_EXPIRED')!;
  assert.equal(w.severity, 'warning');
  assert.deepEqual(w.resource, { kind: 'Secret', apiVersion: 'v1', namespace: 'istio-system', name: 'old-cert' });
  assert.equal(w.path, 'data["tls.crt"]');
  assert.match(w.message, /expired at 2020-01-02T03:04:05\.000Z \(notAfter\)/);
});

test('other Secret types are accepted and not read; unknown top-level fields are errors', () => {
  const r = parseYaml(['apiVersion: v1', 'kind: Secret', 'metadata: {name: pull}', 'type: kubernetes.io/dockerconfigjson', 'data:', `  .dockerconfigjson: ${b64('{}')}`, ''].join('\n'), 'p.yaml');
  assert.equal(r.resources.length, 1);
  assert.ok(r.findings.some((f) => f.severity === 'warning' && f.path === 'type'));
  const u = parseYaml(['apiVersion: v1', 'kind: Secret', 'metadata: {name: x}', 'dat:', '  a: b', ''].join('\n'), 'u.yaml');
  const e = errors(u.findings)[0]!;
  assert.equal(e.code, 'WEFT_UNKNOWN_FIELD');
  assert.equal(e.path, 'dat');
  assert.equal(e.line, 4);
  assert.match(e.message, /did you mean "data"/);
});

test('redactSecret: sizes instead of values, the certificate summary, idempotent; other kinds untouched', () => {
  const r = parseYaml(tlsSecretYaml('www-cert', 'istio-system', good, ca.certPem), 's.yaml').resources[0]!;
  const red = redactSecret(r);
  const text = JSON.stringify(red);
  assert.doesNotMatch(text, /BEGIN|LS0tLS1CRUdJTi/);
  const spec = red.spec as { data: Record<string, string>; certificate: { subject: string; notAfter: string; dnsNames: string[] } };
  assert.deepEqual(Object.keys(spec.data), ['ca.crt', 'tls.crt', 'tls.key']);
  assert.equal(spec.data['tls.key'], `<redacted: ${Buffer.byteLength(good.keyPem)} bytes>`);
  assert.equal(spec.certificate.subject, 'CN=www.example.com');
  assert.equal(spec.certificate.notAfter, good.notAfter.toISOString().replace(/\.\d+Z$/, '.000Z'));
  assert.deepEqual(spec.certificate.dnsNames, ['www.example.com']);
  assert.deepEqual(redactSecret(red), red);
  const svc = { apiVersion: 'v1', kind: 'Service', spec: { ports: [] } };
  assert.equal(redactSecret(svc), svc);
});
