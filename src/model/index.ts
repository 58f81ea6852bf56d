// Public entry of src/model: every accepted dialect -> one MeshModel, with findings.
// Precedence between resources is decided here, in one place.

import type { Finding, Resource } from '../resources/types.js';
import type { ServiceSpec } from '../resources/kubernetes-types.js';
import type { GatewaySpec, VirtualServiceSpec } from '../resources/istio-networking.js';
import { ISTIO_NETWORKING_VERSIONS } from '../resources/istio-networking.js';
import { DEFAULT_TRUST_DOMAIN } from '../xds/names.js';
import { serviceFromKubernetes } from './from-kubernetes.js';
import { gatewayServersFromIstio, l4RoutesFromIstio, routesFromIstio } from './from-istio.js';
import { applyIstioTraffic } from './from-istio-traffic.js';
import type { HostContext } from './hosts.js';
import type { GatewayApiGatewaySpec, GrpcRouteSpec, HttpRouteSpec } from '../resources/gateway-api.js';
import { GATEWAY_API_VERSIONS, GRPC_ROUTE_VERSIONS } from '../resources/gateway-api.js';
import type { ServiceProfileSpec } from '../resources/linkerd.js';
import { SERVICE_PROFILE_VERSIONS } from '../resources/linkerd.js';
import type { HttpRouteGroupSpec, TrafficSplitSpec } from '../resources/smi.js';
import { SMI_SPECS_VERSIONS, TRAFFIC_SPLIT_VERSIONS } from '../resources/smi.js';
import { gatewayServersFromGatewayApi, routesFromGrpcRoute, routesFromHttpRoute } from './from-gateway-api.js';
import { fromServiceProfile } from './from-linkerd.js';
import { routesFromTrafficSplit } from './from-smi.js';
import { applyL4Precedence, applyPrecedence } from './precedence.js';
import { clientCredentialFindings, credentialFindings, credentialsFromSecrets } from './credentials.js';
import { isOf } from './source.js';
import type { L4RouteSet, MeshModel, PortProtocol, ServiceHttpPolicy, Workload } from './types.js';

export { protocolOfPort } from './protocol.js';
export { expandHost, gatewayRef, type HostContext } from './hosts.js';
export * from './types.js';
export { resolveServerCredential, resolveClientCredential, usesCredential, usesClientCredential, MISSING_CREDENTIAL, CREDENTIAL_CLASH, type ServerCredential, type ClientCredential } from './credentials.js';

export interface BuildModelOptions {
  /** SPIFFE trust domain (default cluster.local). */
  trustDomain?: string;
  /** DNS suffix of service FQDNs (default cluster.local). */
  clusterDomain?: string;
}

export const DEFAULT_CLUSTER_DOMAIN = 'cluster.local';

const CORE_VERSIONS = ['v1'] as const;

