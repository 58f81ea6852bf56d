// DestinationRule, ServiceEntry and MeshConfig parsing: every field, Istio's defaults,
// unsupported fields warned with their line and path (the rest still applies), and
// the validation rules that need the whole spec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, type Finding, type Resource } from '../../src/resources/index.js';
import type { DestinationRuleSpec } from '../../src/resources/istio-destinationrule.js';
import type { MeshConfigSpec, ServiceEntrySpec } from '../../src/resources/istio-serviceentry.js';

const errors = (fs: Finding[]) => fs.filter((f) => f.severity === 'error');
const warnings = (fs: Finding[]) => fs.filter((f) => f.severity === 'warning').map((f) => `${f.line} ${f.code} ${f.path}`);

const FULL_DR = `apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata:
  name: reviews
spec:
  host: reviews
  exportTo: ["."]
  trafficPolicy:
    loadBalancer:
      simple: LEAST_REQUEST
      localityLbSetting:
        enabled: true
    connectionPool:
      tcp:
        maxConnections: 100
        connectTimeout: 30ms
        tcpKeepalive:
          probes: 3
          time: 7200s
          interval: 75s
      http:
        http1MaxPendingRequests: 10
        http2MaxRequests: 1000
        maxRequestsPerConnection: 5
        maxRetries: 3
        idleTimeout: 1m
        h2UpgradePolicy: UPGRADE
    outlierDetection:
      consecutive5xxErrors: 7
      consecutiveGatewayErrors: 2
      interval: 5m
      baseEjectionTime: 15m
      maxEjectionPercent: 50
      minHealthPercent: 30
      splitExternalLocalOriginErrors: true
      consecutiveLocalOriginFailures: 4
    tls:
      mode: SIMPLE
      sni: reviews.example.com
      subjectAltNames: [reviews.example.com]
      credentialName: reviews-client
    portLevelSettings:
    - port:
        number: 9080
      loadBalancer:
        consistentHash:
          httpCookie:
            name: user
            path: /
            ttl: 0s
          ringHash:
            minimumRingSize: 2048
  subsets:
  - name: v1
    labels:
      version: v1
  - name: v2
    labels:
      version: v2
    trafficPolicy:
      loadBalancer:
        consistentHash:
          httpHeaderName: x-user
          maglev:
            tableSize: 65537
  workloadSelector:
    matchLabels:
      app: productpage
`;

test('DestinationRule: every field parsed; localityLbSetting, exportTo and workloadSelector warned with lines, the rest kept', () => {
  const { resources, findings } = parseYaml(FULL_DR, 'dr.yaml');
  assert.deepEqual(errors(findings), []);
  assert.deepEqual(warnings(findings), [
    '7 WEFT_UNSUPPORTED_FIELD spec.exportTo',
    '11 WEFT_UNSUPPORTED_FIELD spec.trafficPolicy.loadBalancer.localityLbSetting',
    '66 WEFT_UNSUPPORTED_FIELD spec.workloadSelector',
  ]);
  const dr = resources[0] as Resource<DestinationRuleSpec>;
  assert.equal(dr.kind, 'DestinationRule');
  const tp = dr.spec.trafficPolicy!;
  assert.deepEqual(tp.loadBalancer, { simple: 'LEAST_REQUEST' });
  assert.deepEqual(tp.connectionPool, {
    tcp: { maxConnections: 100, connectTimeout: '30ms', tcpKeepalive: { probes: 3, time: '7200s', interval: '75s' } },
    http: { http1MaxPendingRequests: 10, http2MaxRequests: 1000, maxRequestsPerConnection: 5, maxRetries: 3, idleTimeout: '1m', h2UpgradePolicy: 'UPGRADE' },
  });
  assert.deepEqual(tp.outlierDetection, {
    consecutive5xxErrors: 7,
    consecutiveGatewayErrors: 2,
    interval: '5m',
    baseEjectionTime: '15m',
    maxEjectionPercent: 50,
    minHealthPercent: 30,
    splitExternalLocalOriginErrors: true,
    consecutiveLocalOriginFailures: 4,
  });
  assert.deepEqual(tp.tls, { mode: 'SIMPLE', sni: 'reviews.example.com', subjectAltNames: ['reviews.example.com'], credentialName: 'reviews-client' });
  assert.deepEqual(tp.portLevelSettings, [
    { port: { number: 9080 }, loadBalancer: { consistentHash: { httpCookie: { name: 'user', path: '/', ttl: '0s' }, ringHash: { minimumRingSize: 2048 } } } },
  ]);
  assert.deepEqual(dr.spec.subsets, [
    { name: 'v1', labels: { version: 'v1' } },
    { name: 'v2', labels: { version: 'v2' }, trafficPolicy: { loadBalancer: { consistentHash: { httpHeaderName: 'x-user', maglev: { tableSize: 65537 } } } } },
  ]);
});

