// The kinds weft accepts, by kind name. Adding an API group = adding its table here.

import type { KindDef } from './envelope.js';
import { kubernetesKinds } from './kubernetes.js';
import { istioNetworkingKinds } from './istio-networking.js';
import { linkerdKinds } from './linkerd.js';
import { smiKinds } from './smi.js';
import { gatewayApiKinds } from './gateway-api.js';
import { destinationRuleKind } from './istio-destinationrule.js';
import { istioTrafficKinds } from './istio-serviceentry.js';

/** Every accepted kind (a kind name may appear once per API group: Gateway, HTTPRoute). */
export const KINDS: readonly KindDef<unknown>[] = [...kubernetesKinds, ...istioNetworkingKinds, destinationRuleKind, ...istioTrafficKinds, ...linkerdKinds, ...smiKinds, ...gatewayApiKinds];

const byKind = new Map<string, KindDef<unknown>[]>();
for (const def of KINDS) byKind.set(def.kind, [...(byKind.get(def.kind) ?? []), def]);

/** The definition for apiVersion + kind, or why there is none. */
export function lookupKind(apiVersion: string, kind: string): { def: KindDef<unknown> } | { error: string } {
  const defs = byKind.get(kind);
  if (!defs) return { error: `unknown kind "${kind}" (apiVersion ${apiVersion}); supported kinds: ${supportedKinds().join(', ')}` };
  const def = defs.find((d) => d.apiVersions.includes(apiVersion));
  if (def) return { def };
  const versions = defs.flatMap((d) => d.apiVersions);
  return { error: `unknown kind "${kind}" in apiVersion ${apiVersion}; ${kind} is supported in ${versions.join(', ')}` };
}

/** "apiVersion/Kind" for every accepted kind, for messages and `weft explain`. */
export function supportedKinds(): string[] {
  return KINDS.map((d) => `${d.kind} (${d.apiVersions.join(', ')})`);
}
