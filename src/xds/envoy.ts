// Small builders for the Envoy v3 object form (see codec.ts): the shapes every
// generator module repeats. Kept here so that wire details (Any urls, wrapper
// types, Struct form) are spelled once.
import type { EnvoyObject } from '../proxy/types.js';
import { SECRET } from './names.js';

/** Type URLs of the typed configs weft puts inside Any fields. */
export const ANY = {
  hcm: 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  tcpProxy: 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  router: 'type.googleapis.com/envoy.extensions.filters.http.router.v3.Router',
  tlsInspector: 'type.googleapis.com/envoy.extensions.filters.listener.tls_inspector.v3.TlsInspector',
  downstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
  upstreamTls: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext',
  rawBuffer: 'type.googleapis.com/envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer',
  httpProtocolOptions: 'type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
} as const;

/** Well-known extension names (Envoy's). */
export const EXT = {
  hcm: 'envoy.filters.network.http_connection_manager',
  tcpProxy: 'envoy.filters.network.tcp_proxy',
  router: 'envoy.filters.http.router',
  tlsInspector: 'envoy.filters.listener.tls_inspector',
  tls: 'envoy.transport_sockets.tls',
  rawBuffer: 'envoy.transport_sockets.raw_buffer',
  httpProtocolOptions: 'envoy.extensions.upstreams.http.v3.HttpProtocolOptions',
} as const;

/** A google.protobuf.Any in object form. */
export function typed(typeUrl: string, fields: EnvoyObject = {}): EnvoyObject {
  return { '@type': typeUrl, ...fields };
}

/** Milliseconds -> google.protobuf.Duration; zero parts are left out so objects round-trip through the codec unchanged. */
export function duration(ms: number): EnvoyObject {
  const seconds = Math.floor(ms / 1000);
  const nanos = Math.round((ms - seconds * 1000) * 1e6);
  return nanos ? { seconds, nanos } : { seconds };
}

/** google.protobuf.{Bool,UInt32}Value wrappers are messages: {value}. */
export function wrapped<T extends boolean | number>(value: T): { value: T } {
  return { value };
}

/** A flat string map as google.protobuf.Struct in object form. */
export function struct(fields: Record<string, string>): EnvoyObject {
  const out: Record<string, EnvoyObject> = {};
  for (const [k, v] of Object.entries(fields)) out[k] = { stringValue: v };
  return Object.keys(out).length ? { fields: out } : {};
}

/** ADS as the config source of an RDS/EDS reference. */
export function adsSource(): EnvoyObject {
  return { ads: {}, resourceApiVersion: 'V3' };
}

export function socketAddress(address: string, portValue: number): EnvoyObject {
  return { socketAddress: { address, portValue } };
}

/** A secret fetched over SDS (through ADS). */
export function sdsSecret(name: string): EnvoyObject {
  return { name, sdsConfig: adsSource() };
}

/** The workload certificate and mesh root, as every mesh TLS context references them. */
export function meshCertificates(): EnvoyObject {
  return { tlsCertificateSdsSecretConfigs: [sdsSecret(SECRET.workload)] };
}

export function rawBufferSocket(): EnvoyObject {
  return { name: EXT.rawBuffer, typedConfig: typed(ANY.rawBuffer) };
}

export function tlsSocket(typeUrl: string, context: EnvoyObject): EnvoyObject {
  return { name: EXT.tls, typedConfig: typed(typeUrl, context) };
}

/** A network filter. */
export function filter(name: string, typeUrl: string, config: EnvoyObject): EnvoyObject {
  return { name, typedConfig: typed(typeUrl, config) };
}

export function routerFilter(): EnvoyObject {
  return { name: EXT.router, typedConfig: typed(ANY.router) };
}

/** Object form leaves out empty repeated fields; so do we, to round-trip unchanged. */
export function nonEmpty<K extends string, T>(key: K, items: T[]): Partial<Record<K, T[]>> {
  return items.length ? ({ [key]: items } as Record<K, T[]>) : {};
}

/** Sort by a string key, for deterministic output. */
export function sortBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  return [...items].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    return ka < kb ? -1 : ka > kb ? 1 : 0;
  });
}
