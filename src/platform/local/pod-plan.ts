// Pure planning of local pods: names, environment, command lines. No I/O.

import { createHash, randomInt } from 'node:crypto';
import type { ContainerSpec, DeploymentSpec, ServiceSpec } from '../../resources/kubernetes-types.js';
import type { Resource } from '../../resources/types.js';
import { PORTS, serviceFqdn } from '../../xds/names.js';

const ALPHANUM = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** JSON with sorted object keys, so equal templates hash equally. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .filter((k) => o[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v) ?? 'null';
}

/** 10 hex digits of the pod template's hash (Kubernetes' pod-template-hash, shortened). */
export function templateHash(template: unknown): string {
  return createHash('sha256').update(stableJson(template)).digest('hex').slice(0, 10);
}

export function randomSuffix(random: (max: number) => number = randomInt): string {
  let s = '';
  for (let i = 0; i < 5; i++) s += ALPHANUM[random(ALPHANUM.length)];
  return s;
}

/** <deploy>-<10 hex of template hash>-<5 random [a-z0-9]> */
export function podName(deployment: string, template: unknown, random?: (max: number) => number): string {
  return `${deployment}-${templateHash(template)}-${randomSuffix(random)}`;
}

/** Kubernetes' $(VAR) expansion: known names are replaced, $$ escapes, unknown references stay as written. */
export function expandVars(text: string, vars: Record<string, string>): string {
  return text.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (m: string, name: string | undefined) => {
    if (m === '$$') return '$';
    return name !== undefined && Object.prototype.hasOwnProperty.call(vars, name) ? vars[name]! : m;
  });
}

export function serviceEnvPrefix(name: string): string {
  return name.toUpperCase().replace(/-/g, '_');
}

/** <NAME>_SERVICE_HOST / _SERVICE_PORT (and _SERVICE_PORT_<PORTNAME>) for the services of one namespace. */
export function serviceEnv(services: Resource<ServiceSpec>[], namespace: string): Record<string, string> {
  const env: Record<string, string> = {};
  for (const s of services) {
    if (s.metadata.namespace !== namespace) continue;
    const first = s.spec.ports[0];
    if (!first) continue;
    const p = serviceEnvPrefix(s.metadata.name);
    env[`${p}_SERVICE_HOST`] = serviceFqdn(s.metadata.name, s.metadata.namespace);
    env[`${p}_SERVICE_PORT`] = String(first.port);
    for (const port of s.spec.ports) {
      if (port.name) env[`${p}_SERVICE_PORT_${serviceEnvPrefix(port.name)}`] = String(port.port);
    }
  }
  return env;
}

export interface PodIdentity {
  name: string;
  namespace: string;
  serviceAccount: string;
  /** P */
  address: string;
  /** A */
  appAddress: string;
}

/**
 * The environment weft sets for a pod's app (and `weft exec`), on top of the caller's own
 * environment: service variables, the pod's own, the proxy variables, then the container's
 * env in order (each may reference earlier ones with $(VAR)).
 */
export function podEnv(pod: PodIdentity, container: ContainerSpec, services: Resource<ServiceSpec>[]): Record<string, string> {
  const proxy = `http://${pod.address}:${PORTS.proxyOutbound}`;
  const noProxy = ['localhost', '127.0.0.1', pod.appAddress, pod.address].join(',');
  const env: Record<string, string> = {
    ...serviceEnv(services, pod.namespace),
    POD_IP: pod.appAddress,
    POD_NAME: pod.name,
    POD_NAMESPACE: pod.namespace,
    HTTP_PROXY: proxy,
    http_proxy: proxy,
    NO_PROXY: noProxy,
    no_proxy: noProxy,
    WEFT_POD_ADDRESS: pod.address,
  };
  for (const e of container.env ?? []) {
    const field = e.valueFrom?.fieldRef?.fieldPath;
    if (field !== undefined) {
      const v = fieldRefValue(field, pod);
      if (v !== undefined) env[e.name] = v;
      continue;
    }
    env[e.name] = expandVars(e.value ?? '', env);
  }
  return env;
}

export function fieldRefValue(fieldPath: string, pod: PodIdentity): string | undefined {
  switch (fieldPath) {
    case 'metadata.name':
      return pod.name;
    case 'metadata.namespace':
      return pod.namespace;
    case 'status.podIP':
      return pod.appAddress;
    case 'spec.serviceAccountName':
      return pod.serviceAccount;
    default:
      return undefined;
  }
}

/** command + args with $(VAR) expansion; undefined when the container has no command. */
export function containerArgv(container: ContainerSpec, env: Record<string, string>): string[] | undefined {
  const argv = [...(container.command ?? []), ...(container.args ?? [])].map((a) => expandVars(a, env));
  return argv.length > 0 ? argv : undefined;
}

/** Planned pods of one Deployment (names are random; addresses come later). */
export interface PlannedPod {
  name: string;
  namespace: string;
  deployment: string;
  serviceAccount: string;
  labels: Record<string, string>;
  container: ContainerSpec;
  /** Folder of the manifest, for relative workingDir. */
  manifestDir: string;
}

export function planDeploymentPods(d: Resource<DeploymentSpec>, manifestDir: string, random?: (max: number) => number): PlannedPod[] {
  const tpl = d.spec.template;
  const container = tpl.spec.containers[0];
  if (!container) return [];
  const replicas = d.spec.replicas ?? 1;
  const out: PlannedPod[] = [];
  const taken = new Set<string>();
  for (let i = 0; i < replicas; i++) {
    let name = podName(d.metadata.name, tpl, random);
    while (taken.has(name)) name = podName(d.metadata.name, tpl, random);
    taken.add(name);
    out.push({
      name,
      namespace: d.metadata.namespace,
      deployment: d.metadata.name,
      serviceAccount: tpl.spec.serviceAccountName ?? 'default',
      labels: { ...tpl.metadata.labels },
      container,
      manifestDir,
    });
  }
  return out;
}