test('DestinationRule: bad input names the field and line', () => {
  const yaml = `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: bad
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
      simple: ROUND_ROBN
    outlierDetection:
      maxEjectionPercent: 150
    tls:
      sni: x
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v1
    labels: {version: v2}
`;
  const { resources, findings } = parseYaml(yaml, 'bad.yaml');
  assert.deepEqual(resources, []);
  const got = errors(findings).map((f) => `${f.line} ${f.code} ${f.path}`);
  assert.deepEqual(got, [
    '9 WEFT_INVALID_FIELD spec.trafficPolicy.loadBalancer.simple',
    '11 WEFT_INVALID_FIELD spec.trafficPolicy.outlierDetection.maxEjectionPercent',
    '13 WEFT_MISSING_FIELD spec.trafficPolicy.tls.mode',
  ]);
  assert.match(errors(findings)[0]!.message, /did you mean "ROUND_ROBIN"/);

  const dup = parseYaml(yaml.replace(/trafficPolicy:[\s\S]*?subsets:/, 'subsets:'), 'dup.yaml');
  assert.deepEqual(errors(dup.findings).map((f) => `${f.line} ${f.code} ${f.path}`), ['10 WEFT_INVALID_FIELD spec.subsets[1].name']);
});

test('DestinationRule: a consistent hash needs exactly one key; simple and consistentHash exclude each other', () => {
  const dr = (lb: string) => `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: h
spec:
  host: reviews
  trafficPolicy:
    loadBalancer:
${lb}`;
  const none = parseYaml(dr('      consistentHash:\n        ringHash: {minimumRingSize: 10}\n'), 'a.yaml');
  assert.deepEqual(errors(none.findings).map((f) => f.code), ['WEFT_MISSING_FIELD']);
  const both = parseYaml(dr('      simple: RANDOM\n      consistentHash: {useSourceIp: true}\n'), 'b.yaml');
  assert.deepEqual(errors(both.findings).map((f) => f.path), ['spec.trafficPolicy.loadBalancer.consistentHash']);
  const notPrime = parseYaml(dr('      consistentHash: {useSourceIp: true, maglev: {tableSize: 65536}}\n'), 'd.yaml');
  assert.deepEqual(errors(notPrime.findings).map((f) => `${f.line} ${f.path}`), ['9 spec.trafficPolicy.loadBalancer.consistentHash.maglev.tableSize']);
  const bigRing = parseYaml(dr('      consistentHash: {useSourceIp: true, ringHash: {minimumRingSize: 9000000}}\n'), 'e.yaml');
  assert.deepEqual(errors(bigRing.findings).map((f) => f.path), ['spec.trafficPolicy.loadBalancer.consistentHash.ringHash.minimumRingSize']);
  const ok = parseYaml(dr('      consistentHash: {httpQueryParameterName: user}\n'), 'c.yaml');
  assert.deepEqual(ok.findings, []);
});

