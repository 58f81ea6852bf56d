// The proxy's xDS node: id in Istio's format and metadata as a
// google.protobuf.Struct in protobufjs object form ({fields: {K: {stringValue}}}):
// a plain object would be dropped silently by the codec.
import { nodeId, type ProxyType } from '../../xds/names.js';
import { ADS_GZIP_FEATURE, VHDS_FEATURE } from '../../xds/ads-service.js';

export interface NodeInfo {
  type: ProxyType;
  ip: string;
  pod: string;
  namespace: string;
  serviceAccount: string;
  labels: Record<string, string>;
  /** Defaults to [ip]. */
  instanceIps?: string[];
}

export interface StructValue {
  stringValue?: string;
  structValue?: { fields: Record<string, StructValue> };
}

export interface XdsNode {
  id: string;
  cluster: string;
  userAgentName: string;
  /** What this client handles beyond the protocol's minimum (Envoy's well-known names, or weft's). */
  clientFeatures: string[];
  metadata: { fields: Record<string, StructValue> };
}

function stringStruct(map: Record<string, string>): { fields: Record<string, StructValue> } {
  const fields: Record<string, StructValue> = {};
  for (const k of Object.keys(map).sort()) fields[k] = { stringValue: map[k]! };
  return { fields };
}

export function buildNode(info: NodeInfo): XdsNode {
  return {
    id: nodeId(info.type, info.ip, info.pod, info.namespace),
    cluster: `${info.pod}.${info.namespace}`,
    userAgentName: 'weft-proxy',
    clientFeatures: [ADS_GZIP_FEATURE, VHDS_FEATURE],
    metadata: {
      fields: {
        NAMESPACE: { stringValue: info.namespace },
        POD_NAME: { stringValue: info.pod },
        SERVICE_ACCOUNT: { stringValue: info.serviceAccount },
        LABELS: { structValue: stringStruct(info.labels) },
        INSTANCE_IPS: { stringValue: (info.instanceIps ?? [info.ip]).join(',') },
      },
    },
  };
}
