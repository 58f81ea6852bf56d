// Kubernetes core kinds (v1 Namespace, ServiceAccount, Service, Secret; apps/v1 Deployment):
// schemas, defaults and the checks the local platform depends on. Secret (TLS credentials
// for gateways) lives in kubernetes-secret.ts.

import type {
  ContainerSpec,
  DeploymentSpec,
  EnvVar,
  NamespaceSpec,
  PodTemplateSpec,
  Probe,
  ServiceAccountSpec,
  ServicePortSpec,
  ServiceSpec,
} from './kubernetes-types.js';
import type { KindDef } from './envelope.js';
import { DNS_LABEL, DNS_SUBDOMAIN } from './envelope.js';
import { secretKind } from './kubernetes-secret.js';
import {
  arr,
  childPath,
  enumOf,
  indexPath,
  int,
  intOrString,
  map,
  obj,
  required,
  str,
  unsupported,
  withDefault,
  type Schema,
} from './schema.js';

const port = () => int({ min: 1, max: 65535 });
const NOT_SCHEDULED = 'local mode runs pods as host processes; there is no scheduler';
const NO_VOLUMES = 'local mode runs containers as host processes without volumes';
const NO_LIMITS = 'local mode does not enforce container resources';
const NO_SECURITY = 'local mode runs processes as the current user';

// ---- Service

const servicePortSchema = obj<ServicePortSpec>({
  name: str({ pattern: DNS_LABEL, patternHint: 'a valid port name (lowercase letters, digits and "-")' }),
  port: required(port()),
  targetPort: intOrString(),
  protocol: enumOf(['TCP', 'UDP', 'SCTP'] as const),
  appProtocol: str(),
  nodePort: unsupported('weft does not expose node ports'),
});

export const serviceSpecSchema: Schema<ServiceSpec> = obj<ServiceSpec>({
  selector: map(str()),
  ports: required(arr(servicePortSchema, { minItems: 1 })),
  type: enumOf(['ClusterIP', 'NodePort', 'LoadBalancer', 'ExternalName'] as const),
  clusterIP: str(),
  clusterIPs: unsupported('weft addresses services by name through the sidecar'),
  externalIPs: unsupported('weft does not program external IPs'),
  externalName: unsupported('ExternalName services are not resolved yet'),
  externalTrafficPolicy: unsupported('there is no node-level load balancing in weft'),
  internalTrafficPolicy: unsupported('weft balances across all endpoints'),
  sessionAffinity: unsupported('weft load balancing has no client-IP affinity yet'),
  sessionAffinityConfig: unsupported('weft load balancing has no client-IP affinity yet'),
  loadBalancerIP: unsupported('weft does not provision load balancers'),
  loadBalancerSourceRanges: unsupported('weft does not provision load balancers'),
  loadBalancerClass: unsupported('weft does not provision load balancers'),
  allocateLoadBalancerNodePorts: unsupported('weft does not provision load balancers'),
  healthCheckNodePort: unsupported('weft does not expose node ports'),
  publishNotReadyAddresses: unsupported('weft always publishes endpoints with their health'),
  ipFamilies: unsupported('weft uses the platform address family'),
  ipFamilyPolicy: unsupported('weft uses the platform address family'),
  trafficDistribution: unsupported('weft has no topology-aware routing yet'),
});

// ---- Pod template

const fieldRefPaths = ['metadata.name', 'metadata.namespace', 'status.podIP', 'spec.serviceAccountName'];

const envVarSchema = obj<EnvVar>(
  {
    name: required(str({ nonEmpty: true })),
    value: str(),
    valueFrom: obj<NonNullable<EnvVar['valueFrom']>>({
      fieldRef: obj<{ fieldPath: string }>({
        fieldPath: required(str()),
        apiVersion: unsupported('only v1 field paths exist'),
      }),
      secretKeyRef: unsupported('Secrets serve gateways as TLS credentials; they are not passed to pods'),
      configMapKeyRef: unsupported('local mode has no ConfigMaps to read'),
      resourceFieldRef: unsupported(NO_LIMITS),
    }),
  },
  {
    check(env, v, path) {
      const fp = env.valueFrom?.fieldRef?.fieldPath;
      if (fp !== undefined && !fieldRefPaths.includes(fp)) {
        v.warn('WEFT_UNSUPPORTED_FIELD', `${path}.valueFrom.fieldRef.fieldPath`, `accepted, not acted on: only ${fieldRefPaths.join(', ')} are filled in locally`);
      }
    },
  },
);

