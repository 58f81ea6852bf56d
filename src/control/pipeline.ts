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
  clusters: EnvoyObject[];
  endpoints: EnvoyObject[];
  secrets: EnvoyObject[];
}

export type ParseYamlFn = (text: string, file: string) => { resources: Resource[]; findings: Finding[] };
export type BuildModelFn = (resources: Resource[], workloads: Workload[], opts?: { trustDomain?: string }) => { model: MeshModel; findings: Finding[] };
export type GenerateFn = (model: MeshModel, proxy: Workload, ctx: { rootCertsPem: string[] }) => GeneratedConfig;

export interface Pipeline {
  parseYaml: ParseYamlFn;
  buildModel: BuildModelFn;
  generate: GenerateFn;
}

/** The real pipeline; any function given in `overrides` is used instead (and its module is not loaded). */
export async function loadPipeline(overrides: Partial<Pipeline> = {}): Promise<Pipeline> {
  const parseYaml = overrides.parseYaml ?? (await import('../resources/index.js')).parseYaml;
  const buildModel = overrides.buildModel ?? (await import('../model/index.js')).buildModel;
  const generate = overrides.generate ?? (await import('../xds/generate.js')).generateForProxy;
  return { parseYaml, buildModel, generate };
}
