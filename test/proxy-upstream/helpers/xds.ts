// Envoy resources in object form (src/xds/codec.ts) as the control plane emits them,
// and small stream helpers for the upstream tests.
import type { Readable } from 'node:stream';
import type { EnvoyObject, ProxyIdentityInfo } from '../../../src/proxy/types.js';
import type { UpstreamRequest } from '../../../src/proxy/data/upstream/types.js';

export const INFO: ProxyIdentityInfo = {
  type: 'sidecar',
  pod: 'client-0',
  namespace: 'default',
  serviceAccount: 'client',
  identity: 'spiffe://cluster.local/ns/default/sa/client',
  ip: '127.0.0.1',
  listenAddress: '127.0.0.1',
  labels: {},
  trustDomain: 'cluster.local',
};

export interface Ep {
  address: string;
  port: number;
  health?: 'HEALTHY' | 'UNHEALTHY' | 'UNKNOWN' | 'DRAINING';
  mesh?: boolean;
}

const struct = (o: Record<string, string>): EnvoyObject => ({
  fields: Object.fromEntries(Object.entries(o).map(([k, v]) => [k, { stringValue: v }])),
});

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
  endpoints?: Ep[];
  sans?: string[];
  sni?: string;
  connectTimeoutMs?: number;
  protocol?: 'h2' | 'http/1.1' | 'downstream';
  lbPolicy?: string;
  /** alpnProtocols of the mTLS transport (default [h2]). */
  alpn?: string[];
}

export function cluster(name: string, o: ClusterOpts = {}): EnvoyObject {
  const type = o.type ?? 'EDS';
  const ms = o.connectTimeoutMs ?? 1000;
  const c: EnvoyObject = {
    name,
    type,
    connectTimeout: { seconds: Math.floor(ms / 1000), nanos: (ms % 1000) * 1e6 },
    lbPolicy: o.lbPolicy ?? 'ROUND_ROBIN',
    transportSocketMatches: [
      {
        name: 'tlsMode-istio',
        match: struct({ tlsMode: 'istio' }),
        transportSocket: {
          name: 'envoy.transport_sockets.tls',
          typedConfig: {
            '@type': 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
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
    c['typedExtensionProtocolOptions'] = {
      'envoy.extensions.upstreams.http.v3.HttpProtocolOptions': { '@type': 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions', ...opts },
    };
  }
  return c;
}

export function rootSecret(caPem: string): EnvoyObject {
  return { name: 'ROOTCA', validationContext: { trustedCa: { inlineString: caPem } } };
}

export function get(path: string, authority = 'svc.default.svc.cluster.local:8080', headers: Record<string, string> = {}): UpstreamRequest {
  return { method: 'GET', path, authority, scheme: 'http', headers, body: null };
}

export async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function maps(clusters: EnvoyObject[], endpoints: EnvoyObject[] = [], secrets: EnvoyObject[] = []): [Map<string, EnvoyObject>, Map<string, EnvoyObject>, Map<string, EnvoyObject>] {
  return [
    new Map(clusters.map((c) => [c['name'] as string, c])),
    new Map(endpoints.map((e) => [e['clusterName'] as string, e])),
    new Map(secrets.map((s) => [s['name'] as string, s])),
  ];
}
