// DestinationRule / ServiceEntry / MeshConfig -> model: Istio's merge order per
// (port, subset), ServiceEntry hosts as external Services, precedence and findings.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, type Resource } from '../../src/resources/index.js';
import { buildModel, type Service } from '../../src/model/index.js';

function load(yaml: string): Resource[] {
  const { resources, findings } = parseYaml(yaml, 'in.yaml');
  assert.deepEqual(findings.filter((f) => f.severity === 'error'), []);
  return resources;
}

const SERVICES = `apiVersion: v1
kind: Service
metadata: {name: reviews}
spec:
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080}
  - {name: http-admin, port: 9090}
`;

const DR = `---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    loadBalancer: {simple: RANDOM}
    connectionPool:
      tcp: {maxConnections: 10, connectTimeout: 250ms}
    outlierDetection: {consecutive5xxErrors: 3, interval: 10s}
    portLevelSettings:
    - port: {number: 9090}
      loadBalancer: {simple: ROUND_ROBIN}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
    trafficPolicy:
      connectionPool:
        http: {http1MaxPendingRequests: 1, idleTimeout: 2s}
      portLevelSettings:
      - port: {number: 9090}
        tls: {mode: DISABLE}
  - name: v3
    labels: {version: v3}
    trafficPolicy:
      loadBalancer:
        consistentHash: {httpCookie: {name: u, ttl: 10s}}
`;

const reviews = (services: Service[]) => services.find((s) => s.name === 'reviews')!;
const policy = (s: Service, port: number, subset: string) => {
  const { port: _p, subset: _s, ...rest } = s.destinationPolicy!.clusters.find((c) => c.port === port && c.subset === subset)!;
  return rest;
};

test('merge order: port level replaces the top level; a subset overrides field by field; its port level replaces all', () => {
  const { model, findings } = buildModel(load(SERVICES + DR), []);
  assert.deepEqual(findings, []);
  const s = reviews(model.services);
  assert.deepEqual(s.destinationPolicy!.subsets, [
    { name: 'v1', labels: { version: 'v1' } },
    { name: 'v2', labels: { version: 'v2' } },
    { name: 'v3', labels: { version: 'v3' } },
  ]);
  assert.equal(s.destinationPolicy!.clusters.length, 8, 'two ports x (service + three subsets)');
  const top = {
    loadBalancer: { simple: 'RANDOM' },
    connectionPool: { tcp: { maxConnections: 10, connectTimeoutMs: 250 } },
    outlierDetection: { consecutive5xxErrors: 3, intervalMs: 10_000 },
  };
  assert.deepEqual(policy(s, 9080, ''), top);
  // Istio: port-level settings do not inherit the top level's other fields.
  assert.deepEqual(policy(s, 9090, ''), { loadBalancer: { simple: 'ROUND_ROBIN' } });
  assert.deepEqual(policy(s, 9080, 'v1'), top);
  assert.deepEqual(policy(s, 9080, 'v2'), { ...top, connectionPool: { http: { http1MaxPendingRequests: 1, idleTimeoutMs: 2000 } } });
  assert.deepEqual(policy(s, 9090, 'v2'), { tls: { mode: 'DISABLE' } });
  assert.deepEqual(policy(s, 9090, 'v3'), { loadBalancer: { consistentHash: { key: { kind: 'cookie', name: 'u', ttlMs: 10_000 }, algorithm: { kind: 'ringHash' } } } });
  assert.deepEqual(policy(s, 9080, 'v3'), { ...top, loadBalancer: { consistentHash: { key: { kind: 'cookie', name: 'u', ttlMs: 10_000 }, algorithm: { kind: 'ringHash' } } } });
  assert.equal(model.outboundTrafficPolicy, 'ALLOW_ANY');
});

test('load balancer forms: LEAST_CONN is LEAST_REQUEST, UNSPECIFIED is the default, hash keys and algorithms', () => {
  const dr = (name: string, lb: string) => `---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: ${name}}
spec:
  host: ${name}.default.svc.cluster.local
  trafficPolicy:
    loadBalancer: ${lb}
`;
  const svc = (name: string) => `---\napiVersion: v1\nkind: Service\nmetadata: {name: ${name}}\nspec:\n  selector: {app: ${name}}\n  ports: [{name: http, port: 80}]\n`;
  const cases: [string, string, unknown][] = [
    ['a', '{simple: LEAST_CONN}', { simple: 'LEAST_REQUEST' }],
    ['b', '{simple: UNSPECIFIED}', {}],
    ['c', '{simple: PASSTHROUGH}', { simple: 'PASSTHROUGH' }],
    ['d', '{consistentHash: {httpHeaderName: X-User, minimumRingSize: 64}}', { consistentHash: { key: { kind: 'header', name: 'x-user' }, algorithm: { kind: 'ringHash', minimumRingSize: 64 } } }],
    ['e', '{consistentHash: {useSourceIp: true, maglev: {tableSize: 7}}}', { consistentHash: { key: { kind: 'sourceIp' }, algorithm: { kind: 'maglev', tableSize: 7 } } }],
    ['f', '{consistentHash: {httpQueryParameterName: q}}', { consistentHash: { key: { kind: 'queryParameter', name: 'q' }, algorithm: { kind: 'ringHash' } } }],
  ];
  const { model, findings } = buildModel(load(cases.map(([n, lb]) => svc(n) + dr(n, lb)).join('')), []);
  assert.deepEqual(findings, []);
  for (const [n, , want] of cases) {
    const s = model.services.find((x) => x.name === n)!;
    assert.deepEqual(s.destinationPolicy!.clusters[0]!.loadBalancer, want, n);
  }
});

