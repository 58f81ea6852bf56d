// The upstream tests' proxy identity, the object-form builders they use (shared, in
// test/helpers/envoy.ts), and small stream helpers.
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

export { cla, meshCluster as cluster, rootSecret, type ClusterOpts, type Ep } from '../../helpers/envoy.js';

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
