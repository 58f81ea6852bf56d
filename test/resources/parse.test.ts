import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadPath, parseYaml, formatFinding, type Finding, type Resource } from '../../src/resources/index.js';
import type { DeploymentSpec, ServiceSpec } from '../../src/resources/kubernetes-types.js';
import type { VirtualServiceSpec } from '../../src/resources/istio-networking.js';
import { fixture, readFixture } from './fixtures.js';

const errors = (fs: Finding[]) => fs.filter((f) => f.severity === 'error');
const byName = (rs: Resource[], kind: string, name: string) => rs.find((r) => r.kind === kind && r.metadata.name === name);

test('multi-document file: every kind, List expanded, empty documents skipped, defaults applied', () => {
  const { resources, findings } = parseYaml(readFixture('platform.yaml'), 'platform.yaml');
  assert.deepEqual(errors(findings), []);
  assert.deepEqual(
    resources.map((r) => `${r.kind}/${r.metadata.namespace}/${r.metadata.name}`),
    ['Namespace//bookinfo', 'Service/default/productpage', 'ServiceAccount/default/bookinfo-reviews', 'Deployment/default/reviews-v1', 'Service/default/reviews', 'Service/bookinfo/ratings'],
  );
  const pp = byName(resources, 'Service', 'productpage') as Resource<ServiceSpec>;
  assert.equal(pp.origin?.line, 7);
  assert.deepEqual(pp.spec.ports, [{ port: 9080, name: 'http', targetPort: 9080 }]);
  assert.deepEqual(pp.metadata.annotations, {});
  const ratings = byName(resources, 'Service', 'ratings') as Resource<ServiceSpec>;
  assert.equal(ratings.spec.ports[0]!.targetPort, 'grpc');
  const dep = byName(resources, 'Deployment', 'reviews-v1') as Resource<DeploymentSpec>;
  assert.equal(dep.spec.replicas, 1);
  assert.deepEqual(dep.spec.template.metadata.annotations, {});
  assert.deepEqual(dep.spec.template.spec.containers[0]!.command, ['node', 'samples/bookinfo/reviews.js']);
  assert.deepEqual(dep.spec.template.spec.containers[0]!.readinessProbe, { httpGet: { path: '/health', port: 'http' } });
  // imagePullPolicy is accepted with a warning, not dropped silently.
  const warn = findings.find((f) => f.code === 'WEFT_UNSUPPORTED_FIELD');
  assert.ok(warn);
  assert.equal(warn.path, 'spec.template.spec.containers[0].imagePullPolicy');
  assert.equal(warn.line, 49);
  assert.match(warn.message, /^accepted, not acted on: /);
  assert.equal(Object.hasOwn(dep.spec.template.spec.containers[0]!, 'imagePullPolicy'), false);
});

test('nested unknown field: its own line, field path and "did you mean"', () => {
  const { resources, findings } = parseYaml(readFixture('typo.yaml'), 'samples/bookinfo/platform.yaml');
  const [e, ...rest] = errors(findings);
  assert.deepEqual(rest, []);
  assert.ok(e);
  assert.equal(e.code, 'WEFT_UNKNOWN_FIELD');
  assert.equal(e.line, 24);
  assert.equal(e.path, 'spec.template.spec.containers[0].comand');
  assert.equal(
    formatFinding(e),
    'samples/bookinfo/platform.yaml:24: error: Deployment default/reviews-v1: spec.template.spec.containers[0].comand: unknown field (did you mean "command"?) [WEFT_UNKNOWN_FIELD]',
  );
  // The valid Service in the same file is still returned; the broken Deployment is not.
  assert.deepEqual(resources.map((r) => r.metadata.name), ['details']);
});

test('malformed YAML: WEFT_YAML_SYNTAX with a line, other documents still parsed', () => {
  const { resources, findings } = parseYaml(readFixture('malformed.yaml'), 'malformed.yaml');
  assert.deepEqual(resources.map((r) => r.metadata.name), ['good']);
  const syntax = findings.filter((f) => f.code === 'WEFT_YAML_SYNTAX');
  assert.ok(syntax.length >= 1);
  for (const f of syntax) {
    assert.equal(f.file, 'malformed.yaml');
    assert.equal(typeof f.line, 'number');
    assert.ok(f.line! >= 12 && f.line! <= 16, `line ${f.line}`);
  }
});

