// The control plane with the real pipeline and gateway credentials: an apply that leaves a
// gateway server without its Secret says so; Secrets are stored 0600 and listed without
// values; a router gets its credentials over SDS only with a bootstrap token for itself;
// the proxies/<id>/config view never shows a private key.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { runControl, type ControlPlane } from '../../src/control/main.js';
import { createMemoryLogger } from '../../src/control/log.js';
import type { Finding } from '../../src/resources/types.js';
import type { Workload } from '../../src/model/types.js';
import { spiffeId } from '../../src/xds/names.js';
import { AdsTestClient, T, tmpStateDir } from './helpers.js';
import { httpsGatewayYaml, makeTlsCa, tlsSecretYaml } from '../helpers/tls-certs.js';

const NS = 'istio-system';
const POD = 'istio-ingressgateway-1';
const IP = '127.0.0.40';

const GATEWAY = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: [www.example.com]
    tls: {mode: SIMPLE, credentialName: www-cert}
`;

const ROUTER: Workload = {
  name: POD,
  namespace: NS,
  labels: { istio: 'ingressgateway' },
  serviceAccount: 'istio-ingressgateway',
  identity: spiffeId(NS, 'istio-ingressgateway'),
  address: IP,
  appAddress: IP,
  ports: [],
  ready: true,
  meshed: true,
  owner: 'istio-ingressgateway',
  proxyType: 'router',
};

function api(cp: ControlPlane, p: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  if (init.method && init.method !== 'GET') headers.set('authorization', `Bearer ${cp.adminToken}`);
  return fetch(`http://127.0.0.1:${cp.ports.api}${p}`, { ...init, headers });
}

async function apply(cp: ControlPlane, yaml: string): Promise<{ status: number; findings: Finding[] }> {
  const res = await api(cp, '/api/v1/apply', { method: 'POST', body: yaml, headers: { 'x-weft-source': 'gw.yaml' } });
  return { status: res.status, findings: ((await res.json()) as { findings: Finding[] }).findings };
}

/** SDS for the gateway certificate, as the router asks for it once its listener arrived. */
async function sdsNames(cp: ControlPlane, token: string | undefined): Promise<string[]> {
  const md = new grpc.Metadata();
  if (token) md.set('authorization', `Bearer ${token}`);
  const c = new AdsTestClient(`127.0.0.1:${cp.ports.xds}`, { namespace: NS, pod: POD, ip: IP, type: 'router' }, undefined, {}, md);
  try {
    c.request(T.listener);
    const lds = await c.next(T.listener);
    c.ack(lds);
    assert.ok(lds.resources.some((l) => l['name'] === 'gateway|443'), 'the HTTPS listener is sent');
    c.request(T.secret, { resourceNames: ['ROOTCA', 'kubernetes://www-cert'] });
    const sds = await c.next(T.secret);
    return sds.resources.map((s) => String(s['name'])).sort();
  } finally {
    c.close();
  }
}

test('gateway credentials through the control plane: findings on apply, 0600 store, redacted listing, SDS only with a token', async () => {
  const stateDir = await tmpStateDir();
  const cp = await runControl({ stateDir, ports: { xds: 0, xdsTls: 0, api: 0, monitoring: 0 }, debounceMs: 20, log: createMemoryLogger() });
  try {
    await cp.registry.put(ROUTER);
    const missing = await apply(cp, GATEWAY);
    assert.equal(missing.status, 200);
    const f = missing.findings.find((x) => x.code === 'WEFT_MISSING_CREDENTIAL')!;
    assert.ok(f, JSON.stringify(missing.findings));
    assert.equal(f.resource?.name, 'gw');
    assert.equal(f.path, 'spec.servers[0].tls.credentialName');
    assert.match(f.message, /Secret istio-system\/www-cert not found/);

    const ca = await makeTlsCa('cp-ca');
    const cert = await ca.issue(['www.example.com']);
    const applied = await apply(cp, tlsSecretYaml('www-cert', NS, cert));
    assert.equal(applied.status, 200);
    assert.deepEqual(applied.findings, []);

    // On disk: owner-only, like the CA key.
    for (const name of await fs.readdir(path.join(stateDir, 'store'))) {
      assert.equal((await fs.stat(path.join(stateDir, 'store', name))).mode & 0o777, 0o600, name);
    }
    // Listed: keys, sizes and the certificate summary; no value.
    const listed = await (await api(cp, '/api/v1/resources?kind=Secret&namespace=istio-system')).text();
    assert.doesNotMatch(listed, /BEGIN|LS0tLS1/);
    const secret = (JSON.parse(listed) as { resources: { spec: { data: Record<string, string>; certificate: { subject: string } } }[] }).resources[0]!;
    assert.match(secret.spec.data['tls.key']!, /^<redacted: \d+ bytes>$/);
    assert.equal(secret.spec.certificate.subject, 'CN=www.example.com');

    // Let the debounced rebuild see the Secret, then: no token, a token for another pod, the router's own token.
    await new Promise((r) => setTimeout(r, 100));
    assert.deepEqual(await sdsNames(cp, undefined), ['ROOTCA']);
    const other = cp.tokens.mint({ namespace: NS, serviceAccount: 'istio-ingressgateway', pod: 'someone-else' });
    assert.deepEqual(await sdsNames(cp, other), ['ROOTCA']);
    const own = cp.tokens.mint({ namespace: NS, serviceAccount: 'istio-ingressgateway', pod: POD });
    assert.deepEqual(await sdsNames(cp, own), ['ROOTCA', 'kubernetes://www-cert']);
  } finally {
    await cp.close();
  }
});

