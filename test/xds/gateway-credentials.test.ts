// SDS for gateways, from YAML through the parser, the model and the generator: a router
// gets exactly the Secrets its listeners reference, looked up by Istio's namespace rules,
// only when authenticated; sidecars never get them; a missing Secret drops that server's chain
// only, with a finding; httpsRedirect servers answer with requireTls.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, type Finding } from '../../src/resources/index.js';
import { buildModel, type Workload } from '../../src/model/index.js';
import { generateForProxy } from '../../src/xds/generate.js';
import { decode, encode, TYPE } from '../../src/xds/codec.js';
import type { EnvoyObject } from '../../src/proxy/types.js';
import { testWorkload } from '../helpers/workloads.js';
import { httpsGatewayYaml, makeTlsCa, tlsSecretYaml, type Issued, type TestTlsCa } from '../helpers/tls-certs.js';

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => v as Obj;
const arr = (v: unknown): Obj[] => (v ?? []) as Obj[];
const b64 = (s: string) => Buffer.from(s).toString('base64');

let ca: TestTlsCa;
let www: Issued;
let api: Issued;

before(async () => {
  ca = await makeTlsCa('gw-ca');
  www = await ca.issue(['www.example.com']);
  api = await ca.issue(['api.example.com']);
});

function router(name: string, namespace: string, labels: Record<string, string>): Workload {
  return testWorkload({ name: `${name}-abc`, namespace, labels, serviceAccount: name, address: '127.10.0.200', ports: [], owner: name, proxyType: 'router' });
}

const INGRESS = router('istio-ingressgateway', 'istio-system', { istio: 'ingressgateway' });
const SIDECAR: Workload = { ...router('web', 'default', { app: 'web' }), proxyType: 'sidecar', ports: [{ containerPort: 8080 }] };

const BASE = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
    tls: {httpsRedirect: true}
  - port: {number: 443, name: https-www, protocol: HTTPS}
    hosts: [www.example.com]
    tls: {mode: SIMPLE, credentialName: www-cert}
  - port: {number: 443, name: https-api, protocol: HTTPS}
    hosts: ["*.example.com"]
    tls: {mode: MUTUAL, credentialName: api-cert}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: web, namespace: default}
spec:
  hosts: ["*.example.com"]
  gateways: [gw]
  http:
  - route: [{destination: {host: web, port: {number: 8080}}}]
