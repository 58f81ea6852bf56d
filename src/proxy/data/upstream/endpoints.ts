// Endpoints of a cluster: compile a ClusterLoadAssignment (object form), decide health,
// pick each endpoint's transport socket (transportSocketMatches against the endpoint's
// `envoy.transport_socket_match` metadata), and choose the hosts the load balancer sees.
import net from 'node:net';
import { METADATA } from '../../../xds/names.js';
import type { EnvoyObject, HostStatus } from '../../types.js';
import type { ClusterConfig } from './cluster-config.js';
import { FieldPath, optArray, optNumber, optObj, optString, optStruct } from './object-form.js';
import type { TransportSocket } from './tls-config.js';

export interface EndpointSpec {
  /** The configured address: an IP, or a hostname for STRICT_DNS / LOGICAL_DNS clusters; an internal listener's name. */
  address: string;
  /** 0 for an internal listener. */
  port: number;
  /** envoyInternalAddress: the endpoint is this proxy's internal listener `address`, connected in memory. */
  internal?: true;
  healthy: boolean;
  /** The EDS health status as Envoy reports it (admin /clusters). */
  edsHealth: HostStatus['edsHealth'];
  priority: number;
  weight: number;
  /** filterMetadata['envoy.transport_socket_match'] as a plain object. */
  tlsMatch: Readonly<Record<string, unknown>>;
}

/** Health statuses that take traffic (Envoy: HEALTHY, UNKNOWN, or none reported). */
function isHealthy(status: unknown): boolean {
  return status === undefined || status === null || status === 'HEALTHY' || status === 'UNKNOWN';
}

/** How Envoy's admin reports an EDS health status: UNKNOWN is HEALTHY, TIMEOUT is UNHEALTHY. */
function edsHealth(status: unknown): HostStatus['edsHealth'] {
  if (isHealthy(status)) return 'HEALTHY';
  return status === 'DEGRADED' || status === 'DRAINING' ? status : 'UNHEALTHY';
}

/** A socket address (IP, or a hostname where DNS resolves it), or an internal listener by name. */
function endpointAddress(addr: Record<string, unknown>, aAt: FieldPath, requireIp: boolean): { address: string; port: number; internal?: true } {
  const inAt = aAt.at('envoyInternalAddress');
  const internal = optObj(addr['envoyInternalAddress'], inAt);
  if (internal) {
    const name = optString(internal['serverListenerName'], inAt.at('serverListenerName'));
    if (!name) throw inAt.at('serverListenerName').error('required');
    if (!requireIp) throw inAt.error('an internal listener is named, not resolved: use a STATIC or EDS cluster');
    return { address: name, port: 0, internal: true };
  }
  const sAt = aAt.at('socketAddress');
  const sock = optObj(addr['socketAddress'], sAt) ?? sAt.reject('required (a socket address or an envoyInternalAddress)');
  const address = optString(sock['address'], sAt.at('address'));
  if (!address) throw sAt.at('address').error('required');
  if (requireIp && net.isIP(address) === 0) throw sAt.at('address').error(`${JSON.stringify(address)} is not an IP address (use a DNS cluster type for hostnames)`);
  const port = optNumber(sock['portValue'], sAt.at('portValue'));
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) throw sAt.at('portValue').error('expected a port 1-65535');
  return { address, port };
}

export function compileLoadAssignment(cla: EnvoyObject, at: FieldPath, requireIp: boolean): EndpointSpec[] {
  const out: EndpointSpec[] = [];
  optArray(cla['endpoints'], at.at('endpoints')).forEach((locality, li) => {
    const lAt = at.at('endpoints').at(li);
    const l = optObj(locality, lAt) ?? {};
    const priority = optNumber(l['priority'], lAt.at('priority')) ?? 0;
    const localityWeight = optNumber(l['loadBalancingWeight'], lAt.at('loadBalancingWeight'));
    optArray(l['lbEndpoints'], lAt.at('lbEndpoints')).forEach((lbe, ei) => {
      const eAt = lAt.at('lbEndpoints').at(ei);
      const e = optObj(lbe, eAt) ?? {};
      const ep = optObj(e['endpoint'], eAt.at('endpoint')) ?? eAt.at('endpoint').reject('required');
      const aAt = eAt.at('endpoint').at('address');
      const addr = optObj(ep['address'], aAt) ?? aAt.reject('required');
      const { address, port, internal } = endpointAddress(addr, aAt, requireIp);
      const weight = optNumber(e['loadBalancingWeight'], eAt.at('loadBalancingWeight')) ?? localityWeight ?? 1;
      if (!(weight >= 1)) throw eAt.at('loadBalancingWeight').error('must be at least 1');
      const mdAt = eAt.at('metadata');
      const fm = optObj(optObj(e['metadata'], mdAt)?.['filterMetadata'], mdAt.at('filterMetadata'));
      out.push({
        address,
        port,
        ...(internal ? { internal } : {}),
        healthy: isHealthy(e['healthStatus']),
        edsHealth: edsHealth(e['healthStatus']),
        priority,
        weight,
        tlsMatch: optStruct(fm?.[METADATA.tlsModeFilter], mdAt.at('filterMetadata').at(METADATA.tlsModeFilter)),
      });
    });
  });
  return out;
}

/** The first transportSocketMatch whose every key equals the endpoint's metadata; else the cluster's socket. */
export function selectTransport(cfg: ClusterConfig, tlsMatch: Readonly<Record<string, unknown>>): TransportSocket {
  for (const m of cfg.transportSocketMatches) {
    let ok = true;
    for (const k in m.match) {
      if (tlsMatch[k] !== m.match[k]) {
        ok = false;
        break;
      }
    }
    if (ok) return m.socket;
  }
  return cfg.transportSocket;
}

export interface CandidateHost {
  healthy: boolean;
  priority: number;
  readonly outlier: { readonly ejected: boolean };
}

/**
 * The hosts the load balancer sees: those of the best priority level that has any
 * available (healthy by EDS and not ejected). Panic (Envoy's healthy_panic_threshold): when
 * the available share at that level is below the threshold percent, or nothing is
 * available anywhere, balance over every host of the level instead. 0 = never panic.
 */
export function lbCandidates<H extends CandidateHost>(hosts: readonly H[], panicThreshold: number): { hosts: H[]; panic: boolean } {
  let best = Infinity;
  let lowest = Infinity;
  for (const h of hosts) {
    if (h.priority < lowest) lowest = h.priority;
    if (h.healthy && !h.outlier.ejected && h.priority < best) best = h.priority;
  }
  if (best === Infinity) {
    if (panicThreshold > 0 && hosts.length > 0) return { hosts: hosts.filter((h) => h.priority === lowest), panic: true };
    return { hosts: [], panic: false };
  }
  const level = hosts.filter((h) => h.priority === best);
  const available = level.filter((h) => h.healthy && !h.outlier.ejected);
  if (panicThreshold > 0 && (100 * available.length) / level.length < panicThreshold) return { hosts: level, panic: true };
  return { hosts: available, panic: false };
}

export function endpointKey(address: string, port: number): string {
  return net.isIPv6(address) ? `[${address}]:${port}` : `${address}:${port}`;
}
