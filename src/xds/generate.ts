// The xDS generator's entry: MeshModel + one proxy -> the Envoy v3 resources it
// runs on. Pure and deterministic (canonical input order, output sorted by name),
// so the control plane can hash each type and push only on change.
import type { MeshModel, Workload } from '../model/types.js';
import type { EnvoyObject } from '../proxy/types.js';
import { canonicalModel, attachedRouteSets, type OutboundTarget } from './mesh.js';
import { sortBy } from './envoy.js';
import { sidecarListeners, containerPorts, inboundProtocol } from './listeners.js';
import { httpProxyRouteConfig } from './routes.js';
import { inboundCluster, outboundCluster, outboundTargets } from './clusters.js';
import { loadAssignment } from './endpoints.js';
import { rootCaSecret } from './secrets.js';
import { gatewayResources } from './gateway.js';

export interface ProxyResources {
  listeners: EnvoyObject[];
  routes: EnvoyObject[];
  clusters: EnvoyObject[];
  endpoints: EnvoyObject[];
  secrets: EnvoyObject[];
}

export interface GenerateContext {
  /** PEM roots distributed as the ROOTCA secret. */
  rootCertsPem: string[];
  /** Kubernetes cluster domain, for services whose hostname the model left empty. Default cluster.local. */
  clusterDomain?: string;
}

/** Route sets bound to sidecars. */
const MESH = 'mesh';

function byName(items: EnvoyObject[], key = 'name'): EnvoyObject[] {
  return sortBy(items, (o) => String(o[key]));
}

export function generateForProxy(input: MeshModel, proxy: Workload, ctx: GenerateContext): ProxyResources {
  const model = canonicalModel(input);
  const { clusterDomain } = ctx;
  const targets = new Map<string, OutboundTarget>();

  let listeners: EnvoyObject[];
  let routes: EnvoyObject[];
  const clusters: EnvoyObject[] = [];
  if (proxy.proxyType === 'router') {
    ({ listeners, routes } = gatewayResources(model, proxy, clusterDomain, targets));
  } else {
    listeners = sidecarListeners(model, proxy);
    routes = [httpProxyRouteConfig(model, proxy, attachedRouteSets(model, new Set([MESH])), clusterDomain, targets)];
    for (const port of containerPorts(proxy)) clusters.push(inboundCluster(port, inboundProtocol(model, proxy, port), proxy.appAddress));
  }

  const endpoints: EnvoyObject[] = [];
  for (const target of outboundTargets(model, targets, clusterDomain)) {
    clusters.push(outboundCluster(model, target));
    endpoints.push(loadAssignment(model, target));
  }

  return {
    listeners: byName(listeners),
    routes: byName(routes),
    clusters: byName(clusters),
    endpoints: byName(endpoints, 'clusterName'),
    secrets: [rootCaSecret(ctx.rootCertsPem)],
  };
}
