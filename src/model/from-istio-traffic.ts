// Istio DestinationRule + ServiceEntry and weft's MeshConfig -> the model: ServiceEntry
// hosts become Services marked `external`; each DestinationRule becomes the
// `destinationPolicy` of the services its host covers, merged per (port, subset) in
// Istio's order; the mesh-wide outbound traffic policy becomes a model field.

import type { Finding, Resource } from '../resources/types.js';
import type {
  ConnectionPoolSettings,
  DestinationRuleSpec,
  DestinationTrafficPolicy,
  LoadBalancerSettings,
  OutlierDetection,
  PortTrafficPolicy,
} from '../resources/istio-destinationrule.js';
import type { MeshConfigSpec, ServiceEntryPort, ServiceEntrySpec } from '../resources/istio-serviceentry.js';
import { WEFT_CONFIG_VERSIONS } from '../resources/istio-serviceentry.js';
import type { VirtualServiceSpec } from '../resources/istio-networking.js';
import { ISTIO_NETWORKING_VERSIONS } from '../resources/istio-networking.js';
import { parseDuration } from '../resources/duration.js';
import { expandHost, type HostContext } from './hosts.js';
import { findingFor, isOf, sourceOf } from './source.js';
import type {
  ClusterPolicy,
  ConnectionPoolPolicy,
  DestinationPolicy,
  ExternalEndpoint,
  LoadBalancerPolicy,
  MeshModel,
  OutlierDetectionPolicy,
  PortProtocol,
  Service,
  TrafficPolicy,
} from './types.js';

const ms = (d: string | undefined, path: string): number | undefined => (d === undefined ? undefined : parseDuration(d, path));

// ---- ServiceEntry

const SE_PROTOCOLS: Record<NonNullable<ServiceEntryPort['protocol']>, PortProtocol> = {
  HTTP: 'http',
  HTTPS: 'https',
  GRPC: 'grpc',
  HTTP2: 'http2',
  MONGO: 'tcp',
  TCP: 'tcp',
  TLS: 'tls',
};

/** NONE sends to the address asked for (no endpoints); DNS without endpoints resolves the host itself. */
function externalEndpoints(spec: ServiceEntrySpec, host: string): ExternalEndpoint[] {
  if (spec.resolution === 'NONE') return [];
  if (spec.endpoints?.length) {
    return spec.endpoints.map((e) => ({ address: e.address!, ports: { ...e.ports }, labels: { ...e.labels }, ...(e.weight !== undefined ? { weight: e.weight } : {}) }));
  }
  return spec.resolution === 'STATIC' || host.includes('*') ? [] : [{ address: host, ports: {}, labels: {} }];
}

/** One Service per ServiceEntry host; a host already known (a Kubernetes Service, an earlier entry) is reported and skipped. */
export function servicesFromServiceEntry(r: Resource<ServiceEntrySpec>, known: ReadonlySet<string>, findings: Finding[]): Service[] {
  const spec = r.spec;
  const out: Service[] = [];
  spec.hosts.forEach((host, i) => {
    if (known.has(host)) {
      findings.push(findingFor(r, 'warning', 'WEFT_HOST_CONFLICT', `spec.hosts[${i}]`, `host "${host}" is already declared by a Service or an earlier ServiceEntry, which takes precedence`));
      return;
    }
    out.push({
      name: host,
      namespace: r.metadata.namespace,
      hostname: host,
      ports: spec.ports.map((p) => ({ name: p.name, port: p.number, targetPort: p.targetPort ?? p.number, protocol: SE_PROTOCOLS[p.protocol ?? 'TCP'] })),
      selector: {},
      labels: { ...r.metadata.labels },
      source: sourceOf(r),
      external: {
        location: spec.location,
        resolution: spec.resolution,
        addresses: [...(spec.addresses ?? [])],
        endpoints: externalEndpoints(spec, host),
      },
    });
  });
  return out;
}

// ---- DestinationRule: written policy -> model policy

