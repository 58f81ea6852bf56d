// CDS: outbound clusters (one per service port, one per DestinationRule subset, plus
// subsets routes name; ServiceEntry hosts by their resolution) and the sidecar's
// inbound clusters to its own application. Traffic policy fields: cluster-policy.ts.
import type { ClusterPolicy, ClientTlsPolicy, MeshModel, PortProtocol, Service, ServicePort } from '../model/types.js';
import type { EnvoyObject } from '../proxy/types.js';
import { ALPN_WEFT_TCP, CREDENTIAL, inboundClusterName, meshSni, METADATA, SECRET } from './names.js';
import { adsSource, ANY, duration, EXT, meshCertificates, rawBufferSocket, sdsSecret, sortBy, socketAddress, struct, tlsSocket, typed } from './envoy.js';
import { fqdnOf, isHttp2Protocol, isHttpProtocol, isServiceTarget, selectedWorkloads, type OutboundTarget, type ServiceTarget } from './mesh.js';
import { circuitBreakers, clusterPolicyOf, commonHttpOptions, isPassthroughLb, lbFields, outlierFields, tcpFields } from './cluster-policy.js';
import { externalLoadAssignment } from './endpoints.js';
import { targetClusterName } from './passthrough.js';
import { withRetryBudget } from './retry-budget.js';

/** Settings of clusters no policy shapes (inbound, proxyless); outbound defaults are Istio's, in cluster-policy.ts. */
export const CLUSTER_DEFAULTS = { connectTimeoutMs: 10_000, lbPolicy: 'ROUND_ROBIN' } as const;

/** ALPN offered to the server sidecar: HTTP rides HTTP/2, opaque TCP its own protocol (docs/architecture.md). */
/**
 * ALPN offered on the mesh hop. HTTP keeps the client's protocol by default, as Istio's
 * h2UpgradePolicy DEFAULT does (HTTP/1.1 stays HTTP/1.1, HTTP/2 and gRPC go as HTTP/2);
 * the proxy's pools each offer the one they speak.
 */
export const MESH_ALPN = { http: ['h2', 'http/1.1'], tcp: [ALPN_WEFT_TCP] } as const;

/** Every service port as an upstream target, and each of its DestinationRule subsets. */
export function serviceTargets(model: MeshModel, clusterDomain?: string): ServiceTarget[] {
  return model.services.flatMap((service) =>
    service.ports.flatMap((servicePort) => {
      const fqdn = fqdnOf(service, clusterDomain);
      // Every DestinationRule subset gets its cluster, referenced by a route or not (Istio).
      const subsets = ['', ...(service.destinationPolicy?.subsets.map((s) => s.name) ?? [])];
      return subsets.map((subset) => ({ fqdn, port: servicePort.port, subset, service, servicePort }));
    }),
  );
}

/**
 * The targets to emit clusters (and endpoints) for: every service port and
 * DestinationRule subset, plus the subsets routes reference (a subset no rule defines
 * gets a cluster without endpoints: a clear 503). Targets on hosts the model does
 * not know are left out: there is nothing to send them to.
 */
export function outboundTargets(model: MeshModel, referenced: ReadonlyMap<string, OutboundTarget>, clusterDomain?: string): ServiceTarget[] {
  const all = new Map<string, ServiceTarget>();
  for (const t of serviceTargets(model, clusterDomain)) all.set(targetClusterName(t), t);
  for (const [name, t] of referenced) if (isServiceTarget(t) && !all.has(name)) all.set(name, t);
  return sortBy([...all.entries()], ([name]) => name).map(([, t]) => t);
}

function httpProtocolOptions(protocol: PortProtocol, upstream: 'mesh' | 'app', policy?: ClusterPolicy): EnvoyObject | undefined {
  if (!isHttpProtocol(protocol)) return undefined;
  let config: EnvoyObject;
  // h2UpgradePolicy UPGRADE: HTTP/1.1 requests go upstream as HTTP/2.
  if (isHttp2Protocol(protocol) || policy?.connectionPool?.http?.h2UpgradePolicy === 'UPGRADE') config = { explicitHttpConfig: { http2ProtocolOptions: {} } };
  // Toward a sidecar (mTLS) or a plaintext endpoint: speak what the client spoke.
  else if (upstream === 'mesh') config = { useDownstreamProtocolConfig: { httpProtocolOptions: {}, http2ProtocolOptions: {} } };
  else config = { explicitHttpConfig: { httpProtocolOptions: {} } };
  const common = commonHttpOptions(policy);
  return { [EXT.httpProtocolOptions]: typed(ANY.httpProtocolOptions, { ...(common ? { commonHttpProtocolOptions: common } : {}), ...config }) };
}

/** The SPIFFE ids a client accepts from a service's servers: every identity behind it. */
export function serviceIdentities(model: MeshModel, service: Service): string[] {
  return [...new Set(selectedWorkloads(model, service).map((w) => w.identity))].sort();
}

/**
 * Mesh mTLS toward a target. SNI is Istio's `outbound_.<port>_.<subset>_.<fqdn>` unless
 * an ISTIO_MUTUAL DestinationRule names one (an egress gateway's server picks its filter
 * chain by the external host's name).
 */
function meshTlsContext(target: OutboundTarget, servicePort: ServicePort, identities: string[], sni?: string): EnvoyObject {
  const sans = identities.map((id) => ({ sanType: 'URI', matcher: { exact: id } }));
  return {
    commonTlsContext: {
      ...meshCertificates(),
      combinedValidationContext: {
        defaultValidationContext: sans.length ? { matchTypedSubjectAltNames: sans } : {},
        validationContextSdsSecretConfig: sdsSecret(SECRET.root),
      },
      alpnProtocols: [...(isHttpProtocol(servicePort.protocol) ? MESH_ALPN.http : MESH_ALPN.tcp)],
    },
    sni: sni ?? meshSni(target.port, target.fqdn, target.subset),
  };
}

