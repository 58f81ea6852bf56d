// One proxy's generated configuration, checked against the protos and hashed,
// so versions are content hashes: unchanged config is never sent again.
import { createHash } from 'node:crypto';
import { TYPE, encode, type TypeUrl } from '../xds/codec.js';
import type { EnvoyObject, GeneratedConfig } from './pipeline.js';

export type XdsType = 'LDS' | 'CDS' | 'EDS' | 'RDS' | 'SDS';
export const XDS_TYPES: readonly XdsType[] = ['LDS', 'CDS', 'EDS', 'RDS', 'SDS'];

export const TYPE_URL: Record<XdsType, TypeUrl> = {
  LDS: TYPE.listener,
  CDS: TYPE.cluster,
  EDS: TYPE.endpoint,
  RDS: TYPE.route,
  SDS: TYPE.secret,
};

/** Make-before-break (as Istio): clusters before their endpoints, listeners before their routes. */
export const PUSH_ORDER: readonly XdsType[] = ['CDS', 'EDS', 'LDS', 'RDS', 'SDS'];

const FIELD: Record<XdsType, keyof GeneratedConfig> = { LDS: 'listeners', CDS: 'clusters', EDS: 'endpoints', RDS: 'routes', SDS: 'secrets' };

export interface SnapshotResource {
  name: string;
  /** Object form with '@type', ready for a DiscoveryResponse. */
  object: Record<string, unknown>;
  /** sha256 of the resource's protobuf encoding. */
  hash: string;
}

/** Resources of one type by name, sorted by name. */
export type ProxySnapshot = Record<XdsType, Map<string, SnapshotResource>>;

export class SnapshotError extends Error {
  readonly code = 'WEFT_ERR_XDS_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'SnapshotError';
  }
}

function resourceName(type: XdsType, obj: Record<string, unknown>): string {
  const name = type === 'EDS' ? obj['clusterName'] : obj['name'];
  if (typeof name !== 'string' || name === '') throw new SnapshotError(`${type} resource without ${type === 'EDS' ? 'clusterName' : 'name'}`);
  return name;
}

/** Encodes every resource (throws SnapshotError naming the resource when one does not fit its proto). */
export function buildSnapshot(gen: GeneratedConfig): ProxySnapshot {
  const out = {} as ProxySnapshot;
  for (const type of XDS_TYPES) {
    const url = TYPE_URL[type];
    const list: SnapshotResource[] = [];
    const seen = new Set<string>();
    for (const raw of gen[FIELD[type]] as EnvoyObject[]) {
      const obj = raw as Record<string, unknown>;
      const name = resourceName(type, obj);
      if (seen.has(name)) throw new SnapshotError(`${type} resource ${name} generated twice`);
      seen.add(name);
      const { ['@type']: _ignored, ...fields } = obj;
      let bytes: Uint8Array;
      try {
        bytes = encode(url, fields);
      } catch (e) {
        throw new SnapshotError(`${type} ${name}: ${e instanceof Error ? e.message : String(e)}`);
      }
      list.push({ name, object: { '@type': url, ...fields }, hash: createHash('sha256').update(bytes).digest('hex') });
    }
    list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    out[type] = new Map(list.map((r) => [r.name, r]));
  }
  return out;
}

/** `null` names = every resource of the type (wildcard). */
export function selectResources(resources: Map<string, SnapshotResource>, names: readonly string[] | null): { resources: SnapshotResource[]; version: string } {
  const selected: SnapshotResource[] = [];
  if (names === null) selected.push(...resources.values());
  else
    for (const n of [...new Set(names)].sort()) {
      const r = resources.get(n);
      if (r) selected.push(r);
    }
  const h = createHash('sha256');
  for (const r of selected) h.update(`${r.name}\0${r.hash}\n`);
  return { resources: selected, version: h.digest('hex').slice(0, 16) };
}