test('an apply of a Gateway builds the model once: its findings answer the apply and the same model is pushed', async () => {
  const { buildModel } = await import('../../src/model/index.js');
  let builds = 0;
  const counting: typeof buildModel = (...args) => {
    builds++;
    return buildModel(...args);
  };
  const cp = await runControl({ stateDir: await tmpStateDir(), ports: { xds: 0, xdsTls: 0, api: 0, monitoring: 0 }, debounceMs: 20, log: createMemoryLogger(), pipeline: { buildModel: counting } });
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${cp.tokens.mint({ namespace: NS, serviceAccount: 'istio-ingressgateway', pod: POD })}`);
  const c = new AdsTestClient(`127.0.0.1:${cp.ports.xds}`, { namespace: NS, pod: POD, ip: IP, type: 'router' }, undefined, {}, md);
  try {
    await cp.registry.put(ROUTER);
    await new Promise((r) => setTimeout(r, 100)); // the registry change's debounced rebuild
    c.request(T.listener);
    c.ack(await c.next(T.listener));
    const before = builds;
    const startedBefore = Date.now();
    const cert = await (await makeTlsCa('cp-ca')).issue(['www.example.com']);
    const answer = await apply(cp, GATEWAY);
    assert.deepEqual(
      answer.findings.map((f) => f.code),
      ['WEFT_MISSING_CREDENTIAL'],
      JSON.stringify(answer.findings),
    );
    assert.deepEqual(cp.ads.modelFindings.filter((f) => f.code === 'WEFT_MISSING_CREDENTIAL'), answer.findings);
    assert.ok(cp.ads.lastPush!.startedAt >= startedBefore, 'the apply\'s model is the one pushed');
    // The Secret: the router gets its HTTPS listener from the rebuild the apply ran.
    assert.deepEqual((await apply(cp, tlsSecretYaml('www-cert', NS, cert))).findings, []);
    const lds = await c.next(T.listener);
    assert.ok((lds.resources ?? []).some((l) => l['name'] === 'gateway|443'));
    await new Promise((r) => setTimeout(r, 150)); // the debounce has long passed: nothing was left to run
    assert.equal(builds - before, 2, 'one model build per apply');
    // The same Secret again changes nothing: its answer reads the current findings, no rebuild.
    assert.deepEqual((await apply(cp, tlsSecretYaml('www-cert', NS, cert))).findings, []);
    await new Promise((r) => setTimeout(r, 150));
    assert.equal(builds - before, 2, 'an unchanged apply builds nothing');
  } finally {
    c.close();
    await cp.close();
  }
});

test('a credential clash (a Secret "<x>-cacert" that is a certificate, and MUTUAL x) answers the apply and is logged once', async () => {
  const log = createMemoryLogger();
  const cp = await runControl({ stateDir: await tmpStateDir(), ports: { xds: 0, xdsTls: 0, api: 0, monitoring: 0 }, debounceMs: 20, log });
  try {
    await cp.registry.put(ROUTER);
    const ca = await makeTlsCa('clash-ca');
    const [api, www] = [await ca.issue(['api.example.com']), await ca.issue(['www.example.com'])];
    const gateways = [
      httpsGatewayYaml('mtls', '{istio: ingressgateway}', { name: 'https-api', host: 'api.example.com', mode: 'MUTUAL', credentialName: 'api-cert' }),
      httpsGatewayYaml('edge', '{istio: ingressgateway}', { name: 'https-www', host: 'www.example.com', mode: 'SIMPLE', credentialName: 'api-cert-cacert' }),
    ].join('---\n');
    const yaml = [gateways, tlsSecretYaml('api-cert', NS, api, ca.certPem), tlsSecretYaml('api-cert-cacert', NS, www)].join('\n---\n');
    const answer = await apply(cp, yaml);
    assert.deepEqual(answer.findings.map((f) => [f.code, f.resource?.name]), [['WEFT_CREDENTIAL_CLASH', 'mtls']], JSON.stringify(answer.findings));
    assert.match(answer.findings[0]!.message, /SDS name "api-cert-cacert"/);
    // Applied again (unchanged): reported again, logged still once.
    assert.deepEqual((await apply(cp, yaml)).findings.map((f) => f.code), ['WEFT_CREDENTIAL_CLASH']);
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(log.lines.filter((l) => l.includes('WEFT_CREDENTIAL_CLASH')).length, 1, log.lines.join('\n'));
  } finally {
    await cp.close();
  }
});

test('the config a proxy was sent is shown without private keys', async () => {
  const cp = await runControl({ stateDir: await tmpStateDir(), ports: { xds: 0, xdsTls: 0, api: 0, monitoring: 0 }, debounceMs: 20, log: createMemoryLogger() });
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${cp.tokens.mint({ namespace: NS, serviceAccount: 'istio-ingressgateway', pod: POD })}`);
  const c = new AdsTestClient(`127.0.0.1:${cp.ports.xds}`, { namespace: NS, pod: POD, ip: IP, type: 'router' }, undefined, {}, md);
  try {
    await cp.registry.put(ROUTER);
    const cert = await (await makeTlsCa('cp-ca')).issue(['www.example.com']);
    assert.equal((await apply(cp, `${GATEWAY}---\n${tlsSecretYaml('www-cert', NS, cert)}`)).status, 200);
    await new Promise((r) => setTimeout(r, 100));
    c.request(T.secret, { resourceNames: ['kubernetes://www-cert'] });
    const sds = await c.next(T.secret);
    assert.equal(sds.resources.length, 1);
    const config = await (await api(cp, `/api/v1/proxies/${encodeURIComponent(c.node.id)}/config`)).text();
    assert.match(config, /kubernetes:\/\/www-cert/);
    assert.match(config, /BEGIN CERTIFICATE/);
    assert.doesNotMatch(config, /PRIVATE KEY|privateKey/);
  } finally {
    c.close();
    await cp.close();
  }
});