test('unknown kind and unknown apiVersion name the kind, the version and the supported kinds', () => {
  const { resources, findings } = parseYaml(readFixture('unknown-kind.yaml'), 'unknown-kind.yaml');
  assert.deepEqual(resources, []);
  const [cm, vs] = findings;
  assert.equal(findings.length, 2);
  assert.equal(cm!.code, 'WEFT_UNKNOWN_KIND');
  assert.equal(cm!.line, 2);
  assert.match(cm!.message, /unknown kind "ConfigMap" \(apiVersion v1\); supported kinds: .*Deployment \(apps\/v1\).*VirtualService/);
  assert.equal(vs!.code, 'WEFT_UNKNOWN_KIND');
  assert.equal(vs!.line, 9);
  assert.match(vs!.message, /networking\.istio\.io\/v2.*supported in networking\.istio\.io\/v1, /);
});

test('Deployment without command is an error that says why', () => {
  const { resources, findings } = parseYaml(readFixture('no-command.yaml'), 'no-command.yaml');
  assert.deepEqual(resources, []);
  const [e] = errors(findings);
  assert.equal(e!.code, 'WEFT_MISSING_FIELD');
  assert.equal(e!.path, 'spec.template.spec.containers[0].command');
  assert.equal(e!.line, 16);
  assert.equal(
    formatFinding(e!),
    'no-command.yaml:16: error: Deployment default/reviews-v1: spec.template.spec.containers[0].command: required to run locally: the image is not pulled [WEFT_MISSING_FIELD]',
  );
});

test('selector that does not match the template labels', () => {
  const { resources, findings } = parseYaml(readFixture('selector-mismatch.yaml'), 'selector-mismatch.yaml');
  assert.deepEqual(resources, []);
  const [e, ...rest] = errors(findings);
  assert.deepEqual(rest, []);
  assert.equal(e!.code, 'WEFT_INVALID_FIELD');
  assert.equal(e!.path, 'spec.selector.matchLabels.version');
  assert.equal(e!.line, 9);
  assert.match(e!.message, /version=v1 is not in spec\.template\.metadata\.labels \(it has version=v2\)/);
});

test('wrong types, missing fields, enums and durations name the field and line', () => {
  const text = [
    'apiVersion: networking.istio.io/v1', // 1
    'kind: VirtualService',
    'metadata: {name: vs}',
    'spec:',
    '  hosts: [reviews]', // 5
    '  http:',
    '  - timeout: 5 seconds',
    '    retries: {attempts: two}',
    '    route:',
    '    - destination: {subset: v1}', // 10
    '      weight: 50',
    '    match:',
    '    - uri: {exact: /a, prefix: /b}',
  ].join('\n');
  const { resources, findings } = parseYaml(text, 'vs.yaml');
  assert.deepEqual(resources, []);
  const got = findings.map((f) => `${f.line} ${f.code} ${f.path}`);
  assert.deepEqual(got, [
    '7 WEFT_INVALID_FIELD spec.http[0].timeout',
    '8 WEFT_INVALID_FIELD spec.http[0].retries.attempts',
    '10 WEFT_MISSING_FIELD spec.http[0].route[0].destination.host',
    '13 WEFT_INVALID_FIELD spec.http[0].match[0].uri.prefix',
  ]);
  assert.match(findings[0]!.message, /invalid duration "5 seconds"/);
  assert.match(findings[1]!.message, /expected an integer >= 0, got string "two"/);
});

test('unsupported Istio fields warn while the rest applies', () => {
  const { resources, findings } = parseYaml(readFixture('unsupported.yaml'), 'unsupported.yaml');
  assert.deepEqual(errors(findings), []);
  assert.deepEqual(
    findings.map((f) => `${f.line} ${f.path}`),
    // fault and corsPolicy are acted on now; retries.backoff is not yet.
    ['21 spec.http[0].retries.backoff'],
  );
  const vs = resources[0] as Resource<VirtualServiceSpec>;
  assert.equal(vs.spec.http![0]!.timeout, '10s');
  assert.deepEqual(vs.spec.http![0]!.fault, { delay: { percentage: { value: 10 }, fixedDelay: '5s' } });
});

