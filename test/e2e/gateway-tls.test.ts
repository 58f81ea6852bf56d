// End to end: HTTPS at the ingress gateway from a user's Secret, as Istio's secure ingress
// task. `weft up` Bookinfo, `weft apply` a kubernetes.io/tls Secret (made here, test-only)
// and samples/bookinfo/examples/gateway-https.yaml; a TLS client with SNI verifies the
// served chain against the test CA and gets the product page; plain http for the host is
// redirected; rotating the Secret with `weft apply` changes the certificate new handshakes
// see; `weft get secret` shows no key material. Then the Gateway API variant on the same
// gateway: an HTTPS listener (Terminate, certificateRefs) with an HTTPRoute, and an HTTP
// listener whose HTTPRoute redirects to https.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { X509Certificate } from 'node:crypto';
import path from 'node:path';
import http from 'node:http';
import https from 'node:https';
import type tls from 'node:tls';
import { makeMesh, httpGet, eventually, processesUsingHome, type TestMesh } from '../helpers/mesh.js';
import { makeTlsCa, tlsSecretYaml, type Issued, type TestTlsCa } from '../helpers/tls-certs.js';

let mesh: TestMesh;
let ca: TestTlsCa;
let httpsPort: number;

before(async () => {
  mesh = await makeMesh(7);
  httpsPort = mesh.ingressPort + 363;
  ca = await makeTlsCa('e2e-ingress-ca');
  const up = await mesh.weft(['up', 'samples/bookinfo', '--detach', '--network', String(mesh.network), '--ingress-port', String(mesh.ingressPort)], { timeoutMs: 90_000 });
  assert.equal(up.code, 0, `weft up failed:\n${up.stdout}\n${up.stderr}`);
});

after(async () => {
  if (!mesh) return;
  const down = await mesh.weft(['down'], { timeoutMs: 60_000 });
  assert.equal(down.code, 0, down.stderr);
  await eventually(async () => processesUsingHome(mesh.home).length === 0, 15_000, 'every mesh process to exit');
  fs.rmSync(mesh.home, { recursive: true, force: true });
});

async function apply(name: string, yaml: string): Promise<string> {
  const file = path.join(mesh.home, name);
  fs.writeFileSync(file, yaml);
  const res = await mesh.weft(['apply', '-f', file]);
  assert.equal(res.code, 0, `${res.stdout}\n${res.stderr}`);
  return res.stderr;
}

/** A plain GET to the ingress http port with this Host header (fetch cannot set Host). */
function plainGet(host: string, reqPath: string): Promise<{ status: number; location: string | undefined }> {
  return new Promise((resolve, reject) => {
    const req = http.get({ host: '127.0.0.1', port: mesh.ingressPort, path: reqPath, headers: { host }, agent: false, timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, location: res.headers.location }));
    });
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
  });
}

/** GET over TLS with SNI = host; the chain must verify against the test CA (rejectUnauthorized stays on). */
function httpsGet(host: string, reqPath: string): Promise<{ status: number; body: string; serial: string; cn: string }> {
  return new Promise((resolve, reject) => {
    const req = https.request(
      { host: '127.0.0.1', port: httpsPort, path: reqPath, servername: host, headers: { host }, ca: ca.certPem, agent: false, timeout: 5000 },
      (res) => {
        const peer = (res.socket as tls.TLSSocket).getPeerCertificate();
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, serial: peer.serialNumber, cn: String(peer.subject?.CN) }));
      },
    );
    req.on('timeout', () => req.destroy(new Error('timeout')));
    req.on('error', reject);
    req.end();
  });
}

