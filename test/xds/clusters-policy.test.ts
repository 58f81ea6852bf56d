// DestinationRule / ServiceEntry / MeshConfig from YAML through the model to the
// Envoy resources a sidecar gets: subset clusters and their endpoints, lbPolicy,
// circuit breakers, outlier detection, TLS modes, ServiceEntry discovery types, the
// http_proxy catch-all, route hash policies. Every object is encoded with the codec,
// and every field it sets must survive a decode (protobufjs drops misnamed fields).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml } from '../../src/resources/index.js';
import { buildModel, type MeshModel, type Workload } from '../../src/model/index.js';
import { decode, encode, TYPE } from '../../src/xds/codec.js';
import { generateForProxy, type ProxyResources } from '../../src/xds/generate.js';
import type { EnvoyObject } from '../../src/proxy/types.js';
import { testWorkload } from '../helpers/workloads.js';

type Obj = Record<string, unknown>;
const o = (v: unknown): Obj => v as Obj;
const a = (v: unknown): Obj[] => v as Obj[];
const KINDS = { listeners: TYPE.listener, routes: TYPE.route, clusters: TYPE.cluster, endpoints: TYPE.endpoint, secrets: TYPE.secret } as const;

function pod(name: string, app: string, version: string, address: string, opts: Partial<Workload> = {}): Workload {
  return testWorkload({
    name,
    labels: { app, version },
    serviceAccount: app,
    address,
    appAddress: address.replace('.0.', '.100.'),
    ports: [{ name: 'http', containerPort: 9080 }],
    owner: `${app}-${version}`,
    ...opts,
  });
}

const WORKLOADS = [
  pod('client-1', 'client', 'v1', '127.10.0.1'),
  pod('reviews-v1-a', 'reviews', 'v1', '127.10.0.2'),
  pod('reviews-v1-b', 'reviews', 'v1', '127.10.0.3'),
  pod('reviews-v2-a', 'reviews', 'v2', '127.10.0.4'),
  pod('reviews-v3-a', 'reviews', 'v3', '127.10.0.5', { labels: { app: 'reviews', version: 'v3', track: 'canary' } }),
  pod('ratings-v1-a', 'ratings', 'v1', '127.10.0.6'),
];

const svc = (name: string) => `---
apiVersion: v1
kind: Service
metadata: {name: ${name}}
spec:
  selector: {app: ${name}}
  ports: [{name: http, port: 9080}]
`;

function model(yaml: string): MeshModel {
  const { resources, findings } = parseYaml(yaml, 'in.yaml');
  assert.deepEqual(findings.filter((f) => f.severity === 'error'), []);
  return buildModel(resources, WORKLOADS).model;
}

/** Every set field of `sent` is in `back` (zero scalars aside: the wire leaves them out). */
function assertSurvives(sent: unknown, back: unknown, path: string): void {
  if (Array.isArray(sent)) {
    assert.ok(Array.isArray(back), `${path}: lost`);
    sent.forEach((s, i) => assertSurvives(s, (back as unknown[])[i], `${path}[${i}]`));
    return;
  }
  if (typeof sent === 'object' && sent !== null) {
    for (const [k, v] of Object.entries(sent)) {
      if (v === 0 || v === false || v === '') continue;
      assert.ok(typeof back === 'object' && back !== null && k in back, `${path}.${k}: dropped by the codec (misnamed?)`);
      assertSurvives(v, (back as Obj)[k], `${path}.${k}`);
    }
    return;
  }
  assert.equal(back, sent, path);
}