test('enum values get a suggestion; numbers for strings are told to quote', () => {
  const text = 'apiVersion: v1\nkind: Service\nmetadata:\n  name: s\n  labels: {version: 1}\nspec:\n  ports:\n  - port: 80\n    protocol: tcp\n';
  const { findings } = parseYaml(text, 's.yaml');
  assert.deepEqual(
    findings.map((f) => `${f.line} ${f.path}: ${f.message}`),
    ['5 metadata.labels.version: expected a string (quote it), got number 1', '9 spec.ports[0].protocol: "tcp" is not one of TCP, UDP, SCTP (did you mean "TCP"?)'],
  );
});

test('loadPath: a folder without its sub-folders unless recursive (as kubectl apply -f)', () => {
  const flat = loadPath(fixture('tree'));
  assert.deepEqual(flat.findings, []);
  assert.ok(flat.resources.length > 0);
  assert.ok(flat.resources.every((r) => !r.origin!.file.includes('/sub/')));
});

test('loadPath: a folder recursively, *.yaml and *.yml only, sorted', () => {
  const { resources, findings } = loadPath(fixture('tree'), { recursive: true });
  assert.deepEqual(findings, []);
  assert.deepEqual(
    resources.map((r) => `${r.kind}/${r.metadata.name}`),
    ['Service/productpage', 'Service/reviews', 'Service/ratings', 'Service/details', 'Gateway/bookinfo-gateway', 'VirtualService/bookinfo'],
  );
  assert.ok(resources[0]!.origin!.file.endsWith('b.yml'));
});

test('loadPath: a missing path is a finding, not a crash', () => {
  const { resources, findings } = loadPath(fixture('does-not-exist.yaml'));
  assert.deepEqual(resources, []);
  assert.equal(findings[0]!.code, 'WEFT_READ_ERROR');
  assert.match(findings[0]!.message, /ENOENT/);
});

test('the same resource twice: the later one wins, with a warning', () => {
  const doc = (port: number) => `apiVersion: v1\nkind: Service\nmetadata: {name: s}\nspec: {ports: [{port: ${port}}]}\n`;
  const { resources, findings } = parseYaml(`${doc(80)}---\n${doc(81)}`, 'dup.yaml');
  assert.equal(resources.length, 1);
  assert.equal((resources[0] as Resource<ServiceSpec>).spec.ports[0]!.port, 81);
  assert.equal(findings[0]!.code, 'WEFT_DUPLICATE_RESOURCE');
  assert.equal(findings[0]!.line, 1);
});

