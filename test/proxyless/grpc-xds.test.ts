// A real proxyless client: @grpc/grpc-js-xds (a client no one here wrote) pointed at
// weft's control plane over ADS follows a VirtualService's header match and weighted
// split for a gRPC service, picks up a new split live, resolves short names, and ACKs
// everything it is sent (no NACKs). The HTTPRoute (parentRef Service) variant runs
// when that kind is registered.
//
// Routing to versions: by DestinationRule subsets when the DestinationRule kind is
// registered and its subsets select endpoints by label; otherwise by two Services
// greeter-v1 / greeter-v2 (the test says which in a diagnostic).
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import { runControl, type ControlPlane } from '../../src/control/main.js';
import { lookupKind } from '../../src/resources/registry.js';
import { parseYaml } from '../../src/resources/index.js';
import { buildModel } from '../../src/model/index.js';
import { generateForProxyless } from '../../src/xds/proxyless.js';
import type { Workload } from '../../src/model/types.js';
import type { ProxyStatus } from '../../src/control/ads-stream.js';
import { testWorkload } from '../helpers/workloads.js';

// Loopback addresses of this file only (other test files use other 127.N networks).
const NET = '127.47';
const CONTROL_ADDRESS = `${NET}.0.1`;
const SERVER_ADDRESS = { v1: `${NET}.1.1`, v2: `${NET}.1.2` } as const;
const NODE_ID = 'greeter-client'; // not a weft proxy id: served as a proxyless client in NAMESPACE
const FQDN = 'greeter.default.svc.cluster.local';
const TARGET = `xds:///${FQDN}:9090`;

// --- a gRPC service written by hand: raw bytes in, the server's version out ---
const METHOD = '/weft.test.Greeter/SayHello';
const identity = (b: Buffer): Buffer => b;
const GREETER: grpc.ServiceDefinition = {
  sayHello: {
    path: METHOD,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
  },
};

async function startServer(address: string, version: string): Promise<{ server: grpc.Server; port: number }> {
  const server = new grpc.Server();
  server.addService(GREETER, {
    sayHello: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(version)),
  });
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${address}:0`, grpc.ServerCredentials.createInsecure(), (err, p) => (err ? reject(err) : resolve(p))),
  );
  return { server, port };
}

function call(client: grpc.Client, headers: Record<string, string> = {}): Promise<string> {
  const md = new grpc.Metadata();
  for (const [k, v] of Object.entries(headers)) md.set(k, v);
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(METHOD, identity, identity, Buffer.alloc(0), md, { deadline: Date.now() + 5000 }, (err, res) =>
      err ? reject(err) : resolve(res!.toString()),
    ),
  );
}

/** `n` calls, `concurrency` at a time; counts by answering version. */
async function tally(client: grpc.Client, n: number, headers: Record<string, string> = {}, concurrency = 50): Promise<Record<string, number>> {
  const counts: Record<string, number> = {};
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < n) {
      sent++;
      const v = await call(client, headers);
      counts[v] = (counts[v] ?? 0) + 1;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return counts;
}

/**
 * Tolerance for a share p over n independent picks (grpc-js draws each RPC's weighted
 * cluster independently): 3.5 standard deviations of the binomial proportion, the bound
 * the "2 points over 5,000 requests" is for p = 0.2 (sd = 0.57 points); the
 * chance a correct split falls outside it is below 1 in 2000.
 */
function tolerance(p: number, n: number): number {
  return 3.5 * Math.sqrt((p * (1 - p)) / n);
}

async function waitFor<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

function workload(version: 'v1' | 'v2', port: number): Workload {
  const address = SERVER_ADDRESS[version];
  return testWorkload({
    name: `greeter-${version}-0`,
    labels: { app: 'greeter', version },
    serviceAccount: 'greeter',
    address,
    ports: [{ name: 'grpc', containerPort: port, protocol: 'grpc' }],
    meshed: false,
    owner: `greeter-${version}`,
  });
}

const SERVICES = ['greeter', 'greeter-v1', 'greeter-v2']
  .map((name) => {
    const version = name === 'greeter' ? '' : `\n    version: ${name.slice('greeter-'.length)}`;
    return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: default
spec:
  selector:
    app: greeter${version}
  ports:
  - name: grpc
    port: 9090
    targetPort: grpc
`;
  })
  .join('---\n');

const DESTINATION_RULE = `apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata:
  name: greeter
  namespace: default
spec:
  host: ${FQDN}
  subsets:
  - name: v1
    labels: {version: v1}
  - name: v2
    labels: {version: v2}
`;

/** How a route names version vN: a subset of greeter, or the Service greeter-vN. */
type VersionRef = (v: 'v1' | 'v2') => string;
const bySubset: VersionRef = (v) => `host: ${FQDN}\n        subset: ${v}`;
const byService: VersionRef = (v) => `host: greeter-${v}.default.svc.cluster.local`;