function loadBalancer(lb: LoadBalancerSettings, path: string): LoadBalancerPolicy {
  const h = lb.consistentHash;
  if (h) {
    const key: NonNullable<LoadBalancerPolicy['consistentHash']>['key'] =
      h.httpHeaderName !== undefined
        ? { kind: 'header', name: h.httpHeaderName.toLowerCase() }
        : h.httpCookie
          ? {
              kind: 'cookie',
              name: h.httpCookie.name,
              ...(h.httpCookie.path !== undefined ? { path: h.httpCookie.path } : {}),
              ...(h.httpCookie.ttl !== undefined ? { ttlMs: parseDuration(h.httpCookie.ttl, `${path}.consistentHash.httpCookie.ttl`) } : {}),
            }
          : h.httpQueryParameterName !== undefined
            ? { kind: 'queryParameter', name: h.httpQueryParameterName }
            : { kind: 'sourceIp' };
    const ringSize = h.ringHash?.minimumRingSize ?? h.minimumRingSize;
    const algorithm: NonNullable<LoadBalancerPolicy['consistentHash']>['algorithm'] = h.maglev
      ? { kind: 'maglev', ...(h.maglev.tableSize !== undefined ? { tableSize: h.maglev.tableSize } : {}) }
      : { kind: 'ringHash', ...(ringSize !== undefined ? { minimumRingSize: ringSize } : {}) };
    return { consistentHash: { key, algorithm } };
  }
  switch (lb.simple) {
    case undefined:
    case 'UNSPECIFIED':
      return {};
    // Istio: LEAST_CONN is the deprecated name of LEAST_REQUEST.
    case 'LEAST_CONN':
      return { simple: 'LEAST_REQUEST' };
    default:
      return { simple: lb.simple };
  }
}

function connectionPool(p: ConnectionPoolSettings, path: string): ConnectionPoolPolicy {
  const out: ConnectionPoolPolicy = {};
  if (p.tcp) {
    const t = p.tcp;
    const connectTimeoutMs = ms(t.connectTimeout, `${path}.tcp.connectTimeout`);
    const k = t.tcpKeepalive;
    const timeMs = ms(k?.time, `${path}.tcp.tcpKeepalive.time`);
    const intervalMs = ms(k?.interval, `${path}.tcp.tcpKeepalive.interval`);
    out.tcp = {
      ...(t.maxConnections !== undefined ? { maxConnections: t.maxConnections } : {}),
      ...(connectTimeoutMs !== undefined ? { connectTimeoutMs } : {}),
      ...(k
        ? {
            tcpKeepalive: {
              ...(k.probes !== undefined ? { probes: k.probes } : {}),
              ...(timeMs !== undefined ? { timeMs } : {}),
              ...(intervalMs !== undefined ? { intervalMs } : {}),
            },
          }
        : {}),
    };
  }
  if (p.http) {
    const { idleTimeout, ...rest } = p.http;
    const idleTimeoutMs = ms(idleTimeout, `${path}.http.idleTimeout`);
    out.http = { ...rest, ...(idleTimeoutMs !== undefined ? { idleTimeoutMs } : {}) };
  }
  return out;
}

function outlier(o: OutlierDetection, path: string): OutlierDetectionPolicy {
  const { interval, baseEjectionTime, ...rest } = o;
  const intervalMs = ms(interval, `${path}.interval`);
  const baseEjectionTimeMs = ms(baseEjectionTime, `${path}.baseEjectionTime`);
  return { ...rest, ...(intervalMs !== undefined ? { intervalMs } : {}), ...(baseEjectionTimeMs !== undefined ? { baseEjectionTimeMs } : {}) };
}

/** The four policy fields of a written policy (top level, subset or port level). */
function policyOf(p: Omit<DestinationTrafficPolicy, 'portLevelSettings'> | PortTrafficPolicy, path: string): TrafficPolicy {
  const out: TrafficPolicy = {};
  if (p.loadBalancer) out.loadBalancer = loadBalancer(p.loadBalancer, `${path}.loadBalancer`);
  if (p.connectionPool) out.connectionPool = connectionPool(p.connectionPool, `${path}.connectionPool`);
  if (p.outlierDetection) out.outlierDetection = outlier(p.outlierDetection, `${path}.outlierDetection`);
  // The path only where a finding may need it (a credentialName Secret that does not resolve).
  if (p.tls) out.tls = { ...p.tls, ...(p.tls.subjectAltNames ? { subjectAltNames: [...p.tls.subjectAltNames] } : {}), ...(p.tls.credentialName !== undefined ? { path: `${path}.tls` } : {}) };
  return out;
}

/**
 * One written policy for one port. Istio: port-level settings for the port replace all
 * four fields, even those they leave unset ("port level policies do not inherit").
 */
function forPort(p: DestinationTrafficPolicy | undefined, port: number, path: string): TrafficPolicy | undefined {
  if (!p) return undefined;
  const i = p.portLevelSettings?.findIndex((s) => s.port.number === port) ?? -1;
  if (i >= 0) return policyOf(p.portLevelSettings![i]!, `${path}.portLevelSettings[${i}]`);
  return policyOf(p, path);
}