test('same kind and name in different API groups are different resources, not duplicates', () => {
  const text = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec: {selector: {istio: ingressgateway}, servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ['*']}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec: {gatewayClassName: weft, listeners: [{name: http, port: 80, protocol: HTTP}]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: edge}
spec: {gatewayClassName: weft, listeners: [{name: http, port: 8080, protocol: HTTP}]}
`;
  const { resources, findings } = parseYaml(text, 'groups.yaml');
  assert.deepEqual(resources.map((r) => r.apiVersion), ['networking.istio.io/v1', 'gateway.networking.k8s.io/v1']);
  // Only the Gateway API Gateway defined twice is a duplicate (the later one wins).
  assert.deepEqual(findings.map((f) => [f.code, f.line]), [['WEFT_DUPLICATE_RESOURCE', 6]]);
  assert.equal((resources[1]!.spec as { listeners: { port: number }[] }).listeners[0]!.port, 8080);
});

test('Gateway: HTTPS needs tls; protocols are case-insensitive; TLS file fields warn', () => {
  const text = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: https}
    hosts: [bookinfo.example.com]
  - port: {number: 8443, name: tls, protocol: HTTPS}
    hosts: ["*"]
    tls:
      mode: SIMPLE
      serverCertificate: /etc/certs/cert.pem
`;
  const { resources, findings } = parseYaml(text, 'gw.yaml');
  assert.deepEqual(resources, []);
  assert.deepEqual(
    findings.map((f) => `${f.severity} ${f.line} ${f.code} ${f.path}`),
    ['warning 13 WEFT_UNSUPPORTED_FIELD spec.servers[1].tls.serverCertificate', 'error 7 WEFT_MISSING_FIELD spec.servers[0].tls'],
  );
  assert.deepEqual(findings[1]!.resource, { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', namespace: 'edge', name: 'gw' });
});

test('cluster-scoped Namespace has namespace ""; quoted keys in paths; unknown field without a close match', () => {
  const text = `apiVersion: v1
kind: Namespace
metadata:
  name: shop
  annotations:
    sidecar.istio.io/inject: 1
  colour: blue
`;
  const { resources, findings } = parseYaml(text, 'ns.yaml');
  assert.deepEqual(resources, []);
  assert.deepEqual(
    findings.map((f) => `${f.line} ${f.code} ${f.path} ${f.message}`),
    [
      '6 WEFT_INVALID_FIELD metadata.annotations["sidecar.istio.io/inject"] expected a string (quote it), got number 1',
      '7 WEFT_UNKNOWN_FIELD metadata.colour unknown field',
    ],
  );
  const ok = parseYaml('apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n', 'ns.yaml');
  assert.deepEqual(ok.findings, []);
  assert.deepEqual(ok.resources[0]!.metadata, { name: 'shop', namespace: '', labels: {}, annotations: {} });
  assert.deepEqual(ok.resources[0]!.spec, {});
});

test('a name (or port) given twice in one list is an error at the later one, naming the earlier', () => {
  const yaml = `
apiVersion: v1
kind: Service
metadata: {name: svc}
spec:
  ports: [{name: a, port: 80}, {name: b, port: 80}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr}
spec:
  host: svc
  trafficPolicy:
    portLevelSettings: [{port: {number: 80}}, {port: {number: 81}}, {port: {number: 80}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: dr-subsets}
spec:
  host: svc
  subsets: [{name: v1, labels: {v: "1"}}, {name: v1, labels: {v: "2"}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: se}
spec:
  hosts: [ext.example.com]
  resolution: DNS
  ports: [{name: http, number: 80, protocol: HTTP}, {name: http, number: 81, protocol: HTTP}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw}
spec:
  selector: {istio: ingressgateway}
  servers:
  - {name: s, port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}
  - {port: {number: 81, name: http2, protocol: HTTP}, hosts: ["*"]}
  - {name: s, port: {number: 82, name: http3, protocol: HTTP}, hosts: ["*"]}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: api-gw}
spec:
  gatewayClassName: istio
  listeners: [{name: web, port: 80, protocol: HTTP}, {name: web, port: 81, protocol: HTTP}]
---
apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: svc.default.svc.cluster.local}
spec:
  routes:
  - {name: r, condition: {method: GET}}
  - {name: r, condition: {method: POST}}
`;
  const { findings } = parseYaml(yaml, 'dup.yaml');
  assert.deepEqual(
    errors(findings).map((f) => [f.resource?.kind, f.path, f.message]),
    [
      ['Service', 'spec.ports[1].port', 'duplicate port 80 (also spec.ports[0])'],
      ['DestinationRule', 'spec.trafficPolicy.portLevelSettings[2].port.number', 'duplicate port 80 (also spec.trafficPolicy.portLevelSettings[0])'],
      ['DestinationRule', 'spec.subsets[1].name', 'duplicate subset name "v1" (also spec.subsets[0])'],
      ['ServiceEntry', 'spec.ports[1].name', 'duplicate port name "http" (also spec.ports[0])'],
      ['Gateway', 'spec.servers[2].name', 'duplicate server name "s" (also spec.servers[0])'],
      ['Gateway', 'spec.listeners[1].name', 'duplicate listener name "web" (also spec.listeners[0])'],
      ['ServiceProfile', 'spec.routes[1].name', 'duplicate route name "r" (also spec.routes[0])'],
    ],
  );
  assert.ok(errors(findings).every((f) => f.code === 'WEFT_INVALID_FIELD' && f.line !== undefined));
});
