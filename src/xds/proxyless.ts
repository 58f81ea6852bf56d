// xDS for proxyless gRPC clients (@grpc/grpc-js-xds, grpc-go, grpc-java ...; gRFC A27
// xDS load balancing, A28 traffic splitting and routing). Such a client has no
// listeners of its own: `xds:///<authority>` makes it ask for a Listener named
// <authority> whose apiListener is an HttpConnectionManager pointing at a
// RouteConfiguration over ADS; the routes name EDS clusters, which it dials directly.
//
// The routes come from the sidecar's translation (routes.ts), so a proxyless client
// routes by the same rules as a weft proxy, minus what a gRPC client cannot do or
// would reject (see grpcRoute). Pure and deterministic, like generate.ts.
import type { HttpRouteSet, MeshModel, Service, ServicePort, Workload } from '../model/types.js';
import type { EnvoyObject } from '../proxy/types.js';
import type { ProxyResources } from './generate.js';
import { outboundClusterName } from './names.js';
import { adsSource, ANY, duration, routerFilter, sortBy, typed, wrapped } from './envoy.js';
import { attachedRouteSets, canonicalModel, fqdnOf, isHttpProtocol, type OutboundTarget, type ServiceTarget } from './mesh.js';
import { coveringRouteSets, defaultRoute, serviceDomains, translateRules } from './routes.js';
import { CLUSTER_DEFAULTS, outboundTargets } from './clusters.js';
import { loadAssignment } from './endpoints.js';
import { durationMs } from './object-form.js';

/** A proxyless client as the control plane knows it: from its xDS node, no registered workload. */
export interface ProxylessClient {
  /** xDS node id. */
  id: string;
  /** Short service names resolve in this namespace; sourceNamespace matches are decided against it. */
  namespace: string;
  /** Node metadata LABELS: sourceLabels matches are decided against them. */
  labels: Record<string, string>;
  /** Pod name when the node says (metadata POD_NAME or the id), else the id. */
  pod: string;
  /** The client's address when the node says; informational. */
  ip: string;
}

export interface ProxylessContext {
  /** Kubernetes cluster domain for services whose hostname the model left empty. Default cluster.local. */
  clusterDomain?: string;
}

/** What proxyless clients are given that differs from sidecars. */
export const PROXYLESS_DEFAULTS = {
  /** The only load-balancing policy every gRPC xDS client implements (A27); DestinationRule's LEAST_REQUEST would be NACKed. */
  lbPolicy: 'ROUND_ROBIN',
  /** Endpoints of one cluster form one locality; gRPC skips localities without a weight (A27). */
  localityWeight: 1,
} as const;

/** Route sets bound to sidecars apply to proxyless clients too (Istio's `mesh` gateway). */
const MESH = 'mesh';

/** The RouteConfiguration name for a service port: its canonical authority, `<fqdn>:<port>`. */
export function proxylessRouteName(fqdn: string, port: number): string {
  return `${fqdn}:${port}`;
}

/** The client as a route source: sourceLabels / sourceNamespace matches are decided against it. */
function clientAsSource(client: ProxylessClient): Workload {
  return {
    name: client.pod,
    namespace: client.namespace,
    labels: client.labels,
    serviceAccount: '',
    identity: '',
    address: client.ip,
    appAddress: client.ip,
    ports: [],
    ready: true,
    meshed: false,
    owner: client.pod,
    proxyType: 'sidecar',
  };
}

/** A client-side Listener (A27): apiListener = HttpConnectionManager with RDS over ADS and the router filter last. */
export function apiListener(name: string, routeConfigName: string): EnvoyObject {
  return {
    name,
    apiListener: {
      apiListener: typed(ANY.hcm, {
        rds: { routeConfigName, configSource: adsSource() },
        httpFilters: [routerFilter()],
      }),
    },
  };
}

