// SMI TrafficSplit (+ the HTTPRouteGroups it is narrowed by) -> one HttpRouteSet for the
// root service (attached to "mesh"), weighted across the backend services.

import type { Finding, Resource } from '../resources/types.js';
import type { HttpRouteGroupMatch, HttpRouteGroupSpec, TrafficSplitSpec } from '../resources/smi.js';
import { integerWeights } from '../resources/quantity.js';
import { expandHost, type HostContext } from './hosts.js';
import { ResourceTranslator, sourceOf } from './source.js';
import type { HttpMatch, HttpRouteSet, HttpRule, WeightedDestination } from './types.js';

export interface SmiContext {
  hosts: HostContext;
  serviceHosts: ReadonlySet<string>;
  /** HTTPRouteGroups by "<ns>/<name>". */
  routeGroups: ReadonlyMap<string, Resource<HttpRouteGroupSpec>>;
  findings: Finding[];
}

/** One HTTPRouteGroup match -> HttpMatch (methods "*" = any; header values are regexes, as in SMI). */
function groupMatch(m: HttpRouteGroupMatch): HttpMatch {
  const out: HttpMatch = {};
  if (m.pathRegex !== undefined) out.path = { kind: 'regex', value: m.pathRegex };
  const methods = (m.methods ?? []).map((x) => x.toUpperCase());
  if (methods.length > 0 && !methods.includes('*')) {
    out.method = methods.length === 1 ? { kind: 'exact', value: methods[0]! } : { kind: 'regex', value: methods.join('|') };
  }
  const headers = Array.isArray(m.headers) ? Object.assign({}, ...m.headers) as Record<string, string> : (m.headers ?? {});
  const list = Object.entries(headers).map(([name, value]) => ({ name: name.toLowerCase(), match: { kind: 'regex' as const, value } }));
  if (list.length) out.headers = list;
  return out;
}

class SplitTranslator extends ResourceTranslator<TrafficSplitSpec> {
  constructor(
    r: Resource<TrafficSplitSpec>,
    private readonly ctx: SmiContext,
  ) {
    super(r, ctx.findings);
  }

  private host(name: string, path: string): string {
    const fqdn = expandHost(name, this.ns, this.ctx.hosts);
    if (!this.ctx.serviceHosts.has(fqdn)) this.warn('WEFT_UNKNOWN_HOST', path, `Service "${name}" (${fqdn}) does not exist; its share answers 503`);
    return fqdn;
  }

  /** The HTTPRouteGroup matches the split is narrowed to; undefined = every request. */
  private matches(): HttpMatch[] | undefined {
    const refs = this.r.spec.matches;
    if (!refs?.length) return undefined;
    const out: HttpMatch[] = [];
    refs.forEach((ref, i) => {
      const path = `spec.matches[${i}]`;
      if (ref.kind !== 'HTTPRouteGroup') {
        this.warn('WEFT_UNSUPPORTED_FIELD', `${path}.kind`, `accepted, not acted on: ${ref.kind} matches are not supported yet; only HTTPRouteGroup`);
        return;
      }
      const group = this.ctx.routeGroups.get(`${this.ns}/${ref.name}`);
      if (!group) {
        this.warn('WEFT_UNKNOWN_REFERENCE', `${path}.name`, `HTTPRouteGroup ${this.ns}/${ref.name} does not exist; the split applies once it does`);
        return;
      }
      out.push(...group.spec.matches.map(groupMatch));
    });
    return out;
  }

  translate(): HttpRouteSet | undefined {
    const spec = this.r.spec;
    const root = this.host(spec.service, 'spec.service');
    const weights = integerWeights(spec.backends.map((b) => b.weight));
    if (weights.every((w) => w === 0)) {
      this.warn('WEFT_INVALID_FIELD', 'spec.backends', 'every backend weight is 0; the split is not applied');
      return undefined;
    }
    const destinations: WeightedDestination[] = spec.backends.map((b, i) => ({ host: this.host(b.service, `spec.backends[${i}].service`), weight: weights[i]! }));
    const matches = this.matches();
    // Matches given but none resolved: splitting everything would be wrong, so split nothing.
    if (matches !== undefined && matches.length === 0) return undefined;
    const rules: HttpRule[] = [{ matches: matches ?? [], action: { kind: 'forward', destinations } }];
    // Requests outside the route groups keep going to the root service.
    if (matches !== undefined) rules.push({ matches: [], action: { kind: 'forward', destinations: [{ host: root, weight: 100 }] } });
    return { source: sourceOf(this.r), hosts: [root], attachTo: ['mesh'], rules };
  }
}

export function routesFromTrafficSplit(r: Resource<TrafficSplitSpec>, ctx: SmiContext): HttpRouteSet | undefined {
  return new SplitTranslator(r, ctx).translate();
}
