// VirtualService tcp[] and tls[]: validation as Istio validates them (each error names
// file:line:path), and the model they become (L4RouteSets): weights, matches, gateways per
// match, precedence between VirtualServices, and the warnings for what does not apply.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseYaml } from '../../src/resources/index.js';
import { buildModel, type L4RouteSet, type Workload } from '../../src/model/index.js';
import type { Finding } from '../../src/resources/types.js';

const SERVICES = `---
apiVersion: v1
kind: Service
metadata: {name: echo}
spec:
  selector: {app: echo}
  ports: [{name: tcp-echo, port: 9000}]
---
apiVersion: v1
kind: Service
metadata: {name: web}
spec:
  selector: {app: web}
  ports: [{name: http, port: 8080}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
metadata: {name: echo}
spec:
  host: echo
  subsets:
  - {name: v1, labels: {version: v1}}
  - {name: v2, labels: {version: v2}}
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: external}
spec:
  hosts: [api.external.test, mirror.external.test]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 443, name: tls, protocol: TLS}]
---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: edge}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: tls, protocol: TLS}
    hosts: ["*.external.test"]
    tls: {mode: PASSTHROUGH}
`;

const ECHO = 'echo.default.svc.cluster.local';

function parse(yaml: string): { findings: Finding[]; ok: boolean } {
  const { findings } = parseYaml(yaml, 'vs.yaml');
  return { findings, ok: !findings.some((f) => f.severity === 'error') };
}

function errorsOf(yaml: string): string[] {
  return parse(yaml)
    .findings.filter((f) => f.severity === 'error')
    .map((f) => `${f.line}:${f.path}: ${f.message}`);
}

function build(yaml: string, workloads: Workload[] = []) {
  const { resources, findings } = parseYaml(SERVICES + yaml, 'in.yaml');
  assert.deepEqual(findings.filter((f) => f.severity === 'error'), []);
  return buildModel(resources, workloads);
}

const set = (sets: L4RouteSet[] | undefined, protocol: 'tcp' | 'tls', attach = 'mesh'): L4RouteSet => {
  const s = sets?.find((x) => x.protocol === protocol && x.attachTo.includes(attach));
  assert.ok(s, `no ${protocol} route set on ${attach}`);
  return s;
};

test('tcp[] and tls[] parse with every match field; nothing is reported', () => {
  const { findings, ok } = parse(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: l4}
spec:
  hosts: [api.external.test, "*.api.external.test"]
  gateways: [mesh, edge]
  tcp:
  - match:
    - {port: 443, destinationSubnets: [10.0.0.0/8, 192.168.1.1, "fd00::/8"], sourceLabels: {app: client}, sourceNamespace: default, gateways: [edge]}
    route:
    - {destination: {host: api.external.test, port: {number: 443}}, weight: 80}
    - {destination: {host: mirror.external.test, port: {number: 443}}, weight: 20}
  tls:
  - match:
    - {sniHosts: [api.external.test, "*.api.external.test"], port: 443}
    route:
    - destination: {host: api.external.test}
`);
  assert.deepEqual(findings, []);
  assert.ok(ok);
});

test('validation follows Istio: sniHosts required and within the hosts, a route, non-zero weights, subnets', () => {
  const errs = errorsOf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad}
spec:
  hosts: [api.external.test]
  tls:
  - match:
    - port: 443
    route:
    - destination: {host: api.external.test}
  - match:
    - sniHosts: [other.example.com]
    route:
    - destination: {host: api.external.test}
  - route:
    - destination: {host: api.external.test}
  tcp:
  - match:
    - destinationSubnets: [10.0.0.0/33, not-an-ip]
    route:
    - destination: {host: a}
  - route:
    - {destination: {host: a}, weight: 0}
    - {destination: {host: b}}
  - match: [{port: 9000}]
`);
  assert.deepEqual(errs, [
    '8:spec.tls[0].match[0].sniHosts: required (a TLS match needs at least one SNI host)',
    '15:spec.tls[2].match: required (a TLS route needs at least one match with sniHosts)',
    '19:spec.tcp[0].match[0].destinationSubnets[0]: "10.0.0.0/33" is not an IP address or CIDR block (a.b.c.d/len)',
    '19:spec.tcp[0].match[0].destinationSubnets[1]: "not-an-ip" is not an IP address or CIDR block (a.b.c.d/len)',
    '22:spec.tcp[1].route: total destination weight = 0: give the destinations weights',
    '25:spec.tcp[2].route: required (a TCP route needs at least one destination)',
  ]);
  // The SNI-within-hosts check runs once the rest is valid.
  assert.deepEqual(
    errorsOf(`apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: bad}
spec:
  hosts: [api.external.test, "*.eu.external.test"]
  tls:
  - match:
    - sniHosts: [api.external.test, "*.x.eu.external.test", a.eu.external.test, other.example.com, "*.external.test"]
    route:
    - destination: {host: api.external.test}
`),
    [
      '8:spec.tls[0].match[0].sniHosts[3]: SNI host "other.example.com" is not within any of the VirtualService hosts [api.external.test, *.eu.external.test]',
      '8:spec.tls[0].match[0].sniHosts[4]: SNI host "*.external.test" is not within any of the VirtualService hosts [api.external.test, *.eu.external.test]',
    ],
  );
  assert.deepEqual(errorsOf('apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: empty}\nspec:\n  hosts: [a]\n'), ['4:spec: http, tcp or tls must be provided']);
});

