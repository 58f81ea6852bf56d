// A small bookinfo-like mesh for the generator tests: four services in `default`,
// reviews v1/v2/v3 (v3 not ready, its own service account), details without a
// sidecar, ratings behind a named targetPort, and an ingress gateway router.
import type { GatewayServer, HttpRouteSet, MeshModel, Service, Workload } from '../../src/model/types.js';
import { testWorkload } from '../helpers/workloads.js';

export const ROOT_PEM = '-----BEGIN CERTIFICATE-----\nMIIBtestroot\n-----END CERTIFICATE-----\n';

function service(name: string, ns: string, port: number, targetPort: number | string, selector: Record<string, string>, extraPorts: Service['ports'] = []): Service {
  return {
    name,
    namespace: ns,
    hostname: `${name}.${ns}.svc.cluster.local`,
    ports: [{ name: 'http', port, targetPort, protocol: 'http' }, ...extraPorts],
    selector,
    labels: { app: name },
    source: { kind: 'Service', namespace: ns, name },
  };
}

let podIndex = 0;
function pod(owner: string, app: string, version: string, sa: string, opts: Partial<Workload> = {}): Workload {
  podIndex++;
  return testWorkload({
    name: `${owner}-5f7c9d-${String(podIndex).padStart(2, '0')}x`,
    labels: { app, version },
    serviceAccount: sa,
    address: `127.10.0.${podIndex}`,
    appAddress: `127.10.100.${podIndex}`,
    ports: [{ name: 'http', containerPort: 9080 }],
    owner,
    ...opts,
  });
}

const src = (kind: string, name: string, ns = 'default') => ({ kind, namespace: ns, name });
const fqdn = (name: string) => `${name}.default.svc.cluster.local`;

