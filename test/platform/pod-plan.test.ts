import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ContainerSpec, DeploymentSpec, ServiceSpec } from '../../src/resources/kubernetes-types.js';
import type { Resource } from '../../src/resources/types.js';
import { containerArgv, expandVars, planDeploymentPods, podEnv, podName, serviceEnv, templateHash } from '../../src/platform/local/pod-plan.js';
import { exposedUrls, ingressServiceYaml } from '../../src/platform/local/ingress.js';
import { egressServiceYaml } from '../../src/platform/local/egress.js';
import { parse } from 'yaml';

const meta = (name: string, namespace = 'default') => ({ name, namespace, labels: {}, annotations: {} });
const svc = (name: string, ports: ServiceSpec['ports'], namespace = 'default'): Resource<ServiceSpec> => ({ apiVersion: 'v1', kind: 'Service', metadata: meta(name, namespace), spec: { ports } });

test('$(VAR) expansion follows Kubernetes: known names, $$ escapes, unknown stay', () => {
  const vars = { A: 'x', B_C: 'y' };
  assert.equal(expandVars('$(A)-$(B_C)', vars), 'x-y');
  assert.equal(expandVars('$(MISSING)', vars), '$(MISSING)');
  assert.equal(expandVars('$$(A)', vars), '$(A)');
  assert.equal(expandVars('cost $5', vars), 'cost $5');
});

test('pod names: <deploy>-<10 hex template hash>-<5 [a-z0-9]>, stable hash', () => {
  const tpl = { metadata: { labels: { app: 'r' }, annotations: {} }, spec: { containers: [{ name: 'c' }] } };
  const n = podName('reviews-v1', tpl);
  assert.match(n, /^reviews-v1-[0-9a-f]{10}-[a-z0-9]{5}$/);
  assert.equal(templateHash(tpl), templateHash({ spec: { containers: [{ name: 'c' }] }, metadata: { annotations: {}, labels: { app: 'r' } } }));
  assert.notEqual(templateHash(tpl), templateHash({ ...tpl, metadata: { labels: { app: 's' }, annotations: {} } }));
});

test('service env: upper-case, dashes to underscores, FQDN host, first port, named ports; own namespace only', () => {
  const env = serviceEnv([svc('reviews-v2', [{ name: 'http', port: 9080 }, { name: 'grpc-x', port: 9090 }]), svc('other', [{ port: 1 }], 'elsewhere')], 'default');
  assert.deepEqual(env, {
    REVIEWS_V2_SERVICE_HOST: 'reviews-v2.default.svc.cluster.local',
    REVIEWS_V2_SERVICE_PORT: '9080',
    REVIEWS_V2_SERVICE_PORT_HTTP: '9080',
    REVIEWS_V2_SERVICE_PORT_GRPC_X: '9090',
  });
});

