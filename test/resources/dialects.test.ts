// Parsing the other dialects: Linkerd, SMI, Gateway API. Realistic fixtures parse clean
// (Linkerd policy kinds warn that they are not enforced); bad input names file, line and field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, type Finding } from '../../src/resources/index.js';
import { integerWeights, parseQuantity } from '../../src/resources/quantity.js';
import { readFixture } from './fixtures.js';

const codes = (fs: Finding[]) => fs.map((f) => `${f.severity} ${f.code} ${f.resource?.kind}/${f.resource?.name} ${f.path ?? ''} :${f.line}`);

for (const name of ['services.yaml', 'smi.yaml', 'gateway-api.yaml', 'grpcroute.yaml']) {
  test(`dialects/${name} parses without findings`, () => {
    const { resources, findings } = parseYaml(readFixture(`dialects/${name}`), name);
    assert.deepEqual(codes(findings), []);
    assert.ok(resources.length > 0);
  });
}

test('Linkerd: ServiceProfiles parse; every policy kind is parsed and reported as not enforced', () => {
  const { resources, findings } = parseYaml(readFixture('dialects/linkerd.yaml'), 'linkerd.yaml');
  assert.deepEqual(
    resources.map((r) => `${r.apiVersion} ${r.kind}`),
    [
      'linkerd.io/v1alpha2 ServiceProfile',
      'linkerd.io/v1alpha2 ServiceProfile',
      'policy.linkerd.io/v1beta3 Server',
      'policy.linkerd.io/v1beta1 ServerAuthorization',
      'policy.linkerd.io/v1alpha1 AuthorizationPolicy',
      'policy.linkerd.io/v1alpha1 MeshTLSAuthentication',
    ],
  );
  assert.deepEqual(codes(findings), [
    'warning WEFT_UNSUPPORTED_FIELD Server/authors-http spec :68',
    'warning WEFT_UNSUPPORTED_FIELD ServerAuthorization/authors-from-webapp spec :77',
    'warning WEFT_UNSUPPORTED_FIELD AuthorizationPolicy/authors-policy spec :87',
    'warning WEFT_UNSUPPORTED_FIELD MeshTLSAuthentication/webapp-identity spec :95',
  ]);
  for (const f of findings) assert.match(f.message, /parsed, authorization not enforced yet/);
});

test('Kubernetes quantities: integers, milli-units, decimals, suffixes; weights become small integers', () => {
  assert.equal(parseQuantity('1'), 1);
  assert.equal(parseQuantity('500m'), 0.5);
  assert.equal(parseQuantity('0.5'), 0.5);
  assert.equal(parseQuantity('1k'), 1000);
  assert.equal(parseQuantity('1Ki'), 1024);
  assert.equal(parseQuantity('2e3'), 2000);
  assert.equal(parseQuantity(90), 90);
  assert.throws(() => parseQuantity('90%'), /invalid quantity "90%"/);
  assert.deepEqual(integerWeights(['900m', '100m']), [9, 1]);
  assert.deepEqual(integerWeights([1, '500m']), [2, 1]);
  assert.deepEqual(integerWeights([0, 0]), [0, 0]);
  assert.deepEqual(integerWeights(['0.3', '0.7']), [3, 7]);
});

test('bad input names the field and line', () => {
  const yaml = `apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: bad}
spec:
  service: website
  backends:
  - {service: website-v1, weight: lots}
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: bad}
spec:
  rules:
  - filters:
    - type: RequestHeaderModifier
      responseHeaderModifier: {remove: [x]}
    matches:
    - path: {type: PathPrefix, value: api}
---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: books.booksapp.svc.cluster.local}
spec:
  routes:
  - name: r
    condition: {pathRegex: "(", methd: GET}
`;
  const { resources, findings } = parseYaml(yaml, 'bad.yaml');
  assert.equal(resources.length, 0);
  assert.deepEqual(codes(findings.filter((f) => f.severity === 'error')), [
    'error WEFT_INVALID_FIELD TrafficSplit/bad spec.backends[0].weight :7',
    'error WEFT_MISSING_FIELD HTTPRoute/bad spec.rules[0].filters[0].requestHeaderModifier :15',
    'error WEFT_INVALID_FIELD HTTPRoute/bad spec.rules[0].filters[0].responseHeaderModifier :16',
    'error WEFT_INVALID_FIELD HTTPRoute/bad spec.rules[0].matches[0].path.value :18',
    'error WEFT_INVALID_FIELD ServiceProfile/books.booksapp.svc.cluster.local spec.routes[0].condition.pathRegex :26',
    'error WEFT_UNKNOWN_FIELD ServiceProfile/books.booksapp.svc.cluster.local spec.routes[0].condition.methd :26',
  ]);
  assert.match(findings.find((f) => f.path === 'spec.routes[0].condition.methd')!.message, /did you mean "method"/);
});

test('Gateway API: the same kind name in two API groups resolves by apiVersion', () => {
  const yaml = `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  gatewayClassName: weft
  listeners:
  - {name: tls, port: 443, protocol: HTTPS}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw2}
spec:
  selector: {istio: ingressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
`;
  const { resources, findings } = parseYaml(yaml, 'gw.yaml');
  assert.deepEqual(resources.map((r) => r.metadata.name), ['gw2']);
  assert.deepEqual(codes(findings), ['error WEFT_MISSING_FIELD Gateway/gw spec.listeners[0].tls :7']);
});