/**
 * Istio's MergeTrafficPolicy: the top-level policy for the port, then each field the
 * subset sets replaces the top-level one, then the subset's own port-level settings for
 * the port replace all four fields.
 */
export function mergeTrafficPolicy(spec: DestinationRuleSpec, port: number, subsetIndex?: number): TrafficPolicy {
  const top = forPort(spec.trafficPolicy, port, 'spec.trafficPolicy') ?? {};
  if (subsetIndex === undefined) return top;
  const sp = spec.subsets?.[subsetIndex]?.trafficPolicy;
  if (!sp) return top;
  const path = `spec.subsets[${subsetIndex}].trafficPolicy`;
  const portIndex = sp.portLevelSettings?.findIndex((s) => s.port.number === port) ?? -1;
  if (portIndex >= 0) return policyOf(sp.portLevelSettings![portIndex]!, `${path}.portLevelSettings[${portIndex}]`);
  return { ...top, ...policyOf(sp, path) };
}

function clusterPolicy(port: number, subset: string, p: TrafficPolicy): ClusterPolicy {
  return { port, subset, ...p };
}

/** The DestinationRule's policy for one service: every (port, subset) pair. */
export function destinationPolicyFor(r: Resource<DestinationRuleSpec>, service: Service): DestinationPolicy {
  const subsets = (r.spec.subsets ?? []).map((s) => ({ name: s.name, labels: { ...s.labels } }));
  const clusters: ClusterPolicy[] = [];
  for (const sp of service.ports) {
    clusters.push(clusterPolicy(sp.port, '', mergeTrafficPolicy(r.spec, sp.port)));
    subsets.forEach((s, i) => clusters.push(clusterPolicy(sp.port, s.name, mergeTrafficPolicy(r.spec, sp.port, i))));
  }
  return { source: sourceOf(r), subsets, clusters };
}

/** Every written policy of a rule with its path: top level, its ports, each subset and its ports. */
function writtenPolicies(spec: DestinationRuleSpec): { path: string; p: Omit<DestinationTrafficPolicy, 'portLevelSettings'> }[] {
  const out: { path: string; p: Omit<DestinationTrafficPolicy, 'portLevelSettings'> }[] = [];
  const add = (tp: DestinationTrafficPolicy | undefined, path: string) => {
    if (!tp) return;
    out.push({ path, p: tp });
    tp.portLevelSettings?.forEach((s, i) => out.push({ path: `${path}.portLevelSettings[${i}]`, p: s }));
  };
  add(spec.trafficPolicy, 'spec.trafficPolicy');
  spec.subsets?.forEach((s, i) => add(s.trafficPolicy, `spec.subsets[${i}].trafficPolicy`));
  return out;
}

/**
 * SIMPLE/MUTUAL without credentialName: weft has no CA to verify the server with (it
 * does not read system roots yet) and, for MUTUAL, no client certificate. Said plainly.
 */
function checkTls(r: Resource<DestinationRuleSpec>, findings: Finding[]): void {
  for (const { path, p } of writtenPolicies(r.spec)) {
    const tls = p.tls;
    if (!tls || (tls.mode !== 'SIMPLE' && tls.mode !== 'MUTUAL') || tls.credentialName !== undefined) continue;
    // Asked for: SIMPLE without verification.
    if (tls.mode === 'SIMPLE' && tls.insecureSkipVerify) continue;
    const what = tls.mode === 'MUTUAL' ? 'no client certificate is sent and the server is not verified' : 'the server certificate is not verified';
    const sans = tls.subjectAltNames ? '; subjectAltNames are not checked' : '';
    findings.push(
      findingFor(r, 'warning', 'WEFT_TLS_UNVERIFIED', `${path}.tls`, `no credentialName: ${what} (weft verifies only against a credentialName Secret's CA, not system roots)${sans}`),
    );
  }
}

/** Host pattern of a DestinationRule covering a service hostname ("*" and "*.suffix" wildcards). */
function covers(pattern: string, host: string): boolean {
  if (pattern === '*') return true;
  if (pattern.startsWith('*.')) return host.endsWith(pattern.slice(1)) && host.length > pattern.length - 1;
  return pattern === host;
}

const specificity = (pattern: string): number => (pattern === '*' ? 0 : pattern.startsWith('*.') ? pattern.length : Number.MAX_SAFE_INTEGER);

/**
 * Attaches DestinationRules to services. For each service the most specific host wins
 * (exact, then the longest wildcard), then a rule in the service's own namespace, then
 * input order; a rule that loses for a service is reported (WEFT_POLICY_CONFLICT).
 */
