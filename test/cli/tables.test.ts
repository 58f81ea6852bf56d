import { test } from 'node:test';
import assert from 'node:assert/strict';
import { age, renderPairs, renderTable } from '../../src/cli/table.js';
import { certsFromConfigDump, clusterRows, ENDPOINT_HEADERS, endpointRows, hostHealthFromClusters, listenerRows, routeRows, secretRows } from '../../src/cli/config-tables.js';
import { clustersJson } from '../../src/proxy/core/clusters-view.js';
import type { ClusterStatus, HostStatus } from '../../src/proxy/types.js';
import { proxyStatusRows } from '../../src/cli/proxy-status.js';
import { normalizeProxies, normalizeProxyConfig } from '../../src/platform/local/control-api.js';
import { resolveKind } from '../../src/cli/kinds.js';
import { KINDS } from '../../src/resources/registry.js';
import { meshSummary } from '../../src/cli/summary.js';
import type { MeshFile } from '../../src/platform/local/mesh-file.js';

test('renderTable aligns columns, uses - for empty cells, no trailing spaces', () => {
  const t = renderTable(['NAME', 'READY', 'X'], [['a', '1/2', ''], ['longer-name', undefined, 'z']]);
  assert.equal(t, ['NAME          READY   X', 'a             1/2     -', 'longer-name   -       z'].join('\n'));
  assert.equal(renderPairs([['a', 1], ['bbb', 'x']]), 'a     1\nbbb   x');
});

test('age is kubectl-like', () => {
  const now = 1_000_000_000;
  assert.equal(age(now - 5_000, now), '5s');
  assert.equal(age(now - 192_000, now), '3m12s');
  assert.equal(age(now - 2 * 3600_000, now), '2h');
  assert.equal(age(now - 26 * 3600_000, now), '1d2h');
});

test('kinds: short names and plurals', () => {
  assert.equal(resolveKind('vs')?.kind, 'VirtualService');
  assert.equal(resolveKind('destinationrules')?.kind, 'DestinationRule');
  assert.equal(resolveKind('SVC')?.kind, 'Service');
  // An unknown kind is an error in `weft get` / `weft delete`, not "No Unknown resources found".
  assert.equal(resolveKind('Unknown'), undefined);
  for (const [name, kind] of [['se', 'ServiceEntry'], ['sp', 'ServiceProfile'], ['ts', 'TrafficSplit'], ['gc', 'GatewayClass'], ['meshconfigs', 'MeshConfig'], ['httproutes', 'HTTPRoute'], ['grpcroutes', 'GRPCRoute'], ['gateways', 'Gateway'], ['authorizationpolicies', 'AuthorizationPolicy'], ['serviceentries', 'ServiceEntry'], ['gatewayclasses', 'GatewayClass']]) {
    assert.equal(resolveKind(name!)?.kind, kind, name);
  }
});

test('kinds: every kind the parser accepts resolves by name and plural; a group picks one of a shared name', () => {
  for (const def of KINDS) {
    assert.equal(resolveKind(def.kind)?.kind, def.kind);
    assert.equal(resolveKind(`${def.kind.toLowerCase()}s`.replace(/([^aeiou])ys$/, '$1ies').replace(/sss$/, 'sses'))?.kind, def.kind, def.kind);
  }
  assert.deepEqual(resolveKind('gw.networking.istio.io'), { kind: 'Gateway.networking.istio.io', clusterScoped: false });
  assert.deepEqual(resolveKind('gateways.gateway.networking.k8s.io'), { kind: 'Gateway.gateway.networking.k8s.io', clusterScoped: false });
  assert.equal(resolveKind('HTTPRoute.policy.linkerd.io')?.kind, 'HTTPRoute.policy.linkerd.io');
  assert.equal(resolveKind('gw.policy.linkerd.io'), undefined);
  assert.equal(resolveKind('ns')?.clusterScoped, true);
  assert.equal(resolveKind('MeshConfig')?.clusterScoped, true);
});

