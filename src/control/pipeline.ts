// The functions the control plane runs its data through, owned by other modules:
// resources/ (parse), model/ (build) and xds/ (generate). They are injected so the
// control plane can be exercised before or without them; the real ones are loaded
// lazily by loadDefaultPipeline().
import type { Resource, Finding } from '../resources/types.js';
import type { MeshModel, Workload } from '../model/types.js';

/** An Envoy v3 resource in protobufjs object form (src/xds/codec.ts). */
export type EnvoyObject = object;

export interface GeneratedConfig {
  listeners: EnvoyObject[];
  routes: EnvoyObject[];
  /** VHDS: the virtual hosts of route configs sent with `vhds` (delta proxies that read it), named "<route config>/<virtual host>". */
  virtualHosts?: EnvoyObject[];
  clusters: EnvoyObject[];
  endpoints: EnvoyObject[];
  secrets: EnvoyObject[];
}

/**
 * The same resources as groups: each group an array the generator shares (same
 * instance) between proxies with the same dependencies, names disjoint across the
 * groups of a type. The control plane encodes, indexes and hashes each group once.
 */
export interface GeneratedGroups {
  listeners: EnvoyObject[][];
  routes: EnvoyObject[][];
  virtualHosts?: EnvoyObject[][];
  clusters: EnvoyObject[][];
  endpoints: EnvoyObject[][];
  secrets: EnvoyObject[][];
}

export type ParseYamlFn = (text: string, file: string) => { resources: Resource[]; findings: Finding[] };
export type BuildModelFn = (resources: Resource[], workloads: Workload[], opts?: { trustDomain?: string }) => { model: MeshModel; findings: Finding[] };
/** rootCertsPem: the ROOTCA bundle; credentials: a proxy authenticated as its workload gets its credential secrets (gateway and DestinationRule). */
export interface GenerateCtx {
  rootCertsPem: string[];
  credentials?: boolean;
  /** The proxy reads VHDS (generate.ts GenerateContext.vhds). */
  vhds?: boolean;
}
export type GenerateFn = (model: MeshModel, proxy: Workload, ctx: GenerateCtx) => GeneratedConfig;
export type GenerateGroupsFn = (model: MeshModel, proxy: Workload, ctx: GenerateCtx) => GeneratedGroups;

export interface Pipeline {
  parseYaml: ParseYamlFn;
  buildModel: BuildModelFn;
  generate: GenerateFn;
  /**
   * The grouped form of `generate` (same resources), used by the ADS server when
   * present so proxies share encoded resources. Loaded with the real `generate`;
   * absent when `generate` is overridden (the override alone is then used).
   */
  generateGroups?: GenerateGroupsFn;
}

/** The real pipeline; any function given in `overrides` is used instead (and its module is not loaded). */
export async function loadPipeline(overrides: Partial<Pipeline> = {}): Promise<Pipeline> {
  const parseYaml = overrides.parseYaml ?? (await import('../resources/index.js')).parseYaml;
  const buildModel = overrides.buildModel ?? (await import('../model/index.js')).buildModel;
  if (overrides.generate) return { parseYaml, buildModel, generate: overrides.generate, ...(overrides.generateGroups ? { generateGroups: overrides.generateGroups } : {}) };
  const gen = await import('../xds/generate.js');
  return { parseYaml, buildModel, generate: gen.generateForProxy, generateGroups: overrides.generateGroups ?? gen.generateGroupsForProxy };
}
