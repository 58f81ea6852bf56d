// networking.istio.io ServiceEntry (v1, v1beta1, v1alpha3): hosts outside the
// Kubernetes service registry. Also weft's MeshConfig (weft.dev/v1alpha1), which holds
// the mesh-wide outbound traffic policy that decides what happens to hosts no Service
// or ServiceEntry declares (Istio keeps it in its meshConfig).

import { isIP } from 'node:net';
import type { KindDef } from './envelope.js';
import { arr, enumOf, indexPath, int, map, obj, required, str, unsupported, withDefault, type Schema } from './schema.js';
import { ISTIO_NETWORKING_VERSIONS } from './istio-networking.js';

export type ServiceEntryProtocol = 'HTTP' | 'HTTPS' | 'GRPC' | 'HTTP2' | 'MONGO' | 'TCP' | 'TLS';

export interface ServiceEntryPort {
  number: number;
  protocol?: ServiceEntryProtocol;
  name: string;
  targetPort?: number;
}

export interface WorkloadEntrySpec {
  address?: string;
  ports?: Record<string, number>;
  labels?: Record<string, string>;
  weight?: number;
}

export interface ServiceEntrySpec {
  hosts: string[];
  addresses?: string[];
  ports: ServiceEntryPort[];
  location: 'MESH_EXTERNAL' | 'MESH_INTERNAL';
  resolution: 'NONE' | 'STATIC' | 'DNS' | 'DNS_ROUND_ROBIN';
  endpoints?: WorkloadEntrySpec[];
}

const port = () => int({ min: 1, max: 65535 });

const portSchema = obj<ServiceEntryPort>({
  number: required(port()),
  protocol: enumOf(['HTTP', 'HTTPS', 'GRPC', 'HTTP2', 'MONGO', 'TCP', 'TLS'] as const, { caseInsensitive: true }),
  name: required(str({ nonEmpty: true })),
  targetPort: port(),
});

const endpointSchema = obj<WorkloadEntrySpec>({
  address: str({ nonEmpty: true }),
  ports: map(port()),
  labels: map(str()),
  weight: int({ min: 0 }),
  network: unsupported('weft runs one network'),
  locality: unsupported('weft has no locality-aware load balancing yet'),
  serviceAccount: unsupported('external endpoints are not given mesh identities'),
});

export const serviceEntrySpecSchema: Schema<ServiceEntrySpec> = obj<ServiceEntrySpec>({
  hosts: required(arr(str({ nonEmpty: true }), { minItems: 1 })),
  addresses: arr(str({ nonEmpty: true })),
  ports: required(arr(portSchema, { minItems: 1 }), '(weft needs the ports a ServiceEntry host is reached on)'),
  // Istio's defaults (enum zero values).
  location: withDefault(enumOf(['MESH_EXTERNAL', 'MESH_INTERNAL'] as const), () => 'MESH_EXTERNAL' as const),
  resolution: withDefault(enumOf(['NONE', 'STATIC', 'DNS', 'DNS_ROUND_ROBIN'] as const), () => 'NONE' as const),
  endpoints: arr(endpointSchema),
  workloadSelector: unsupported('weft does not select WorkloadEntries or pods for ServiceEntries yet'),
  exportTo: unsupported('every ServiceEntry is visible mesh-wide in weft', arr(str())),
  subjectAltNames: unsupported('weft does not give ServiceEntry endpoints mesh identities'),
});

/** Checks that need the whole spec: Istio's validation rules for resolution and endpoints. */
function finishServiceEntry(spec: ServiceEntrySpec, v: Parameters<NonNullable<KindDef<ServiceEntrySpec>['finish']>>[1]): void {
  v.unique('spec.ports', spec.ports, (p) => p.name, 'name', 'port name');
  const names = new Set(spec.ports.map((p) => p.name));
  if (spec.resolution === 'STATIC' && !spec.endpoints?.length) {
    v.error('WEFT_MISSING_FIELD', 'spec.endpoints', 'required with resolution STATIC: the addresses to send traffic to');
  }
  if ((spec.resolution === 'DNS' || spec.resolution === 'DNS_ROUND_ROBIN') && !spec.endpoints?.length) {
    spec.hosts.forEach((h, i) => {
      if (h.includes('*')) v.error('WEFT_INVALID_FIELD', indexPath('spec.hosts', i), `a wildcard host cannot be resolved by DNS (resolution ${spec.resolution})`);
    });
  }
  if (spec.resolution === 'DNS_ROUND_ROBIN' && (spec.endpoints?.length ?? 0) > 1) {
    v.error('WEFT_INVALID_FIELD', 'spec.endpoints', 'resolution DNS_ROUND_ROBIN takes at most one endpoint');
  }
  if (spec.resolution === 'NONE' && spec.endpoints?.length) {
    v.warn('WEFT_UNSUPPORTED_FIELD', 'spec.endpoints', 'accepted, not acted on: with resolution NONE traffic goes to the address the client asked for');
  }
  spec.endpoints?.forEach((e, i) => {
    const path = indexPath('spec.endpoints', i);
    if (e.address === undefined) {
      v.error('WEFT_MISSING_FIELD', `${path}.address`, 'required field is missing (weft does not place endpoints on networks)');
      return;
    }
    if (e.address.startsWith('unix://')) {
      v.error('WEFT_INVALID_FIELD', `${path}.address`, 'unix domain socket endpoints are not supported by weft');
    } else if (spec.resolution === 'STATIC' && !isIP(e.address)) {
      v.error('WEFT_INVALID_FIELD', `${path}.address`, `"${e.address}" is not an IP address (resolution STATIC needs addresses; use DNS for hostnames)`);
    }
    for (const name of Object.keys(e.ports ?? {})) {
      if (!names.has(name)) v.error('WEFT_INVALID_FIELD', `${path}.ports.${name}`, `no port named "${name}" in spec.ports`);
    }
  });
}

export const serviceEntryKind: KindDef<ServiceEntrySpec> = {
  kind: 'ServiceEntry',
  apiVersions: ISTIO_NETWORKING_VERSIONS,
  spec: serviceEntrySpecSchema,
  specRequired: true,
  finish: (res, v) => finishServiceEntry(res.spec, v),
};

// ---- weft.dev MeshConfig

export const WEFT_CONFIG_VERSIONS = ['weft.dev/v1alpha1'] as const;

export interface MeshConfigSpec {
  outboundTrafficPolicy: { mode: 'ALLOW_ANY' | 'REGISTRY_ONLY' };
}

export const meshConfigSpecSchema: Schema<MeshConfigSpec> = obj<MeshConfigSpec>({
  outboundTrafficPolicy: withDefault(
    obj<MeshConfigSpec['outboundTrafficPolicy']>({
      mode: withDefault(enumOf(['ALLOW_ANY', 'REGISTRY_ONLY'] as const), () => 'ALLOW_ANY' as const),
      egressProxy: unsupported('weft sends unknown hosts straight out or blocks them'),
    }),
    () => ({ mode: 'ALLOW_ANY' as const }),
  ),
});

export const meshConfigKind: KindDef<MeshConfigSpec> = {
  kind: 'MeshConfig',
  apiVersions: WEFT_CONFIG_VERSIONS,
  clusterScoped: true,
  spec: meshConfigSpecSchema,
  emptySpec: () => ({ outboundTrafficPolicy: { mode: 'ALLOW_ANY' } }),
};

export const istioTrafficKinds = [serviceEntryKind, meshConfigKind] as const;