`;

function build(yaml: string, workloads: Workload[] = [INGRESS, SIDECAR]) {
  const parsed = parseYaml(yaml, 'gw.yaml');
  assert.deepEqual(parsed.findings.filter((f) => f.severity === 'error'), []);
  return buildModel(parsed.resources, workloads);
}

function gen(yaml: string, proxy = INGRESS, credentials = true) {
  const { model, findings } = build(yaml);
  return { res: generateForProxy(model, proxy, { rootCertsPem: [ca.certPem], credentials }), findings };
}

function chains(listeners: EnvoyObject[], name: string): Obj[] {
  return arr(listeners.find((l) => l.name === name)?.filterChains);
}

function sdsNames(chain: Obj): string[] {
  const common = obj(obj(obj(obj(chain.transportSocket).typedConfig).commonTlsContext));
  return [...arr(common.tlsCertificateSdsSecretConfigs).map((s) => s.name as string), ...(common.validationContextSdsSecretConfig ? [obj(common.validationContextSdsSecretConfig).name as string] : [])];
}

const missing = (fs: Finding[]) => fs.filter((f) => f.code === 'WEFT_MISSING_CREDENTIAL');

test('a router gets exactly the credentials its servers reference, from the gateway namespace; MUTUAL CA from the same Secret', () => {
  const yaml = [BASE, tlsSecretYaml('www-cert', 'istio-system', www), tlsSecretYaml('api-cert', 'istio-system', api, ca.certPem), tlsSecretYaml('unused', 'istio-system', www), tlsSecretYaml('www-cert', 'default', api)].join('\n---\n');
  const { res, findings } = gen(yaml);
  assert.deepEqual(missing(findings), []);
  assert.deepEqual(res.secrets.map((s) => s.name), ['ROOTCA', 'kubernetes://api-cert', 'kubernetes://api-cert-cacert', 'kubernetes://www-cert']);
  const cert = res.secrets.find((s) => s.name === 'kubernetes://www-cert')!;
  // istio-system's www-cert (not default's): the gateway workload's namespace.
  assert.deepEqual(cert, { name: 'kubernetes://www-cert', tlsCertificate: { certificateChain: { inlineString: www.certPem }, privateKey: { inlineString: www.keyPem } } });
  assert.deepEqual(res.secrets.find((s) => s.name === 'kubernetes://api-cert-cacert'), { name: 'kubernetes://api-cert-cacert', validationContext: { trustedCa: { inlineString: ca.certPem } } });
  for (const s of res.secrets) assert.deepEqual(decode(TYPE.secret, encode(TYPE.secret, s)), s);

  // Chain order does not matter: the proxy picks by the most specific server name (Envoy's rule).
  const https = chains(res.listeners, 'gateway|443');
  const bySni = new Map(https.map((c) => [String(obj(c.filterChainMatch).serverNames), c]));
  assert.deepEqual([...bySni.keys()].sort(), ['*.example.com', 'www.example.com']);
  assert.deepEqual(sdsNames(bySni.get('www.example.com')!), ['kubernetes://www-cert']);
  assert.deepEqual(sdsNames(bySni.get('*.example.com')!), ['kubernetes://api-cert', 'kubernetes://api-cert-cacert']);
  assert.deepEqual(obj(obj(obj(bySni.get('*.example.com')!.transportSocket).typedConfig).requireClientCertificate), { value: true });
});

test('MUTUAL without ca.crt takes the "<name>-cacert" Secret', () => {
  const cacert = ['apiVersion: v1', 'kind: Secret', 'metadata: {name: api-cert-cacert, namespace: istio-system}', 'data:', `  cacert: ${b64(ca.certPem)}`, ''].join('\n');
  const { res, findings } = gen([BASE, tlsSecretYaml('www-cert', 'istio-system', www), tlsSecretYaml('api-cert', 'istio-system', api), cacert].join('\n---\n'));
  assert.deepEqual(missing(findings), []);
  assert.equal(obj(obj(res.secrets.find((s) => s.name === 'kubernetes://api-cert-cacert')!.validationContext).trustedCa).inlineString, ca.certPem);
});

test('a missing Secret: that server has no chain, the others keep serving, and the finding names gateway, server and secret', () => {
  const { res, findings } = gen([BASE, tlsSecretYaml('api-cert', 'istio-system', api)].join('\n---\n'));
  const https = chains(res.listeners, 'gateway|443');
  assert.equal(https.length, 0, 'api-cert has no CA and www-cert is missing: nothing on 443');
  assert.ok(!res.listeners.some((l) => l.name === 'gateway|443'), 'a listener with no chains is not sent');
  assert.deepEqual(res.secrets.map((s) => s.name), ['ROOTCA']);
  const f = missing(findings);
  assert.deepEqual(f.map((x) => [x.resource?.name, x.path, x.severity]), [
    ['gw', 'spec.servers[1].tls.credentialName', 'warning'],
    ['gw', 'spec.servers[2].tls.credentialName', 'warning'],
  ]);
  assert.match(f[0]!.message, /^server https-www \(port 443, hosts www\.example\.com\): Secret istio-system\/www-cert not found; this server is not served by gateways in namespace istio-system/);
  assert.match(f[1]!.message, /MUTUAL needs a client CA: Secret istio-system\/api-cert has no ca\.crt .* Secret istio-system\/api-cert-cacert not found/);
  assert.equal(f[0]!.file, 'gw.yaml');

  const withWww = gen([BASE, tlsSecretYaml('api-cert', 'istio-system', api), tlsSecretYaml('www-cert', 'istio-system', www)].join('\n---\n'));
  assert.deepEqual(chains(withWww.res.listeners, 'gateway|443').map(sdsNames), [['kubernetes://www-cert']]);
  assert.equal(missing(withWww.findings).length, 1);
});

test('no gateway running the server: nothing to report yet (the namespace is the workload\'s)', () => {
  const { findings } = build(BASE, [SIDECAR]);
  assert.deepEqual(missing(findings), []);
});

test('gateway credentials only for an authenticated router; a sidecar never gets them', () => {
  const yaml = [BASE, tlsSecretYaml('www-cert', 'istio-system', www), tlsSecretYaml('api-cert', 'istio-system', api, ca.certPem), tlsSecretYaml('www-cert', 'default', www)].join('\n---\n');
  const anon = gen(yaml, INGRESS, false).res;
  assert.deepEqual(anon.secrets.map((s) => s.name), ['ROOTCA']);
  assert.equal(chains(anon.listeners, 'gateway|443').length, 2, 'the listeners do not depend on it');
  const side = gen(yaml, SIDECAR, true).res;
  assert.deepEqual(side.secrets.map((s) => s.name), ['ROOTCA']);
  assert.doesNotMatch(JSON.stringify(side), /PRIVATE KEY/);
});

test('Gateway API: certificateRefs name a Secret of the Gateway\'s namespace, served as kubernetes-gateway://ns/name', () => {
  const yaml = `
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: web-gw, namespace: default}
spec:
  gatewayClassName: istio
  listeners:
  - name: https
    port: 443
    protocol: HTTPS
    hostname: www.example.com
    tls:
      mode: Terminate
      certificateRefs: [{name: www-cert}]
  - name: other
    port: 443
    protocol: HTTPS
    hostname: api.example.com
    tls:
      mode: Terminate
      certificateRefs: [{name: api-cert, namespace: istio-system}]
