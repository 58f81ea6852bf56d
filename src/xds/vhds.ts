// VHDS: a route config sent with `vhds` carries no virtual hosts of its own; they come
// as VirtualHost resources named "<route config>/<virtual host>". What a proxy routes
// on (and what the config views show) is the route config with them after its own.
import type { EnvoyObject } from '../proxy/types.js';
import { vhdsRouteConfig } from './names.js';

/**
 * Whether a VHDS subscription (`names`) covers a virtual host: by its route config's name
 * (all of that config's virtual hosts, as Envoy subscribes) or by its own resource name.
 */
export function virtualHostSubscribed(names: ReadonlySet<string>, resourceName: string): boolean {
  return names.has(vhdsRouteConfig(resourceName)) || names.has(resourceName);
}

/** VHDS virtual hosts grouped by the route config they belong to, in the order given. */
export function virtualHostsByRouteConfig(vhosts: Iterable<[string, EnvoyObject]>): Map<string, EnvoyObject[]> {
  const out = new Map<string, EnvoyObject[]>();
  for (const [name, vh] of vhosts) {
    const rc = vhdsRouteConfig(name);
    const list = out.get(rc);
    if (list) list.push(vh);
    else out.set(rc, [vh]);
  }
  return out;
}

/** The route config with `vhosts` after its own virtual hosts (itself when there are none). */
export function withVirtualHosts(rc: EnvoyObject, vhosts: readonly EnvoyObject[] | undefined): EnvoyObject {
  if (!vhosts || vhosts.length === 0) return rc;
  const own = (rc['virtualHosts'] as EnvoyObject[] | undefined) ?? [];
  return { ...rc, virtualHosts: [...own, ...vhosts] };
}