type Obj = Record<string, unknown>;
const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * A sidecar route adapted for a gRPC client, or undefined when the client cannot take it:
 * - redirect and direct responses: gRPC clients implement only route actions, and
 *   grpc-js NACKs the whole RouteConfiguration for any other action;
 * - query-parameter matches: a gRPC request has no query string, so the route can never
 *   match (and grpc-js would otherwise ignore the condition and match too much);
 * - per-route filter config other than fault injection: grpc-js NACKs the whole
 *   RouteConfiguration for filters it does not implement (CORS, for one);
 * - the route timeout: gRPC clients read `maxStreamDuration` (A31), not `timeout`.
 */
export function grpcRoute(input: EnvoyObject): EnvoyObject | undefined {
  if (!isObj(input['route'])) return undefined;
  const match = input['match'];
  if (isObj(match) && Array.isArray(match['queryParameters']) && match['queryParameters'].length > 0) return undefined;
  const route = withGrpcFiltersOnly(input);
  const action = input['route'];
  const timeoutMs = durationMs(action['timeout'], 0);
  if (timeoutMs <= 0) return route;
  return { ...route, route: { ...action, maxStreamDuration: { maxStreamDuration: duration(timeoutMs) } } };
}

/** Filters a gRPC client implements per route (gRFC A33: fault injection). */
const GRPC_ROUTE_FILTERS = new Set(['envoy.filters.http.fault']);

function withGrpcFiltersOnly(route: EnvoyObject): EnvoyObject {
  const perFilter = route['typedPerFilterConfig'];
  if (!isObj(perFilter)) return route;
  const kept = Object.fromEntries(Object.entries(perFilter).filter(([name]) => GRPC_ROUTE_FILTERS.has(name)));
  const { typedPerFilterConfig: _dropped, ...rest } = route;
  return Object.keys(kept).length ? { ...rest, typedPerFilterConfig: kept } : rest;
}

/** The RouteConfiguration for one service port: one virtual host answering every name the client may dial. */
function routeConfiguration(
  model: MeshModel,
  meshRoutes: readonly HttpRouteSet[],
  service: Service,
  sp: ServicePort,
  client: ProxylessClient,
  ctx: ProxylessContext,
  targets: Map<string, OutboundTarget>,
): EnvoyObject {
  const fqdn = fqdnOf(service, ctx.clusterDomain);
  const http = isHttpProtocol(sp.protocol);
  // As for sidecars: route sets are HTTP rules and apply on HTTP (incl. gRPC) ports only.
  const rules = http ? coveringRouteSets(meshRoutes, fqdn).flatMap((r) => r.rules) : [];
  const ruleCtx = { model, proxy: clientAsSource(client), port: sp.port, targets, ...(ctx.clusterDomain !== undefined ? { clusterDomain: ctx.clusterDomain } : {}) };
  const translated = translateRules(rules, ruleCtx);
  // No rules: the service itself. Rules that all fall away leave no route, so the RPC
  // fails (gRPC: UNAVAILABLE, no matching route) rather than silently reaching the service.
  const routes = translated.length
    ? translated.flatMap((r) => grpcRoute(r) ?? [])
    : [grpcRoute(defaultRoute(outboundClusterName(sp.port, fqdn), http))!];
  const name = proxylessRouteName(fqdn, sp.port);
  return {
    name,
    virtualHosts: [{ name, domains: serviceDomains(service, sp.port, fqdn, client.namespace), ...(routes.length ? { routes } : {}) }],
  };
}

/** An EDS cluster the client balances itself: plaintext (no transport socket), round robin. */
export function proxylessCluster(target: ServiceTarget): EnvoyObject {
  return {
    name: outboundClusterName(target.port, target.fqdn, target.subset),
    type: 'EDS',
    edsClusterConfig: { edsConfig: adsSource() },
    connectTimeout: duration(CLUSTER_DEFAULTS.connectTimeoutMs),
    lbPolicy: PROXYLESS_DEFAULTS.lbPolicy,
  };
}

/**
 * The model a proxyless client dials into: it connects to endpoints directly, so a
 * workload without a sidecar is reached where its application listens. A meshed
 * workload keeps its pod address: its sidecar's PERMISSIVE inbound chain takes
 * plaintext and forwards to the application.
 */
