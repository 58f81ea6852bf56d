// tcp[] and tls[] routes in the Envoy resources weft emits: the sidecar's CONNECT routes
// (weighted clusters), the SNI internal listener and the STATIC cluster that reaches it,
// and gateway filter chains (serverNames for PASSTHROUGH servers, prefixRanges and
// tcp_proxy weightedClusters for TCP servers). Every resource round-trips the codec.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml } from '../../src/resources/index.js';
import { buildModel, type MeshModel, type Workload } from '../../src/model/index.js';
import { decode, encode, TYPE } from '../../src/xds/codec.js';
import { generateForProxy, generateGroupsForProxy, type ProxyResources } from '../../src/xds/generate.js';
import { spiffeId } from '../../src/xds/names.js';
import type { EnvoyObject } from '../../src/proxy/types.js';

const KINDS = { listeners: TYPE.listener, routes: TYPE.route, clusters: TYPE.cluster, endpoints: TYPE.endpoint, secrets: TYPE.secret } as const;
const TCP_PROXY = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
const ECHO = 'echo.default.svc.cluster.local';
const API = 'api.external.test';

function pod(name: string, labels: Record<string, string>, address: string, ports: number[], opts: Partial<Workload> = {}): Workload {
  return {
    name,
    namespace: 'default',
    labels,
    serviceAccount: labels.app ?? name,
    identity: spiffeId('default', labels.app ?? name),
    address,
    appAddress: address.replace('.0.', '.100.'),
    ports: ports.map((containerPort) => ({ containerPort })),
    ready: true,
    meshed: true,
    owner: name,
    proxyType: 'sidecar',
    ...opts,
  };
}

const WORKLOADS = [
  pod('client-1', { app: 'client' }, '127.20.0.1', [8080]),
  pod('legacy-1', { app: 'legacy' }, '127.20.0.2', [8080]),
  pod('echo-v1-a', { app: 'echo', version: 'v1' }, '127.20.0.3', [9000]),
  pod('echo-v2-a', { app: 'echo', version: 'v2' }, '127.20.0.4', [9000]),
  pod('gw', { istio: 'ingressgateway' }, '127.20.0.5', [8443, 31400], { namespace: 'istio-system', proxyType: 'router' }),
];

const YAML = `---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{name: tcp-echo, port: 9000}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo}
spec:
  host: echo
  subsets: [{name: v1, labels: {version: v1}}, {name: v2, labels: {version: v2}}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external}
spec:
  hosts: [api.external.test, mirror.external.test]
  location: MESH_EXTERNAL
  resolution: STATIC
  ports: [{number: 443, name: tls, protocol: TLS}]
  endpoints: [{address: 127.0.0.9}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo}
spec:
  hosts: [echo]
  tcp:
  - match: [{sourceLabels: {app: client}}]
    route:
    - {destination: {host: echo, subset: v1}, weight: 80}
    - {destination: {host: echo, subset: v2}, weight: 20}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: external-by-sni}
spec:
  hosts: [api.external.test, "*.api.external.test"]
  gateways: [mesh, istio-system/edge]
  tls:
  - match: [{sniHosts: [api.external.test]}]
    route: [{destination: {host: mirror.external.test}}]
  - match: [{sniHosts: ["*.api.external.test"], port: 443}]
    route:
    - {destination: {host: api.external.test}, weight: 3}
    - {destination: {host: mirror.external.test}, weight: 1}
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 8443, name: tls, protocol: TLS}
    hosts: ["*.external.test"]
    tls: {mode: PASSTHROUGH}
  - port: {number: 31400, name: tcp, protocol: TCP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: edge-tcp, namespace: istio-system}
spec:
  hosts: ["*"]
  gateways: [edge]
  tcp:
  - match: [{port: 31400, destinationSubnets: [127.20.0.0/16]}]
    route: [{destination: {host: echo.default.svc.cluster.local, subset: v2, port: {number: 9000}}}]
  - route:
    - {destination: {host: echo.default.svc.cluster.local, subset: v1, port: {number: 9000}}, weight: 1}
    - {destination: {host: echo.default.svc.cluster.local, subset: v2, port: {number: 9000}}, weight: 1}
`;

function model(): MeshModel {
  const { resources, findings } = parseYaml(YAML, 'in.yaml');
  assert.deepEqual(findings.filter((f) => f.severity === 'error'), []);
  return buildModel(resources, WORKLOADS).model;
}

function gen(m: MeshModel, proxy: string): ProxyResources {
  const res = generateForProxy(m, m.workloads.find((w) => w.name === proxy)!, { rootCertsPem: ['-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n'] });
  for (const [kind, type] of Object.entries(KINDS)) {
    for (const o of (res[kind as keyof ProxyResources] ?? [])) {
      assert.deepStrictEqual(decode(type, encode(type, o)), o, `${kind} ${String(o.name ?? o.clusterName)} changed in a codec round trip`);
    }
  }
  return res;
}

const byName = (list: EnvoyObject[], name: string): EnvoyObject => {
  const x = list.find((o) => o.name === name);
  assert.ok(x, `no ${name}; have ${list.map((o) => o.name).join(', ')}`);
  return x;
};

function vhost(res: ProxyResources, name: string): EnvoyObject {
  const rc = byName(res.routes, 'http_proxy');
  return byName(rc.virtualHosts as EnvoyObject[], name);
}

const connect = (target: EnvoyObject) => ({
  name: 'connect',
  match: { connectMatcher: {} },
  route: { ...target, timeout: { seconds: 0 }, upgradeConfigs: [{ upgradeType: 'CONNECT', connectConfig: {} }] },
});
const tcpProxy = (cfg: EnvoyObject) => ({ name: 'envoy.filters.network.tcp_proxy', typedConfig: { '@type': TCP_PROXY, ...cfg } });

