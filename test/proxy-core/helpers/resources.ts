// Envoy v3 resources in object form, as weft's generator emits them (see docs/architecture.md).
import { TYPE } from '../../../src/xds/codec.js';

const HCM = 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';
const DOWNSTREAM_TLS = 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext';

export function hcmListener(name: string, port: number, routeConfigName: string): Record<string, unknown> {
  return {
    '@type': TYPE.listener,
    name,
    address: { socketAddress: { address: '0.0.0.0', portValue: port } },
    filterChains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.http_connection_manager',
            typedConfig: { '@type': HCM, statPrefix: name, codecType: 'AUTO', rds: { routeConfigName, configSource: { ads: {} } } },
          },
        ],
      },
    ],
  };
}

export function inboundListener(port: number): Record<string, unknown> {
  const l = hcmListener(`inbound|${port}`, port, `inbound|${port}`);
  (l['filterChains'] as Record<string, unknown>[])[0]!['transportSocket'] = {
    name: 'envoy.transport_sockets.tls',
    typedConfig: {
      '@type': DOWNSTREAM_TLS,
      requireClientCertificate: { value: true },
      commonTlsContext: {
        tlsCertificateSdsSecretConfigs: [{ name: 'default', sdsConfig: { ads: {} } }],
        validationContextSdsSecretConfig: { name: 'ROOTCA', sdsConfig: { ads: {} } },
      },
    },
  };
  return l;
}

export function routeConfig(name: string, cluster: string): Record<string, unknown> {
  return {
    '@type': TYPE.route,
    name,
    virtualHosts: [{ name: 'vh', domains: ['*'], routes: [{ match: { prefix: '/' }, route: { cluster } }] }],
  };
}

export function edsCluster(name: string): Record<string, unknown> {
  return { '@type': TYPE.cluster, name, type: 'EDS', edsClusterConfig: { edsConfig: { ads: {} } }, connectTimeout: { seconds: 1 } };
}

export function staticCluster(name: string): Record<string, unknown> {
  return {
    '@type': TYPE.cluster,
    name,
    type: 'STATIC',
    loadAssignment: { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: '127.0.0.1', portValue: 9080 } } } }] }] },
  };
}

export function cla(clusterName: string, ip: string, port: number): Record<string, unknown> {
  return {
    '@type': TYPE.endpoint,
    clusterName,
    endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: ip, portValue: port } } }, healthStatus: 'HEALTHY' }] }],
  };
}

export function rootSecret(pem: string): Record<string, unknown> {
  return { '@type': TYPE.secret, name: 'ROOTCA', validationContext: { trustedCa: { inlineString: pem } } };
}

/** Polls until f() is truthy (bounded). */
export async function until<T>(f: () => T | undefined | false, what: string, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = f();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