const probeSchema = obj<Probe>(
  {
    httpGet: obj<NonNullable<Probe['httpGet']>>({
      path: str(),
      port: required(intOrString()),
      scheme: enumOf(['HTTP', 'HTTPS'] as const),
      httpHeaders: arr(obj<{ name: string; value: string }>({ name: required(str()), value: required(str()) })),
      host: unsupported('probes always target the pod address'),
    }),
    tcpSocket: obj<NonNullable<Probe['tcpSocket']>>({
      port: required(intOrString()),
      host: unsupported('probes always target the pod address'),
    }),
    exec: obj<NonNullable<Probe['exec']>>({ command: required(arr(str(), { minItems: 1 })) }),
    grpc: unsupported('gRPC health probes are not run yet'),
    initialDelaySeconds: int({ min: 0 }),
    periodSeconds: int({ min: 1 }),
    timeoutSeconds: int({ min: 1 }),
    successThreshold: int({ min: 1 }),
    failureThreshold: int({ min: 1 }),
    terminationGracePeriodSeconds: unsupported('processes get the pod grace period'),
  },
  { oneOf: { keys: ['httpGet', 'tcpSocket', 'exec'], exactlyOne: true } },
);

type ContainerPort = NonNullable<ContainerSpec['ports']>[number];

const containerSchema = obj<ContainerSpec>({
  name: required(str({ pattern: DNS_LABEL, patternHint: 'a valid container name' })),
  image: str(),
  command: required(arr(str(), { minItems: 1 }), 'to run locally: the image is not pulled'),
  args: arr(str()),
  env: arr(envVarSchema),
  workingDir: str(),
  ports: arr(
    obj<ContainerPort>({
      name: str(),
      containerPort: required(port()),
      protocol: str(),
      hostPort: unsupported('local pods already listen on host loopback addresses'),
      hostIP: unsupported('local pods already listen on host loopback addresses'),
    }),
  ),
  readinessProbe: probeSchema,
  livenessProbe: probeSchema,
  startupProbe: unsupported('startup probes are not run yet'),
  imagePullPolicy: unsupported('the image is not pulled in local mode'),
  resources: unsupported(NO_LIMITS),
  resizePolicy: unsupported(NO_LIMITS),
  securityContext: unsupported(NO_SECURITY),
  volumeMounts: unsupported(NO_VOLUMES),
  volumeDevices: unsupported(NO_VOLUMES),
  lifecycle: unsupported('lifecycle hooks are not run yet'),
  envFrom: unsupported('local mode has no ConfigMaps, and Secrets are not passed to pods'),
  terminationMessagePath: unsupported('local mode keeps logs, not termination messages'),
  terminationMessagePolicy: unsupported('local mode keeps logs, not termination messages'),
  stdin: unsupported('local processes get no stdin'),
  stdinOnce: unsupported('local processes get no stdin'),
  tty: unsupported('local processes get no tty'),
  restartPolicy: unsupported('sidecar containers are not run separately'),
});

type PodSpec = PodTemplateSpec['spec'];

const podSpecSchema = obj<PodSpec>({
  serviceAccountName: str({ pattern: DNS_SUBDOMAIN, patternHint: 'a valid service account name' }),
  containers: required(arr(containerSchema, { minItems: 1 })),
  serviceAccount: unsupported('deprecated alias; use serviceAccountName'),
  automountServiceAccountToken: unsupported('no service account tokens are mounted locally'),
  initContainers: unsupported('init containers are not run yet'),
  ephemeralContainers: unsupported('init containers are not run yet'),
  volumes: unsupported(NO_VOLUMES),
  nodeSelector: unsupported(NOT_SCHEDULED),
  nodeName: unsupported(NOT_SCHEDULED),
  affinity: unsupported(NOT_SCHEDULED),
  tolerations: unsupported(NOT_SCHEDULED),
  topologySpreadConstraints: unsupported(NOT_SCHEDULED),
  schedulerName: unsupported(NOT_SCHEDULED),
  schedulingGates: unsupported(NOT_SCHEDULED),
  priority: unsupported(NOT_SCHEDULED),
  priorityClassName: unsupported(NOT_SCHEDULED),
  preemptionPolicy: unsupported(NOT_SCHEDULED),
  runtimeClassName: unsupported(NOT_SCHEDULED),
  overhead: unsupported(NO_LIMITS),
  resourceClaims: unsupported(NO_LIMITS),
  securityContext: unsupported(NO_SECURITY),
  hostUsers: unsupported(NO_SECURITY),
  imagePullSecrets: unsupported('the image is not pulled in local mode'),
  restartPolicy: unsupported('Deployment pods always restart'),
  terminationGracePeriodSeconds: unsupported('weft stops processes with its own grace period'),
  activeDeadlineSeconds: unsupported('Deployment pods run until stopped'),
  dnsPolicy: unsupported('local processes use the host resolver'),
  dnsConfig: unsupported('local processes use the host resolver'),
  hostAliases: unsupported('local processes use the host resolver'),
  hostname: unsupported('local processes use the host name'),
  subdomain: unsupported('local processes use the host name'),
  setHostnameAsFQDN: unsupported('local processes use the host name'),
  hostNetwork: unsupported('local pods always run on host loopback addresses'),
  hostPID: unsupported('local pods are host processes'),
  hostIPC: unsupported('local pods are host processes'),
  shareProcessNamespace: unsupported('local pods are host processes'),
  enableServiceLinks: unsupported('service environment variables are not injected'),
  readinessGates: unsupported('readiness comes from probes only'),
  os: unsupported('local pods run on the host OS'),
});