test('proxy-status rows from the control plane answer', () => {
  const proxies = normalizeProxies({
    proxies: [
      { id: 'sidecar~127.9.1.1~reviews-v1-abc.default~default.svc.cluster.local', protocol: 'delta', types: { CDS: { status: 'SYNCED', sentVersion: 'a', ackedVersion: 'a' }, LDS: { status: 'STALE', sentVersion: 'b' }, EDS: { status: 'NOT SENT' }, VHDS: { status: 'SYNCED', sentVersion: 'c', ackedVersion: 'c' } } },
      { id: 'sidecar~127.9.1.2~ratings-v1-abc.default~default.svc.cluster.local', types: {} },
    ],
  });
  assert.deepEqual(proxyStatusRows(proxies, '0.1.0'), [
    ['ratings-v1-abc', 'default', 'NOT SENT', 'NOT SENT', 'NOT SENT', 'NOT SENT', '-', 'NOT SENT', '', '0.1.0'],
    ['reviews-v1-abc', 'default', 'SYNCED', 'STALE', 'NOT SENT', 'NOT SENT', 'SYNCED', 'NOT SENT', 'delta', '0.1.0'],
  ]);
});

const cfg = normalizeProxyConfig({
  CDS: [
    { name: 'outbound|9080|v1|reviews.default.svc.cluster.local', type: 'EDS' },
    { name: 'inbound|9080||', type: 'STATIC' },
  ],
  LDS: [
    {
      name: 'virtualOutbound',
      address: { socketAddress: { address: '0.0.0.0', portValue: 15001 } },
      filterChains: [{ filters: [{ name: 'hcm', typedConfig: { rds: { routeConfigName: 'http_proxy' } } }] }],
    },
    {
      name: 'inbound|9080',
      address: { socketAddress: { address: '0.0.0.0', portValue: 9080 } },
      filterChains: [
        { filterChainMatch: { transportProtocol: 'tls' }, filters: [{ name: 'tcp', typedConfig: { cluster: 'inbound|9080||' } }] },
        { filterChainMatch: { transportProtocol: 'raw_buffer' }, filters: [{ name: 'hcm', typedConfig: { routeConfig: { name: 'inbound|9080' } } }] },
      ],
    },
  ],
  RDS: [
    {
      name: 'http_proxy',
      virtualHosts: [
        // VHDS virtual hosts come in name order: the catch-all may come first; it is shown last.
        { name: 'http_proxy/allow_any', domains: ['*'], routes: [{ match: { prefix: '/' } }] },
        {
          domains: ['reviews', 'reviews:9080', 'reviews.default', 'reviews.default.svc.cluster.local'],
          routes: [
            { match: { prefix: '/' }, metadata: { filterMetadata: { istio: { config: '/apis/networking.istio.io/v1alpha3/namespaces/default/virtual-service/reviews' } } } },
            { match: { path: '/exact' } },
          ],
        },
      ],
    },
  ],
  EDS: [
    {
      clusterName: 'outbound|9080|v1|reviews.default.svc.cluster.local',
      endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.9.1.2', portValue: 9080 } } }, healthStatus: 'UNHEALTHY' }] }],
    },
  ],
});

test('proxy-config clusters, listeners, routes, endpoints rows (istioctl columns)', () => {
  assert.deepEqual(clusterRows(cfg.clusters), [
    ['', 9080, '', 'inbound', 'STATIC'],
    ['reviews.default.svc.cluster.local', 9080, 'v1', 'outbound', 'EDS'],
  ]);
  assert.deepEqual(listenerRows(cfg.listeners), [
    ['0.0.0.0', '15001', 'ALL', 'Route: http_proxy'],
    ['0.0.0.0', '9080', 'Trans: tls', 'Cluster: inbound|9080||'],
    ['0.0.0.0', '9080', 'Trans: raw_buffer', 'Inline Route: inbound|9080'],
  ]);
  assert.deepEqual(routeRows(cfg.routes), [
    ['http_proxy', 'reviews + 3 more...', '/*', 'reviews.default'],
    ['http_proxy', 'reviews + 3 more...', '/exact', ''],
    ['http_proxy', '*', '/*', ''],
  ]);
  // Without the proxy's view: what the control plane sent, outlier state unknown.
  assert.deepEqual(endpointRows(cfg.endpoints), [['127.9.1.2:9080', 'UNHEALTHY', 'UNKNOWN', 'outbound|9080|v1|reviews.default.svc.cluster.local']]);
});

