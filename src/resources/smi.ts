// SMI: split.smi-spec.io TrafficSplit (v1alpha1 to v1alpha4) and specs.smi-spec.io
// HTTPRouteGroup (the matches a v1alpha3+ TrafficSplit can be narrowed by).

import type { KindDef } from './envelope.js';
import { quantity } from './quantity.js';
import { arr, map, obj, oneOf, regex, required, str, type Schema } from './schema.js';

export const TRAFFIC_SPLIT_VERSIONS = ['split.smi-spec.io/v1alpha1', 'split.smi-spec.io/v1alpha2', 'split.smi-spec.io/v1alpha3', 'split.smi-spec.io/v1alpha4'] as const;
export const SMI_SPECS_VERSIONS = ['specs.smi-spec.io/v1alpha1', 'specs.smi-spec.io/v1alpha2', 'specs.smi-spec.io/v1alpha3', 'specs.smi-spec.io/v1alpha4'] as const;

// ---- TrafficSplit

export interface TrafficSplitBackend {
  service: string;
  /** An integer (v1alpha2+) or a Kubernetes quantity such as "900m" (v1alpha1). */
  weight: number | string;
}

export interface TrafficSplitMatch {
  kind: string;
  name: string;
  apiGroup?: string;
}

export interface TrafficSplitSpec {
  service: string;
  backends: TrafficSplitBackend[];
  matches?: TrafficSplitMatch[];
}

export const trafficSplitSpecSchema: Schema<TrafficSplitSpec> = obj<TrafficSplitSpec>({
  service: required(str({ nonEmpty: true })),
  // Weights are read in every version as quantities: integers are quantities too.
  backends: required(arr(obj<TrafficSplitBackend>({ service: required(str({ nonEmpty: true })), weight: required(quantity()) }), { minItems: 1 })),
  matches: arr(obj<TrafficSplitMatch>({ kind: required(str({ nonEmpty: true })), name: required(str({ nonEmpty: true })), apiGroup: str() })),
});

export const trafficSplitKind: KindDef<TrafficSplitSpec> = {
  kind: 'TrafficSplit',
  apiVersions: TRAFFIC_SPLIT_VERSIONS,
  spec: trafficSplitSpecSchema,
  specRequired: true,
};

// ---- HTTPRouteGroup

export interface HttpRouteGroupMatch {
  name: string;
  /** "*" means any method. */
  methods?: string[];
  pathRegex?: string;
  /** Header name -> value regex; v1alpha2/3 wrote a list of one-entry maps, v1alpha4 one map. */
  headers?: Record<string, string> | Record<string, string>[];
}

export interface HttpRouteGroupSpec {
  matches: HttpRouteGroupMatch[];
}

export const httpRouteGroupSpecSchema: Schema<HttpRouteGroupSpec> = obj<HttpRouteGroupSpec>({
  matches: required(
    arr(
      obj<HttpRouteGroupMatch>({
        name: required(str({ nonEmpty: true })),
        methods: arr(str({ nonEmpty: true })),
        pathRegex: regex(),
        headers: oneOf(map(str()), arr(map(str()))),
      }),
      { minItems: 1 },
    ),
  ),
});

export const httpRouteGroupKind: KindDef<HttpRouteGroupSpec> = {
  kind: 'HTTPRouteGroup',
  apiVersions: SMI_SPECS_VERSIONS,
  spec: httpRouteGroupSpecSchema,
  specRequired: true,
};

export const smiKinds = [trafficSplitKind, httpRouteGroupKind] as const;