---
${tlsSecretYaml('www-cert', 'default', www)}
---
${tlsSecretYaml('www-cert', 'istio-system', api)}
---
${tlsSecretYaml('api-cert', 'istio-system', api)}
`;
  const { res, findings } = gen(yaml);
  assert.deepEqual(res.secrets.map((s) => s.name), ['ROOTCA', 'kubernetes-gateway://default/www-cert']);
  assert.equal(obj(obj(res.secrets[1]!.tlsCertificate).certificateChain).inlineString, www.certPem);
  assert.deepEqual(chains(res.listeners, 'gateway|443').map(sdsNames), [['kubernetes-gateway://default/www-cert']]);
  // A Secret in another namespace needs a ReferenceGrant, which weft does not read: refused.
  const refused = findings.find((f) => f.code === 'WEFT_REF_NOT_PERMITTED')!;
  assert.equal(refused.path, 'spec.listeners[1].tls.certificateRefs[0].namespace');
});

test('httpsRedirect: every host of the HTTP server requires TLS, with or without routes', () => {
  const { res } = gen([BASE, tlsSecretYaml('www-cert', 'istio-system', www)].join('\n---\n'));
  const rc = res.routes.find((r) => r.name === 'http.80')!;
  const vhs = arr(rc.virtualHosts);
  assert.deepEqual(vhs.map((v) => [v.domains, v.requireTls, arr(v.routes).length]), [
    [['*'], 'ALL', 0],
    [['*.example.com'], 'ALL', 1],
  ]);
  assert.equal(arr(res.routes.find((r) => r.name === 'http.443')!.virtualHosts).every((v) => v.requireTls === undefined), true);
});

test('an httpsRedirect server for one host leaves the other hosts of a "*" server on the same port plain', () => {
  const yaml = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: plain, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: secure, namespace: default}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: redirect, protocol: HTTP}, hosts: [www.example.com], tls: {httpsRedirect: true}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: all, namespace: default}
spec:
  hosts: ["*"]
  gateways: [plain, secure]
  http: [{route: [{destination: {host: web, port: {number: 8080}}}]}]
`;
  const rc = gen(yaml).res.routes.find((r) => r.name === 'http.80')!;
  assert.deepEqual(arr(rc.virtualHosts).map((v) => [v.domains, v.requireTls]), [
    [['*'], undefined],
    [['www.example.com'], 'ALL'],
  ]);
});

test('Gateway API: HTTPRoutes narrowed by sectionName serve their listener\'s port only, without a conflict (redirect on http, backend on https)', () => {
  const yaml = `
apiVersion: v1
kind: Service
metadata: {name: web, namespace: default}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  gatewayClassName: istio
  listeners:
  - {name: http, port: 80, protocol: HTTP, hostname: api.example.com}
  - {name: https, port: 443, protocol: HTTPS, hostname: api.example.com, tls: {mode: Terminate, certificateRefs: [{name: api-cert}]}}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: https}]
  hostnames: [api.example.com]
  rules: [{backendRefs: [{name: web, port: 8080}]}]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: api-redirect, namespace: default}
spec:
  parentRefs: [{name: gw, sectionName: http}]
  hostnames: [api.example.com]
  rules: [{filters: [{type: RequestRedirect, requestRedirect: {scheme: https, statusCode: 301}}]}]
---
${tlsSecretYaml('api-cert', 'default', api)}
`;
  const { res, findings } = gen(yaml);
  assert.deepEqual(findings.filter((f) => f.severity === 'warning' && f.resource?.kind === 'HTTPRoute'), []);
  const routesOn = (port: number) => arr(arr(res.routes.find((r) => r.name === `http.${port}`)!.virtualHosts)[0]!.routes);
  assert.deepEqual(routesOn(80).map((r) => Object.keys(r).filter((k) => k === 'route' || k === 'redirect')), [['redirect']]);
  assert.deepEqual(obj(routesOn(80)[0]!.redirect).schemeRedirect, 'https');
  assert.deepEqual(routesOn(443).map((r) => obj(r.route).cluster), ['outbound|8080||web.default.svc.cluster.local']);
});

