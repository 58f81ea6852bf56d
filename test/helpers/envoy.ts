// Envoy v3 resources in object form (src/xds/codec.ts), shaped as weft's control plane
// emits them, for the proxy suites. Type URLs are spelled out here on purpose (not taken
// from src/) so the tests pin the wire contract. Top-level resources carry no '@type';
// `typed` adds it where a resource travels as an Any (the test ADS server).
import type { EnvoyObject } from '../../src/proxy/types.js';

export const HCM_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
export const TCP_TYPE = 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy';
export const TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';
export const UPSTREAM_TLS_TYPE = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const HTTP_OPTIONS = 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions';

/** The resource as a google.protobuf.Any. */
export function typed(typeUrl: string, resource: EnvoyObject): EnvoyObject {
  return { '@type': typeUrl, ...resource };
}

/** A flat string map as google.protobuf.Struct (object form). */
export function struct(o: Record<string, string>): EnvoyObject {
  return { fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { stringValue: v }])) };
}

/** Whole milliseconds as google.protobuf.Duration. */
export function duration(ms: number): EnvoyObject {
  return { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 };
}

export function rootSecret(caPem: string): EnvoyObject {
  return { name: 'ROOTCA', validationContext: { trustedCa: { inlineString: caPem } } };
}

export interface Ep {
  address: string;
  port: number;
  health?: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN' | 'DRAINING';
  /** Carries `envoy.transport_socket_match: {tlsMode: istio}` (a meshed pod). */
  mesh?: boolean;
}

export function cla(name: string, eps: Ep[]): EnvoyObject {
  return {
    clusterName: name,
    endpoints: [
      {
        lbEndpoints: eps.map((e) => ({
          endpoint: { address: { socketAddress: { address: e.address, portValue: e.port } } },
          ...(e.health ? { healthStatus: e.health } : {}),
          ...(e.mesh ? { metadata: { filterMetadata: { 'envoy.transport_socket_match': struct({ tlsMode: 'istio' }) } } } : {}),
        })),
      },
    ],
  };
}

export interface ClusterOpts {
  type?: 'EDS' | 'STATIC' | 'STRICT_DNS' | 'LOGICAL_DNS';
  /** The inline load assignment of non-EDS types. */
  endpoints?: Ep[];
  /** URI SANs the mesh hop accepts. */
  sans?: string[];
  sni?: string;
  connectTimeoutMs?: number;
  protocol?: 'h2' | 'http/1.1' | 'downstream';
  lbPolicy?: string;
  /** alpnProtocols of the mTLS transport (default [h2]). */
  alpn?: string[];
}

/** An outbound mesh cluster: mTLS (ALPN h2, SDS default + ROOTCA) to `tlsMode: istio` endpoints, plaintext to the rest. */
export function meshCluster(name: string, o: ClusterOpts = {}): EnvoyObject {
  const type = o.type ?? 'EDS';
  const c: EnvoyObject = {
    name,
    type,
    connectTimeout: duration(o.connectTimeoutMs ?? 1000),
    lbPolicy: o.lbPolicy ?? 'ROUND_ROBIN',
    transportSocketMatches: [
      {
        name: 'tlsMode-istio',
        match: struct({ tlsMode: 'istio' }),
        transportSocket: {
          name: 'envoy.transport_sockets.tls',
          typedConfig: {
            '@type': UPSTREAM_TLS_TYPE,
            sni: o.sni ?? 'outbound_.8080_._.svc.default.svc.cluster.local',
            commonTlsContext: {
              alpnProtocols: o.alpn ?? ['h2'],
              tlsCertificateSdsSecretConfigs: [{ name: 'default' }],
              combinedValidationContext: {
                defaultValidationContext: { matchTypedSubjectAltNames: (o.sans ?? []).map((s) => ({ sanType: 'URI', matcher: { exact: s } })) },
                validationContextSdsSecretConfig: { name: 'ROOTCA' },
              },
            },
          },
        },
      },
      { name: 'tlsMode-disabled', match: {}, transportSocket: { name: 'envoy.transport_sockets.raw_buffer' } },
    ],
  };
  if (type === 'EDS') c['edsClusterConfig'] = { edsConfig: { ads: {} } };
  else c['loadAssignment'] = cla(name, o.endpoints ?? []);
  if (o.protocol) {
    const opts: EnvoyObject =
      o.protocol === 'downstream'
        ? { useDownstreamProtocolConfig: {} }
        : { explicitHttpConfig: o.protocol === 'h2' ? { http2ProtocolOptions: {} } : { httpProtocolOptions: {} } };
    c['typedExtensionProtocolOptions'] = { [HTTP_OPTIONS]: { '@type': `type.googleapis.com/${HTTP_OPTIONS}`, ...opts } };
  }
  return c;
}

/** A route configuration: per virtual host, every path to one cluster. */
export function routes(name: string, vhosts: { domains: string[]; cluster: string }[]): EnvoyObject {
  return { name, virtualHosts: vhosts.map((v, i) => ({ name: `vh${i}`, domains: v.domains, routes: [{ match: { prefix: '/' }, route: { cluster: v.cluster } }] })) };
}

/** Every host and path to one cluster. */
export function catchAllRoutes(cluster: string, name = 'r'): EnvoyObject {
  return routes(name, [{ domains: ['*'], cluster }]);
}

/** An HTTP connection manager filter with an inline route configuration or an RDS name. */
export function hcm(routeConfig: EnvoyObject | { rds: string }, extra: EnvoyObject = {}): EnvoyObject {
  const r = 'rds' in routeConfig && typeof routeConfig.rds === 'string' ? { rds: { routeConfigName: routeConfig.rds, configSource: { ads: {} } } } : { routeConfig };
  return { name: 'envoy.filters.network.http_connection_manager', typedConfig: { '@type': HCM_TYPE, statPrefix: 'test', codecType: 'AUTO', ...r, ...extra } };
}

export function listener(name: string, host: string, port: number, filterChains: EnvoyObject[]): EnvoyObject {
  return { name, address: { socketAddress: { address: host, portValue: port } }, filterChains };
}

/** The inbound mTLS filter chain: client certificate required, SDS default + ROOTCA, ALPN h2, http/1.1, weft-tcp. */
export function inboundTlsChain(filters: EnvoyObject[]): EnvoyObject {
  return {
    filterChainMatch: { transportProtocol: 'tls' },
    transportSocket: {
      name: 'envoy.transport_sockets.tls',
      typedConfig: {
        '@type': TLS_TYPE,
        requireClientCertificate: { value: true },
        commonTlsContext: {
          alpnProtocols: ['h2', 'http/1.1', 'weft-tcp'],
          tlsCertificateSdsSecretConfigs: [{ name: 'default', sdsConfig: { ads: {} } }],
          validationContextSdsSecretConfig: { name: 'ROOTCA', sdsConfig: { ads: {} } },
        },
      },
    },
    filters,
  };
}