test('proxy-config endpoints from the proxy\'s /clusters?format=json: EDS health and outlier check per host', () => {
  const REVIEWS = 'outbound|9080||reviews.default.svc.cluster.local';
  const host = (address: string, edsHealth: HostStatus['edsHealth'], ejected: boolean): HostStatus => ({
    address,
    port: 9080,
    edsHealth,
    weight: 1,
    priority: 0,
    activeRequests: 0,
    outlier: { ejected, ...(ejected ? { ejectedAt: Date.now(), ejectionRemainingMs: 25_000 } : {}), timesEjected: ejected ? 1 : 0, consecutive5xx: 0, consecutiveGatewayFailure: 0, consecutiveLocalOriginFailure: 0 },
  });
  const breakers = { maxConnections: 1024, maxPendingRequests: 1024, maxRequests: 1024, maxRetries: 3 };
  const status: ClusterStatus[] = [
    { name: 'inbound|9080||', outlierDetection: false, breakers, hosts: [host('127.9.101.1', 'HEALTHY', false)] },
    { name: REVIEWS, outlierDetection: true, breakers, hosts: [host('127.9.1.5', 'HEALTHY', true), host('127.9.1.6', 'HEALTHY', false), host('127.9.1.7', 'UNHEALTHY', false)] },
  ];
  // The JSON goes through a string, as it does over HTTP.
  const health = hostHealthFromClusters(JSON.parse(JSON.stringify(clustersJson(status))));
  const rows = endpointRows([], health);
  assert.deepEqual(rows, [
    ['127.9.101.1:9080', 'HEALTHY', 'OK', 'inbound|9080||'],
    ['127.9.1.5:9080', 'HEALTHY', 'FAILED', REVIEWS],
    ['127.9.1.6:9080', 'HEALTHY', 'OK', REVIEWS],
    ['127.9.1.7:9080', 'UNHEALTHY', 'OK', REVIEWS],
  ]);
  const table = renderTable(ENDPOINT_HEADERS, rows).split('\n');
  assert.match(table[0]!, /^ENDPOINT\s+STATUS\s+OUTLIER CHECK\s+CLUSTER$/);
  assert.match(table[2]!, /^127\.9\.1\.5:9080\s+HEALTHY\s+FAILED\s+outbound\|9080\|\|reviews\.default\.svc\.cluster\.local$/);
  // A proxy that answers something else yields no rows rather than made-up ones.
  assert.deepEqual(endpointRows([], hostHealthFromClusters({ nope: 1 })), []);
});

test('secret rows from a config dump: workload cert and ROOTCA', () => {
  const certs = certsFromConfigDump({
    certificate: { identity: 'spiffe://cluster.local/ns/default/sa/x', serialNumber: 'ABCD', notBefore: '2020-01-01T00:00:00.000Z', notAfter: '2999-01-01T00:00:00.000Z' },
    secrets: [{ name: 'ROOTCA', validationContext: { trustedCa: { inlineString: 'not a pem' } } }],
  });
  const rows = secretRows(certs, new Date('2025-01-01T00:00:00Z'));
  assert.deepEqual(rows[0], ['default', 'Cert Chain', 'ACTIVE', 'true', 'abcd', '2999-01-01T00:00:00.000Z', '2020-01-01T00:00:00.000Z']);
  assert.deepEqual(rows[1]!.slice(0, 3), ['ROOTCA', 'CA', 'ACTIVE']);
});

test('weft up summary: the ingress, the first exposed page to open, the other routed paths', () => {
  const mesh: MeshFile = {
    network: 7,
    controlAddress: '127.7.0.1',
    apiUrl: 'http://127.7.0.1:15080',
    adminTokenFile: '/x/admin-token',
    supervisorPid: 1,
    ingressUrl: 'http://127.0.0.1:8080',
    appUrls: ['http://127.0.0.1:8080/productpage', 'http://127.0.0.1:8080/login', 'http://127.0.0.1:8080/static'],
    phase: 'ready',
    source: '/x',
    startedAt: 0,
    updatedAt: 0,
    pods: [],
  };
  const text = meshSummary(mesh, 'stop: weft down');
  assert.match(text, /^ {2}ingress {9}http:\/\/127\.0\.0\.1:8080$/m);
  assert.match(text, /^ {2}open {12}http:\/\/127\.0\.0\.1:8080\/productpage$/m);
  assert.match(text, /^ {2}also routed {5}\/login, \/static$/m);
  assert.doesNotMatch(meshSummary({ ...mesh, appUrls: [] }, ''), /open|also routed/);
});
