// Compiles one Envoy Cluster (object form) into the settings the cluster manager runs on.
// Pure: no sockets. Invalid input throws ConfigRejectedError naming the cluster and field.
import type { EnvoyObject } from '../../types.js';
import { FieldPath, isObj, optArray, optDurationMs, optObj, optString, optStruct, resourceName } from './object-form.js';
import { compileTransportSocket, PLAINTEXT, type TransportSocket } from './tls-config.js';
import type { LbPolicy } from './lb/types.js';
import { LB_POLICIES } from './lb/index.js';
import { compileResilience, type ResilienceConfig } from './resilience-config.js';

export type DiscoveryType = 'STATIC' | 'EDS' | 'STRICT_DNS' | 'LOGICAL_DNS' | 'ORIGINAL_DST';
/** Upstream HTTP protocol from HttpProtocolOptions: explicit h1, explicit h2, or whatever arrived downstream. */
export type HttpProtocol = 'http/1.1' | 'h2' | 'downstream';

export interface TransportSocketMatch {
  name: string;
  /** Every key must equal the endpoint's `envoy.transport_socket_match` metadata value. */
  match: Readonly<Record<string, unknown>>;
  socket: TransportSocket;
}

export interface ClusterConfig {
  name: string;
  type: DiscoveryType;
  /** EDS: the ClusterLoadAssignment name (edsClusterConfig.serviceName or the cluster name). */
  edsName: string;
  /** STATIC / DNS: the inline ClusterLoadAssignment. */
  loadAssignment: EnvoyObject | undefined;
  connectTimeoutMs: number;
  dnsRefreshMs: number;
  /** CLUSTER_PROVIDED: the ORIGINAL_DST cluster picks the host itself. */
  lbPolicy: LbPolicy | 'CLUSTER_PROVIDED';
  resilience: ResilienceConfig;
  transportSocket: TransportSocket;
  transportSocketMatches: readonly TransportSocketMatch[];
  protocol: HttpProtocol;
}

/** Defaults (Envoy's). */
export const CLUSTER_DEFAULTS = {
  connectTimeoutMs: 5000,
  dnsRefreshMs: 5000,
} as const;

const DISCOVERY: ReadonlySet<string> = new Set(['STATIC', 'EDS', 'STRICT_DNS', 'LOGICAL_DNS', 'ORIGINAL_DST']);
const HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

export function compileCluster(key: string, c: EnvoyObject, secrets: Map<string, EnvoyObject>): ClusterConfig {
  const name = typeof c['name'] === 'string' && c['name'] !== '' ? c['name'] : key;
  const at = new FieldPath(resourceName('cluster', name), '');
  if (c['name'] !== undefined && c['name'] !== key) throw at.at('name').error(`does not match the resource name ${JSON.stringify(key)}`);

  const rawType = c['type'] ?? 'STATIC';
  if (typeof rawType !== 'string' || !DISCOVERY.has(rawType)) {
    throw at.at('type').error(`unsupported discovery type ${JSON.stringify(rawType)} (supported: ${[...DISCOVERY].join(', ')})`);
  }
  const type = rawType as DiscoveryType;

  const eds = optObj(c['edsClusterConfig'], at.at('edsClusterConfig'));
  const edsName = optString(eds?.['serviceName'], at.at('edsClusterConfig').at('serviceName')) || name;
  const loadAssignment = optObj(c['loadAssignment'], at.at('loadAssignment'));
  if (type !== 'EDS' && type !== 'ORIGINAL_DST' && !loadAssignment) throw at.at('loadAssignment').error(`required for type ${type}`);

  const connectTimeoutMs = optDurationMs(c['connectTimeout'], at.at('connectTimeout'), 'positive') ?? CLUSTER_DEFAULTS.connectTimeoutMs;
  const dnsRefreshMs = optDurationMs(c['dnsRefreshRate'], at.at('dnsRefreshRate')) ?? CLUSTER_DEFAULTS.dnsRefreshMs;
  if (!(dnsRefreshMs >= 1)) throw at.at('dnsRefreshRate').error('must be at least 1ms');

  const rawLb = c['lbPolicy'] ?? 'ROUND_ROBIN';
  if (type === 'ORIGINAL_DST') {
    // Envoy's rule: the original destination is the only host there is to pick.
    if (rawLb !== 'CLUSTER_PROVIDED') throw at.at('type').error(`ORIGINAL_DST requires lbPolicy CLUSTER_PROVIDED, not ${JSON.stringify(rawLb)}`);
  } else if (typeof rawLb !== 'string' || !(rawLb in LB_POLICIES)) {
    throw at.at('lbPolicy').error(`unsupported policy ${JSON.stringify(rawLb)} (supported: ${Object.keys(LB_POLICIES).join(', ')}, and CLUSTER_PROVIDED with ORIGINAL_DST)`);
  }

  const transportSocket = compileTransportSocket(c['transportSocket'], at.at('transportSocket'), secrets);
  const transportSocketMatches = optArray(c['transportSocketMatches'], at.at('transportSocketMatches')).map((m, i) => {
    const mAt = at.at('transportSocketMatches').at(i);
    const o = optObj(m, mAt) ?? {};
    return {
      name: optString(o['name'], mAt.at('name')) ?? `#${i}`,
      match: optStruct(o['match'], mAt.at('match')),
      socket: o['transportSocket'] === undefined ? PLAINTEXT : compileTransportSocket(o['transportSocket'], mAt.at('transportSocket'), secrets),
    };
  });

  return {
    name,
    type,
    edsName,
    loadAssignment,
    connectTimeoutMs,
    dnsRefreshMs,
    lbPolicy: rawLb as LbPolicy | 'CLUSTER_PROVIDED',
    resilience: compileResilience(c, at),
    transportSocket,
    transportSocketMatches,
    protocol: compileProtocol(c, at),
  };
}

function compileProtocol(c: EnvoyObject, at: FieldPath): HttpProtocol {
  const tAt = at.at('typedExtensionProtocolOptions');
  const typed = optObj(c['typedExtensionProtocolOptions'], tAt);
  const opts = optObj(typed?.[HTTP_OPTIONS], tAt.at(HTTP_OPTIONS));
  if (opts) {
    const oAt = tAt.at(HTTP_OPTIONS);
    const explicit = optObj(opts['explicitHttpConfig'], oAt.at('explicitHttpConfig'));
    if (explicit) {
      if (isObj(explicit['http2ProtocolOptions'])) return 'h2';
      if (isObj(explicit['httpProtocolOptions'])) return 'http/1.1';
      if (isObj(explicit['http3ProtocolOptions'])) throw oAt.at('explicitHttpConfig').at('http3ProtocolOptions').error('HTTP/3 upstreams are not supported');
      return 'http/1.1';
    }
    if (isObj(opts['useDownstreamProtocolConfig'])) return 'downstream';
    if (isObj(opts['autoConfig'])) return 'downstream';
    return 'http/1.1';
  }
  // The deprecated Cluster-level field.
  if (isObj(c['http2ProtocolOptions'])) return 'h2';
  return 'http/1.1';
}
