import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { X509Certificate } from 'node:crypto';
import * as grpc from '@grpc/grpc-js';
import { runControl, loadControlOptionsFromEnv, type ControlPlane } from '../../src/control/main.js';
import { createMemoryLogger } from '../../src/control/log.js';
import { CA_SERVICE, type CreateCertificateRequest, type CreateCertificateResponse } from '../../src/xds/ads-service.js';
import { spiffeId } from '../../src/xds/names.js';
import { AdsTestClient, T, fakePipeline, makeCsr, tmpStateDir, workload } from './helpers.js';

async function start(stateDir?: string): Promise<ControlPlane> {
  return runControl({
    stateDir: stateDir ?? (await tmpStateDir()),
    ports: { xds: 0, xdsTls: 0, api: 0, monitoring: 0 },
    pipeline: fakePipeline,
    debounceMs: 30,
    log: createMemoryLogger(),
  });
}

function api(cp: ControlPlane, p: string, init: RequestInit & { admin?: boolean } = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.admin !== false && init.method && init.method !== 'GET') headers.set('authorization', `Bearer ${cp.adminToken}`);
  return fetch(`http://127.0.0.1:${cp.ports.api}${p}`, { ...init, headers });
}

function createCertificate(cp: ControlPlane, req: CreateCertificateRequest, token?: string): Promise<CreateCertificateResponse> {
  const client = new grpc.Client(`127.0.0.1:${cp.ports.xdsTls}`, grpc.credentials.createSsl(Buffer.from(cp.rootCertPem)));
  const md = new grpc.Metadata();
  if (token !== undefined) md.set('authorization', `Bearer ${token}`);
  const m = CA_SERVICE.createCertificate;
  return new Promise<CreateCertificateResponse>((resolve, reject) => {
    client.makeUnaryRequest(m.path, m.requestSerialize, m.responseDeserialize, req, md, (err, res) => (err ? reject(err) : resolve(res!)));
  }).finally(() => client.close());
}

async function mint(cp: ControlPlane, sa: string): Promise<string> {
  const res = await api(cp, '/api/v1/tokens', { method: 'POST', body: JSON.stringify({ namespace: 'default', serviceAccount: sa, pod: `${sa}-1` }) });
  assert.equal(res.status, 200);
  return ((await res.json()) as { token: string }).token;
}

test('ca over the TLS port: issues for the token identity; refuses another identity, no token, a bad token', async () => {
  const cp = await start();
  try {
    const id = spiffeId('default', 'reviews');
    const token = await mint(cp, 'reviews');
    const res = await createCertificate(cp, { csr: await makeCsr([id]) }, token);
    const leaf = new X509Certificate(res.certChain[0]!);
    const root = new X509Certificate(res.rootCerts[0]!);
    assert.equal(res.rootCerts[0], cp.rootCertPem);
    assert.ok(leaf.verify(root.publicKey));
    assert.equal(leaf.subjectAltName, `URI:${id}`);
    assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
    const hours = (Date.parse(leaf.validTo) - Date.now()) / 3600e3;
    assert.ok(hours > 23.9 && hours <= 24.01);

    await assert.rejects(createCertificate(cp, { csr: await makeCsr([spiffeId('default', 'ratings')]) }, token), (e: grpc.ServiceError) => e.code === grpc.status.PERMISSION_DENIED && /ratings/.test(e.details));
    await assert.rejects(createCertificate(cp, { csr: await makeCsr([id]) }), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED && /authorization/.test(e.details));
    await assert.rejects(createCertificate(cp, { csr: await makeCsr([id]) }, `${token.slice(0, -4)}AAAA`), (e: grpc.ServiceError) => e.code === grpc.status.UNAUTHENTICATED);
    assert.equal(cp.metrics.certsIssued.get(), 1);
    const metrics = await (await fetch(`http://127.0.0.1:${cp.ports.monitoring}/metrics`)).text();
    assert.match(metrics, /^weft_ca_certificates_issued_total 1$/m);
    assert.match(metrics, /^weft_ca_certificates_rejected_total\{reason="WEFT_ERR_CSR_IDENTITY"\} 1$/m);
    assert.match(metrics, /^weft_xds_connected_proxies 0$/m);

    // ADS is served on the TLS port too.
    await cp.registry.put(workload('default', 'reviews-1', '127.0.0.9'));
    const c = new AdsTestClient(`127.0.0.1:${cp.ports.xdsTls}`, { namespace: 'default', pod: 'reviews-1', ip: '127.0.0.9' }, grpc.credentials.createSsl(Buffer.from(cp.rootCertPem)));
    try {
      c.request(T.listener);
      assert.equal((await c.next(T.listener)).resources.length, 1);
    } finally {
      c.close();
    }
  } finally {
    await cp.close();
  }
});