test('ServiceEntry: Istio defaults (MESH_EXTERNAL, NONE); all fields; workloadSelector and endpoint extras warned', () => {
  const yaml = `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: external-api
spec:
  hosts: [api.example.com]
  addresses: [192.0.2.10/32]
  ports:
  - number: 443
    name: https
    protocol: HTTPS
  - number: 80
    name: http
    protocol: http
    targetPort: 8080
  resolution: STATIC
  endpoints:
  - address: 192.0.2.10
    ports: {http: 8081}
    labels: {version: v1}
    weight: 3
    locality: us-east
  - address: 192.0.2.11
  exportTo: ["*"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata:
  name: defaults
spec:
  hosts: ["*.example.org"]
  ports: [{number: 443, name: tls, protocol: TLS}]
  workloadSelector:
    labels: {app: x}
`;
  const { resources, findings } = parseYaml(yaml, 'se.yaml');
  assert.deepEqual(errors(findings), []);
  assert.deepEqual(warnings(findings), [
    '22 WEFT_UNSUPPORTED_FIELD spec.endpoints[0].locality',
    '24 WEFT_UNSUPPORTED_FIELD spec.exportTo',
    '33 WEFT_UNSUPPORTED_FIELD spec.workloadSelector',
  ]);
  const [se, def] = resources as Resource<ServiceEntrySpec>[];
  assert.deepEqual(se!.spec, {
    hosts: ['api.example.com'],
    addresses: ['192.0.2.10/32'],
    ports: [
      { number: 443, name: 'https', protocol: 'HTTPS' },
      { number: 80, name: 'http', protocol: 'HTTP', targetPort: 8080 },
    ],
    location: 'MESH_EXTERNAL',
    resolution: 'STATIC',
    endpoints: [{ address: '192.0.2.10', ports: { http: 8081 }, labels: { version: 'v1' }, weight: 3 }, { address: '192.0.2.11' }],
    exportTo: ['*'],
  });
  assert.equal(def!.spec.location, 'MESH_EXTERNAL');
  assert.equal(def!.spec.resolution, 'NONE');
});

test('ServiceEntry: resolution rules (STATIC needs IP endpoints, DNS no wildcard, endpoint ports must name a port)', () => {
  const se = (body: string) => `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata:
  name: se
spec:
  hosts: ["*.example.com"]
  ports: [{number: 80, name: http, protocol: HTTP}]
${body}`;
  const codes = (body: string) => errors(parseYaml(se(body), 's.yaml').findings).map((f) => `${f.code} ${f.path}`);
  assert.deepEqual(codes('  resolution: STATIC\n'), ['WEFT_MISSING_FIELD spec.endpoints']);
  assert.deepEqual(codes('  resolution: STATIC\n  endpoints: [{address: db.example.com}]\n'), ['WEFT_INVALID_FIELD spec.endpoints[0].address']);
  assert.deepEqual(codes('  resolution: DNS\n'), ['WEFT_INVALID_FIELD spec.hosts[0]']);
  assert.deepEqual(codes('  resolution: DNS\n  endpoints: [{address: a.example.com, ports: {grpc: 1}}]\n'), ['WEFT_INVALID_FIELD spec.endpoints[0].ports.grpc']);
  const none = parseYaml(se('  resolution: NONE\n  endpoints: [{address: 10.0.0.1}]\n'), 'n.yaml');
  assert.deepEqual(errors(none.findings), []);
  assert.deepEqual(warnings(none.findings), ['9 WEFT_UNSUPPORTED_FIELD spec.endpoints']);
});

test('MeshConfig (weft.dev/v1alpha1): outboundTrafficPolicy.mode, default ALLOW_ANY; cluster-scoped', () => {
  const { resources, findings } = parseYaml(
    `apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata:
  name: mesh
spec:
  outboundTrafficPolicy:
    mode: REGISTRY_ONLY
---
apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata:
  name: defaults
`,
    'mesh.yaml',
  );
  assert.deepEqual(findings, []);
  const [a, b] = resources as Resource<MeshConfigSpec>[];
  assert.deepEqual(a!.spec, { outboundTrafficPolicy: { mode: 'REGISTRY_ONLY' } });
  assert.equal(a!.metadata.namespace, '');
  assert.deepEqual(b!.spec, { outboundTrafficPolicy: { mode: 'ALLOW_ANY' } });
  const bad = parseYaml('apiVersion: weft.dev/v1alpha1\nkind: MeshConfig\nmetadata: {name: m}\nspec:\n  outboundTrafficPolicy: {mode: DENY}\n', 'b.yaml');
  assert.deepEqual(errors(bad.findings).map((f) => `${f.line} ${f.path}`), ['5 spec.outboundTrafficPolicy.mode']);
});