export function applyDestinationRules(rules: Resource<DestinationRuleSpec>[], services: Service[], hosts: HostContext, findings: Finding[]): void {
  const expanded = rules.map((r) => ({ r, host: expandHost(r.spec.host, r.metadata.namespace, hosts) }));
  for (const { r, host } of expanded) {
    checkTls(r, findings);
    if (!services.some((s) => covers(host, s.hostname))) {
      findings.push(findingFor(r, 'warning', 'WEFT_UNKNOWN_HOST', 'spec.host', `host "${r.spec.host}" (${host}) matches no Service or ServiceEntry; the rule applies once one exists`));
    }
  }
  for (const service of services) {
    const candidates = expanded
      .map((c, i) => ({ ...c, i }))
      .filter((c) => covers(c.host, service.hostname))
      .sort((a, b) => specificity(b.host) - specificity(a.host) || Number(b.r.metadata.namespace === service.namespace) - Number(a.r.metadata.namespace === service.namespace) || a.i - b.i);
    const [winner, ...losers] = candidates;
    if (!winner) continue;
    service.destinationPolicy = destinationPolicyFor(winner.r, service);
    for (const l of losers) {
      findings.push(
        findingFor(l.r, 'warning', 'WEFT_POLICY_CONFLICT', 'spec.host', `for ${service.hostname}, DestinationRule ${winner.r.metadata.namespace}/${winner.r.metadata.name} takes precedence; this rule is not applied there`),
      );
    }
  }
}

/** Route destinations naming a subset no DestinationRule defines: Istio answers them 503 (NC); weft does the same and says why. */
export function checkSubsets(virtualServices: Resource<VirtualServiceSpec>[], services: readonly Service[], hosts: HostContext, findings: Finding[]): void {
  const byHost = new Map(services.map((s) => [s.hostname, s]));
  for (const r of virtualServices) {
    const sections = [
      ['http', r.spec.http],
      ['tcp', r.spec.tcp],
      ['tls', r.spec.tls],
    ] as const;
    for (const [section, rules] of sections) rules?.forEach((h, i) =>
      h.route?.forEach((d, j) => {
        const subset = d.destination.subset;
        if (subset === undefined) return;
        const service = byHost.get(expandHost(d.destination.host, r.metadata.namespace, hosts));
        // An unknown host is reported by the route translation already.
        if (!service || service.destinationPolicy?.subsets.some((s) => s.name === subset)) return;
        findings.push(
          findingFor(
            r,
            'warning',
            'WEFT_UNKNOWN_SUBSET',
            `spec.${section}[${i}].route[${j}].destination.subset`,
            `VirtualService ${r.metadata.namespace}/${r.metadata.name}: subset "${subset}" of ${service.hostname} is defined by no DestinationRule; ${section === 'http' ? 'the route answers 503 (no healthy upstream)' : 'connections routed there are closed'} until one is`,
          ),
        );
      }),
    );
  }
}

// ---- entry

/**
 * Everything of this module in one step, after Kubernetes Services are in the model and
 * before routes are translated (so routes see ServiceEntry hosts as known).
 */
export function applyIstioTraffic(resources: readonly Resource[], model: MeshModel, hosts: HostContext, findings: Finding[]): void {
  const known = new Set(model.services.map((s) => s.hostname));
  for (const r of resources) {
    if (!isOf(r, 'ServiceEntry', ISTIO_NETWORKING_VERSIONS)) continue;
    for (const s of servicesFromServiceEntry(r as Resource<ServiceEntrySpec>, known, findings)) {
      known.add(s.hostname);
      model.services.push(s);
    }
  }
  const rules = resources.filter((r) => isOf(r, 'DestinationRule', ISTIO_NETWORKING_VERSIONS)) as Resource<DestinationRuleSpec>[];
  applyDestinationRules(rules, model.services, hosts, findings);
  checkSubsets(resources.filter((r) => isOf(r, 'VirtualService', ISTIO_NETWORKING_VERSIONS)) as Resource<VirtualServiceSpec>[], model.services, hosts, findings);

  const configs = resources.filter((r) => isOf(r, 'MeshConfig', WEFT_CONFIG_VERSIONS)) as Resource<MeshConfigSpec>[];
  model.outboundTrafficPolicy = configs[0]?.spec.outboundTrafficPolicy.mode ?? 'ALLOW_ANY';
  for (const extra of configs.slice(1)) {
    findings.push(findingFor(extra, 'warning', 'WEFT_POLICY_CONFLICT', 'spec', `MeshConfig ${configs[0]!.metadata.name} takes precedence; there is one mesh-wide config`));
  }
}