test('pod env: proxy variables, pod fields, fieldRefs, container env with expansion', () => {
  const container: ContainerSpec = {
    name: 'app',
    command: ['node', 'server.js', '$(PORT)'],
    args: ['--host=$(POD_IP)'],
    env: [
      { name: 'PORT', value: '9080' },
      { name: 'URL', value: 'http://$(DETAILS_SERVICE_HOST):$(DETAILS_SERVICE_PORT)' },
      { name: 'ME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'NS', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      { name: 'IP', valueFrom: { fieldRef: { fieldPath: 'status.podIP' } } },
    ],
  };
  const pod = { name: 'p-1', namespace: 'default', serviceAccount: 'sa', address: '127.9.1.1', appAddress: '127.9.101.1' };
  const env = podEnv(pod, container, [svc('details', [{ port: 9080 }])]);
  assert.equal(env.HTTP_PROXY, 'http://127.9.1.1:15001');
  assert.equal(env.http_proxy, 'http://127.9.1.1:15001');
  assert.equal(env.NO_PROXY, 'localhost,127.0.0.1,127.9.101.1,127.9.1.1');
  assert.equal(env.no_proxy, env.NO_PROXY);
  assert.equal(env.POD_IP, '127.9.101.1');
  assert.equal(env.POD_NAME, 'p-1');
  assert.equal(env.POD_NAMESPACE, 'default');
  assert.equal(env.WEFT_POD_ADDRESS, '127.9.1.1');
  assert.equal(env.URL, 'http://details.default.svc.cluster.local:9080');
  assert.equal(env.ME, 'p-1');
  assert.equal(env.NS, 'default');
  assert.equal(env.IP, '127.9.101.1');
  assert.deepEqual(containerArgv(container, env), ['node', 'server.js', '9080', '--host=127.9.101.1']);
  assert.equal(containerArgv({ name: 'x' }, env), undefined);
});

test('planDeploymentPods: replicas, service account default, labels copied', () => {
  const d: Resource<DeploymentSpec> = {
    apiVersion: 'apps/v1',
    kind: 'Deployment',
    metadata: meta('web'),
    spec: { replicas: 3, selector: { matchLabels: { app: 'web' } }, template: { metadata: { labels: { app: 'web' }, annotations: {} }, spec: { containers: [{ name: 'c', command: ['true'] }] } } },
  };
  const pods = planDeploymentPods(d, '/x');
  assert.equal(pods.length, 3);
  assert.equal(new Set(pods.map((p) => p.name)).size, 3);
  for (const p of pods) {
    assert.equal(p.serviceAccount, 'default');
    assert.deepEqual(p.labels, { app: 'web' });
    assert.equal(p.manifestDir, '/x');
  }
});

test('ingress Service: istio labels and selector, http2 80 and https 443 to the host ports', () => {
  const s = parse(ingressServiceYaml(18080, 18443)) as { metadata: { name: string; namespace: string; labels: Record<string, string> }; spec: { selector: Record<string, string>; ports: { name: string; port: number; targetPort: number }[] } };
  assert.equal(s.metadata.name, 'istio-ingressgateway');
  assert.equal(s.metadata.namespace, 'istio-system');
  assert.deepEqual(s.spec.selector, { istio: 'ingressgateway', app: 'istio-ingressgateway' });
  assert.deepEqual(s.spec.ports.map((p) => [p.name, p.port, p.targetPort]), [['http2', 80, 18080], ['https', 443, 18443]]);
});

test('egress Service: istio labels and selector, http2 80 and https 443 to 8080 and 8443 (Istio\'s unprivileged ports), not exposed on the host', () => {
  const s = parse(egressServiceYaml()) as { metadata: { name: string; namespace: string }; spec: { type: string; selector: Record<string, string>; ports: { name: string; port: number; targetPort: number }[] } };
  assert.equal(s.metadata.name, 'istio-egressgateway');
  assert.equal(s.metadata.namespace, 'istio-system');
  assert.equal(s.spec.type, 'ClusterIP');
  assert.deepEqual(s.spec.selector, { istio: 'egressgateway', app: 'istio-egressgateway' });
  assert.deepEqual(s.spec.ports.map((p) => [p.name, p.port, p.targetPort]), [['http2', 80, 8080], ['https', 443, 8443]]);
});

test('exposedUrls: bookinfo-like VirtualService on a Gateway yields the product page first', () => {
  const gw: Resource = { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: meta('bookinfo-gateway'), spec: {} };
  const vs: Resource = {
    apiVersion: 'networking.istio.io/v1',
    kind: 'VirtualService',
    metadata: meta('bookinfo'),
    spec: { gateways: ['bookinfo-gateway'], hosts: ['*'], http: [{ match: [{ uri: { exact: '/login' } }, { uri: { exact: '/productpage' } }, { uri: { prefix: '/static' } }] }] },
  };
  const meshOnly: Resource = { apiVersion: 'networking.istio.io/v1', kind: 'VirtualService', metadata: meta('r'), spec: { hosts: ['r'], http: [{ match: [{ uri: { exact: '/x' } }] }] } };
  assert.deepEqual(exposedUrls([gw, vs, meshOnly], 'http://127.0.0.1:8080'), ['http://127.0.0.1:8080/productpage', 'http://127.0.0.1:8080/login', 'http://127.0.0.1:8080/static']);
  assert.deepEqual(exposedUrls([meshOnly], 'http://127.0.0.1:8080'), []);
});