function gen(m: MeshModel, proxy = 'client-1'): ProxyResources {
  const res = generateForProxy(m, m.workloads.find((w) => w.name === proxy)!, { rootCertsPem: ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'] });
  for (const [kind, type] of Object.entries(KINDS)) {
    for (const obj of (res[kind as keyof ProxyResources] ?? [])) {
      const name = String(obj.name ?? obj.clusterName);
      assertSurvives(obj, decode(type, encode(type, obj)), `${kind} ${name}`);
    }
  }
  return res;
}

function cluster(res: ProxyResources, name: string): Obj {
  const c = res.clusters.find((x) => x.name === name);
  assert.ok(c, `no cluster ${name}; have ${res.clusters.map((x) => x.name).join(', ')}`);
  return c;
}

function endpointAddresses(cla: EnvoyObject | undefined): string[] {
  return a(cla?.endpoints ?? []).flatMap((l) => a(l.lbEndpoints).map((e) => `${String(o(o(o(e.endpoint).address).socketAddress).address)}:${String(o(o(o(e.endpoint).address).socketAddress).portValue)}`));
}

const claOf = (res: ProxyResources, name: string) => res.endpoints.find((e) => e.clusterName === name);
const R = 'reviews.default.svc.cluster.local';

const REVIEWS_DR = `---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    connectionPool:
      tcp: {maxConnections: 100, connectTimeout: 250ms, tcpKeepalive: {probes: 3, time: 60s, interval: 10s}}
      http: {http1MaxPendingRequests: 10, http2MaxRequests: 1000, maxRequestsPerConnection: 5, maxRetries: 3, idleTimeout: 30s}
    outlierDetection:
      consecutive5xxErrors: 3
      interval: 1s
      baseEjectionTime: 30s
      maxEjectionPercent: 50
      minHealthPercent: 20
  subsets:
  - name: v1
    labels: {version: v1}
    trafficPolicy: {loadBalancer: {simple: ROUND_ROBIN}}
  - name: v2
    labels: {version: v2}
    trafficPolicy: {loadBalancer: {simple: RANDOM}, tls: {mode: DISABLE}}
  - name: canary
    labels: {version: v3, track: canary}
    trafficPolicy:
      loadBalancer: {consistentHash: {httpHeaderName: x-user, ringHash: {minimumRingSize: 2048}}}
  - name: nobody
    labels: {version: v9}
`;

const REVIEWS_VS = `---
apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata: {name: reviews}
spec:
  hosts: [reviews]
  http:
  - match: [{headers: {end-user: {exact: jason}}}]
    route: [{destination: {host: reviews, subset: canary}}]
  - route:
    - {destination: {host: reviews, subset: v1}, weight: 90}
    - {destination: {host: reviews, subset: ghost}, weight: 10}
`;

test('every DestinationRule subset gets a cluster; its endpoints are exactly the workloads with its labels', () => {
  const res = gen(model(svc('reviews') + svc('ratings') + REVIEWS_DR + REVIEWS_VS));
  const names = res.clusters.map((c) => String(c.name)).filter((n) => n.endsWith(R));
  assert.deepEqual(names, [`outbound|9080|canary|${R}`, `outbound|9080|ghost|${R}`, `outbound|9080|nobody|${R}`, `outbound|9080|v1|${R}`, `outbound|9080|v2|${R}`, `outbound|9080||${R}`]);
  assert.deepEqual(endpointAddresses(claOf(res, `outbound|9080||${R}`)), ['127.10.0.2:9080', '127.10.0.3:9080', '127.10.0.4:9080', '127.10.0.5:9080']);
  assert.deepEqual(endpointAddresses(claOf(res, `outbound|9080|v1|${R}`)), ['127.10.0.2:9080', '127.10.0.3:9080']);
  assert.deepEqual(endpointAddresses(claOf(res, `outbound|9080|v2|${R}`)), ['127.10.0.4:9080']);
  assert.deepEqual(endpointAddresses(claOf(res, `outbound|9080|canary|${R}`)), ['127.10.0.5:9080']);
  // No workload matches; and a subset no rule defines (WEFT_UNKNOWN_SUBSET): a cluster with no endpoints, a clear 503.
  assert.deepEqual(endpointAddresses(claOf(res, `outbound|9080|nobody|${R}`)), []);
  assert.deepEqual(endpointAddresses(claOf(res, `outbound|9080|ghost|${R}`)), []);
  // Without a DestinationRule, ratings has no subset clusters.
  assert.deepEqual(res.clusters.map((c) => String(c.name)).filter((n) => n.includes('ratings')), ['outbound|9080||ratings.default.svc.cluster.local']);
});

test('lbPolicy: LEAST_REQUEST by default, the subset simple policy, RING_HASH with its ring size for consistentHash', () => {
  const res = gen(model(svc('reviews') + svc('ratings') + REVIEWS_DR));
  assert.equal(cluster(res, 'outbound|9080||ratings.default.svc.cluster.local').lbPolicy, 'LEAST_REQUEST');
  assert.equal(cluster(res, `outbound|9080||${R}`).lbPolicy, 'LEAST_REQUEST');
  assert.equal(cluster(res, `outbound|9080|v1|${R}`).lbPolicy, 'ROUND_ROBIN');
  assert.equal(cluster(res, `outbound|9080|v2|${R}`).lbPolicy, 'RANDOM');
  const canary = cluster(res, `outbound|9080|canary|${R}`);
  assert.equal(canary.lbPolicy, 'RING_HASH');
  assert.deepEqual(canary.ringHashLbConfig, { minimumRingSize: { value: 2048 } });
});

test('MAGLEV and PASSTHROUGH (ORIGINAL_DST, CLUSTER_PROVIDED, the request authority as destination)', () => {
  const dr = `---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true, maglev: {tableSize: 65537}}}}
  subsets: [{name: direct, labels: {version: v1}, trafficPolicy: {loadBalancer: {simple: PASSTHROUGH}}}]
`;
  const res = gen(model(svc('reviews') + dr));
  const top = cluster(res, `outbound|9080||${R}`);
  assert.equal(top.lbPolicy, 'MAGLEV');
  assert.deepEqual(top.maglevLbConfig, { tableSize: { value: 65537 } });
  const direct = cluster(res, `outbound|9080|direct|${R}`);
  assert.equal(direct.type, 'ORIGINAL_DST');
  assert.equal(direct.lbPolicy, 'CLUSTER_PROVIDED');
  assert.deepEqual(direct.originalDstLbConfig, { useHttpHeader: true });
  assert.equal(direct.edsClusterConfig, undefined);
});

test('circuit breakers, connection options and outlier detection as Istio sets them; Istio defaults without a policy', () => {
  const res = gen(model(svc('reviews') + svc('ratings') + REVIEWS_DR));
  const c = cluster(res, `outbound|9080||${R}`);
  assert.deepEqual(c.circuitBreakers, {
    thresholds: [{ maxConnections: { value: 100 }, maxPendingRequests: { value: 10 }, maxRequests: { value: 1000 }, maxRetries: { value: 3 }, trackRemaining: true }],
  });
  assert.deepEqual(c.connectTimeout, { seconds: 0, nanos: 250_000_000 });
  assert.deepEqual(c.upstreamConnectionOptions, { tcpKeepalive: { keepaliveProbes: { value: 3 }, keepaliveTime: { value: 60 }, keepaliveInterval: { value: 10 } } });
  const opts = o(o(c.typedExtensionProtocolOptions)['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']);
  assert.deepEqual(opts.commonHttpProtocolOptions, { idleTimeout: { seconds: 30 }, maxRequestsPerConnection: { value: 5 } });
  assert.deepEqual(c.outlierDetection, {
    consecutive_5xx: { value: 3 },
    interval: { seconds: 1 },
    baseEjectionTime: { seconds: 30 },
    maxEjectionPercent: { value: 50 },
    enforcingConsecutive_5xx: { value: 100 },
    enforcingSuccessRate: { value: 0 },
    enforcingConsecutiveGatewayFailure: { value: 0 },
  });
  assert.deepEqual(c.commonLbConfig, { healthyPanicThreshold: { value: 20 } });

  const U = 4294967295;
  const plain = cluster(res, 'outbound|9080||ratings.default.svc.cluster.local');
  assert.deepEqual(plain.circuitBreakers, {
    thresholds: [{ maxConnections: { value: U }, maxPendingRequests: { value: U }, maxRequests: { value: U }, maxRetries: { value: U }, trackRemaining: true }],
  });
  assert.deepEqual(plain.connectTimeout, { seconds: 10 });
  assert.equal(plain.outlierDetection, undefined);
  assert.equal(plain.commonLbConfig, undefined);
});

test('outlier detection: gateway errors and local-origin split; panic threshold 0 (off) when minHealthPercent is unset', () => {
  const dr = `---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    outlierDetection: {consecutiveGatewayErrors: 2, splitExternalLocalOriginErrors: true, consecutiveLocalOriginFailures: 4}
`;
  const c = cluster(gen(model(svc('reviews') + dr)), `outbound|9080||${R}`);
  assert.deepEqual(c.outlierDetection, {
    enforcingConsecutive_5xx: { value: 0 },
    enforcingSuccessRate: { value: 0 },
    consecutiveGatewayFailure: { value: 2 },
    enforcingConsecutiveGatewayFailure: { value: 100 },
    splitExternalLocalOriginErrors: true,
    consecutiveLocalOriginFailure: { value: 4 },
    enforcingConsecutiveLocalOriginFailure: { value: 100 },
    enforcingLocalOriginSuccessRate: { value: 0 },
  });
  assert.deepEqual(c.commonLbConfig, { healthyPanicThreshold: { value: 0 } });
});

test('tls: auto mTLS by default and for ISTIO_MUTUAL; DISABLE is plaintext even to meshed pods; SIMPLE/MUTUAL use the user TLS', () => {
  const res = gen(model(svc('reviews') + REVIEWS_DR));
  const auto = cluster(res, `outbound|9080|v1|${R}`);
  assert.deepEqual(a(auto.transportSocketMatches).map((m) => m.name), ['tlsMode-istio', 'tlsMode-disabled']);
  const disabled = cluster(res, `outbound|9080|v2|${R}`);
  assert.equal(disabled.transportSocketMatches, undefined);
  assert.equal(disabled.transportSocket, undefined);

  const mutual = `---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy:
    tls: {mode: MUTUAL, credentialName: reviews-client, subjectAltNames: [reviews.example.com], sni: reviews.example.com}
`;
  const m = cluster(gen(model(svc('reviews') + mutual)), `outbound|9080||${R}`);
  assert.equal(m.transportSocketMatches, undefined);
  assert.deepEqual(o(m.transportSocket).typedConfig, {
    '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
    commonTlsContext: {
      tlsCertificateSdsSecretConfigs: [{ name: 'kubernetes://reviews-client', sdsConfig: { ads: {}, resourceApiVersion: 'V3' } }],
      combinedValidationContext: {
        defaultValidationContext: { matchTypedSubjectAltNames: [{ sanType: 'DNS', matcher: { exact: 'reviews.example.com' } }] },
        validationContextSdsSecretConfig: { name: 'kubernetes://reviews-client-cacert', sdsConfig: { ads: {}, resourceApiVersion: 'V3' } },
      },
    },
    sni: 'reviews.example.com',
  });
});

const SERVICE_ENTRIES = `---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: static}
spec:
  hosts: [legacy.internal]
  location: MESH_INTERNAL
  ports: [{number: 80, name: http, protocol: HTTP, targetPort: 8080}]
  resolution: STATIC
  endpoints:
  - {address: 10.1.0.1, labels: {version: v1, security.istio.io/tlsMode: istio}, weight: 2}
  - {address: 10.1.0.2, ports: {http: 8081}, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: dns}
spec:
  hosts: [api.example.com]
  ports: [{number: 443, name: https, protocol: HTTPS}, {number: 80, name: http, protocol: HTTP}]
  resolution: DNS
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: dns-rr}
spec:
  hosts: [cdn.example.com]
  ports: [{number: 80, name: http, protocol: HTTP}]
  resolution: DNS_ROUND_ROBIN
  endpoints: [{address: edge.cdn.example.net}]
---
apiVersion: networking.istio.io/v1beta1
kind: ServiceEntry
metadata: {name: none}
spec:
  hosts: ["*.wild.example.com"]
  ports: [{number: 80, name: http, protocol: HTTP}]
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: api-tls}
spec:
  host: api.example.com
  trafficPolicy:
    portLevelSettings:
    - port: {number: 443}
      tls: {mode: SIMPLE}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: legacy}
spec:
  host: legacy.internal
  subsets: [{name: v2, labels: {version: v2}}]
`;

test('ServiceEntry clusters: STATIC inline endpoints, STRICT_DNS / LOGICAL_DNS by hostname, ORIGINAL_DST for NONE', () => {
  const res = gen(model(svc('reviews') + SERVICE_ENTRIES));

  const st = cluster(res, 'outbound|80||legacy.internal');
  assert.equal(st.type, 'STATIC');
  assert.equal(st.edsClusterConfig, undefined);
  assert.deepEqual(endpointAddresses(o(st.loadAssignment)), ['10.1.0.1:8080', '10.1.0.2:8081']);
  const [first, second] = a(a(o(st.loadAssignment).endpoints)[0]!.lbEndpoints);
  assert.deepEqual(first!.loadBalancingWeight, { value: 2 });
  // MESH_INTERNAL endpoints labelled tlsMode=istio get mesh mTLS; the others plaintext.
  assert.ok(first!.metadata);
  assert.equal(second!.metadata, undefined);
  assert.deepEqual(a(st.transportSocketMatches).map((m) => m.name), ['tlsMode-istio', 'tlsMode-disabled']);
  assert.deepEqual(endpointAddresses(o(cluster(res, 'outbound|80|v2|legacy.internal').loadAssignment)), ['10.1.0.2:8081']);

  const dns = cluster(res, 'outbound|80||api.example.com');
  assert.equal(dns.type, 'STRICT_DNS');
  assert.equal(dns.lbPolicy, 'LEAST_REQUEST');
  assert.deepEqual(endpointAddresses(o(dns.loadAssignment)), ['api.example.com:80']);
  // MESH_EXTERNAL: never mesh mTLS; plaintext unless a DestinationRule asks for TLS.
  assert.equal(dns.transportSocketMatches, undefined);
  assert.equal(dns.transportSocket, undefined);
  const tls = cluster(res, 'outbound|443||api.example.com');
  assert.deepEqual(o(o(tls.transportSocket).typedConfig).sni, 'api.example.com');
  assert.equal(tls.typedExtensionProtocolOptions, undefined, 'HTTPS is opaque TLS to the proxy: no HTTP options');

  const rr = cluster(res, 'outbound|80||cdn.example.com');
  assert.equal(rr.type, 'LOGICAL_DNS');
  assert.deepEqual(endpointAddresses(o(rr.loadAssignment)), ['edge.cdn.example.net:80']);

  const none = cluster(res, 'outbound|80||*.wild.example.com');
  assert.equal(none.type, 'ORIGINAL_DST');
  assert.equal(none.lbPolicy, 'CLUSTER_PROVIDED');
  assert.equal(none.loadAssignment, undefined);
});

test('a ClusterLoadAssignment for every EDS cluster and for no other (STATIC/DNS carry theirs inline; ORIGINAL_DST has none)', () => {
  const res = gen(model(svc('reviews') + SERVICE_ENTRIES));
  const eds = res.clusters.filter((c) => c.type === 'EDS').map((c) => String(c.name)).sort();
  assert.ok(eds.includes(`outbound|9080||${R}`));
  assert.deepEqual(res.endpoints.map((e) => String(e.clusterName)).sort(), eds);
  for (const name of ['PassthroughCluster', 'outbound|80||legacy.internal', 'outbound|80||api.example.com', 'outbound|80||*.wild.example.com']) {
    assert.equal(claOf(res, name), undefined, name);
  }
});

test('ServiceEntry hosts answer to the host only (with and without port), never to Kubernetes-style short names', () => {
  const res = gen(model(svc('reviews') + SERVICE_ENTRIES));
  const vhosts = a(res.routes[0]!.virtualHosts);
  const domains = (name: string) => vhosts.find((v) => v.name === name)!.domains;
  assert.deepEqual(domains('api.example.com:80'), ['api.example.com', 'api.example.com:80']);
  assert.deepEqual(domains('api.example.com:443'), ['api.example.com:443']);
  assert.deepEqual(domains('*.wild.example.com:80'), ['*.wild.example.com', '*.wild.example.com:80']);
});

test('ServiceEntry hosts are http_proxy virtual hosts; ALLOW_ANY ends with a * host to PassthroughCluster', () => {
  const res = gen(model(svc('reviews') + SERVICE_ENTRIES));
  const vhosts = a(res.routes[0]!.virtualHosts);
  const api = vhosts.find((v) => v.name === 'api.example.com:80')!;
  assert.ok((api.domains as string[]).includes('api.example.com'));
  assert.ok((api.domains as string[]).includes('api.example.com:80'));
  assert.ok(vhosts.some((v) => v.name === 'api.example.com:443'));
  const last = vhosts[vhosts.length - 1]!;
  assert.deepEqual(last, {
    name: 'allow_any',
    domains: ['*'],
    routes: [{ name: 'allow_any', match: { prefix: '/' }, route: { cluster: 'PassthroughCluster', timeout: { seconds: 0 } } }],
  });
  const pass = cluster(res, 'PassthroughCluster');
  assert.equal(pass.type, 'ORIGINAL_DST');
  assert.equal(pass.lbPolicy, 'CLUSTER_PROVIDED');
  assert.deepEqual(pass.originalDstLbConfig, { useHttpHeader: true });
  assert.equal(pass.transportSocketMatches, undefined);
});

test('REGISTRY_ONLY: the * host answers 502 naming the host; no PassthroughCluster', () => {
  const mesh = `---
apiVersion: weft.dev/v1alpha1
kind: MeshConfig
metadata: {name: mesh}
spec: {outboundTrafficPolicy: {mode: REGISTRY_ONLY}}
`;
  const res = gen(model(svc('reviews') + mesh));
  const vhosts = a(res.routes[0]!.virtualHosts);
  assert.deepEqual(vhosts[vhosts.length - 1], {
    name: 'block_all',
    domains: ['*'],
    routes: [{ name: 'block_all', match: { prefix: '/' }, directResponse: { status: 502, body: { inlineString: 'weft: REGISTRY_ONLY blocks %REQ(:AUTHORITY)%' } } }],
  });
  assert.equal(res.clusters.find((c) => c.name === 'PassthroughCluster'), undefined);
});

test('consistent hashing sets the route hashPolicy: header, cookie (name, ttl, path), source IP, query parameter', () => {
  const hashes: [string, unknown][] = [
    ['{httpHeaderName: X-User}', [{ header: { headerName: 'x-user' } }]],
    ['{httpCookie: {name: sid, path: /, ttl: 60s}}', [{ cookie: { name: 'sid', ttl: { seconds: 60 }, path: '/' } }]],
    ['{useSourceIp: true}', [{ connectionProperties: { sourceIp: true } }]],
    ['{httpQueryParameterName: user}', [{ queryParameter: { name: 'user' } }]],
  ];
  for (const [hash, want] of hashes) {
    const dr = `---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}, trafficPolicy: {loadBalancer: {consistentHash: ${hash}}}}]
`;
    // Without a VirtualService: the default route carries the service's hash policy (none here: only v1 hashes).
    const plain = gen(model(svc('reviews') + dr));
    const vh = a(plain.routes[0]!.virtualHosts).find((v) => v.name === `${R}:9080`)!;
    assert.equal(o(a(vh.routes)[0]!.route).hashPolicy, undefined);
    // A route to the hashing subset carries it.
    const res = gen(model(svc('reviews') + dr + REVIEWS_VS.replace('subset: canary', 'subset: v1')));
    const routes = a(a(res.routes[0]!.virtualHosts).find((v) => v.name === `${R}:9080`)!.routes);
    assert.deepEqual(o(routes[0]!.route).hashPolicy, want, hash);
    assert.deepEqual(o(routes[1]!.route).hashPolicy, want, `${hash} (weighted: the hashing destination decides)`);
  }
  const top = `---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews}
spec:
  host: reviews
  trafficPolicy: {loadBalancer: {consistentHash: {useSourceIp: true}}}
`;
  const res = gen(model(svc('reviews') + top));
  const vh = a(res.routes[0]!.virtualHosts).find((v) => v.name === `${R}:9080`)!;
  assert.deepEqual(o(a(vh.routes)[0]!.route).hashPolicy, [{ connectionProperties: { sourceIp: true } }]);
});
