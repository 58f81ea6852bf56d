// Kind names as users type them (kubectl habits): "vs", "virtualservices", "VirtualService",
// and "<any of those>.<group>" ("gw.networking.istio.io", "gateways.gateway.networking.k8s.io")
// to pick one API group where two share a kind name (Gateway, HTTPRoute).
// The kinds are the parser's registry, so every kind weft accepts can be listed.

import { KINDS } from '../resources/registry.js';
import { apiGroup } from '../resources/types.js';
import { CliError } from './output.js';

/** Short names on top of each kind's name and plural (kubectl's, Istio's, SMI's, Linkerd's). */
const SHORT_NAMES: Record<string, string[]> = {
  Service: ['svc'],
  Deployment: ['deploy'],
  Namespace: ['ns'],
  ServiceAccount: ['sa'],
  VirtualService: ['vs'],
  DestinationRule: ['dr'],
  Gateway: ['gw'],
  ServiceEntry: ['se'],
  GatewayClass: ['gc'],
  ServiceProfile: ['sp'],
  TrafficSplit: ['ts'],
  AuthorizationPolicy: ['ap'],
};

interface KindName {
  kind: string;
  groups: Set<string>;
  /** Every definition of the kind is cluster-scoped (Namespace, MeshConfig). */
  clusterScoped: boolean;
}

function plural(kind: string): string {
  const k = kind.toLowerCase();
  if (/[^aeiou]y$/.test(k)) return `${k.slice(0, -1)}ies`;
  return k.endsWith('s') ? `${k}es` : `${k}s`;
}

const BY_KIND = new Map<string, KindName>();
for (const def of KINDS) {
  const k = BY_KIND.get(def.kind) ?? { kind: def.kind, groups: new Set<string>(), clusterScoped: true };
  for (const v of def.apiVersions) k.groups.add(apiGroup(v));
  k.clusterScoped &&= def.clusterScoped === true;
  BY_KIND.set(def.kind, k);
}
const INDEX = new Map<string, KindName>();
for (const k of BY_KIND.values()) {
  for (const name of [k.kind.toLowerCase(), plural(k.kind), ...(SHORT_NAMES[k.kind] ?? [])]) INDEX.set(name, k);
}

export interface ResolvedKind {
  /** What the control plane's API takes: `Kind`, or `Kind.group` when a group was named. */
  kind: string;
  clusterScoped: boolean;
}

/** The kind a name means, or undefined when weft accepts no such kind. */
export function resolveKind(input: string): ResolvedKind | undefined {
  const name = input.toLowerCase();
  const whole = INDEX.get(name);
  if (whole) return { kind: whole.kind, clusterScoped: whole.clusterScoped };
  const dot = name.indexOf('.');
  const k = dot > 0 ? INDEX.get(name.slice(0, dot)) : undefined;
  const group = name.slice(dot + 1);
  if (!k || group === '' || !k.groups.has(group)) return undefined;
  return { kind: `${k.kind}.${group}`, clusterScoped: k.clusterScoped };
}

/** The error for a kind name weft does not accept. */
export function unknownKind(input: string): CliError {
  return new CliError('WEFT_ERR_UNKNOWN_KIND', `unknown kind "${input}"; weft accepts: pods, ${[...BY_KIND.keys()].join(', ')}`);
}

/** "pods"/"workloads" are the registry, not stored resources. */
export function isWorkloadKind(input: string): boolean {
  return ['pod', 'pods', 'po', 'workload', 'workloads'].includes(input.toLowerCase());
}