test('restart from the same state dir keeps resources, workloads, the CA root, the admin token', async () => {
  const dir = await tmpStateDir();
  const cp1 = await start(dir);
  const yaml = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\n  namespace: default\nspec:\n  selector:\n    app: reviews\n  ports:\n  - port: 9080\n';
  const res = await api(cp1, '/api/v1/apply', { method: 'POST', body: yaml, headers: { 'x-weft-source': 'reviews.yaml' } });
  assert.equal(res.status, 200);
  assert.deepEqual(((await res.json()) as { results: { action: string }[] }).results.map((r) => r.action), ['created']);
  assert.equal((await api(cp1, '/api/v1/workloads/default/r-1', { method: 'PUT', body: JSON.stringify(workload('default', 'r-1', '127.0.0.10')) })).status, 201);
  const root = cp1.rootCertPem;
  const token = cp1.adminToken;
  await cp1.close();
  assert.equal((await fs.stat(path.join(dir, 'admin-token'))).mode & 0o777, 0o600);

  const cp2 = await start(dir);
  try {
    assert.equal(cp2.rootCertPem, root);
    assert.equal(cp2.adminToken, token);
    const list = (await (await api(cp2, '/api/v1/resources?kind=Service')).json()) as { resources: { metadata: { name: string }; origin: { file: string } }[] };
    assert.deepEqual(list.resources.map((r) => r.metadata.name), ['reviews']);
    assert.equal(list.resources[0]!.origin.file, 'reviews.yaml');
    const wl = (await (await api(cp2, '/api/v1/workloads')).json()) as { workloads: { name: string }[] };
    assert.deepEqual(wl.workloads.map((w) => w.name), ['r-1']);
    assert.equal(await (await api(cp2, '/api/v1/root-cert')).text(), root);
    // Same again: unchanged.
    const again = await api(cp2, '/api/v1/apply', { method: 'POST', body: yaml, headers: { 'x-weft-source': 'other.yaml' } });
    assert.deepEqual(((await again.json()) as { results: { action: string }[] }).results.map((r) => r.action), ['unchanged']);
  } finally {
    await cp2.close();
  }
});

test('api: an invalid resource is rejected with findings and the stored one stays; auth is required', async () => {
  const cp = await start();
  try {
    const good = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\nspec:\n  ports:\n  - port: 9080\n';
    assert.equal((await api(cp, '/api/v1/apply', { method: 'POST', body: good })).status, 200);
    const bad = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\nspec:\n  ports:\n  - port: not-a-number\n';
    const res = await api(cp, '/api/v1/apply', { method: 'POST', body: bad, headers: { 'x-weft-source': 'bad.yaml' } });
    assert.equal(res.status, 400);
    const body = (await res.json()) as { results: { name: string; action: string }[]; findings: { file?: string; severity: string; path?: string }[] };
    assert.deepEqual(body.results, [{ kind: 'Service', namespace: 'default', name: 'reviews', action: 'rejected' }]);
    assert.ok(body.findings.some((f) => f.severity === 'error' && f.file === 'bad.yaml'), JSON.stringify(body.findings));
    const stored = (await (await api(cp, '/api/v1/resources?kind=Service&namespace=default')).json()) as { resources: { spec: { ports: { port: unknown }[] } }[] };
    assert.equal(stored.resources[0]!.spec.ports[0]!.port, 9080);

    const syntax = await api(cp, '/api/v1/apply', { method: 'POST', body: 'kind: [unclosed', headers: { 'x-weft-source': 'syntax.yaml' } });
    assert.equal(syntax.status, 400);
    assert.ok(((await syntax.json()) as { findings: unknown[] }).findings.length > 0);

    const noAuth = await api(cp, '/api/v1/apply', { method: 'POST', body: good, admin: false });
    assert.equal(noAuth.status, 401);
    assert.equal(((await noAuth.json()) as { error: { code: string } }).error.code, 'WEFT_ERR_UNAUTHORIZED');
    assert.equal((await api(cp, '/api/v1/tokens', { method: 'POST', body: '{}', admin: false })).status, 401);
    assert.equal((await api(cp, '/api/v1/resources/Service/default/reviews', { method: 'DELETE' })).status, 200);
    assert.equal((await api(cp, '/api/v1/resources/Service/default/reviews', { method: 'DELETE' })).status, 404);
    assert.equal((await api(cp, '/api/v1/workloads/default/x', { method: 'PUT', body: JSON.stringify({ name: 'x', namespace: 'default' }) })).status, 400);
    assert.equal((await api(cp, '/api/v1/version')).status, 200);
    assert.equal((await api(cp, '/readyz')).status, 200);
    assert.equal((await api(cp, '/api/v1/nope')).status, 404);
  } finally {
    await cp.close();
  }
});

