// Which generator serves an ADS node: weft's own proxies (sidecar, router) get
// generateForProxy for their registered workload; proxyless gRPC clients (gRFC A27)
// have no workload and get generateForProxyless: the mesh as seen from their namespace.
//
// A node is a proxyless gRPC client when it says so, as Istio's do (node metadata
// GENERATOR = "grpc"), or when it is a gRPC library's xDS client: every gRPC
// implementation sets node.user_agent_name to "gRPC <language>" ("gRPC Node Pure JS",
// "gRPC Go", "gRPC Java", "gRPC C-core"). Its id may be Istio's
// `sidecar~<ip>~<pod>.<ns>~<ns>.svc.cluster.local` (then pod and namespace come from
// it) or anything else (then metadata NAMESPACE, else "default"; POD_NAME, else the id).
// A node that is neither a gRPC client nor has a weft proxy id is rejected: a weft proxy
// with a malformed id must not be mistaken for a client and run without its listeners.
import type { MeshModel, Workload } from '../model/types.js';
import type { DiscoveryRequest } from '../xds/ads-service.js';
import { parseNodeId } from '../xds/names.js';
import { structToJson } from '../xds/object-form.js';
import { generateForProxyless, type ProxylessClient, type ProxylessContext } from '../xds/proxyless.js';
import type { ProxyNode } from './ads-stream.js';
import type { GeneratedConfig, GenerateCtx, GenerateFn } from './pipeline.js';

export type ProxylessGenerateFn = (model: MeshModel, client: ProxylessClient, ctx: ProxylessContext) => GeneratedConfig;

/** A node as the ADS server keeps it; `proxyless` is set for proxyless gRPC clients. */
export interface ClassifiedNode extends ProxyNode {
  proxyless?: ProxylessClient;
}

export const PROXYLESS_NODE = {
  /** Istio's node metadata key and value for clients served by its gRPC generator. */
  generatorKey: 'GENERATOR',
  generatorGrpc: 'grpc',
  /** user_agent_name prefix every gRPC implementation's xDS client sends. */
  grpcUserAgentPrefix: 'gRPC ',
  defaultNamespace: 'default',
} as const;

type RequestNode = NonNullable<DiscoveryRequest['node']>;

function stringField(meta: Record<string, unknown>, key: string): string | undefined {
  const v = meta[key];
  return typeof v === 'string' && v !== '' ? v : undefined;
}

function labelsOf(meta: Record<string, unknown>): Record<string, string> {
  const raw = meta['LABELS'];
  const out: Record<string, string> = {};
  if (typeof raw === 'object' && raw !== null && !Array.isArray(raw))
    for (const [k, v] of Object.entries(raw)) if (typeof v === 'string') out[k] = v;
  return out;
}

/** Whether the node is a proxyless gRPC client (metadata GENERATOR=grpc, or a gRPC library's user agent). */
export function isGrpcClientNode(node: RequestNode | undefined): boolean {
  if (!node) return false;
  const meta = structToJson(node.metadata);
  if (stringField(meta, PROXYLESS_NODE.generatorKey) === PROXYLESS_NODE.generatorGrpc) return true;
  return (node.userAgentName ?? '').startsWith(PROXYLESS_NODE.grpcUserAgentPrefix);
}

/** The node of a stream's first request, or why it is refused. */
export function classifyNode(node: RequestNode | undefined): { node: ClassifiedNode } | { error: string } {
  const id = node?.id ?? '';
  const parsed = parseNodeId(id);
  if (!isGrpcClientNode(node)) {
    if (parsed) return { node: { id, ...parsed } };
    return { error: `the first request must carry node.id "<sidecar|router>~<ip>~<pod>.<ns>~<ns>.svc.cluster.local" or come from a gRPC xDS client (node.user_agent_name "gRPC ..." or metadata GENERATOR=grpc), got ${JSON.stringify(id)}` };
  }
  const meta = structToJson(node?.metadata);
  const namespace = parsed?.namespace ?? stringField(meta, 'NAMESPACE') ?? PROXYLESS_NODE.defaultNamespace;
  const pod = parsed?.pod ?? stringField(meta, 'POD_NAME') ?? id;
  const ip = parsed?.ip ?? stringField(meta, 'INSTANCE_IPS')?.split(',')[0] ?? '';
  const client: ProxylessClient = { id, namespace, pod, ip, labels: labelsOf(meta) };
  return { node: { id, type: 'sidecar', ip, pod, namespace, proxyless: client } };
}

/** The proxyless client behind a node, if it is one. */
export function proxylessClientOf(node: ProxyNode): ProxylessClient | undefined {
  return 'proxyless' in node ? (node as ClassifiedNode).proxyless : undefined;
}

export interface NodeGenerators {
  generate: GenerateFn;
  /** Defaults to xds/proxyless.ts. */
  generateProxyless?: ProxylessGenerateFn;
}

/**
 * A node's configuration from the current model, by the generator its kind needs;
 * undefined while a proxy's workload is not registered (nothing to send yet).
 */
export function configForNode(
  model: MeshModel,
  node: ProxyNode,
  workload: Workload | undefined,
  gens: NodeGenerators,
  ctx: GenerateCtx,
): GeneratedConfig | undefined {
  const client = proxylessClientOf(node);
  if (client) return (gens.generateProxyless ?? generateForProxyless)(model, client, {});
  return workload ? gens.generate(model, workload, ctx) : undefined;
}

/** Whether the node has what it needs to be sent config: a registered workload, or none needed. */
export function nodeServable(node: ProxyNode, workload: Workload | undefined): boolean {
  return workload !== undefined || proxylessClientOf(node) !== undefined;
}