test('tcp[] becomes weighted L4 rules on the mesh; matches keep port, labels and namespace', () => {
  const { model, findings } = build(`---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: echo-split}
spec:
  hosts: [echo]
  tcp:
  - match: [{port: 9000, sourceLabels: {app: client}, sourceNamespace: default}]
    route:
    - {destination: {host: echo, subset: v1}, weight: 80}
    - {destination: {host: echo, subset: v2}, weight: 20}
  - route:
    - destination: {host: echo, subset: v1}
`);
  assert.deepEqual(findings, []);
  const tcp = set(model.l4Routes, 'tcp');
  assert.deepEqual(tcp.hosts, [ECHO]);
  assert.deepEqual(tcp.rules, [
    {
      matches: [{ port: 9000, sourceLabels: { app: 'client' }, sourceNamespace: 'default' }],
      destinations: [
        { host: ECHO, subset: 'v1', weight: 80 },
        { host: ECHO, subset: 'v2', weight: 20 },
      ],
    },
    { matches: [], destinations: [{ host: ECHO, subset: 'v1', weight: 100 }] },
  ]);
  assert.equal(model.routes.length, 0, 'no HTTP route set from a tcp-only VirtualService');
});

test('tls[] by SNI, match gateways split per attachment, destinationSubnets reported for sidecars only', () => {
  const vs = `---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: external}
spec:
  hosts: [api.external.test, "*.api.external.test"]
  gateways: [mesh, edge]
  tls:
  - match:
    - {sniHosts: [EU.api.external.test], port: 443, gateways: [edge]}
    - {sniHosts: [api.external.test], destinationSubnets: [10.0.0.0/8]}
    route:
    - destination: {host: mirror.external.test}
  - match:
    - sniHosts: ["*.api.external.test"]
    route:
    - {destination: {host: api.external.test}, weight: 3}
    - {destination: {host: mirror.external.test}, weight: 1}
`;
  const { model, findings } = build(vs);
  // Model findings point at the resource (its apiVersion line) and the field path.
  const vsLine = (SERVICES + vs).split('\n').indexOf('kind: VirtualService');
  assert.deepEqual(
    findings.map((f) => [f.code, f.path, f.file, f.line]),
    [['WEFT_UNSUPPORTED_FIELD', 'spec.tls[0].match[1].destinationSubnets', 'in.yaml', vsLine]],
  );
  assert.match(findings[0]!.message, /sidecar routes CONNECT tunnels by host name/);
  const mesh = set(model.l4Routes, 'tls', 'mesh');
  const edge = set(model.l4Routes, 'tls', 'default/edge');
  assert.deepEqual(mesh.attachTo, ['mesh']);
  assert.deepEqual(
    mesh.rules.map((r) => r.matches),
    [[{ sniHosts: ['api.external.test'], destinationSubnets: ['10.0.0.0/8'] }], [{ sniHosts: ['*.api.external.test'] }]],
  );
  // The edge gateway gets both matches of the first rule (the second has no gateways: the top level applies).
  assert.deepEqual(
    edge.rules.map((r) => r.matches),
    [
      [
        { sniHosts: ['eu.api.external.test'], port: 443 },
        { sniHosts: ['api.external.test'], destinationSubnets: ['10.0.0.0/8'] },
      ],
      [{ sniHosts: ['*.api.external.test'] }],
    ],
  );
  assert.deepEqual(edge.rules[1]!.destinations, [
    { host: 'api.external.test', weight: 3 },
    { host: 'mirror.external.test', weight: 1 },
  ]);
});

