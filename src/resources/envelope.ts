// What every kind shares: metadata, the document envelope, and how a kind is described
// to the parser (one KindDef per kind, tabled in each API group's file).

import type { Resource } from './types.js';
import { map, obj, required, str, unsupported, type Schema, type Validation } from './schema.js';

/** Kubernetes object names: DNS-1123 subdomains. */
export const DNS_SUBDOMAIN = /^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
export const DNS_LABEL = /^(?=.{1,63}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;

export interface RawMeta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

const SERVER_SET = 'set by the API server, ignored on input';

export const metadataSchema: Schema<RawMeta> = obj<RawMeta>({
  name: required(str({ pattern: DNS_SUBDOMAIN, patternHint: 'a valid name (lowercase letters, digits, "-" and ".")' })),
  namespace: str({ pattern: DNS_LABEL, patternHint: 'a valid namespace name (lowercase letters, digits and "-")' }),
  labels: map(str()),
  annotations: map(str()),
  generateName: unsupported('weft needs a fixed name; generateName is not expanded'),
  uid: unsupported(SERVER_SET),
  resourceVersion: unsupported(SERVER_SET),
  generation: unsupported(SERVER_SET),
  creationTimestamp: unsupported(SERVER_SET),
  deletionTimestamp: unsupported(SERVER_SET),
  deletionGracePeriodSeconds: unsupported(SERVER_SET),
  managedFields: unsupported(SERVER_SET),
  selfLink: unsupported(SERVER_SET),
  ownerReferences: unsupported('weft does not garbage-collect by owner'),
  finalizers: unsupported('weft does not run finalizers'),
});

/** How the parser knows a kind: its versions, its spec schema and what to do after validation. */
export interface KindDef<Spec> {
  kind: string;
  apiVersions: readonly string[];
  /** Cluster-scoped kinds (Namespace) get namespace "". */
  clusterScoped?: boolean;
  /** Schema of `spec`; absent for kinds without one (ServiceAccount). */
  spec?: Schema<Spec>;
  specRequired?: boolean;
  /** Spec used when the document has none. */
  emptySpec?: () => Spec;
  /** Top-level fields besides apiVersion, kind, metadata, spec, status (all unsupported). */
  extraTopLevel?: Record<string, string>;
  /**
   * Kinds whose content sits beside metadata instead of under `spec` (Secret: type, data,
   * stringData): these top-level fields are validated and gathered as the resource's spec.
   */
  topLevelSpec?: Record<string, Schema<unknown>>;
  /** Defaults and checks that need the whole resource (e.g. selector vs template labels). */
  finish?(res: Resource<Spec>, v: Validation): void;
}

export interface RawDoc {
  apiVersion: string;
  kind: string;
  metadata: RawMeta;
  spec?: unknown;
}

/** The whole-document schema of a kind. */
export function documentSchema(def: KindDef<unknown>): Schema<RawDoc> {
  const extra: Record<string, ReturnType<typeof unsupported>> = {};
  for (const [k, why] of Object.entries(def.extraTopLevel ?? {})) extra[k] = unsupported(why);
  const spec = def.spec ?? unsupported<unknown>(`${def.kind} has no spec that weft reads`);
  return obj<RawDoc>({
    apiVersion: required(str()),
    kind: required(str()),
    metadata: required(metadataSchema),
    spec: def.specRequired && def.spec ? (required(def.spec) as never) : (spec as never),
    status: unsupported('status is written by the platform, ignored on input'),
    ...extra,
    ...(def.topLevelSpec ?? {}),
  });
}
