// The egress gateway pattern (samples/bookinfo/examples/egress-gateway.yaml) through the
// generator: a sidecar sends the external host to istio-egressgateway over mesh mTLS with
// the SNI its DestinationRule names; the gateway terminates that on an ISTIO_MUTUAL server
// and routes to the ServiceEntry's endpoint. Every resource survives the codec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseYaml } from '../../src/resources/index.js';
import { buildModel, type MeshModel, type Workload } from '../../src/model/index.js';
import { decode, encode, TYPE } from '../../src/xds/codec.js';
import { generateForProxy, type ProxyResources } from '../../src/xds/generate.js';
import { spiffeId } from '../../src/xds/names.js';
import { EGRESS, egressServiceYaml } from '../../src/platform/local/egress.js';

type Obj = Record<string, unknown>;
const o = (v: unknown): Obj => v as Obj;
const a = (v: unknown): Obj[] => v as Obj[];
const KINDS = { listeners: TYPE.listener, routes: TYPE.route, clusters: TYPE.cluster, endpoints: TYPE.endpoint, secrets: TYPE.secret } as const;
const EXAMPLE = fileURLToPath(new URL('../../../samples/bookinfo/examples/egress-gateway.yaml', import.meta.url));
const EGRESS_FQDN = 'istio-egressgateway.istio-system.svc.cluster.local';
const TO_GATEWAY = `outbound|443|api-example|${EGRESS_FQDN}`;
const TO_EXTERNAL = 'outbound|80||api.example.com';
const EGRESS_ID = spiffeId(EGRESS.namespace, EGRESS.serviceAccount);

const client: Workload = {
  name: 'client-1',
  namespace: 'default',
  labels: { app: 'client' },
  serviceAccount: 'client',
  identity: spiffeId('default', 'client'),
  address: '127.10.1.1',
  appAddress: '127.10.101.1',
  ports: [{ name: 'http', containerPort: 8080 }],
  ready: true,
  meshed: true,
  owner: 'client',
  proxyType: 'sidecar',
};
const gateway: Workload = {
  name: 'istio-egressgateway-0000000000-local',
  namespace: EGRESS.namespace,
  labels: { ...EGRESS.labels },
  serviceAccount: EGRESS.serviceAccount,
  identity: EGRESS_ID,
  address: '127.10.1.2',
  appAddress: '127.10.1.2',
  ports: EGRESS.ports.map((p) => ({ name: p.name, containerPort: p.targetPort })),
  ready: true,
  meshed: true,
  owner: EGRESS.name,
  proxyType: 'router',
};

function model(): MeshModel {
  const { resources, findings } = parseYaml(`${egressServiceYaml()}---\n${fs.readFileSync(EXAMPLE, 'utf8')}`, 'egress.yaml');
  assert.deepEqual(findings, []);
  const built = buildModel(resources, [client, gateway]);
  assert.deepEqual(built.findings, []);
  return built.model;
}

function gen(m: MeshModel, proxy: Workload): ProxyResources {
  const res = generateForProxy(m, proxy, { rootCertsPem: ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'] });
  for (const [kind, type] of Object.entries(KINDS)) {
    for (const r of (res[kind as keyof ProxyResources] ?? [])) assert.deepEqual(decode(type, encode(type, r)), r, `${kind} ${String(r.name ?? r.clusterName)}`);
  }
  return res;
}

function named(list: Obj[], name: string): Obj {
  const found = list.find((x) => x.name === name);
  assert.ok(found, `no ${name}; have ${list.map((x) => String(x.name)).join(', ')}`);
  return found;
}

test('sidecar: the external host routes to the egress gateway subset on 443, over mesh mTLS to every endpoint, SNI the external host', () => {
  const res = gen(model(), client);
  const vh = named(a(o(res.routes[0]).virtualHosts), 'api.example.com:80');
  assert.deepEqual(vh.domains, ['api.example.com', 'api.example.com:80']);
  assert.equal(o(a(vh.routes)[0]!.route).cluster, TO_GATEWAY);
  const c = named(res.clusters, TO_GATEWAY);
  // The gateway's endpoint carries no tlsMode (routers do not terminate auto mTLS), so the
  // written ISTIO_MUTUAL must apply to every endpoint, not through a tlsMode match.
  assert.equal(c.transportSocketMatches, undefined);
  const tls = o(o(c.transportSocket).typedConfig);
  assert.equal(tls.sni, 'api.example.com');
  const common = o(tls.commonTlsContext);
  assert.deepEqual(a(common.tlsCertificateSdsSecretConfigs).map((s) => s.name), ['default']);
  assert.deepEqual(o(o(common.combinedValidationContext).defaultValidationContext).matchTypedSubjectAltNames, [{ sanType: 'URI', matcher: { exact: EGRESS_ID } }]);
  // The sidecar never talks to the external host itself.
  assert.equal(res.routes.some((r) => JSON.stringify(r).includes(`"cluster":"${TO_EXTERNAL}"`)), false);
});

test('egress gateway: an ISTIO_MUTUAL listener on 8443 for the external host, routed to the ServiceEntry endpoint in plaintext', () => {
  const res = gen(model(), gateway);
  const l = named(res.listeners, 'gateway|443');
  assert.deepEqual(o(o(l.address).socketAddress).portValue, 8443);
  const chain = a(l.filterChains)[0]!;
  assert.deepEqual(o(chain.filterChainMatch).serverNames, ['api.example.com']);
  const down = o(o(chain.transportSocket).typedConfig);
  assert.deepEqual(down.requireClientCertificate, { value: true });
  assert.equal(o(o(down.commonTlsContext).validationContextSdsSecretConfig).name, 'ROOTCA');
  const rc = named(res.routes, 'http.443');
  const vh = named(a(rc.virtualHosts), 'api.example.com:443');
  assert.equal(o(a(vh.routes)[0]!.route).cluster, TO_EXTERNAL);
  const ext = named(res.clusters, TO_EXTERNAL);
  assert.equal(ext.type, 'STATIC');
  assert.equal(ext.transportSocket, undefined);
  assert.equal(ext.transportSocketMatches, undefined);
  const ep = o(o(o(a(a(o(ext.loadAssignment).endpoints)[0]!.lbEndpoints)[0]!.endpoint).address).socketAddress);
  assert.deepEqual([ep.address, ep.portValue], ['127.0.0.1', 9999]);
});

test('ISTIO_MUTUAL without an sni keeps the mesh SNI of the subset', () => {
  const yaml = `${egressServiceYaml()}---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: gw}
spec:
  host: ${EGRESS_FQDN}
  trafficPolicy: {tls: {mode: ISTIO_MUTUAL}}
`;
  const { resources } = parseYaml(yaml, 'dr.yaml');
  const res = gen(buildModel(resources, [client, gateway]).model, client);
  const c = named(res.clusters, `outbound|443||${EGRESS_FQDN}`);
  assert.equal(o(o(c.transportSocket).typedConfig).sni, `outbound_.443_._.${EGRESS_FQDN}`);
});