test('api: a rejected resource does not take down a same-named one of another API group; cluster-scoped kinds can be deleted', async () => {
  const cp = await start();
  try {
    const text = [
      'apiVersion: networking.istio.io/v1',
      'kind: Gateway',
      'metadata: {name: edge}',
      'spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"], bogus: 1}]}',
      '---',
      'apiVersion: gateway.networking.k8s.io/v1',
      'kind: Gateway',
      'metadata: {name: edge}',
      'spec: {gatewayClassName: weft, listeners: [{name: http, port: 80, protocol: HTTP}]}',
      '---',
      'apiVersion: v1',
      'kind: Namespace',
      'metadata: {name: shop}',
      '',
    ].join('\n');
    const res = await api(cp, '/api/v1/apply', { method: 'POST', body: text, headers: { 'x-weft-source': 'edge.yaml' } });
    const body = (await res.json()) as { results: { kind: string; name: string; action: string }[] };
    assert.deepEqual(
      body.results.map((r) => `${r.kind}/${r.name}:${r.action}`).sort(),
      ['Gateway/edge:created', 'Gateway/edge:rejected', 'Namespace/shop:created'],
    );
    const stored = (await (await api(cp, '/api/v1/resources?kind=Gateway')).json()) as { resources: { apiVersion: string }[] };
    assert.deepEqual(stored.resources.map((r) => r.apiVersion), ['gateway.networking.k8s.io/v1']);
    assert.equal((await api(cp, '/api/v1/resources/Namespace//shop', { method: 'DELETE' })).status, 200);
    assert.equal((await api(cp, '/api/v1/resources/Namespace//shop', { method: 'DELETE' })).status, 404);
  } finally {
    await cp.close();
  }
});

test('api: proxies and their config', async () => {
  const cp = await start();
  const c = new AdsTestClient(`127.0.0.1:${cp.ports.xds}`, { namespace: 'default', pod: 'p-1', ip: '127.0.0.11' });
  try {
    await cp.registry.put(workload('default', 'p-1', '127.0.0.11'));
    c.request(T.listener);
    const lds = await c.next(T.listener);
    c.ack(lds);
    await new Promise((r) => setTimeout(r, 100));
    const proxies = (await (await api(cp, '/api/v1/proxies')).json()) as { proxies: { id: string; types: Record<string, { status: string; sentVersion?: string }> }[] };
    assert.equal(proxies.proxies.length, 1);
    assert.equal(proxies.proxies[0]!.types['LDS']!.status, 'SYNCED');
    assert.equal(proxies.proxies[0]!.types['CDS']!.status, 'NOT SENT');
    const cfg = (await (await api(cp, `/api/v1/proxies/${encodeURIComponent(c.node.id)}/config`)).json()) as Record<string, { name: string }[]>;
    assert.deepEqual(cfg['LDS']!.map((l) => l.name), ['virtualOutbound']);
    assert.equal((await api(cp, '/api/v1/proxies/unknown/config')).status, 404);
  } finally {
    c.close();
    await cp.close();
  }
});

test('env: WEFT_* overrides', () => {
  const o = loadControlOptionsFromEnv({ WEFT_HOME: '/tmp/wh', WEFT_XDS_PORT: '0', WEFT_API_PORT: '1234', WEFT_TRUST_DOMAIN: 'example.org', WEFT_DEBOUNCE_MS: '5' });
  assert.equal(o.stateDir, '/tmp/wh/state');
  assert.deepEqual(o.ports, { xds: 0, api: 1234 });
  assert.equal(o.trustDomain, 'example.org');
  assert.equal(o.debounceMs, 5);
  assert.throws(() => loadControlOptionsFromEnv({ WEFT_API_PORT: 'x' }), /WEFT_API_PORT/);
});

test('real pipeline (resources/ + model/ + xds/): applied YAML reaches a proxy over ADS', async () => {
  const cp = await runControl({ stateDir: await tmpStateDir(), ports: { xds: 0, xdsTls: 0, api: 0, monitoring: 0 }, debounceMs: 20, log: createMemoryLogger() });
  const c = new AdsTestClient(`127.0.0.1:${cp.ports.xds}`, { namespace: 'default', pod: 'reviews-1', ip: '127.0.0.12' });
  try {
    const yaml = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: reviews\nspec:\n  selector:\n    app: reviews\n  ports:\n  - name: http\n    port: 9080\n    targetPort: 8080\n';
    assert.equal((await api(cp, '/api/v1/apply', { method: 'POST', body: yaml })).status, 200);
    await cp.registry.put(workload('default', 'reviews-1', '127.0.0.12', { app: 'reviews' }));
    c.request(T.cluster);
    c.request(T.listener);
    // The first answer may predate the debounced rebuild; the next push completes it.
    for (let i = 0; ; i++) {
      const cds = await c.next(T.cluster);
      c.ack(cds);
      if (cds.resources.some((r) => r['name'] === 'outbound|9080||reviews.default.svc.cluster.local')) break;
      assert.ok(i < 3, 'the reviews cluster never arrived');
    }
    assert.ok((await c.next(T.listener)).resources.some((r) => r['name'] === 'virtualOutbound'));
  } finally {
    c.close();
    await cp.close();
  }
});