test('sidecar: tcp[] on an opaque TCP port is a CONNECT route with weighted clusters; sourceLabels decide per proxy', () => {
  const m = model();
  const client = gen(m, 'client-1');
  assert.deepEqual(vhost(client, `${ECHO}:9000`).routes, [
    connect({
      weightedClusters: {
        clusters: [
          { name: `outbound|9000|v1|${ECHO}`, weight: { value: 80 } },
          { name: `outbound|9000|v2|${ECHO}`, weight: { value: 20 } },
        ],
      },
    }),
  ]);
  // The match names app=client: another workload keeps the port's default route.
  const legacy = gen(m, 'legacy-1');
  assert.deepEqual((vhost(legacy, `${ECHO}:9000`).routes as EnvoyObject[]).map((r) => r.route), [{ cluster: `outbound|9000||${ECHO}`, timeout: { seconds: 0 } }]);
  // The two sidecars share nothing keyed by labels they do not differ on, and differ here.
  const groups = (w: string) => generateGroupsForProxy(m, m.workloads.find((x) => x.name === w)!, { rootCertsPem: [] }).routes[0];
  assert.notEqual(groups('client-1'), groups('legacy-1'));
});

test('sidecar: tls[] on a TLS port -> CONNECT to an internal listener that routes the ClientHello by SNI', () => {
  const res = gen(model(), 'client-1');
  const name = `tls_sni|443|${API}`;
  assert.deepEqual(vhost(res, `${API}:443`).routes, [connect({ cluster: name })]);
  assert.deepEqual(byName(res.clusters, name), {
    name,
    type: 'STATIC',
    connectTimeout: { seconds: 10 },
    loadAssignment: { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address: { envoyInternalAddress: { serverListenerName: name } } } }] }] },
  });
  const l = byName(res.listeners, name);
  assert.deepEqual(l.internalListener, {});
  assert.equal(l.address, undefined);
  assert.deepEqual(l.listenerFilters, [{ name: 'envoy.filters.listener.tls_inspector', typedConfig: { '@type': 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector' } }]);
  assert.deepEqual(l.filterChains, [
    { filterChainMatch: { serverNames: [API], transportProtocol: 'tls' }, filters: [tcpProxy({ statPrefix: 'outbound|443||mirror.external.test', cluster: 'outbound|443||mirror.external.test' })], name: `sni:${API}` },
    {
      filterChainMatch: { serverNames: [`*.${API}`], transportProtocol: 'tls' },
      filters: [
        tcpProxy({
          statPrefix: name,
          weightedClusters: {
            clusters: [
              { name: `outbound|443||${API}`, weight: 3 },
              { name: 'outbound|443||mirror.external.test', weight: 1 },
            ],
          },
        }),
      ],
      name: `sni:*.${API}`,
    },
    // Any other SNI: where the app asked to go.
    { filterChainMatch: { transportProtocol: 'tls' }, filters: [tcpProxy({ statPrefix: `outbound|443||${API}`, cluster: `outbound|443||${API}` })], name: 'default' },
  ]);
  // mirror.external.test is not among the VirtualService hosts: its port keeps the plain default route.
  assert.deepEqual((vhost(res, 'mirror.external.test:443').routes as EnvoyObject[]).map((r) => r.route), [{ cluster: 'outbound|443||mirror.external.test', timeout: { seconds: 0 } }]);
  // The routed-to clusters exist (STATIC, the ServiceEntry endpoint).
  for (const c of [`outbound|443||${API}`, 'outbound|443||mirror.external.test']) assert.equal(byName(res.clusters, c).type, 'STATIC');
});

test('gateway: PASSTHROUGH server -> serverNames chains narrowed to its hosts; TCP server -> prefixRanges first, then a weighted catch-all', () => {
  const res = gen(model(), 'gw');
  assert.deepEqual(res.routes, [], 'no HCM on TCP/TLS-only ports: no RDS');
  const tls = byName(res.listeners, 'gateway|8443');
  assert.deepEqual(tls.address, { socketAddress: { address: '0.0.0.0', portValue: 8443 } });
  assert.equal((tls.listenerFilters as EnvoyObject[])[0]!.name, 'envoy.filters.listener.tls_inspector');
  // The wildcard rule says port: 443, and this server is 8443: only the exact rule applies here.
  assert.deepEqual(tls.filterChains, [
    { filterChainMatch: { serverNames: [API] }, filters: [tcpProxy({ statPrefix: 'outbound|443||mirror.external.test', cluster: 'outbound|443||mirror.external.test' })], name: `passthrough:${API}` },
  ]);
  const tcp = byName(res.listeners, 'gateway|31400');
  assert.equal(tcp.listenerFilters, undefined, 'no chain needs the ClientHello');
  const v = (s: string) => `outbound|9000|${s}|${ECHO}`;
  assert.deepEqual(tcp.filterChains, [
    { filterChainMatch: { prefixRanges: [{ addressPrefix: '127.20.0.0', prefixLen: { value: 16 } }] }, filters: [tcpProxy({ statPrefix: v('v2'), cluster: v('v2') })], name: 'tcp:127.20.0.0/16' },
    {
      filters: [tcpProxy({ statPrefix: 'gateway|31400', weightedClusters: { clusters: [{ name: v('v1'), weight: 1 }, { name: v('v2'), weight: 1 }] } })],
      name: 'tcp:*',
    },
  ]);
  // The subset clusters the chains name are emitted for the gateway.
  for (const c of [v('v1'), v('v2'), 'outbound|443||mirror.external.test']) byName(res.clusters, c);
});