function virtualService(ref: VersionRef, w1: number, w2: number): string {
  return `apiVersion: networking.istio.io/v1beta1
kind: VirtualService
metadata:
  name: greeter
  namespace: default
spec:
  hosts: [greeter]
  http:
  - name: canary
    match:
    - headers:
        x-canary: {exact: "yes"}
    route:
    - destination:
        ${ref('v2')}
  - name: split
    route:
    - destination:
        ${ref('v1')}
      weight: ${w1}
    - destination:
        ${ref('v2')}
      weight: ${w2}
`;
}

const HTTP_ROUTE = `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata:
  name: greeter
  namespace: default
spec:
  parentRefs:
  - group: ""
    kind: Service
    name: greeter
    port: 9090
  rules:
  - matches:
    - headers:
      - name: x-canary
        value: "yes"
    backendRefs:
    - name: greeter-v2
      port: 9090
  - backendRefs:
    - name: greeter-v1
      port: 9090
      weight: 80
    - name: greeter-v2
      port: 9090
      weight: 20
`;

/** Whether DestinationRule subsets are in force here: the kind parses and a subset's endpoints are only its labelled pods. */
function subsetsHonoured(ports: { v1: number; v2: number }): boolean {
  if ('error' in lookupKind('networking.istio.io/v1beta1', 'DestinationRule')) return false;
  const { resources, findings } = parseYaml(SERVICES + '---\n' + DESTINATION_RULE + '---\n' + virtualService(bySubset, 80, 20), 'probe.yaml');
  if (findings.some((f) => f.severity === 'error')) return false;
  const { model } = buildModel(resources, [workload('v1', ports.v1), workload('v2', ports.v2)]);
  const res = generateForProxyless(model, { id: 'probe', namespace: 'default', labels: {}, pod: 'probe', ip: '' });
  const cla = res.endpoints.find((e) => e['clusterName'] === `outbound|9090|v1|${FQDN}`);
  const localities = (cla?.['endpoints'] ?? []) as { lbEndpoints?: unknown[] }[];
  return localities.reduce((n, l) => n + (l.lbEndpoints?.length ?? 0), 0) === 1;
}

let cp: ControlPlane;
let stateDir: string;
let client: grpc.Client;
const servers: grpc.Server[] = [];
let ref: VersionRef = byService;

async function api(method: 'POST' | 'DELETE', urlPath: string, body?: string): Promise<unknown> {
  const res = await fetch(`http://${CONTROL_ADDRESS}:${cp.ports.api}${urlPath}`, {
    method,
    headers: { authorization: `Bearer ${cp.adminToken}`, 'content-type': 'application/yaml' },
    ...(body !== undefined ? { body } : {}),
  });
  const json = (await res.json()) as { findings?: { severity: string; message: string }[] };
  assert.ok(res.ok, `${method} ${urlPath}: ${res.status} ${JSON.stringify(json)}`);
  const errors = (json.findings ?? []).filter((f) => f.severity === 'error');
  assert.deepEqual(errors, [], `${method} ${urlPath} findings`);
  return json;
}

async function proxiesOverApi(): Promise<ProxyStatus[]> {
  const res = await fetch(`http://${CONTROL_ADDRESS}:${cp.ports.api}/api/v1/proxies`);
  const body = (await res.json()) as ProxyStatus[] | { proxies: ProxyStatus[] };
  return Array.isArray(body) ? body : body.proxies;
}

const XDS_TYPES = ['LDS', 'RDS', 'CDS', 'EDS'] as const;
function synced(p: ProxyStatus | undefined): boolean {
  return !!p && XDS_TYPES.every((t) => p.types[t].status === 'SYNCED' && p.types[t].lastError === undefined);
}

/** Applies YAML and waits until the client has ACKed a new RDS version (the routes it now follows). */
async function applyAndWaitForRoutes(yaml: string): Promise<void> {
  const before = cp.ads.proxies().find((p) => p.id === NODE_ID)?.types.RDS.ackedVersion;
  await api('POST', '/api/v1/apply', yaml);
  await waitFor('the client to ACK the new routes', () => {
    const p = cp.ads.proxies().find((x) => x.id === NODE_ID);
    return synced(p) && p!.types.RDS.ackedVersion !== before;
  });
  // The ACK is sent as the client installs the update; let its config selector swap in.
  await new Promise((r) => setTimeout(r, 200));
}

