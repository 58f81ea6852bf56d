// Reads, from accepted Listeners and Clusters (object form), the names of the
// other resources they depend on: RDS route configurations, EDS cluster load
// assignments, SDS secrets. Pure functions; unknown shapes are skipped.
import { anyType, arr, obj, str as anyStr } from '../../xds/object-form.js';
import type { EnvoyObject } from '../types.js';

type Obj = Record<string, unknown>;

/** A resource name: a non-empty string. */
function str(v: unknown): string | undefined {
  return anyStr(v) || undefined;
}

const HCM = 'envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager';

function filterChains(listener: EnvoyObject): Obj[] {
  const chains = arr(listener['filterChains']);
  const def = obj(listener['defaultFilterChain']);
  return def ? [...chains, def] : chains;
}

/** Route configuration names that listeners' HTTP connection managers fetch over RDS. */
export function rdsNames(listeners: Iterable<EnvoyObject>): Set<string> {
  const out = new Set<string>();
  for (const l of listeners) {
    for (const chain of filterChains(l)) {
      for (const f of arr(chain['filters'])) {
        const tc = obj(f['typedConfig']);
        if (anyType(tc) !== HCM) continue;
        const name = str(obj(tc?.['rds'])?.['routeConfigName']);
        if (name) out.add(name);
      }
    }
  }
  return out;
}

/** Route configurations sent with `vhds`: their virtual hosts are fetched over VHDS (named after them). */
export function vhdsNames(routes: Iterable<EnvoyObject>): Set<string> {
  const out = new Set<string>();
  for (const r of routes) {
    const name = str(r['name']);
    if (name && obj(r['vhds'])) out.add(name);
  }
  return out;
}

/** Names of clusters fetched over EDS (service name if set, else the cluster name). */
export function edsNames(clusters: Iterable<EnvoyObject>): Set<string> {
  const out = new Set<string>();
  for (const c of clusters) {
    if (c['type'] !== 'EDS') continue;
    const name = str(obj(c['edsClusterConfig'])?.['serviceName']) ?? str(c['name']);
    if (name) out.add(name);
  }
  return out;
}

function tlsContextSecrets(tls: Obj | undefined, out: Set<string>): void {
  const common = obj(tls?.['commonTlsContext']);
  if (!common) return;
  for (const s of arr(common['tlsCertificateSdsSecretConfigs'])) {
    const n = str(s['name']);
    if (n) out.add(n);
  }
  const v = str(obj(common['validationContextSdsSecretConfig'])?.['name']);
  if (v) out.add(v);
  const combined = obj(common['combinedValidationContext']);
  const cv = str(obj(combined?.['validationContextSdsSecretConfig'])?.['name']);
  if (cv) out.add(cv);
}

function transportSocketSecrets(ts: unknown, out: Set<string>): void {
  tlsContextSecrets(obj(obj(ts)?.['typedConfig']), out);
}

/** Secret names that listeners and clusters reference over SDS. */
export function sdsNames(listeners: Iterable<EnvoyObject>, clusters: Iterable<EnvoyObject>): Set<string> {
  const out = new Set<string>();
  for (const l of listeners) for (const chain of filterChains(l)) transportSocketSecrets(chain['transportSocket'], out);
  for (const c of clusters) {
    transportSocketSecrets(c['transportSocket'], out);
    for (const m of arr(c['transportSocketMatches'])) transportSocketSecrets(m['transportSocket'], out);
  }
  return out;
}