/**
 * User TLS toward the destination (DestinationRule SIMPLE/MUTUAL): SNI (default: the
 * host) and SAN checks. credentialName names SDS secrets as gateway credentials do
 * (CREDENTIAL in names.ts): the client certificate (MUTUAL) and the CA to trust; each
 * proxy gets their content from the Secret in its own namespace (generate.ts). Until it
 * has them its connections fail (UF): never plaintext, never unverified. Without
 * credentialName there is no CA to check against (system roots are not used yet): the
 * server is not verified, and toModel reports that.
 */
export function userTlsContext(tls: ClientTlsPolicy, host: string): EnvoyObject {
  const sni = tls.sni ?? (host.includes('*') ? undefined : host);
  const certs = tls.mode === 'MUTUAL' && tls.credentialName ? { tlsCertificateSdsSecretConfigs: [sdsSecret(CREDENTIAL.cert(tls.credentialName))] } : {};
  let validation: EnvoyObject = {};
  if (tls.credentialName && !tls.insecureSkipVerify) {
    const sans = (tls.subjectAltNames ?? []).map((san) => ({ sanType: 'DNS', matcher: { exact: san } }));
    validation = {
      combinedValidationContext: {
        defaultValidationContext: sans.length ? { matchTypedSubjectAltNames: sans } : {},
        validationContextSdsSecretConfig: sdsSecret(CREDENTIAL.ca(tls.credentialName)),
      },
    };
  }
  return { commonTlsContext: { ...certs, ...validation }, ...(sni ? { sni } : {}) };
}

/**
 * How the cluster secures its connections. Meshed services: auto mTLS (mesh TLS to
 * endpoints tagged tlsMode=istio, plaintext to the rest) unless the DestinationRule
 * says DISABLE (plaintext), SIMPLE/MUTUAL (the user's TLS to every endpoint) or
 * ISTIO_MUTUAL (mesh TLS to every endpoint, as Istio does when the mode is written
 * rather than detected: a gateway's endpoints carry no tlsMode, yet its ISTIO_MUTUAL
 * servers want mesh TLS). MESH_EXTERNAL hosts never get auto mTLS.
 */
function transportFields(model: MeshModel, target: ServiceTarget, policy: ClusterPolicy | undefined): EnvoyObject {
  const mode = policy?.tls?.mode;
  if (mode === 'DISABLE') return {};
  if ((mode === 'SIMPLE' || mode === 'MUTUAL') && policy?.tls) return { transportSocket: tlsSocket(ANY.upstreamTls, userTlsContext(policy.tls, target.fqdn)) };
  const meshSocket = () => tlsSocket(ANY.upstreamTls, meshTlsContext(target, target.servicePort, serviceIdentities(model, target.service), policy?.tls?.sni));
  if (mode === 'ISTIO_MUTUAL') return { transportSocket: meshSocket() };
  if (target.service.external?.location === 'MESH_EXTERNAL') return {};
  return {
    transportSocketMatches: [
      { name: 'tlsMode-istio', match: struct({ [METADATA.tlsModeKey]: METADATA.tlsModeMesh }), transportSocket: meshSocket() },
      { name: 'tlsMode-disabled', match: struct({}), transportSocket: rawBufferSocket() },
    ],
  };
}

/**
 * How the cluster finds endpoints: EDS for services; ServiceEntry hosts inline by
 * resolution (STATIC, STRICT_DNS for DNS, LOGICAL_DNS for DNS_ROUND_ROBIN); the
 * original destination for resolution NONE and PASSTHROUGH load balancing. weft's
 * sidecar is an HTTP proxy, so the original destination is the request's authority.
 */
function discoveryFields(target: ServiceTarget, policy: ClusterPolicy | undefined): EnvoyObject {
  const resolution = target.service.external?.resolution;
  if (resolution === 'NONE' || isPassthroughLb(policy)) {
    return { type: 'ORIGINAL_DST', lbPolicy: 'CLUSTER_PROVIDED', originalDstLbConfig: { useHttpHeader: true } };
  }
  const lb = lbFields(policy);
  if (resolution === 'STATIC' || resolution === 'DNS' || resolution === 'DNS_ROUND_ROBIN') {
    const type = resolution === 'STATIC' ? 'STATIC' : resolution === 'DNS' ? 'STRICT_DNS' : 'LOGICAL_DNS';
    return { type, ...lb, loadAssignment: externalLoadAssignment(target) };
  }
  return { type: 'EDS', edsClusterConfig: { edsConfig: adsSource() }, ...lb };
}

/** An outbound cluster to a service port (or subset), shaped by its DestinationRule policy. */
export function outboundCluster(model: MeshModel, target: ServiceTarget): EnvoyObject {
  const name = targetClusterName(target);
  const policy = clusterPolicyOf(target.service, target.port, target.subset);
  const options = httpProtocolOptions(target.servicePort.protocol, 'mesh', policy);
  const { connectTimeout, ...tcpRest } = tcpFields(policy);
  return withRetryBudget(model, target.fqdn, {
    name,
    ...discoveryFields(target, policy),
    connectTimeout,
    ...tcpRest,
    circuitBreakers: circuitBreakers(policy),
    ...outlierFields(policy),
    ...transportFields(model, target, policy),
    ...(options ? { typedExtensionProtocolOptions: options } : {}),
  });
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