/** Resources (already validated by src/resources) + workloads from the platform -> the mesh model. */
export function buildModel(resources: Resource[], workloads: Workload[], opts: BuildModelOptions = {}): { model: MeshModel; findings: Finding[] } {
  const clusterDomain = opts.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN;
  const findings: Finding[] = [];
  const model: MeshModel = { trustDomain: opts.trustDomain ?? DEFAULT_TRUST_DOMAIN, services: [], workloads: [...workloads], routes: [], gatewayServers: [] };

  const namespaces = new Set<string>(['default']);
  for (const r of resources) {
    if (isOf(r, 'Namespace', CORE_VERSIONS)) namespaces.add(r.metadata.name);
    else if (r.metadata.namespace) namespaces.add(r.metadata.namespace);
  }
  for (const w of workloads) namespaces.add(w.namespace);
  const hosts: HostContext = { clusterDomain, namespaces };

  for (const r of resources) {
    if (isOf(r, 'Service', CORE_VERSIONS)) model.services.push(serviceFromKubernetes(r as Resource<ServiceSpec>, clusterDomain, findings));
  }
  applyIstioTraffic(resources, model, hosts, findings);
  const gateways = new Set<string>();
  for (const r of resources) {
    if (!isOf(r, 'Gateway', ISTIO_NETWORKING_VERSIONS)) continue;
    gateways.add(`${r.metadata.namespace}/${r.metadata.name}`);
    model.gatewayServers.push(...gatewayServersFromIstio(r as Resource<GatewaySpec>, findings));
  }
  const serviceHosts = new Set(model.services.map((s) => s.hostname));
  const serviceProtocols = new Map<string, PortProtocol[]>(model.services.map((s) => [s.hostname, s.ports.map((p) => p.protocol)]));
  const ctx = { hosts, serviceHosts, gateways, findings };
  const l4: L4RouteSet[] = [];
  for (const r of resources) {
    if (!isOf(r, 'VirtualService', ISTIO_NETWORKING_VERSIONS)) continue;
    model.routes.push(...routesFromIstio(r as Resource<VirtualServiceSpec>, ctx));
    l4.push(...l4RoutesFromIstio(r as Resource<VirtualServiceSpec>, { ...ctx, serviceProtocols }));
  }
  const l4Routes = applyL4Precedence(l4, findings);
  if (l4Routes.length) model.l4Routes = l4Routes;
  const policies = addDialectRoutes(resources, model, ctx);
  const credentials = credentialsFromSecrets(resources);
  if (credentials.length) model.credentials = credentials;
  findings.push(...credentialFindings(model), ...clientCredentialFindings(model));
  // One precedence rule across dialects (src/model/precedence.ts), after every translator.
  const decided = applyPrecedence(model.routes, policies, findings);
  model.routes = decided.routes;
  if (decided.policies.length) model.serviceHttpPolicies = decided.policies;
  return { model, findings };
}

/** Gateway API, SMI and Linkerd resources -> gateway servers and route sets; returns per-service policies. */
function addDialectRoutes(
  resources: Resource[],
  model: MeshModel,
  ctx: { hosts: HostContext; serviceHosts: ReadonlySet<string>; gateways: ReadonlySet<string>; findings: Finding[] },
): ServiceHttpPolicy[] {
  const { findings } = ctx;
  const apiGateways = new Map<string, Resource<GatewayApiGatewaySpec>>();
  const routeGroups = new Map<string, Resource<HttpRouteGroupSpec>>();
  for (const r of resources) {
    const key = `${r.metadata.namespace}/${r.metadata.name}`;
    if (isOf(r, 'Gateway', GATEWAY_API_VERSIONS)) {
      apiGateways.set(key, r as Resource<GatewayApiGatewaySpec>);
      model.gatewayServers.push(...gatewayServersFromGatewayApi(r as Resource<GatewayApiGatewaySpec>, model.workloads, findings));
    } else if (isOf(r, 'HTTPRouteGroup', SMI_SPECS_VERSIONS)) routeGroups.set(key, r as Resource<HttpRouteGroupSpec>);
  }
  const gwCtx = { hosts: ctx.hosts, serviceHosts: ctx.serviceHosts, gateways: apiGateways, istioGateways: ctx.gateways, findings };
  const smiCtx = { hosts: ctx.hosts, serviceHosts: ctx.serviceHosts, routeGroups, findings };
  const policies: ServiceHttpPolicy[] = [];
  for (const r of resources) {
    if (isOf(r, 'HTTPRoute', GATEWAY_API_VERSIONS)) model.routes.push(...routesFromHttpRoute(r as Resource<HttpRouteSpec>, gwCtx));
    else if (isOf(r, 'GRPCRoute', GRPC_ROUTE_VERSIONS)) model.routes.push(...routesFromGrpcRoute(r as Resource<GrpcRouteSpec>, gwCtx));
    else if (isOf(r, 'TrafficSplit', TRAFFIC_SPLIT_VERSIONS)) {
      const set = routesFromTrafficSplit(r as Resource<TrafficSplitSpec>, smiCtx);
      if (set) model.routes.push(set);
    } else if (isOf(r, 'ServiceProfile', SERVICE_PROFILE_VERSIONS)) {
      const { routes, policy } = fromServiceProfile(r as Resource<ServiceProfileSpec>, ctx);
      model.routes.push(routes);
      if (policy) policies.push(policy);
    }
  }
  return policies;
}
