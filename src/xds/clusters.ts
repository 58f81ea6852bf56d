// CDS: outbound clusters (one per service port, plus subsets routes name) and the
// sidecar's inbound clusters to its own application.
import type { MeshModel, PortProtocol, Service, ServicePort } from '../model/types.js';
import type { EnvoyObject } from '../proxy/types.js';
import { inboundClusterName, meshSni, METADATA, outboundClusterName, SECRET } from './names.js';
import { adsSource, ANY, duration, EXT, meshCertificates, rawBufferSocket, sdsSecret, sortBy, socketAddress, struct, tlsSocket, typed } from './envoy.js';
import { fqdnOf, isHttp2Protocol, isHttpProtocol, isServiceTarget, selectedWorkloads, type OutboundTarget, type ServiceTarget } from './mesh.js';

/** Cluster settings weft does not take from policy yet (DestinationRule comes later). */
export const CLUSTER_DEFAULTS = { connectTimeoutMs: 10_000, lbPolicy: 'ROUND_ROBIN' } as const;

/** ALPN offered to the server sidecar: HTTP rides HTTP/2, opaque TCP its own protocol (docs/architecture.md). */
export const MESH_ALPN = { http: 'h2', tcp: 'weft-tcp' } as const;

/** Every service port as an upstream target, unsubsetted. */
export function serviceTargets(model: MeshModel, clusterDomain?: string): ServiceTarget[] {
  return model.services.flatMap((service) =>
    service.ports.map((servicePort) => ({ fqdn: fqdnOf(service, clusterDomain), port: servicePort.port, subset: '', service, servicePort })),
  );
}

/**
 * The targets to emit clusters (and endpoints) for: every service port, plus the
 * subsets routes reference. Targets on hosts the model does not know are left out:
 * there is nothing to send them to.
 */
export function outboundTargets(model: MeshModel, referenced: ReadonlyMap<string, OutboundTarget>, clusterDomain?: string): ServiceTarget[] {
  const all = new Map<string, ServiceTarget>();
  for (const t of serviceTargets(model, clusterDomain)) all.set(outboundClusterName(t.port, t.fqdn, t.subset), t);
  for (const [name, t] of referenced) if (isServiceTarget(t) && !all.has(name)) all.set(name, t);
  return sortBy([...all.entries()], ([name]) => name).map(([, t]) => t);
}

function httpProtocolOptions(protocol: PortProtocol, upstream: 'mesh' | 'app'): EnvoyObject | undefined {
  if (!isHttpProtocol(protocol)) return undefined;
  let config: EnvoyObject;
  if (isHttp2Protocol(protocol)) config = { explicitHttpConfig: { http2ProtocolOptions: {} } };
  // Toward a sidecar the mesh hop is HTTP/2 over mTLS; in plaintext, speak what the client spoke.
  else if (upstream === 'mesh') config = { useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} } };
  else config = { explicitHttpConfig: { httpProtocolOptions: {} } };
  return { [EXT.httpProtocolOptions]: typed(ANY.httpProtocolOptions, config) };
}

/** The SPIFFE ids a client accepts from a service's servers: every identity behind it. */
export function serviceIdentities(model: MeshModel, service: Service): string[] {
  return [...new Set(selectedWorkloads(model, service).map((w) => w.identity))].sort();
}

function meshTlsContext(target: OutboundTarget, servicePort: ServicePort, identities: string[]): EnvoyObject {
  const sans = identities.map((id) => ({ sanType: 'URI', matcher: { exact: id } }));
  return {
    commonTlsContext: {
      ...meshCertificates(),
      combinedValidationContext: {
        defaultValidationContext: sans.length ? { matchTypedSubjectAltNames: sans } : {},
        validationContextSdsSecretConfig: sdsSecret(SECRET.root),
      },
      alpnProtocols: [isHttpProtocol(servicePort.protocol) ? MESH_ALPN.http : MESH_ALPN.tcp],
    },
    sni: meshSni(target.port, target.fqdn, target.subset),
  };
}

/** An EDS cluster to a service port (or subset): mTLS to meshed endpoints, plaintext to the rest. */
export function outboundCluster(model: MeshModel, target: ServiceTarget): EnvoyObject {
  const name = outboundClusterName(target.port, target.fqdn, target.subset);
  const options = httpProtocolOptions(target.servicePort.protocol, 'mesh');
  return {
    name,
    type: 'EDS',
    edsClusterConfig: { edsConfig: adsSource() },
    connectTimeout: duration(CLUSTER_DEFAULTS.connectTimeoutMs),
    lbPolicy: CLUSTER_DEFAULTS.lbPolicy,
    transportSocketMatches: [
      {
        name: 'tlsMode-istio',
        match: struct({ [METADATA.tlsModeKey]: METADATA.tlsModeMesh }),
        transportSocket: tlsSocket(ANY.upstreamTls, meshTlsContext(target, target.servicePort, serviceIdentities(model, target.service))),
      },
      { name: 'tlsMode-disabled', match: struct({}), transportSocket: rawBufferSocket() },
    ],
    ...(options ? { typedExtensionProtocolOptions: options } : {}),
  };
}

/** A STATIC cluster from the sidecar to its own application on one container port. */
export function inboundCluster(port: number, protocol: PortProtocol, appAddress: string): EnvoyObject {
  const name = inboundClusterName(port);
  const options = httpProtocolOptions(protocol, 'app');
  return {
    name,
    type: 'STATIC',
    connectTimeout: duration(CLUSTER_DEFAULTS.connectTimeoutMs),
    lbPolicy: CLUSTER_DEFAULTS.lbPolicy,
    loadAssignment: { clusterName: name, endpoints: [{ lbEndpoints: [{ endpoint: { address: socketAddress(appAddress, port) } }] }] },
    ...(options ? { typedExtensionProtocolOptions: options } : {}),
  };
}
