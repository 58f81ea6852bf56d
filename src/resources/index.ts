// Public entry of src/resources: parse and validate YAML into typed resources.

export { parseYaml, loadPath, type ParseResult } from './yaml.js';
export { parseDuration, DurationError } from './duration.js';
export { supportedKinds, lookupKind } from './registry.js';
export * from './types.js';
export type * from './kubernetes-types.js';
export { redactSecret, tlsMaterial, type SecretSpec, type TlsMaterial, type CertificateSummary } from './kubernetes-secret.js';
export type {
  GatewaySpec,
  GatewayServerSpec,
  GatewayPort,
  GatewayProtocol,
  ServerTlsSettings,
  ServerTlsMode,
  VirtualServiceSpec,
  HttpRoute,
  HttpMatchRequest,
  HttpRouteDestination,
  HttpRedirect,
  HttpRewrite,
  HttpDirectResponse,
  HttpRetry,
  HttpFaultInjection,
  HttpMirrorPolicy,
  CorsPolicy,
  Delegate,
  Destination,
  PortSelector,
  Percent,
  Headers,
  HeaderOperations,
  IstioStringMatch,
  TcpRoute,
  TlsRoute,
  RouteDestination,
  L4MatchAttributes,
  TlsMatchAttributes,
} from './istio-networking.js';
export { ISTIO_NETWORKING_VERSIONS } from './istio-networking.js';