test('DestinationRule credentials: a sidecar gets the Secret of its own namespace over SDS only with a token for itself', async () => {
  const cp = await runControl({ stateDir: await tmpStateDir(), ports: { xds: 0, xdsTls: 0, api: 0, monitoring: 0 }, debounceMs: 20, log: createMemoryLogger() });
  const SIDE_IP = '127.0.0.41';
  const sidecar: Workload = { ...ROUTER, name: 'client-1', namespace: 'default', labels: { app: 'client' }, serviceAccount: 'client', identity: spiffeId('default', 'client'), address: SIDE_IP, appAddress: SIDE_IP, ports: [{ containerPort: 9000 }], owner: 'client', proxyType: 'sidecar' };
  try {
    await cp.registry.put(sidecar);
    const ca = await makeTlsCa('dr-ca');
    const cert = await ca.issue([], { commonName: 'client' });
    const rules = `apiVersion: networking.istio.io/v1
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
  trafficPolicy:
    tls: {mode: MUTUAL, credentialName: api-client}
`;
    const missing = await apply(cp, rules);
    const f = missing.findings.find((x) => x.code === 'WEFT_MISSING_CREDENTIAL')!;
    assert.ok(f, JSON.stringify(missing.findings));
    assert.equal(f.resource?.name, 'api-tls');
    assert.equal(f.path, 'spec.trafficPolicy.tls.credentialName');
    assert.deepEqual((await apply(cp, tlsSecretYaml('api-client', 'default', cert, ca.certPem))).findings, []);
    await new Promise((r) => setTimeout(r, 100));
    const names = async (token: string | undefined): Promise<string[]> => {
      const md = new grpc.Metadata();
      if (token) md.set('authorization', `Bearer ${token}`);
      const c = new AdsTestClient(`127.0.0.1:${cp.ports.xds}`, { namespace: 'default', pod: 'client-1', ip: SIDE_IP, type: 'sidecar' }, undefined, {}, md);
      try {
        c.request(T.secret, { resourceNames: ['ROOTCA', 'kubernetes://api-client', 'kubernetes://api-client-cacert'] });
        return (await c.next(T.secret)).resources.map((s) => String(s['name'])).sort();
      } finally {
        c.close();
      }
    };
    assert.deepEqual(await names(undefined), ['ROOTCA']);
    assert.deepEqual(await names(cp.tokens.mint({ namespace: 'default', serviceAccount: 'client', pod: 'someone-else' })), ['ROOTCA']);
    assert.deepEqual(await names(cp.tokens.mint({ namespace: 'default', serviceAccount: 'client', pod: 'client-1' })), ['ROOTCA', 'kubernetes://api-client', 'kubernetes://api-client-cacert']);
  } finally {
    await cp.close();
  }
});
