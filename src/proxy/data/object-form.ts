// Small readers over Envoy resources in protobufjs object form (src/xds/codec.ts):
// wrappers (BoolValue, UInt32Value) appear as {value}, Durations as {seconds, nanos}
// (a "1.5s" JSON string is accepted too), enums as strings.
import type { EnvoyObject } from '../types.js';

export function obj(v: unknown): EnvoyObject | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as EnvoyObject) : undefined;
}

export function arr(v: unknown): EnvoyObject[] {
  return Array.isArray(v) ? (v.filter((x) => obj(x) !== undefined) as EnvoyObject[]) : [];
}

export function strs(v: unknown): string[] {
  return Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : [];
}

export function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : undefined;
}

/** A number, or a UInt32Value/DoubleValue wrapper {value}. */
export function num(v: unknown): number | undefined {
  if (typeof v === 'number') return v;
  if (typeof v === 'string' && v !== '' && !Number.isNaN(Number(v))) return Number(v);
  const o = obj(v);
  // A present wrapper without `value` holds 0: proto3 leaves zeros off the wire.
  return o ? (num(o.value) ?? 0) : undefined;
}

/** A boolean, or a BoolValue wrapper {value}. */
export function bool(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  const o = obj(v);
  return o ? bool(o.value) ?? false : undefined;
}

/** A Duration in milliseconds, or undefined when absent. */
export function durationMs(v: unknown): number | undefined {
  if (typeof v === 'string') {
    const m = /^(-?\d+(?:\.\d+)?)s$/.exec(v);
    return m ? Math.round(Number(m[1]) * 1000) : undefined;
  }
  const o = obj(v);
  if (!o) return undefined;
  const s = num(o.seconds) ?? 0;
  const n = num(o.nanos) ?? 0;
  return Math.round(s * 1000 + n / 1e6);
}

/** The '@type' of an Any in object form (the short message name after the last '/'). */
export function anyType(v: unknown): string {
  const t = str(obj(v)?.['@type']) ?? '';
  return t.slice(t.lastIndexOf('/') + 1);
}

export const TYPES = {
  hcm: 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
  tcpProxy: 'envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
  downstreamTls: 'envoy.extensions.transport_sockets.tls.v3.DownstreamTlsContext',
} as const;