function directDialModel(model: MeshModel): MeshModel {
  return { ...model, workloads: model.workloads.map((w) => (w.meshed ? w : { ...w, address: w.appAddress })) };
}

/** The sidecar's load assignment (same endpoint and subset selection), each locality given what gRPC requires (A27). */
export function proxylessLoadAssignment(model: MeshModel, target: ServiceTarget): EnvoyObject {
  const cla = loadAssignment(directDialModel(model), target);
  const localities = cla['endpoints'];
  if (!Array.isArray(localities)) return cla;
  return {
    ...cla,
    endpoints: localities.map((l: unknown) => ({
      locality: {},
      loadBalancingWeight: wrapped(PROXYLESS_DEFAULTS.localityWeight),
      ...(isObj(l) ? l : {}),
    })),
  };
}

/**
 * Per model (by identity, as generate.ts): the canonical model, its mesh route sets, and
 * the output by what it depends on (cluster domain, the client's namespace and labels),
 * so clients that see the mesh alike share the same objects and the control plane
 * encodes them once (src/control/snapshot.ts). Callers must treat them as read-only.
 */
interface ProxylessCache {
  model: MeshModel;
  meshRoutes: HttpRouteSet[];
  out: Map<string, ProxyResources>;
}
const caches = new WeakMap<MeshModel, ProxylessCache>();

function cacheKey(client: ProxylessClient, ctx: ProxylessContext): string {
  const labels = Object.keys(client.labels)
    .sort()
    .map((k) => `${k}=${client.labels[k]}`);
  return [ctx.clusterDomain ?? '', client.namespace, ...labels].join('\u0000');
}

/**
 * Everything a proxyless client in `client.namespace` may ask for: per service port one
 * Listener per name it may dial (the sidecar's virtual-host domains: `name:port` in its
 * own namespace, `name.ns:port`, `name.ns.svc:port`, the FQDN with port; port 80 also
 * bare), one RouteConfiguration `<fqdn>:<port>`, and the clusters and endpoints the
 * routes reach. The control plane sends only the names the client subscribes to.
 */
export function generateForProxyless(input: MeshModel, client: ProxylessClient, ctx: ProxylessContext = {}): ProxyResources {
  let c = caches.get(input);
  if (!c) {
    const model = canonicalModel(input);
    caches.set(input, (c = { model, meshRoutes: attachedRouteSets(model, new Set([MESH])), out: new Map() }));
  }
  const key = cacheKey(client, ctx);
  let res = c.out.get(key);
  if (!res) c.out.set(key, (res = generate(c.model, c.meshRoutes, client, ctx)));
  return res;
}

function generate(model: MeshModel, meshRoutes: readonly HttpRouteSet[], client: ProxylessClient, ctx: ProxylessContext): ProxyResources {
  const targets = new Map<string, OutboundTarget>();
  const listeners = new Map<string, EnvoyObject>();
  const routes = new Map<string, EnvoyObject>();
  for (const service of model.services) {
    const fqdn = fqdnOf(service, ctx.clusterDomain);
    for (const sp of service.ports) {
      // First service (canonical order) wins a name two services could claim.
      const rcName = proxylessRouteName(fqdn, sp.port);
      if (!routes.has(rcName)) routes.set(rcName, routeConfiguration(model, meshRoutes, service, sp, client, ctx, targets));
      for (const domain of serviceDomains(service, sp.port, fqdn, client.namespace)) {
        if (!listeners.has(domain)) listeners.set(domain, apiListener(domain, rcName));
      }
    }
  }
  const clusters: EnvoyObject[] = [];
  const endpoints: EnvoyObject[] = [];
  for (const target of outboundTargets(model, targets, ctx.clusterDomain)) {
    clusters.push(proxylessCluster(target));
    endpoints.push(proxylessLoadAssignment(model, target));
  }
  const byName = (items: EnvoyObject[], key = 'name') => sortBy(items, (o) => String(o[key]));
  return {
    listeners: byName([...listeners.values()]),
    routes: byName([...routes.values()]),
    clusters: byName(clusters),
    endpoints: byName(endpoints, 'clusterName'),
    secrets: [],
  };
}