test('two VirtualServices on one host: the first by name wins, the other is reported and follows; HTTP and L4 never collide', () => {
  const { model, findings } = build(`---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: b-echo}
spec:
  hosts: [echo]
  tcp:
  - route: [{destination: {host: echo, subset: v2}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: a-echo}
spec:
  hosts: [echo]
  http:
  - route: [{destination: {host: echo}}]
  tcp:
  - route: [{destination: {host: echo, subset: v1}}]
`);
  assert.deepEqual(
    findings.map((f) => [f.code, f.resource?.name, f.message]),
    [['WEFT_ROUTE_CONFLICT', 'b-echo', `host "${ECHO}" on mesh is already routed by VirtualService default/a-echo, which takes precedence`]],
  );
  assert.deepEqual(
    model.l4Routes?.map((s) => s.source.name),
    ['b-echo', 'a-echo'],
    'both kept (the loser follows the winner, as Istio merges); xDS orders them by name',
  );
  assert.equal(model.routes.length, 1);
});

test('unknown subsets, hosts and ports that tcp/tls routes cannot apply to are reported with their path', () => {
  const { findings } = build(`---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: odd}
spec:
  hosts: [web]
  tcp:
  - route: [{destination: {host: echo, subset: v9}}, {destination: {host: nowhere}, weight: 1}]
`);
  assert.deepEqual(
    findings.map((f) => [f.code, f.path]),
    [
      ['WEFT_UNKNOWN_SUBSET', 'spec.tcp[0].route[0].destination.subset'],
      ['WEFT_UNKNOWN_HOST', 'spec.tcp[0].route[1].destination.host'],
      ['WEFT_ROUTE_UNUSED', 'spec.hosts[0]'],
    ],
  );
  assert.match(findings[0]!.message, /connections routed there are closed/);
  assert.match(findings[2]!.message, /tcp routes apply to opaque TCP \(or TLS\) ports; web\.default\.svc\.cluster\.local has none \(ports: http\)/);
});

test('a TLS gateway server that terminates is reported and skipped; PASSTHROUGH is kept', () => {
  const { model, findings } = build(`---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: terminate}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 9443, name: tls, protocol: TLS}
    hosts: ["*"]
    tls: {mode: SIMPLE, credentialName: c}
`);
  assert.deepEqual(findings.map((f) => [f.code, f.path]), [['WEFT_UNSUPPORTED_FIELD', 'spec.servers[0].tls.mode']]);
  assert.deepEqual(
    model.gatewayServers.map((s) => [s.gateway, s.port.number, s.tls?.mode]),
    [['default/edge', 443, 'PASSTHROUGH']],
  );
});