before(async () => {
  stateDir = await fs.mkdtemp(path.join(os.tmpdir(), 'weft-proxyless-'));
  cp = await runControl({ stateDir, address: CONTROL_ADDRESS, ports: { xds: 0, xdsTls: 0, api: 0, monitoring: 0 }, debounceMs: 20, maxDebounceMs: 200, log: () => {} });
  const v1 = await startServer(SERVER_ADDRESS.v1, 'v1');
  const v2 = await startServer(SERVER_ADDRESS.v2, 'v2');
  servers.push(v1.server, v2.server);
  await cp.registry.put(workload('v1', v1.port));
  await cp.registry.put(workload('v2', v2.port));
  await api('POST', '/api/v1/apply', SERVICES);
  ref = subsetsHonoured({ v1: v1.port, v2: v2.port }) ? bySubset : byService;
  if (ref === bySubset) await api('POST', '/api/v1/apply', DESTINATION_RULE);
  await api('POST', '/api/v1/apply', virtualService(ref, 80, 20));

  // grpc-js-xds reads its bootstrap when the first xds: channel is made.
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [{ server_uri: `${CONTROL_ADDRESS}:${cp.ports.xds}`, channel_creds: [{ type: 'insecure' }], server_features: ['xds_v3'] }],
    node: { id: NODE_ID, locality: {}, metadata: { NAMESPACE: 'default', LABELS: { app: 'greeter-client' } } },
  });
  xds.register();
  client = new grpc.Client(TARGET, grpc.credentials.createInsecure());
  await waitFor('the control plane to have applied the VirtualService', () => cp.store.list({ kind: 'VirtualService' }).length === 1);
});

after(async () => {
  client?.close();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.tryShutdown(() => r()))));
  await cp?.close();
  await fs.rm(stateDir, { recursive: true, force: true });
});

test('grpc-js-xds follows the header match: every x-canary: yes call lands on v2', async (t) => {
  t.diagnostic(`versions routed by ${ref === bySubset ? 'DestinationRule subsets' : 'Services greeter-v1/greeter-v2 (DestinationRule subsets not in force)'}`);
  const counts = await tally(client, 300, { 'x-canary': 'yes' });
  assert.deepEqual(counts, { v2: 300 });
});

test('grpc-js-xds follows the weighted split: 5,000 calls land 80/20 within 2 points', async () => {
  const n = 5000;
  const counts = await tally(client, n);
  const share = (counts['v2'] ?? 0) / n;
  const tol = tolerance(0.2, n);
  assert.ok(tol <= 0.02, 'the bound is within the issue\'s 2 points');
  assert.ok(Math.abs(share - 0.2) <= tol, `v2 share ${share.toFixed(4)} not within ${tol.toFixed(4)} of 0.20 (${JSON.stringify(counts)})`);
  assert.equal((counts['v1'] ?? 0) + (counts['v2'] ?? 0), n);
});

test('short names resolve like the sidecar domains: greeter:9090 and greeter.default:9090', async () => {
  for (const name of ['greeter:9090', 'greeter.default:9090']) {
    const c = new grpc.Client(`xds:///${name}`, grpc.credentials.createInsecure());
    try {
      assert.deepEqual(await tally(c, 50, { 'x-canary': 'yes' }, 10), { v2: 50 }, name);
    } finally {
      c.close();
    }
  }
});

test('a new VirtualService applied live changes the split to 50/50', async () => {
  await applyAndWaitForRoutes(virtualService(ref, 50, 50));
  const n = 2000;
  const counts = await tally(client, n);
  const share = (counts['v2'] ?? 0) / n;
  const tol = tolerance(0.5, n); // 3.9 points at n = 2000
  assert.ok(Math.abs(share - 0.5) <= tol, `v2 share ${share.toFixed(4)} not within ${tol.toFixed(4)} of 0.50 (${JSON.stringify(counts)})`);
});

test('HTTPRoute with parentRef Service: header match and weighted split', async (t) => {
  if ('error' in lookupKind('gateway.networking.k8s.io/v1', 'HTTPRoute')) {
    t.skip('the HTTPRoute kind is not registered in src/resources/registry.ts yet');
    return;
  }
  await api('DELETE', '/api/v1/resources/VirtualService/default/greeter');
  await applyAndWaitForRoutes(HTTP_ROUTE);
  assert.deepEqual(await tally(client, 200, { 'x-canary': 'yes' }), { v2: 200 });
  const n = 5000;
  const counts = await tally(client, n);
  const share = (counts['v2'] ?? 0) / n;
  const tol = tolerance(0.2, n);
  assert.ok(Math.abs(share - 0.2) <= tol, `v2 share ${share.toFixed(4)} not within ${tol.toFixed(4)} of 0.20 (${JSON.stringify(counts)})`);
});

test('the control plane lists the proxyless client as SYNCED on every type it asked for, with no NACK', async () => {
  const proxies = await proxiesOverApi();
  const p = proxies.find((x) => x.id === NODE_ID);
  assert.ok(p, `client ${NODE_ID} in /api/v1/proxies: ${JSON.stringify(proxies.map((x) => x.id))}`);
  assert.ok(synced(p), `all of LDS/RDS/CDS/EDS SYNCED: ${JSON.stringify(p.types)}`);
  assert.equal(p.namespace, 'default');
  assert.equal(p.workloadKnown, true, 'a proxyless client needs no workload');
  assert.equal(p.types.SDS.status, 'NOT SENT');
  const text = await (await fetch(`http://${CONTROL_ADDRESS}:${cp.ports.monitoring}/metrics`)).text();
  const rejects = text.split('\n').filter((l) => l.startsWith('weft_xds_rejects_total{') && !l.endsWith(' 0'));
  assert.deepEqual(rejects, [], 'no NACKs counted');
});