test('ServiceEntry hosts become external Services (ports, protocols, endpoints); VirtualServices to them are not unknown', () => {
  const yaml = `apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: ext}
spec:
  hosts: [api.example.com, db.example.com]
  ports:
  - {number: 443, name: https, protocol: HTTPS}
  - {number: 80, name: http, protocol: HTTP, targetPort: 8080}
  resolution: DNS
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: static}
spec:
  hosts: [legacy.internal]
  location: MESH_INTERNAL
  ports: [{number: 7000, name: tcp}]
  resolution: STATIC
  endpoints:
  - {address: 10.1.0.1, labels: {version: v1}, weight: 2}
  - {address: 10.1.0.2, ports: {tcp: 7001}}
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: dup}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: HTTPS}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: api}
spec:
  hosts: [api.example.com]
  http:
  - timeout: 3s
    route:
    - destination: {host: api.example.com, port: {number: 80}}
`;
  const { model, findings } = buildModel(load(yaml), []);
  assert.deepEqual(findings.map((f) => `${f.code} ${f.resource?.name} ${f.path}`), ['WEFT_HOST_CONFLICT dup spec.hosts[0]']);
  const api = model.services.find((s) => s.hostname === 'api.example.com')!;
  assert.equal(api.name, 'api.example.com');
  assert.equal(api.source.name, 'ext');
  assert.deepEqual(api.ports, [
    { name: 'https', port: 443, targetPort: 443, protocol: 'https' },
    { name: 'http', port: 80, targetPort: 8080, protocol: 'http' },
  ]);
  assert.deepEqual(api.selector, {});
  assert.deepEqual(api.external, { location: 'MESH_EXTERNAL', resolution: 'DNS', addresses: [], endpoints: [{ address: 'api.example.com', ports: {}, labels: {} }] });
  const legacy = model.services.find((s) => s.hostname === 'legacy.internal')!;
  assert.deepEqual(legacy.ports, [{ name: 'tcp', port: 7000, targetPort: 7000, protocol: 'tcp' }]);
  assert.deepEqual(legacy.external, {
    location: 'MESH_INTERNAL',
    resolution: 'STATIC',
    addresses: [],
    endpoints: [
      { address: '10.1.0.1', ports: {}, labels: { version: 'v1' }, weight: 2 },
      { address: '10.1.0.2', ports: { tcp: 7001 }, labels: {} },
    ],
  });
  assert.equal(model.routes[0]!.rules[0]!.timeoutMs, 3000);
});

test('findings: a DestinationRule for an unknown host; a subset no rule defines; a shadowed rule; a second MeshConfig', () => {
  const yaml = `${SERVICES}---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: ghost}
spec:
  host: ghost
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: all-local}
spec:
  host: "*.default.svc.cluster.local"
  trafficPolicy: {loadBalancer: {simple: RANDOM}}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews-route}
spec:
  hosts: [reviews]
  http:
  - route:
    - destination: {host: reviews, subset: v1}
      weight: 50
    - destination: {host: reviews, subset: v9}
      weight: 50
---
apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: a}
spec: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}
---
apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: b}
`;
  const { model, findings } = buildModel(load(yaml), []);
  const got = findings.map((f) => `${f.code} ${f.resource?.kind}/${f.resource?.name} ${f.path}`);
  assert.deepEqual(got, [
    'WEFT_UNKNOWN_HOST DestinationRule/ghost spec.host',
    'WEFT_POLICY_CONFLICT DestinationRule/all-local spec.host',
    'WEFT_UNKNOWN_SUBSET VirtualService/reviews-route spec.http[0].route[1].destination.subset',
    'WEFT_POLICY_CONFLICT MeshConfig/b spec',
  ]);
  const subset = findings.find((f) => f.code === 'WEFT_UNKNOWN_SUBSET')!;
  assert.match(subset.message, /VirtualService default\/reviews-route: subset "v9" of reviews\.default\.svc\.cluster\.local/);
  assert.equal(subset.severity, 'warning');
  // The exact-host rule wins for reviews; the route still stands (the subset cluster answers 503).
  assert.equal(reviews(model.services).destinationPolicy!.source.name, 'reviews');
  assert.equal(model.routes[0]!.rules[0]!.action.kind, 'forward');
  assert.equal(model.outboundTrafficPolicy, 'REGISTRY_ONLY');
});

test('TLS without credentialName is reported: the server is not verified (MUTUAL: no client certificate either)', () => {
  const yaml = `${SERVICES}---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    tls: {mode: SIMPLE, subjectAltNames: [reviews.example.com]}
    portLevelSettings:
    - port: {number: 9090}
      tls: {mode: SIMPLE, insecureSkipVerify: true}
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy: {tls: {mode: MUTUAL}}
  - name: v2
    labels: {version: v2}
    trafficPolicy: {tls: {mode: MUTUAL, credentialName: reviews-client}}
`;
  const { findings } = buildModel(load(yaml), []);
  assert.deepEqual(findings.map((f) => `${f.code} ${f.path}`), ['WEFT_TLS_UNVERIFIED spec.trafficPolicy.tls', 'WEFT_TLS_UNVERIFIED spec.subsets[0].trafficPolicy.tls']);
  assert.match(findings[0]!.message, /server certificate is not verified .*subjectAltNames are not checked/);
  assert.match(findings[1]!.message, /no client certificate is sent/);
});
