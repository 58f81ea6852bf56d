// `weft get secret` never prints key material, even from a control plane that sends it
// (an older one that did not redact): the table shows keys, subject and expiry; -o yaml and
// -o json show sizes. The "control plane" here is a stand-in API that answers raw Secrets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { weft } from './helpers.js';
import { makeTlsCa, type Issued } from '../helpers/tls-certs.js';
import type { MeshFile } from '../../src/platform/local/mesh-file.js';

const b64 = (s: string) => Buffer.from(s).toString('base64');

let home: string;
let api: http.Server;
let cert: Issued;
let secrets: object[];
const asked: string[] = [];

before(async () => {
  cert = await (await makeTlsCa('get-secret-ca')).issue(['www.example.com'], { commonName: 'www.example.com' });
  secrets = [
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'www-cert', namespace: 'istio-system' }, spec: { type: 'kubernetes.io/tls', data: { 'tls.crt': b64(cert.certPem), 'tls.key': b64(cert.keyPem) } } },
    { apiVersion: 'v1', kind: 'Secret', metadata: { name: 'token', namespace: 'default' }, spec: { type: 'Opaque', stringData: { password: 'hunter2-plain-value' } } },
  ];
  api = http.createServer((req, res) => {
    asked.push(String(req.url));
    const u = new URL(String(req.url), 'http://x');
    if (u.pathname !== '/api/v1/resources') return void res.writeHead(404).end();
    const ns = u.searchParams.get('namespace');
    const items = secrets.filter((s) => !ns || (s as { metadata: { namespace: string } }).metadata.namespace === ns);
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(items));
  });
  await new Promise<void>((r) => api.listen(0, '127.0.0.1', r));
  home = mkdtempSync(join(tmpdir(), 'weft-get-secret-'));
  writeFileSync(join(home, 'admin-token'), 'test-token\n');
  const mesh: MeshFile = {
    network: 99,
    controlAddress: '127.0.0.1',
    apiUrl: `http://127.0.0.1:${(api.address() as AddressInfo).port}`,
    adminTokenFile: join(home, 'admin-token'),
    supervisorPid: process.pid,
    ingressUrl: 'http://127.0.0.1:1',
    appUrls: [],
    phase: 'ready',
    source: home,
    startedAt: Date.now(),
    updatedAt: Date.now(),
    pods: [],
  };
  writeFileSync(join(home, 'mesh.json'), JSON.stringify(mesh));
});

after(async () => {
  await new Promise((r) => api.close(r));
  rmSync(home, { recursive: true, force: true });
});

/** Whatever would give a key (or a secret value) away: PEM, its base64, the plain value. */
function assertNoMaterial(out: string, what: string): void {
  for (const bad of [/BEGIN/, /PRIVATE/, /LS0tLS1/, /hunter2/, new RegExp(b64(cert.keyPem).slice(0, 40).replace(/[+/]/g, '\\$&'))]) {
    assert.doesNotMatch(out, bad, what);
  }
}

test('the table: keys, type, subject and expiry; no value', async () => {
  const out = await weft(['get', 'secret', '-A'], home);
  assert.equal(out.code, 0, out.stderr);
  assertNoMaterial(out.stdout, 'get secret -A');
  assert.match(out.stdout, /^NAMESPACE\s+NAME\s+TYPE\s+KEYS\s+SUBJECT\s+NOT AFTER$/m);
  assert.match(out.stdout, /istio-system\s+www-cert\s+kubernetes\.io\/tls\s+tls\.crt,tls\.key\s+CN=www\.example\.com\s+\d{4}-\d\d-\d\d/);
  assert.match(out.stdout, /default\s+token\s+Opaque\s+password\s+-\s+-/);
  assert.ok(asked.some((u) => u.includes('kind=Secret')), asked.join(' '));
});

test('-o yaml and -o json: sizes instead of values', async () => {
  const yaml = await weft(['get', 'secret', 'www-cert', '-n', 'istio-system', '-o', 'yaml'], home);
  assert.equal(yaml.code, 0, yaml.stderr);
  assertNoMaterial(yaml.stdout, '-o yaml');
  assert.match(yaml.stdout, new RegExp(`tls\\.key: "?<redacted: ${Buffer.byteLength(cert.keyPem)} bytes>"?`));
  const json = await weft(['get', 'secrets', '-A', '-o', 'json'], home);
  assert.equal(json.code, 0, json.stderr);
  assertNoMaterial(json.stdout, '-o json');
  const items = JSON.parse(json.stdout) as { spec: { data: Record<string, string> } }[];
  assert.deepEqual(items.map((i) => i.spec.data), [{ 'tls.crt': `<redacted: ${Buffer.byteLength(cert.certPem)} bytes>`, 'tls.key': `<redacted: ${Buffer.byteLength(cert.keyPem)} bytes>` }, { password: '<redacted: 19 bytes>' }]);
});