test('a Secret "<x>-cacert" that is one server\'s certificate and, by name, MUTUAL x\'s CA: the certificate keeps the SDS name, x is left out on the routers running both, with a finding naming both servers and the Secret', () => {
  const EDGE = router('edge-gateway', 'istio-system', { istio: 'ingressgateway', edge: 'yes' });
  const mutual = httpsGatewayYaml('mtls', '{istio: ingressgateway}', { name: 'https-api', host: 'api.example.com', mode: 'MUTUAL', credentialName: 'api-cert' });
  const simple = httpsGatewayYaml('edge', '{edge: "yes"}', { name: 'https-www', host: 'www.example.com', mode: 'SIMPLE', credentialName: 'api-cert-cacert' });
  const secrets = [tlsSecretYaml('api-cert', 'istio-system', api, ca.certPem), tlsSecretYaml('api-cert-cacert', 'istio-system', www)];
  // Either order of the Gateways: the outcome does not depend on which the generator meets first.
  for (const gateways of [[mutual, simple], [simple, mutual]]) {
    const { model, findings } = build([...gateways, ...secrets].join('\n---\n'), [EDGE, INGRESS]);
    const edge = generateForProxy(model, EDGE, { rootCertsPem: [ca.certPem], credentials: true });
    assert.deepEqual(chains(edge.listeners, 'gateway|443').map(sdsNames), [['kubernetes://api-cert-cacert']]);
    assert.deepEqual(edge.secrets.find((s) => s.name === 'kubernetes://api-cert-cacert'), {
      name: 'kubernetes://api-cert-cacert',
      tlsCertificate: { certificateChain: { inlineString: www.certPem }, privateKey: { inlineString: www.keyPem } },
    });
    // A router that runs only the MUTUAL server serves it as usual.
    const plain = generateForProxy(model, INGRESS, { rootCertsPem: [ca.certPem], credentials: true });
    assert.deepEqual(chains(plain.listeners, 'gateway|443').map(sdsNames), [['kubernetes://api-cert', 'kubernetes://api-cert-cacert']]);
    assert.ok(plain.secrets.find((s) => s.name === 'kubernetes://api-cert-cacert')!.validationContext);

    assert.deepEqual(missing(findings), []);
    const clash = findings.filter((f) => f.code === 'WEFT_CREDENTIAL_CLASH');
    assert.deepEqual(clash.map((f) => [f.resource?.name, f.path, f.severity]), [['mtls', 'spec.servers[0].tls.credentialName', 'warning']]);
    assert.match(clash[0]!.message, /^server https-api \(port 443, hosts api\.example\.com\): .*SDS name "api-cert-cacert".* certificate of server https-www \(port 443, hosts www\.example\.com\) of Gateway default\/edge \(Secret istio-system\/api-cert-cacert\); this server is not served by gateway workloads istio-system\/edge-gateway-abc /);
  }
  // Edge routers in two namespaces, each meeting its own namespace's certificate: both named.
  const EDGE2 = router('edge-gateway', 'edge2', { istio: 'ingressgateway', edge: 'yes' });
  const secrets2 = [...secrets, tlsSecretYaml('api-cert', 'edge2', api, ca.certPem), tlsSecretYaml('api-cert-cacert', 'edge2', www)];
  const both = build([mutual, simple, ...secrets2].join('\n---\n'), [EDGE, EDGE2, INGRESS]).findings.filter((f) => f.code === 'WEFT_CREDENTIAL_CLASH');
  assert.equal(both.length, 1);
  assert.match(both[0]!.message, /\(Secret istio-system\/api-cert-cacert\); and .*\(Secret edge2\/api-cert-cacert\)/);
  assert.match(both[0]!.message, /not served by gateway workloads edge2\/edge-gateway-abc, istio-system\/edge-gateway-abc /);
});
