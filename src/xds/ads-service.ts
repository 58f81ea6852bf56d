// The ADS and CA gRPC service definitions, built on the shared codec so that
// neither side loads the Envoy protos twice (no @grpc/proto-loader at run time).
import type { ServiceDefinition, MethodDefinition } from '@grpc/grpc-js';
import { messageType, OBJECT_FORM } from './codec.js';

export interface DiscoveryRequest {
  versionInfo?: string;
  node?: { id?: string; cluster?: string; metadata?: Record<string, unknown>; userAgentName?: string; clientFeatures?: string[] };
  resourceNames?: string[];
  typeUrl?: string;
  responseNonce?: string;
  errorDetail?: { code?: number; message?: string };
}

/** Delta (incremental) xDS: the client names what it subscribes to and unsubscribes from, and ACKs by nonce alone. */
export interface DeltaDiscoveryRequest {
  node?: DiscoveryRequest['node'];
  typeUrl?: string;
  resourceNamesSubscribe?: string[];
  resourceNamesUnsubscribe?: string[];
  /** On a new stream: what the client already holds (name -> version), so it is not sent again. */
  initialResourceVersions?: Record<string, string>;
  responseNonce?: string;
  errorDetail?: { code?: number; message?: string };
}

/** One resource of a delta response; `resource` in object form with '@type' (see codec.ts). */
export interface DeltaResource {
  name?: string;
  version?: string;
  resource?: Record<string, unknown>;
}

export interface DeltaDiscoveryResponse {
  systemVersionInfo?: string;
  resources?: DeltaResource[];
  typeUrl?: string;
  removedResources?: string[];
  nonce?: string;
}

/**
 * The node.client_features entry by which an xDS client says it reads responses compressed
 * with gzip (grpc-encoding: gzip; grpc-js clients inflate them): the control plane then
 * compresses the responses it shares between proxies (control/ads-wire.ts).
 */
export const ADS_GZIP_FEATURE = 'weft.ads.grpc-encoding.gzip';

/**
 * The node.client_features entry by which a delta xDS client says it reads VHDS (virtual
 * hosts as their own resources, under a route config sent with `vhds`): the control plane
 * then sends a sidecar's outbound routes that way on its delta streams. Envoy has no such
 * feature: VHDS is chosen by the config it is given.
 */
export const VHDS_FEATURE = 'weft.vhds';

/** Resources are carried as object form with '@type' (see codec.ts). */
export interface DiscoveryResponse {
  versionInfo: string;
  resources: Record<string, unknown>[];
  typeUrl: string;
  nonce: string;
}

function serializer<T>(fullName: string): { serialize: (v: T) => Buffer; deserialize: (b: Buffer) => T } {
  return {
    serialize: (value: T) => {
      const type = messageType(fullName);
      return Buffer.from(type.encode(type.fromObject(value as Record<string, unknown>)).finish());
    },
    deserialize: (bytes: Buffer) => {
      const type = messageType(fullName);
      return type.toObject(type.decode(bytes), OBJECT_FORM) as T;
    },
  };
}

function method<Req, Res>(path: string, reqType: string, resType: string, requestStream: boolean, responseStream: boolean): MethodDefinition<Req, Res> {
  const req = serializer<Req>(reqType);
  const res = serializer<Res>(resType);
  return {
    path,
    requestStream,
    responseStream,
    requestSerialize: req.serialize,
    requestDeserialize: req.deserialize,
    responseSerialize: res.serialize,
    responseDeserialize: res.deserialize,
  };
}

export const ADS_SERVICE = {
  streamAggregatedResources: method<DiscoveryRequest, DiscoveryResponse>(
    '/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources',
    'envoy.service.discovery.v3.DiscoveryRequest',
    'envoy.service.discovery.v3.DiscoveryResponse',
    true,
    true,
  ),
  deltaAggregatedResources: method<DeltaDiscoveryRequest, DeltaDiscoveryResponse>(
    '/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources',
    'envoy.service.discovery.v3.DeltaDiscoveryRequest',
    'envoy.service.discovery.v3.DeltaDiscoveryResponse',
    true,
    true,
  ),
} satisfies ServiceDefinition;

export interface CreateCertificateRequest {
  csr: string;
  validitySeconds?: number;
}
export interface CreateCertificateResponse {
  certChain: string[];
  rootCerts: string[];
}

export const CA_SERVICE = {
  createCertificate: method<CreateCertificateRequest, CreateCertificateResponse>(
    '/weft.ca.v1.CertificateService/CreateCertificate',
    'weft.ca.v1.CreateCertificateRequest',
    'weft.ca.v1.CreateCertificateResponse',
    false,
    false,
  ),
} satisfies ServiceDefinition;
