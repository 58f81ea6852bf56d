// Compiles an HttpConnectionManager (object form) into what the HTTP path needs.
import type { EnvoyObject } from '../types.js';
import { durationMs, obj, str } from '../../xds/object-form.js';
import { compileRouteConfig, type CompiledRouteConfig } from './router.js';
import { httpStatNames, type HttpStatNames } from './stats.js';

/** Typed defaults for the HTTP connection manager (Envoy's where it has one). */
export const HTTP_DEFAULTS = {
  streamIdleTimeoutMs: 5 * 60 * 1000,
  requestHeadersTimeoutMs: 10_000,
  /** 0 = off. */
  requestTimeoutMs: 0,
  keepAliveTimeoutMs: 60_000,
} as const;

export type RouteSource = { kind: 'inline'; config: CompiledRouteConfig } | { kind: 'rds'; name: string };

export interface HcmConfig {
  statPrefix: string;
  names: HttpStatNames;
  routes: RouteSource;
  codec: 'AUTO' | 'HTTP1' | 'HTTP2';
  streamIdleTimeoutMs: number;
  requestTimeoutMs: number;
  requestHeadersTimeoutMs: number;
}

export class HcmConfigError extends Error {
  readonly code = 'WEFT_ERR_HCM_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'HcmConfigError';
  }
}

export function compileHcm(typed: EnvoyObject, where: string, inboundPort: number | undefined): HcmConfig {
  const statPrefix = str(typed.statPrefix) ?? 'http';
  let routes: RouteSource;
  const inline = obj(typed.routeConfig);
  const rds = obj(typed.rds);
  if (inline) {
    try {
      routes = { kind: 'inline', config: compileRouteConfig(inline) };
    } catch (err) {
      throw new HcmConfigError(`${where}.routeConfig: ${(err as Error).message}`);
    }
  } else if (rds && str(rds.routeConfigName)) {
    routes = { kind: 'rds', name: str(rds.routeConfigName)! };
  } else {
    throw new HcmConfigError(`${where}: one of rds.routeConfigName or routeConfig is required`);
  }
  const codecRaw = str(typed.codecType) ?? 'AUTO';
  const codec = codecRaw === 'HTTP1' || codecRaw === 'HTTP2' ? codecRaw : 'AUTO';
  const headersTimeout = durationMs(typed.requestHeadersTimeout);
  return {
    statPrefix,
    names: httpStatNames(statPrefix, inboundPort),
    routes,
    codec,
    streamIdleTimeoutMs: durationMs(typed.streamIdleTimeout) ?? HTTP_DEFAULTS.streamIdleTimeoutMs,
    requestTimeoutMs: durationMs(typed.requestTimeout) ?? HTTP_DEFAULTS.requestTimeoutMs,
    requestHeadersTimeoutMs: headersTimeout && headersTimeout > 0 ? headersTimeout : HTTP_DEFAULTS.requestHeadersTimeoutMs,
  };
}

/** The single upstream cluster of an inline route configuration (an inbound HCM), if any. */
export function singleCluster(hcm: HcmConfig): string | undefined {
  if (hcm.routes.kind !== 'inline') return undefined;
  for (const vh of [...hcm.routes.config.exact.values(), ...hcm.routes.config.suffix.map((e) => e[1]), hcm.routes.config.any]) {
    for (const r of vh?.routes ?? []) if (r.action.type === 'route' && r.action.cluster) return r.action.cluster;
  }
  return undefined;
}

