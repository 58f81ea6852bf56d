// The L4 filter chains of a gateway port: Istio Gateway servers with `tls.mode:
// PASSTHROUGH` routed by SNI from VirtualService tls[] (filterChainMatch.serverNames,
// the TLS bytes forwarded untouched), and TCP servers routed by tcp[]. Each chain ends
// in a tcp_proxy to one cluster or weightedClusters; destinationSubnets become
// prefixRanges (the gateway address the client connected to).
import type { GatewayServer, L4Rule, MeshModel, Workload } from '../model/types.js';
import type { EnvoyObject } from '../proxy/types.js';
import { LISTENER } from './names.js';
import { boundHosts, type OutboundTarget } from './mesh.js';
import { l4FilterChain, sniChains, tcpChains, type L4Chain, type L4Context } from './l4-routes.js';

/** A server that forwards TLS by SNI without terminating it. */
export function isPassthrough(s: GatewayServer): boolean {
  return (s.port.protocol === 'TLS' || s.port.protocol === 'HTTPS') && s.tls?.mode === 'PASSTHROUGH';
}

function isTcp(s: GatewayServer): boolean {
  return s.port.protocol === 'TCP';
}

/** Route sets of one protocol bound to a server: attached to its gateway, with a host in common. */
function boundRules(model: MeshModel, protocol: 'tcp' | 'tls', server: GatewayServer): L4Rule[] {
  return (model.l4Routes ?? []).filter((set) => set.protocol === protocol && boundHosts(set, [server]).length > 0).flatMap((s) => s.rules);
}

/** The narrower of an SNI pattern and the server's hosts it overlaps, if any. */
function narrowTo(server: GatewayServer): (sni: string) => string | undefined {
  return (sni) => boundHosts({ hosts: [sni], attachTo: [server.gateway] }, [server])[0];
}

/** The L4 chains of the servers on one port, passthrough (by SNI) first, then TCP. */
export function gatewayL4Chains(
  model: MeshModel,
  proxy: Workload,
  port: number,
  servers: readonly GatewayServer[],
  clusterDomain: string | undefined,
  targets: Map<string, OutboundTarget>,
): EnvoyObject[] {
  const ctx: L4Context = { model, proxy, port, sidecar: false, clusterDomain, targets };
  const statPrefix = LISTENER.gateway(port);
  const seen = new Set<string>();
  // Two servers (or rules) claiming one match: the first keeps it (Envoy rejects duplicate matches).
  const fresh = (c: L4Chain, tls: boolean) => {
    const key = `${tls}|${c.serverNames.join(',')}|${c.destinationSubnets.join(',')}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  };
  const out: EnvoyObject[] = [];
  for (const server of servers.filter(isPassthrough)) {
    for (const c of sniChains(boundRules(model, 'tls', server), ctx, narrowTo(server))) {
      // A chain for any SNI still takes TLS only, so plaintext on the port is not swallowed.
      const tlsOnly = c.serverNames.length === 0;
      if (fresh(c, tlsOnly)) out.push(l4FilterChain(c, statPrefix, tlsOnly, `passthrough:${c.serverNames.join(',') || '*'}`));
    }
  }
  for (const server of servers.filter(isTcp)) {
    for (const c of tcpChains(boundRules(model, 'tcp', server), ctx)) {
      if (fresh(c, false)) out.push(l4FilterChain(c, statPrefix, false, `tcp:${c.destinationSubnets.join(',') || '*'}`));
    }
  }
  return out;
}