export function bookinfo(): MeshModel {
  podIndex = 0;
  const workloads: Workload[] = [
    pod('productpage-v1', 'productpage', 'v1', 'bookinfo-productpage'),
    pod('details-v1', 'details', 'v1', 'bookinfo-details', { meshed: false }),
    pod('reviews-v1', 'reviews', 'v1', 'bookinfo-reviews'),
    pod('reviews-v2', 'reviews', 'v2', 'bookinfo-reviews'),
    pod('reviews-v3', 'reviews', 'v3', 'bookinfo-reviews-v3', { ready: false }),
    pod('ratings-v1', 'ratings', 'v1', 'bookinfo-ratings', { ports: [{ name: 'http-api', containerPort: 9080 }, { name: 'metrics', containerPort: 9100 }] }),
    testWorkload({
      name: 'istio-ingressgateway-6d8f-gw01',
      namespace: 'istio-system',
      labels: { istio: 'ingressgateway', app: 'istio-ingressgateway' },
      serviceAccount: 'istio-ingressgateway',
      address: '127.10.0.200',
      ports: [{ name: 'http2', containerPort: 8080 }, { name: 'https', containerPort: 8443 }],
      owner: 'istio-ingressgateway',
      proxyType: 'router',
    }),
  ];
  const services: Service[] = [
    service('productpage', 'default', 9080, 9080, { app: 'productpage' }),
    service('details', 'default', 9080, 9080, { app: 'details' }),
    service('reviews', 'default', 9080, 9080, { app: 'reviews' }),
    service('ratings', 'default', 9080, 'http-api', { app: 'ratings' }, [{ name: 'tcp-metrics', port: 9100, targetPort: 9100, protocol: 'tcp' }]),
    service('istio-ingressgateway', 'istio-system', 80, 8080, { istio: 'ingressgateway' }, [{ name: 'https', port: 443, targetPort: 8443, protocol: 'https' }]),
  ];
  // A DestinationRule for reviews: subsets by version (subset CLAs hold only their pods).
  const reviewsPorts = [9080];
  services[2]!.destinationPolicy = {
    source: src('DestinationRule', 'reviews'),
    subsets: ['v1', 'v2', 'v3'].map((v) => ({ name: v, labels: { version: v } })),
    clusters: reviewsPorts.flatMap((port) => ['', 'v1', 'v2', 'v3'].map((subset) => ({ port, subset }))),
  };
  const gatewayServers: GatewayServer[] = [
    { source: src('Gateway', 'bookinfo-gateway'), gateway: 'default/bookinfo-gateway', selector: { istio: 'ingressgateway' }, port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] },
    {
      source: src('Gateway', 'bookinfo-gateway'),
      gateway: 'default/bookinfo-gateway',
      selector: { istio: 'ingressgateway' },
      port: { number: 443, name: 'https', protocol: 'HTTPS' },
      hosts: ['default/bookinfo.example.com'],
      tls: { mode: 'SIMPLE', credentialName: 'bookinfo-cert' },
    },
  ];
  const toProductpage = { kind: 'forward' as const, destinations: [{ host: fqdn('productpage'), port: 9080, weight: 100 }] };
  const routes: HttpRouteSet[] = [
    {
      source: src('VirtualService', 'bookinfo'),
      hosts: ['*'],
      attachTo: ['default/bookinfo-gateway'],
      rules: [
        {
          matches: [
            { path: { kind: 'exact', value: '/productpage' } },
            { path: { kind: 'prefix', value: '/static' } },
            { path: { kind: 'exact', value: '/login' } },
            { path: { kind: 'exact', value: '/logout' } },
            { path: { kind: 'prefix', value: '/api/v1/products' } },
          ],
          action: toProductpage,
        },
      ],
    },
    {
      source: src('VirtualService', 'reviews'),
      hosts: [fqdn('reviews')],
      attachTo: ['mesh'],
      rules: [
        {
          name: 'jason',
          matches: [{ headers: [{ name: 'end-user', match: { kind: 'exact', value: 'jason' } }] }],
          action: { kind: 'forward', destinations: [{ host: fqdn('reviews'), subset: 'v2', weight: 100 }] },
        },
        {
          matches: [],
          action: {
            kind: 'forward',
            destinations: [
              { host: fqdn('reviews'), subset: 'v1', weight: 80 },
              { host: fqdn('reviews'), subset: 'v3', weight: 20 },
            ],
          },
        },
      ],
    },
    {
      source: src('VirtualService', 'ratings'),
      hosts: [fqdn('ratings')],
      attachTo: ['mesh'],
      rules: [
        {
          matches: [{ path: { kind: 'prefix', value: '/old', ignoreCase: true } }],
          action: { kind: 'redirect', uri: '/ratings', responseCode: 308 },
        },
        {
          matches: [{ path: { kind: 'exact', value: '/health' }, method: { kind: 'exact', value: 'GET' } }],
          action: { kind: 'direct', status: 200, body: 'ok' },
        },
        {
          matches: [
            {
              path: { kind: 'regex', value: '/ratings/[0-9]+' },
              headers: [{ name: 'x-debug', match: { kind: 'present' }, invert: true }],
              queryParams: [{ name: 'v', match: { kind: 'exact', value: '2' } }],
            },
          ],
          action: { kind: 'forward', destinations: [{ host: fqdn('ratings'), weight: 1 }], rewrite: { uriRegex: { match: '^/ratings', rewrite: '/r' }, authority: 'ratings.internal' } },
          timeoutMs: 2500,
          retries: { attempts: 3, perTryTimeoutMs: 500, retryOn: ['5xx', '503', 'connect-failure'] },
          requestHeaders: { set: { 'x-b': '2', 'x-a': '1' }, add: { 'x-trace': 'on' }, remove: ['x-secret'] },
          responseHeaders: { remove: ['server'] },
        },
        {
          matches: [{ port: 9999 }],
          action: { kind: 'direct', status: 404 },
        },
        {
          matches: [],
          action: { kind: 'forward', destinations: [{ host: fqdn('ratings'), port: 9080, weight: 1 }], rewrite: { uriPrefix: '/' } },
          retries: { attempts: 0, retryOn: [] },
        },
      ],
    },
  ];
  // The HTTPS server's Secret, in the gateway's namespace (the generator does not read the PEM).
  const credentials = [{ namespace: 'istio-system', name: 'bookinfo-cert', certChainPem: 'CERT PEM', keyPem: 'KEY PEM', source: { kind: 'Secret', namespace: 'istio-system', name: 'bookinfo-cert' } }];
  return { trustDomain: 'cluster.local', services, workloads, routes, gatewayServers, credentials };
}

export function workload(model: MeshModel, owner: string): Workload {
  const w = model.workloads.find((x) => x.owner === owner);
  if (!w) throw new Error(`no workload ${owner}`);
  return w;
}
