// The route configs the router runs on, from the accepted RDS and VHDS resources.
// A route config sent with `vhds` gets the virtual hosts held for it (VHDS resources
// named "<route config>/<virtual host>") after its own. Each route config is compiled
// once per content: a response of another type (EDS, CDS, SDS) or of VHDS for another
// route config leaves its compiled form as it was, and a VHDS update compiles only the
// virtual hosts it changed (router.ts caches each by object). A route config that has just come with
// `vhds` routes as it did until its virtual hosts arrive.
import type { EnvoyObject } from '../types.js';
import { virtualHostsByRouteConfig } from '../../xds/vhds.js';
import { compileRouteConfig, type CompiledRouteConfig } from './router.js';

interface Compiled {
  /** The VHDS virtual hosts it was compiled with (undefined: a route config without `vhds`). */
  vhosts: readonly EnvoyObject[] | undefined;
  compiled: CompiledRouteConfig;
}

const compiledOf = new WeakMap<EnvoyObject, Compiled>();

/**
 * Compiles (or reuses) every route config; throws RouteConfigError naming the one that does
 * not compile. A route config in `pending` (its virtual hosts not arrived yet) keeps its
 * `previous` compiled form, when it had one.
 */
export function compileRouteConfigs(
  routes: ReadonlyMap<string, EnvoyObject>,
  virtualHosts: ReadonlyMap<string, EnvoyObject> | undefined,
  pending?: ReadonlySet<string>,
  previous?: ReadonlyMap<string, CompiledRouteConfig>,
): Map<string, CompiledRouteConfig> {
  const byConfig = virtualHosts ? virtualHostsByRouteConfig(virtualHosts) : undefined;
  const out = new Map<string, CompiledRouteConfig>();
  for (const [name, rc] of routes) {
    const kept = pending?.has(name) ? previous?.get(name) : undefined;
    if (kept) {
      out.set(name, kept);
      continue;
    }
    const vhosts = rc['vhds'] ? (byConfig?.get(name) ?? []) : undefined;
    const hit = compiledOf.get(rc);
    if (hit && sameObjects(hit.vhosts, vhosts)) {
      out.set(name, hit.compiled);
      continue;
    }
    const compiled = compileRouteConfig(rc, vhosts);
    compiledOf.set(rc, { vhosts, compiled });
    out.set(name, compiled);
  }
  return out;
}

function sameObjects(a: readonly EnvoyObject[] | undefined, b: readonly EnvoyObject[] | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
