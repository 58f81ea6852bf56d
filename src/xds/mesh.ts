// Queries over the mesh model that several generator modules share: who selects
// whom, which container port a service port lands on, which hosts a pattern covers.
import type { GatewayServer, HttpRouteSet, L4RouteSet, MeshModel, PortProtocol, Service, ServicePort, Workload } from '../model/types.js';
import { serviceFqdn } from './names.js';
import { sortBy } from './envoy.js';
import { labelsMatch } from '../model/labels.js';
import { hostMatches } from '../resources/host-patterns.js';

/** Protocols that get HTTP treatment (HCM, routes); the rest are opaque TCP. */
export function isHttpProtocol(protocol: PortProtocol): boolean {
  return protocol === 'http' || protocol === 'http2' || protocol === 'grpc';
}

/** Protocols whose upstream hop must be HTTP/2. */
export function isHttp2Protocol(protocol: PortProtocol): boolean {
  return protocol === 'http2' || protocol === 'grpc';
}

/** Kubernetes label selection: an empty selector selects nothing. */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && labelsMatch(selector, labels);
}

export function serviceSelects(service: Service, workload: Workload): boolean {
  return service.namespace === workload.namespace && selects(service.selector, workload.labels);
}

/** The workloads behind a service (same namespace, labels a superset of the selector). */
export function selectedWorkloads(model: MeshModel, service: Service): Workload[] {
  return model.workloads.filter((w) => serviceSelects(service, w));
}

/** The container port a service port lands on for one workload; undefined when a named port is missing. */
export function resolveTargetPort(port: ServicePort, workload: Workload): number | undefined {
  if (typeof port.targetPort === 'number') return port.targetPort;
  return workload.ports.find((p) => p.name === port.targetPort)?.containerPort;
}

export function fqdnOf(service: Service, clusterDomain?: string): string {
  return service.hostname || serviceFqdn(service.name, service.namespace, clusterDomain);
}

export { hostMatches };

/**
 * The more specific of two host patterns when they overlap (Istio's rule for a route
 * host bound to a gateway server host), else undefined.
 */
export function intersectHosts(a: string, b: string): string | undefined {
  if (hostMatches(b, a)) return a;
  if (hostMatches(a, b)) return b;
  return undefined;
}

/**
 * The hosts a route gets on gateway servers: for each server it is attached to, the
 * narrower of each (route host, server host) pair that overlaps, in order, once each.
 */
export function boundHosts(route: { hosts: readonly string[]; attachTo: readonly string[] }, servers: readonly GatewayServer[]): string[] {
  const out: string[] = [];
  for (const server of servers) {
    if (!route.attachTo.includes(server.gateway)) continue;
    for (const routeHost of route.hosts) {
      for (const serverHost of server.hosts) {
        const d = intersectHosts(routeHost, stripNamespace(serverHost));
        if (d !== undefined && !out.includes(d)) out.push(d);
      }
    }
  }
  return out;
}

/** How specifically a pattern names a host: exact beats longer wildcards beats "*". Higher is more specific. */
export function hostSpecificity(pattern: string): number {
  if (pattern === '*') return 0;
  if (pattern.startsWith('*.')) return pattern.length;
  return Number.MAX_SAFE_INTEGER;
}

/** "ns/host" or "host" (Istio Gateway server hosts) -> host. */
export function stripNamespace(host: string): string {
  const slash = host.indexOf('/');
  return slash < 0 ? host : host.slice(slash + 1);
}

export function findService(model: MeshModel, fqdn: string, clusterDomain?: string): Service | undefined {
  return model.services.find((s) => fqdnOf(s, clusterDomain) === fqdn);
}

function routeSetKey(r: HttpRouteSet | L4RouteSet): string {
  return [r.source.namespace, r.source.name, r.source.kind, 'protocol' in r ? r.protocol : '', r.hosts.join(','), r.attachTo.join(',')].join('\u0000');
}

function serverKey(s: GatewayServer): string {
  return [s.gateway, String(s.port.number).padStart(5, '0'), s.source.namespace, s.source.name, s.hosts.join(',')].join('\u0000');
}

/**
 * The model in a canonical order, so that output does not depend on the order the
 * store or registry listed things in. Route sets are ordered by source (namespace,
 * name): that order breaks ties when several route sets cover one host. Every other
 * field is carried over as it is (the spread), so a field added to MeshModel is never
 * dropped here.
 */
export function canonicalModel(model: MeshModel): MeshModel {
  return {
    ...model,
    services: sortBy(model.services, (s) => `${s.namespace}/${s.name}`).map((s) => ({
      ...s,
      ports: [...s.ports].sort((a, b) => a.port - b.port),
    })),
    workloads: sortBy(model.workloads, (w) => `${w.namespace}/${w.name}`),
    routes: sortBy(model.routes, routeSetKey),
    gatewayServers: sortBy(model.gatewayServers, serverKey),
    ...(model.serviceHttpPolicies ? { serviceHttpPolicies: sortBy(model.serviceHttpPolicies, (p) => p.host) } : {}),
    ...(model.l4Routes ? { l4Routes: sortBy(model.l4Routes, routeSetKey) } : {}),
  };
}

/** The route sets bound to any of the given attachment points ("mesh", "<ns>/<gateway>"). */
export function attachedRouteSets(model: MeshModel, attachments: ReadonlySet<string>): HttpRouteSet[] {
  return model.routes.filter((r) => r.attachTo.some((a) => attachments.has(a)));
}

/** One upstream cluster weft emits: a service port, or a subset of it. */
export interface OutboundTarget {
  fqdn: string;
  port: number;
  subset: string;
  /** Absent when a route names a host the model does not know. */
  service?: Service;
  servicePort?: ServicePort;
}

/** A target on a service the model knows: one weft can emit a cluster and endpoints for. */
export type ServiceTarget = OutboundTarget & { service: Service; servicePort: ServicePort };

export function isServiceTarget(t: OutboundTarget): t is ServiceTarget {
  return t.service !== undefined && t.servicePort !== undefined;
}

/**
 * Where a route destination goes. A missing port is the service's only port; when the
 * service has several, the port the request came in on if the service has it, else its
 * lowest port (the model should have set one: Istio requires it then).
 */
export function resolveDestination(
  model: MeshModel,
  dest: { host: string; port?: number; subset?: string },
  contextPort: number | undefined,
  clusterDomain?: string,
): OutboundTarget {
  const service = findService(model, dest.host, clusterDomain);
  const subset = dest.subset ?? '';
  if (!service) return { fqdn: dest.host, port: dest.port ?? contextPort ?? 80, subset };
  const ports = service.ports;
  const servicePort =
    (dest.port !== undefined ? ports.find((p) => p.port === dest.port) : undefined) ??
    (dest.port === undefined && ports.length === 1 ? ports[0] : undefined) ??
    (dest.port === undefined ? ports.find((p) => p.port === contextPort) ?? ports[0] : undefined);
  const port = dest.port ?? servicePort?.port ?? contextPort ?? 80;
  return { fqdn: fqdnOf(service, clusterDomain), port, subset, service, servicePort };
}
