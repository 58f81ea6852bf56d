// YAML -> model -> xDS for the per-request L7 stages: fault injection and CORS as
// typedPerFilterConfig (with the filters in every HCM), mirrors as requestMirrorPolicies,
// Istio's retry policy, Gateway API PathPrefix as pathSeparatedPrefix, and a Linkerd
// retry budget as the weft.retry_budget cluster extension. Every object must encode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, type Resource } from '../../src/resources/index.js';
import { buildModel } from '../../src/model/index.js';
import { generateForProxy } from '../../src/xds/generate.js';
import { encode, decode, TYPE } from '../../src/xds/codec.js';
import { structToJson, unwrap } from '../../src/xds/object-form.js';
import { fractionalPercent } from '../../src/xds/l7-filters.js';
import { readFixture } from '../resources/fixtures.js';
import { testWorkload } from '../helpers/workloads.js';

type Obj = Record<string, unknown>;
const D = (name: string) => `${name}.default.svc.cluster.local`;

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: website}
spec:
  hosts: [website]
  http:
  - name: faulty
    match: [{uri: {prefix: /faulty}}]
    fault:
      delay: {fixedDelay: 50ms, percentage: {value: 20}}
      abort: {httpStatus: 503, percentage: {value: 0.5}}
    route: [{destination: {host: website-v1}}]
  - name: grpc-abort
    match: [{uri: {prefix: /grpc}}]
    fault:
      abort: {grpcStatus: UNAVAILABLE, percentage: {value: 12.5}}
    route: [{destination: {host: website-v1}}]
  - name: mirrored
    match: [{uri: {prefix: /mirrored}}]
    mirror: {host: website-v2}
    mirrorPercentage: {value: 25}
    mirrors:
    - destination: {host: echo}
      percentage: {value: 0.0125}
    route: [{destination: {host: website-v1}}]
  - name: cors
    corsPolicy:
      allowOrigins: [{exact: https://a.example}, {regex: 'https://.*\\.b\\.example'}]
      allowMethods: [GET, POST]
      allowHeaders: [x-a, x-b]
      exposeHeaders: [x-c]
      maxAge: 24h
      allowCredentials: true
    retries: {attempts: 3, perTryTimeout: 250ms, retryOn: 'gateway-error,reset,429'}
    route: [{destination: {host: website-v1}}]
`;

const HTTPROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: web-v2}
spec:
  parentRefs: [{group: '', kind: Service, name: website-v2}]
  rules:
  - matches: [{path: {type: PathPrefix, value: /app/}}]
    filters:
    - {type: RequestMirror, requestMirror: {backendRef: {name: website-v1, port: 80}, fraction: {numerator: 1, denominator: 8}}}
    backendRefs: [{name: website-v2, port: 80}]
`;

const client = testWorkload({ name: 'client-1', labels: { app: 'client' }, serviceAccount: 'client', address: '127.10.0.1', appAddress: '127.10.100.1', owner: 'client' });

function load(): Resource[] {
  const files: [string, string][] = [
    ['services.yaml', readFixture('dialects/services.yaml')],
    ['linkerd.yaml', readFixture('dialects/linkerd.yaml')],
    ['vs.yaml', VS],
    ['route.yaml', HTTPROUTE],
  ];
  return files.flatMap(([name, text]) => {
    const { resources, findings } = parseYaml(text, name);
    assert.deepEqual(findings.filter((f) => /fault|mirror|cors/.test(f.path ?? '') || f.severity === 'error'), [], name);
    return resources;
  });
}

function generated() {
  const { model, findings } = buildModel(load(), []);
  assert.deepEqual(findings.filter((f) => f.resource?.name === 'website' || f.resource?.name === 'web-v2'), []);
  const res = generateForProxy(model, client, { rootCertsPem: [] });
  // Round-trip through the real Envoy protos: what we check is what a proxy receives.
  const rt = (type: string, o: Obj) => decode<Obj>(type, encode(type, o));
  return {
    model,
    routes: res.routes.map((r) => rt(TYPE.route, r)),
    listeners: res.listeners.map((l) => rt(TYPE.listener, l)),
    clusters: res.clusters.map((c) => rt(TYPE.cluster, c)),
  };
}

function routesOf(rcs: Obj[], vhost: string): Obj[] {
  const rc = rcs.find((r) => r.name === 'http_proxy')!;
  const vh = (rc.virtualHosts as Obj[]).find((v) => v.name === vhost);
  assert.ok(vh, `no virtual host ${vhost}`);
  return vh.routes as Obj[];
}

const byName = (routes: Obj[], name: string): Obj => routes.find((r) => r.name === name)!;

test('fractionalPercent picks the smallest exact denominator', () => {
  assert.deepEqual(fractionalPercent(30), { numerator: 30 });
  assert.deepEqual(fractionalPercent(0), {});
  assert.deepEqual(fractionalPercent(0.5), { numerator: 50, denominator: 'TEN_THOUSAND' });
  assert.deepEqual(fractionalPercent(0.0125), { numerator: 125, denominator: 'MILLION' });
  assert.deepEqual(fractionalPercent(250), { numerator: 100 });
});

test('VirtualService fault -> typedPerFilterConfig envoy.filters.http.fault (HTTP and gRPC aborts)', () => {
  const { routes } = generated();
  const website = routesOf(routes, `${D('website')}:80`);
  const faulty = byName(website, 'faulty');
  assert.deepEqual(faulty.typedPerFilterConfig, {
    'envoy.filters.http.fault': {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
      delay: { fixedDelay: { seconds: 0, nanos: 50_000_000 }, percentage: { numerator: 20 } },
      abort: { httpStatus: 503, percentage: { numerator: 50, denominator: 'TEN_THOUSAND' } },
    },
  });
  const grpc = byName(website, 'grpc-abort');
  assert.deepEqual(grpc.typedPerFilterConfig, {
    'envoy.filters.http.fault': {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault',
      abort: { grpcStatus: 14, percentage: { numerator: 1250, denominator: 'TEN_THOUSAND' } },
    },
  });
});

test('VirtualService mirror + mirrorPercentage and mirrors[] -> requestMirrorPolicies; mirror clusters are emitted', () => {
  const { routes, clusters } = generated();
  const mirrored = byName(routesOf(routes, `${D('website')}:80`), 'mirrored');
  assert.deepEqual((mirrored.route as Obj).requestMirrorPolicies, [
    { cluster: `outbound|80||${D('website-v2')}`, runtimeFraction: { defaultValue: { numerator: 25 } } },
    { cluster: `outbound|50051||${D('echo')}`, runtimeFraction: { defaultValue: { numerator: 125, denominator: 'MILLION' } } },
  ]);
  const names = new Set(clusters.map((c) => c.name));
  assert.ok(names.has(`outbound|80||${D('website-v2')}`));
  assert.ok(names.has(`outbound|50051||${D('echo')}`));
});

test('VirtualService corsPolicy -> envoy.extensions.filters.http.cors.v3.CorsPolicy; retries keep codes, perTryTimeout, retryOn', () => {
  const { routes } = generated();
  const cors = byName(routesOf(routes, `${D('website')}:80`), 'cors');
  assert.deepEqual(cors.typedPerFilterConfig, {
    'envoy.filters.http.cors': {
      '@type': 'type.googleapis.com/envoy.extensions.filters.http.cors.v3.CorsPolicy',
      allowOriginStringMatch: [{ exact: 'https://a.example' }, { safeRegex: { regex: 'https://.*\\.b\\.example' } }],
      allowMethods: 'GET,POST',
      allowHeaders: 'x-a,x-b',
      exposeHeaders: 'x-c',
      maxAge: '86400',
      allowCredentials: { value: true },
    },
  });
  const retry = (cors.route as Obj).retryPolicy as Obj;
  assert.equal(retry.retryOn, 'gateway-error,reset,retriable-status-codes');
  assert.deepEqual(retry.retriableStatusCodes, [429]);
  assert.equal(unwrap(retry.numRetries, 0), 3);
  assert.deepEqual(retry.perTryTimeout, { seconds: 0, nanos: 250_000_000 });
});

test('HTTP connection managers carry fault and CORS filters before the router', () => {
  const { listeners } = generated();
  for (const l of listeners) {
    for (const chain of l.filterChains as Obj[]) {
      for (const f of chain.filters as Obj[]) {
        if (f.name !== 'envoy.filters.network.http_connection_manager') continue;
        const names = ((f.typedConfig as Obj).httpFilters as Obj[]).map((h) => h.name);
        assert.deepEqual(names, ['envoy.filters.http.fault', 'envoy.filters.http.cors', 'envoy.filters.http.router'], String(l.name));
      }
    }
  }
});

test('Gateway API PathPrefix -> pathSeparatedPrefix; RequestMirror fraction -> requestMirrorPolicies', () => {
  const { routes } = generated();
  const r = routesOf(routes, `${D('website-v2')}:80`)[0]!;
  assert.deepEqual(r.match, { pathSeparatedPrefix: '/app' });
  assert.deepEqual((r.route as Obj).requestMirrorPolicies, [
    { cluster: `outbound|80||${D('website-v1')}`, runtimeFraction: { defaultValue: { numerator: 1250, denominator: 'TEN_THOUSAND' } } },
  ]);
});

test('Linkerd retryBudget -> weft.retry_budget Struct on the service outbound clusters only', () => {
  const { clusters, model } = generated();
  assert.ok(model.serviceHttpPolicies?.some((p) => p.retryBudget));
  const books = clusters.filter((c) => String(c.name).endsWith('|books.booksapp.svc.cluster.local'));
  assert.ok(books.length > 0);
  for (const c of books) {
    const ext = (c.typedExtensionProtocolOptions as Obj)['weft.retry_budget'] as Obj;
    assert.equal(ext['@type'], 'type.googleapis.com/google.protobuf.Struct');
    assert.deepEqual(structToJson(ext), { retryRatio: 0.2, minRetriesPerSecond: 10, ttlSeconds: 10 });
    // The HTTP protocol options stay next to it.
    assert.ok((c.typedExtensionProtocolOptions as Obj)['envoy.extensions.upstreams.http.v3.HttpProtocolOptions']);
  }
  const others = clusters.filter((c) => String(c.name).includes('website'));
  for (const c of others) assert.equal((c.typedExtensionProtocolOptions as Obj | undefined)?.['weft.retry_budget'], undefined);
});