const templateSchema = obj<PodTemplateSpec>({
  metadata: withDefault(
    obj<PodTemplateSpec['metadata']>({
      labels: withDefault(map(str()), () => ({})),
      annotations: withDefault(map(str()), () => ({})),
      name: unsupported('pod names are generated from the Deployment'),
      namespace: unsupported('pods run in the Deployment namespace'),
    }),
    () => ({ labels: {}, annotations: {} }),
  ),
  spec: required(podSpecSchema),
});

export const deploymentSpecSchema: Schema<DeploymentSpec> = obj<DeploymentSpec>({
  replicas: withDefault(int({ min: 0 }), () => 1),
  selector: required(
    obj<DeploymentSpec['selector']>({
      matchLabels: required(map(str())),
      matchExpressions: unsupported('only matchLabels selects pods in weft'),
    }),
  ),
  template: required(templateSchema),
  strategy: unsupported('local mode replaces pods one at a time'),
  minReadySeconds: unsupported('pods are available once ready'),
  revisionHistoryLimit: unsupported('weft keeps no rollout history'),
  progressDeadlineSeconds: unsupported('weft keeps no rollout status'),
  paused: unsupported('rollouts cannot be paused in weft'),
});

// ---- kinds

export const namespaceKind: KindDef<NamespaceSpec> = {
  kind: 'Namespace',
  apiVersions: ['v1'],
  clusterScoped: true,
  spec: obj<{ finalizers?: never }>({ finalizers: unsupported('weft does not run finalizers') }) as unknown as Schema<NamespaceSpec>,
  emptySpec: () => ({}),
  finish(res) {
    res.spec = {};
  },
};

export const serviceAccountKind: KindDef<ServiceAccountSpec> = {
  kind: 'ServiceAccount',
  apiVersions: ['v1'],
  emptySpec: () => ({}),
  extraTopLevel: {
    secrets: 'identity comes from weft certificates, not Secrets',
    imagePullSecrets: 'the image is not pulled in local mode',
    automountServiceAccountToken: 'no service account tokens are mounted locally',
  },
};

export const serviceKind: KindDef<ServiceSpec> = {
  kind: 'Service',
  apiVersions: ['v1'],
  spec: serviceSpecSchema,
  specRequired: true,
  finish(res, v) {
    res.spec.ports.forEach((p, i) => {
      const path = indexPath('spec.ports', i);
      // Kubernetes: targetPort defaults to port.
      if (p.targetPort === undefined) p.targetPort = p.port;
      if (p.protocol !== undefined && p.protocol !== 'TCP') {
        v.warn('WEFT_UNSUPPORTED_FIELD', `${path}.protocol`, `accepted, not acted on: weft carries TCP only; ${p.protocol} port ${p.port} gets no proxying`);
      }
      if (res.spec.ports.length > 1 && p.name === undefined) {
        v.error('WEFT_MISSING_FIELD', `${path}.name`, 'required field is missing: ports of a multi-port Service must be named');
      }
    });
    v.unique('spec.ports', res.spec.ports, (p) => p.port, 'port', 'port');
    if (res.spec.type !== undefined && res.spec.type !== 'ClusterIP') {
      v.warn('WEFT_UNSUPPORTED_FIELD', 'spec.type', `accepted, not acted on: ${res.spec.type} is served like ClusterIP inside the mesh`);
    }
  },
};

export const deploymentKind: KindDef<DeploymentSpec> = {
  kind: 'Deployment',
  apiVersions: ['apps/v1'],
  spec: deploymentSpecSchema,
  specRequired: true,
  finish(res, v) {
    const { matchLabels } = res.spec.selector;
    const labels = res.spec.template.metadata.labels;
    if (Object.keys(matchLabels).length === 0) {
      v.error('WEFT_INVALID_FIELD', 'spec.selector.matchLabels', 'empty selector: it must select the template labels');
    }
    for (const [k, val] of Object.entries(matchLabels)) {
      if (labels[k] !== val) {
        v.error(
          'WEFT_INVALID_FIELD',
          childPath('spec.selector.matchLabels', k),
          `selector does not match template labels: ${k}=${val} is not in spec.template.metadata.labels` +
            (labels[k] !== undefined ? ` (it has ${k}=${labels[k]})` : ''),
        );
      }
    }
    const names = new Set<string>();
    res.spec.template.spec.containers.forEach((c, i) => {
      if (names.has(c.name)) v.error('WEFT_INVALID_FIELD', `spec.template.spec.containers[${i}].name`, `duplicate container name "${c.name}"`);
      names.add(c.name);
    });
  },
};

export const kubernetesKinds = [namespaceKind, serviceAccountKind, serviceKind, deploymentKind, secretKind] as const;

