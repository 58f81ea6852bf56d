// Envoy v3 resources as the test ADS server sends them: the shared object-form builders
// (test/helpers/envoy.ts) wrapped as Any, with weft's names (see docs/architecture.md).
import { TYPE } from '../../../src/xds/codec.js';
import * as envoy from '../../helpers/envoy.js';

export function hcmListener(name: string, port: number, routeConfigName: string): Record<string, unknown> {
  return envoy.typed(TYPE.listener, envoy.listener(name, '0.0.0.0', port, [{ filters: [envoy.hcm({ rds: routeConfigName }, { statPrefix: name })] }]));
}

/** `inbound|<port>`: the mTLS chain to RDS `inbound|<port>`. */
export function inboundListener(port: number): Record<string, unknown> {
  const name = `inbound|${port}`;
  return envoy.typed(TYPE.listener, envoy.listener(name, '0.0.0.0', port, [envoy.inboundTlsChain([envoy.hcm({ rds: name }, { statPrefix: name })])]));
}

export function routeConfig(name: string, cluster: string): Record<string, unknown> {
  return envoy.typed(TYPE.route, envoy.catchAllRoutes(cluster, name));
}

/** A plaintext EDS cluster. */
export function edsCluster(name: string): Record<string, unknown> {
  return envoy.typed(TYPE.cluster, { name, type: 'EDS', edsClusterConfig: { edsConfig: { ads: {} } }, connectTimeout: { seconds: 1 } });
}

/** A plaintext STATIC cluster to 127.0.0.1:9080 (the app). */
export function staticCluster(name: string): Record<string, unknown> {
  return envoy.typed(TYPE.cluster, { name, type: 'STATIC', loadAssignment: envoy.cla(name, [{ address: '127.0.0.1', port: 9080 }]) });
}

export function cla(clusterName: string, eps: envoy.Ep[]): Record<string, unknown> {
  return envoy.typed(TYPE.endpoint, envoy.cla(clusterName, eps));
}

export function rootSecret(pem: string): Record<string, unknown> {
  return envoy.typed(TYPE.secret, envoy.rootSecret(pem));
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