test('Istio Gateway: HTTPS from a Secret, 301 from http, rotation by weft apply, no key material shown', async () => {
  const first = await ca.issue(['bookinfo.example.com']);
  // The gateway first, then its Secret: the apply says which server lacks which Secret.
  const warned = await apply('gateway-https.yaml', fs.readFileSync('samples/bookinfo/examples/gateway-https.yaml', 'utf8'));
  assert.match(warned, /WEFT_MISSING_CREDENTIAL/);
  assert.match(warned, /Secret istio-system\/bookinfo-credential not found/);
  await apply('secret.yaml', tlsSecretYaml('bookinfo-credential', 'istio-system', first));

  const page = await eventually(async () => {
    const r = await httpsGet('bookinfo.example.com', '/productpage');
    return r.status === 200 && r;
  }, 15_000, 'https://bookinfo.example.com/productpage');
  assert.match(page.body, /The Comedy of Errors/);
  assert.equal(page.cn, 'bookinfo.example.com');
  assert.equal(page.serial, new X509Certificate(first.certPem).serialNumber);

  // Plain http for that host: 301 to https, Envoy's require_tls Location (the Host as sent + path).
  assert.deepEqual(await plainGet('bookinfo.example.com', '/productpage?u=normal'), { status: 301, location: 'https://bookinfo.example.com/productpage?u=normal' });
  // Other hosts on port 80 are still served by the plain bookinfo gateway.
  assert.equal((await httpGet(`http://127.0.0.1:${mesh.ingressPort}/productpage`)).status, 200);

  // Rotation: a new certificate, applied; new handshakes see it.
  const second = await ca.issue(['bookinfo.example.com']);
  await apply('secret.yaml', tlsSecretYaml('bookinfo-credential', 'istio-system', second));
  const want = new X509Certificate(second.certPem).serialNumber;
  await eventually(async () => (await httpsGet('bookinfo.example.com', '/productpage')).serial === want, 10_000, 'the rotated certificate');

  const shown: string[] = [];
  for (const args of [['get', 'secret', '-n', 'istio-system'], ['get', 'secret', 'bookinfo-credential', '-n', 'istio-system', '-o', 'yaml'], ['get', 'secrets', '-A', '-o', 'json']]) {
    const out = await mesh.weft(args);
    assert.equal(out.code, 0, out.stderr);
    assert.doesNotMatch(out.stdout, /BEGIN|PRIVATE|LS0tLS1/, args.join(' '));
    assert.match(out.stdout, /bookinfo-credential/);
    shown.push(out.stdout);
  }
  assert.match(shown[0]!, /kubernetes\.io\/tls\s+tls\.crt,tls\.key\s+CN=bookinfo\.example\.com\s+\d{4}-/);
  // The gateway holds it (chain shown, key never): weft proxy-config secret, like istioctl's.
  const st = JSON.parse((await mesh.weft(['status', '-o', 'json'])).stdout) as { pods: { name: string; namespace: string; proxyType: string }[] };
  const gw = st.pods.find((p) => p.proxyType === 'router')!;
  const held = await mesh.weft(['proxy-config', 'secret', gw.name, '-n', gw.namespace]);
  assert.equal(held.code, 0, held.stderr);
  assert.match(held.stdout, /kubernetes:\/\/bookinfo-credential\s+Cert Chain\s+ACTIVE\s+true/);
  assert.doesNotMatch(held.stdout, /PRIVATE/);
});

test('Gateway API: an HTTPS listener with certificateRefs terminates TLS for its hostname; an HTTPRoute redirect sends http to https', async () => {
  const cert: Issued = await ca.issue(['api.example.com']);
  await apply(
    'gateway-api.yaml',
    `${tlsSecretYaml('api-cert', 'default', cert)}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: api-gw}
spec:
  gatewayClassName: istio
  listeners:
  - {name: https, port: 443, protocol: HTTPS, hostname: api.example.com, tls: {mode: Terminate, certificateRefs: [{name: api-cert}]}}
  - {name: http, port: 80, protocol: HTTP, hostname: api.example.com}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api}
spec:
  parentRefs: [{name: api-gw, sectionName: https}]
  hostnames: [api.example.com]
  rules:
  - matches: [{path: {type: PathPrefix, value: /api/v1/products}}]
    backendRefs: [{name: productpage, port: 9080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api-redirect}
spec:
  parentRefs: [{name: api-gw, sectionName: http}]
  hostnames: [api.example.com]
  rules:
  - filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]
`,
  );
  const products = await eventually(async () => {
    const r = await httpsGet('api.example.com', '/api/v1/products');
    return r.status === 200 && r;
  }, 15_000, 'https://api.example.com/api/v1/products');
  assert.equal(products.cn, 'api.example.com');
  assert.match(products.body, /Comedy of Errors/);
  // The Istio server for the other host still gets its own certificate on the same port (SNI).
  assert.equal((await httpsGet('bookinfo.example.com', '/productpage')).cn, 'bookinfo.example.com');
  assert.deepEqual(await plainGet('api.example.com', '/api/v1/products'), { status: 301, location: 'https://api.example.com/api/v1/products' });
});
