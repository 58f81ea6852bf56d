// The one precedence rule: VirtualService > HTTPRoute/GRPCRoute > TrafficSplit > ServiceProfile
// across dialects (losers reported WEFT_ROUTE_SHADOWED and removed for that host); within a
// dialect the first by namespace/name wins (WEFT_ROUTE_CONFLICT, kept).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml, type Resource } from '../../src/resources/index.js';
import { buildModel } from '../../src/model/index.js';
import { applyPrecedence } from '../../src/model/precedence.js';
import type { HttpRouteSet } from '../../src/model/types.js';
import { readFixture } from '../resources/fixtures.js';

const WEBSITE = 'website.default.svc.cluster.local';

function parse(text: string, file = 'p.yaml'): Resource[] {
  const { resources, findings } = parseYaml(text, file);
  assert.deepEqual(findings.filter((f) => f.severity === 'error'), []);
  return resources;
}

const services = () => parse(readFixture('dialects/services.yaml'), 'services.yaml');

const VS = `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: website-vs}
spec:
  hosts: [website]
  http: [{route: [{destination: {host: website-v1}}]}]
`;
const SPLIT = `apiVersion: split.smi-spec.io/v1alpha2
kind: TrafficSplit
metadata: {name: website-split}
spec:
  service: website
  backends: [{service: website-v1, weight: 50}, {service: website-v2, weight: 50}]
`;
const ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: {name: website-route}
spec:
  parentRefs: [{group: "", kind: Service, name: website}]
  rules: [{backendRefs: [{name: website-v2, port: 80}]}]
`;
const PROFILE = `apiVersion: linkerd.io/v1alpha2
kind: ServiceProfile
metadata: {name: website.default.svc.cluster.local}
spec:
  routes:
  - {name: home, condition: {method: GET, pathRegex: /}, timeout: 250ms, isRetryable: true}
  retryBudget: {retryRatio: 0.1, minRetriesPerSecond: 5, ttl: 5s}
`;

const kinds = (routes: HttpRouteSet[]) => routes.filter((r) => r.hosts.includes(WEBSITE)).map((r) => r.source.kind);

test('all four dialects on one host: the VirtualService routes; each loser is reported naming winner, loser and host', () => {
  // Input order is deliberately reversed: the rule does not depend on it.
  const { model, findings } = buildModel([...services(), ...parse(`${PROFILE}---\n${SPLIT}---\n${ROUTE}---\n${VS}`)], []);
  assert.deepEqual(kinds(model.routes), ['VirtualService']);
  const shadowed = findings.filter((f) => f.code === 'WEFT_ROUTE_SHADOWED');
  assert.deepEqual(shadowed.map((f) => [f.resource?.kind, f.path]), [
    ['HTTPRoute', 'spec.parentRefs'],
    ['TrafficSplit', 'spec.service'],
    ['ServiceProfile', 'metadata.name'],
  ]);
  for (const f of shadowed) {
    assert.match(f.message, /shadowed by VirtualService default\/website-vs/);
    assert.match(f.message, new RegExp(`host "${WEBSITE}" on mesh`));
    assert.equal(f.severity, 'warning');
    assert.equal(f.file, 'p.yaml');
  }
  // The profile's budget and timeouts survive as per-service policy, and the finding says so.
  assert.match(shadowed[2]!.message, /its retry budget and its route timeouts still apply as per-service policy/);
  assert.deepEqual(model.serviceHttpPolicies, [
    {
      source: { kind: 'ServiceProfile', namespace: 'default', name: WEBSITE, origin: 'p.yaml:1' },
      host: WEBSITE,
      retryBudget: { retryRatio: 0.1, minRetriesPerSecond: 5, ttlMs: 5000 },
      routeTimeouts: [{ route: 'home', matches: [{ method: { kind: 'exact', value: 'GET' }, path: { kind: 'regex', value: '/' } }], timeoutMs: 250 }],
    },
  ]);
});

test('pairwise: HTTPRoute beats TrafficSplit, TrafficSplit beats ServiceProfile', () => {
  const a = buildModel([...services(), ...parse(`${SPLIT}---\n${ROUTE}`)], []);
  assert.deepEqual(kinds(a.model.routes), ['HTTPRoute']);
  assert.deepEqual(a.findings.map((f) => [f.code, f.resource?.name]), [['WEFT_ROUTE_SHADOWED', 'website-split']]);
  const b = buildModel([...services(), ...parse(`${PROFILE}---\n${SPLIT}`)], []);
  assert.deepEqual(kinds(b.model.routes), ['TrafficSplit']);
  assert.deepEqual(b.findings.map((f) => [f.code, f.resource?.name]), [['WEFT_ROUTE_SHADOWED', WEBSITE]]);
});

test('same dialect: first by namespace/name wins, the other is reported as a conflict and kept', () => {
  const other = SPLIT.replace('website-split', 'a-split');
  const { model, findings } = buildModel([...services(), ...parse(`${SPLIT}---\n${other}`)], []);
  assert.deepEqual(findings.map((f) => [f.code, f.resource?.name]), [['WEFT_ROUTE_CONFLICT', 'website-split']]);
  assert.match(findings[0]!.message, /already routed by TrafficSplit default\/a-split/);
  assert.equal(kinds(model.routes).length, 2);
});

test('a loser keeps the hosts and attachments it did not lose', () => {
  const set = (kind: string, name: string, hosts: string[], attachTo: string[]): HttpRouteSet => ({
    source: { kind, namespace: 'default', name },
    hosts,
    attachTo,
    rules: [],
  });
  const findings: Parameters<typeof applyPrecedence>[2] = [];
  const { routes } = applyPrecedence(
    [set('HTTPRoute', 'wide', ['a.example.com', 'b.example.com'], ['default/gw', 'mesh']), set('VirtualService', 'narrow', ['a.example.com'], ['default/gw'])],
    [],
    findings,
  );
  assert.deepEqual(
    routes.map((r) => [r.source.name, r.hosts, r.attachTo]),
    [
      ['wide', ['b.example.com'], ['default/gw']],
      ['wide', ['a.example.com', 'b.example.com'], ['mesh']],
      ['narrow', ['a.example.com'], ['default/gw']],
    ],
  );
  assert.deepEqual(findings.map((f) => f.code), ['WEFT_ROUTE_SHADOWED']);
});
