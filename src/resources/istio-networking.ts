// networking.istio.io (v1, v1beta1, v1alpha3): Gateway and VirtualService (http[], tcp[], tls[]).
// Every recognised field is typed; what weft does not act on yet is kept and warned about.

import type { KindDef } from './envelope.js';
import { hostMatches } from './host-patterns.js';
import {
  arr,
  bool,
  duration,
  enumOf,
  indexPath,
  int,
  ipSubnet,
  map,
  num,
  obj,
  regex,
  required,
  str,
  unsupported,
  withDefault,
  type Schema,
  type Validation,
} from './schema.js';

export const ISTIO_NETWORKING_VERSIONS = ['networking.istio.io/v1', 'networking.istio.io/v1beta1', 'networking.istio.io/v1alpha3'] as const;

const NOT_YET = 'weft does not implement it yet';

// ---- shared

/** Istio StringMatch: at most one of exact, prefix, regex (none = presence, for headers). */
export interface IstioStringMatch {
  exact?: string;
  prefix?: string;
  regex?: string;
}

export interface Percent {
  value: number;
}

export interface PortSelector {
  number?: number;
}

export interface Destination {
  host: string;
  subset?: string;
  port?: PortSelector;
}

export interface HeaderOperations {
  set?: Record<string, string>;
  add?: Record<string, string>;
  remove?: string[];
}

export interface Headers {
  request?: HeaderOperations;
  response?: HeaderOperations;
}

const portNumber = () => int({ min: 1, max: 65535 });

const stringMatchSchema: Schema<IstioStringMatch> = obj<IstioStringMatch>(
  { exact: str(), prefix: str(), regex: regex() },
  { oneOf: { keys: ['exact', 'prefix', 'regex'] } },
);

const percentSchema = obj<Percent>({ value: required(num({ min: 0, max: 100 })) });

const destinationSchema: Schema<Destination> = obj<Destination>({
  host: required(str({ nonEmpty: true })),
  subset: str(),
  port: obj<PortSelector>({ number: portNumber() }),
});

const headerOpsSchema = obj<HeaderOperations>({ set: map(str()), add: map(str()), remove: arr(str()) });
const headersSchema = obj<Headers>({ request: headerOpsSchema, response: headerOpsSchema });

// ---- Gateway

export type GatewayProtocol = 'HTTP' | 'HTTPS' | 'GRPC' | 'GRPC-WEB' | 'HTTP2' | 'MONGO' | 'TCP' | 'TLS';
export type ServerTlsMode = 'PASSTHROUGH' | 'SIMPLE' | 'MUTUAL' | 'AUTO_PASSTHROUGH' | 'ISTIO_MUTUAL' | 'OPTIONAL_MUTUAL';
export type TlsProtocolVersion = 'TLS_AUTO' | 'TLSV1_0' | 'TLSV1_1' | 'TLSV1_2' | 'TLSV1_3';

export interface GatewayPort {
  number: number;
  name?: string;
  protocol: GatewayProtocol;
  targetPort?: number;
}

export interface ServerTlsSettings {
  httpsRedirect?: boolean;
  mode?: ServerTlsMode;
  credentialName?: string;
  credentialNames?: string[];
  serverCertificate?: string;
  privateKey?: string;
  caCertificates?: string;
  caCrl?: string;
  subjectAltNames?: string[];
  verifyCertificateSpki?: string[];
  verifyCertificateHash?: string[];
  minProtocolVersion?: TlsProtocolVersion;
  maxProtocolVersion?: TlsProtocolVersion;
  cipherSuites?: string[];
}

export interface GatewayServerSpec {
  port: GatewayPort;
  hosts: string[];
  tls?: ServerTlsSettings;
  name?: string;
  bind?: string;
  defaultEndpoint?: string;
}

export interface GatewaySpec {
  selector: Record<string, string>;
  servers: GatewayServerSpec[];
}

const tlsVersion = enumOf(['TLS_AUTO', 'TLSV1_0', 'TLSV1_1', 'TLSV1_2', 'TLSV1_3'] as const);
const CERT_FILES = 'weft gateways take certificates from credentialName (or the mesh CA), not files';

const serverTlsSchema = obj<ServerTlsSettings>({
  httpsRedirect: bool(),
  mode: enumOf(['PASSTHROUGH', 'SIMPLE', 'MUTUAL', 'AUTO_PASSTHROUGH', 'ISTIO_MUTUAL', 'OPTIONAL_MUTUAL'] as const),
  credentialName: str(),
  credentialNames: unsupported(NOT_YET, arr(str())),
  serverCertificate: unsupported(CERT_FILES, str()),
  privateKey: unsupported(CERT_FILES, str()),
  caCertificates: unsupported(CERT_FILES, str()),
  caCrl: unsupported(CERT_FILES, str()),
  subjectAltNames: unsupported(NOT_YET, arr(str())),
  verifyCertificateSpki: unsupported(NOT_YET, arr(str())),
  verifyCertificateHash: unsupported(NOT_YET, arr(str())),
  minProtocolVersion: unsupported('weft gateways speak TLS 1.2 and 1.3', tlsVersion),
  maxProtocolVersion: unsupported('weft gateways speak TLS 1.2 and 1.3', tlsVersion),
  cipherSuites: unsupported('weft uses Node defaults for cipher suites', arr(str())),
});

const gatewayServerSchema = obj<GatewayServerSpec>({
  port: required(
    obj<GatewayPort>({
      number: required(portNumber()),
      name: str(),
      protocol: required(enumOf(['HTTP', 'HTTPS', 'GRPC', 'GRPC-WEB', 'HTTP2', 'MONGO', 'TCP', 'TLS'] as const, { caseInsensitive: true })),
      targetPort: unsupported("the gateway listens on its Service's targetPort for this port", portNumber()),
    }),
  ),
  hosts: required(arr(str({ nonEmpty: true }), { minItems: 1 })),
  tls: serverTlsSchema,
  name: str(),
  bind: unsupported('the gateway binds its own listen address', str()),
  defaultEndpoint: unsupported(NOT_YET, str()),
});

export const gatewaySpecSchema: Schema<GatewaySpec> = obj<GatewaySpec>({
  selector: withDefault(map(str()), () => ({})),
  servers: required(arr(gatewayServerSchema, { minItems: 1 })),
});

// ---- VirtualService

export interface HttpMatchRequest {
  name?: string;
  uri?: IstioStringMatch;
  scheme?: IstioStringMatch;
  method?: IstioStringMatch;
  authority?: IstioStringMatch;
  headers?: Record<string, IstioStringMatch>;
  withoutHeaders?: Record<string, IstioStringMatch>;
  queryParams?: Record<string, IstioStringMatch>;
  port?: number;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  gateways?: string[];
  ignoreUriCase?: boolean;
  statPrefix?: string;
}

export interface HttpRouteDestination {
  destination: Destination;
  weight?: number;
  headers?: Headers;
}

export interface HttpRedirect {
  uri?: string;
  authority?: string;
  port?: number;
  derivePort?: 'FROM_PROTOCOL_DEFAULT' | 'FROM_REQUEST_PORT';
  scheme?: string;
  redirectCode?: number;
}

export interface HttpRewrite {
  uri?: string;
  authority?: string;
  uriRegexRewrite?: { match: string; rewrite: string };
}

export interface HttpDirectResponse {
  status: number;
  body?: { string?: string; bytes?: string };
}

export interface HttpRetry {
  attempts?: number;
  perTryTimeout?: string;
  retryOn?: string;
  retryRemoteLocalities?: boolean;
  retryIgnorePreviousHosts?: boolean;
  backoff?: string;
}

export interface HttpFaultInjection {
  delay?: { percentage?: Percent; fixedDelay?: string; percent?: number };
  abort?: { percentage?: Percent; httpStatus?: number; grpcStatus?: string; http2Error?: string };
}

export interface HttpMirrorPolicy {
  destination: Destination;
  percentage?: Percent;
}

export interface CorsPolicy {
  allowOrigins?: IstioStringMatch[];
  allowOrigin?: string[];
  allowMethods?: string[];
  allowHeaders?: string[];
  exposeHeaders?: string[];
  maxAge?: string;
  allowCredentials?: boolean;
  unmatchedPreflights?: 'UNSPECIFIED' | 'FORWARD' | 'IGNORE';
}

export interface Delegate {
  name?: string;
  namespace?: string;
}

export interface HttpRoute {
  name?: string;
  match?: HttpMatchRequest[];
  route?: HttpRouteDestination[];
  redirect?: HttpRedirect;
  directResponse?: HttpDirectResponse;
  delegate?: Delegate;
  rewrite?: HttpRewrite;
  timeout?: string;
  retries?: HttpRetry;
  fault?: HttpFaultInjection;
  mirror?: Destination;
  mirrors?: HttpMirrorPolicy[];
  mirrorPercentage?: Percent;
  mirrorPercent?: number;
  corsPolicy?: CorsPolicy;
  headers?: Headers;
}

export interface RouteDestination {
  destination: Destination;
  weight?: number;
}

export interface L4MatchAttributes {
  destinationSubnets?: string[];
  port?: number;
  sourceLabels?: Record<string, string>;
  sourceNamespace?: string;
  gateways?: string[];
}

export interface TlsMatchAttributes extends L4MatchAttributes {
  sniHosts: string[];
}

export interface TcpRoute {
  match?: L4MatchAttributes[];
  route: RouteDestination[];
}

export interface TlsRoute {
  match: TlsMatchAttributes[];
  route: RouteDestination[];
}

export interface VirtualServiceSpec {
  hosts: string[];
  gateways?: string[];
  http?: HttpRoute[];
  tcp?: TcpRoute[];
  tls?: TlsRoute[];
  exportTo?: string[];
}

const stringMatchMap = map(stringMatchSchema);

const httpMatchSchema = obj<HttpMatchRequest>({
  name: str(),
  uri: stringMatchSchema,
  scheme: stringMatchSchema,
  method: stringMatchSchema,
  authority: stringMatchSchema,
  headers: stringMatchMap,
  withoutHeaders: stringMatchMap,
  queryParams: stringMatchMap,
  port: portNumber(),
  sourceLabels: map(str()),
  sourceNamespace: str(),
  gateways: arr(str({ nonEmpty: true })),
  ignoreUriCase: bool(),
  statPrefix: unsupported('weft metrics carry no per-route stat prefix yet', str()),
});

const httpRetrySchema = obj<HttpRetry>({
  attempts: int({ min: 0 }),
  perTryTimeout: duration(),
  retryOn: str(),
  retryRemoteLocalities: unsupported('weft has no locality-aware load balancing yet', bool()),
  retryIgnorePreviousHosts: unsupported(NOT_YET, bool()),
  backoff: unsupported(NOT_YET, duration()),
});

const faultSchema = obj<HttpFaultInjection>({
  delay: obj<NonNullable<HttpFaultInjection['delay']>>({ percentage: percentSchema, fixedDelay: duration(), percent: int({ min: 0, max: 100 }) }),
  abort: obj<NonNullable<HttpFaultInjection['abort']>>(
    { percentage: percentSchema, httpStatus: int({ min: 200, max: 599 }), grpcStatus: str(), http2Error: str() },
    { oneOf: { keys: ['httpStatus', 'grpcStatus', 'http2Error'] } },
  ),
});

const corsSchema = obj<CorsPolicy>({
  allowOrigins: arr(stringMatchSchema),
  allowOrigin: arr(str()),
  allowMethods: arr(str()),
  allowHeaders: arr(str()),
  exposeHeaders: arr(str()),
  maxAge: duration(),
  allowCredentials: bool(),
  unmatchedPreflights: enumOf(['UNSPECIFIED', 'FORWARD', 'IGNORE'] as const),
});

const httpRouteSchema = obj<HttpRoute>(
  {
    name: str(),
    match: arr(httpMatchSchema),
    route: arr(obj<HttpRouteDestination>({ destination: required(destinationSchema), weight: int({ min: 0 }), headers: headersSchema }), {
      minItems: 1,
    }),
    redirect: obj<HttpRedirect>(
      {
        uri: str(),
        authority: str(),
        port: portNumber(),
        derivePort: unsupported(NOT_YET, enumOf(['FROM_PROTOCOL_DEFAULT', 'FROM_REQUEST_PORT'] as const)),
        scheme: str(),
        redirectCode: int({ min: 300, max: 399 }),
      },
      { oneOf: { keys: ['port', 'derivePort'] } },
    ),
    directResponse: obj<HttpDirectResponse>({
      status: required(int({ min: 200, max: 599 })),
      body: obj<NonNullable<HttpDirectResponse['body']>>({ string: str(), bytes: str() }, { oneOf: { keys: ['string', 'bytes'] } }),
    }),
    delegate: unsupported(NOT_YET, obj<Delegate>({ name: str(), namespace: str() })),
    rewrite: obj<HttpRewrite>(
      {
        uri: str(),
        authority: str(),
        uriRegexRewrite: obj<NonNullable<HttpRewrite['uriRegexRewrite']>>({ match: required(regex()), rewrite: required(str()) }),
      },
      { oneOf: { keys: ['uri', 'uriRegexRewrite'] } },
    ),
    timeout: duration(),
    retries: httpRetrySchema,
    fault: faultSchema,
    mirror: destinationSchema,
    mirrors: arr(obj<HttpMirrorPolicy>({ destination: required(destinationSchema), percentage: percentSchema })),
    mirrorPercentage: percentSchema,
    mirrorPercent: int({ min: 0, max: 100 }),
    corsPolicy: corsSchema,
    headers: headersSchema,
  },
  {
    oneOf: { keys: ['route', 'redirect', 'directResponse', 'delegate'], exactlyOne: true },
    check(r, v, path) {
      if (r.rewrite && r.redirect) v.error('WEFT_INVALID_FIELD', `${path}.rewrite`, 'rewrite cannot be combined with redirect');
      if (r.directResponse?.body?.bytes !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(r.directResponse.body.bytes)) {
        v.error('WEFT_INVALID_FIELD', `${path}.directResponse.body.bytes`, 'expected base64');
      }
    },
  },
);

// ---- VirtualService tcp[] and tls[] (opaque TCP and TLS passthrough)

/** A host name, "*.suffix" or "*" (Istio's wildcard domain), or an IP. */
const SNI_HOST = /^(\*|(\*\.)?[A-Za-z0-9]([-A-Za-z0-9_]*[A-Za-z0-9])?(\.[A-Za-z0-9]([-A-Za-z0-9_]*[A-Za-z0-9])?)*)$/;

const l4MatchFields = {
  destinationSubnets: arr(ipSubnet()),
  port: portNumber(),
  sourceLabels: map(str()),
  sourceNamespace: str(),
  gateways: arr(str({ nonEmpty: true })),
};

/** Istio: with several destinations the weights may not all be 0 (there would be nowhere to send). */
function checkWeights(route: readonly RouteDestination[] | undefined, v: Validation, path: string): void {
  if (!route || route.length < 2) return;
  if (route.every((d) => (d.weight ?? 0) === 0)) v.error('WEFT_INVALID_FIELD', `${path}.route`, 'total destination weight = 0: give the destinations weights');
}

const routeDestinationSchema = obj<RouteDestination>({ destination: required(destinationSchema), weight: int({ min: 0 }) });
const l4RouteList = (what: string) => required(arr(routeDestinationSchema, { minItems: 1 }), `(a ${what} route needs at least one destination)`);

const tcpRouteSchema = obj<TcpRoute>(
  { match: arr(obj<L4MatchAttributes>(l4MatchFields)), route: l4RouteList('TCP') },
  { check: (r, v, path) => checkWeights(r.route, v, path) },
);

const tlsRouteSchema = obj<TlsRoute>(
  {
    match: required(
      arr(
        obj<TlsMatchAttributes>({
          ...l4MatchFields,
          sniHosts: required(arr(str({ pattern: SNI_HOST, patternHint: 'a host name, "*.suffix" or "*"' }), { minItems: 1 }), '(a TLS match needs at least one SNI host)'),
        }),
        { minItems: 1 },
      ),
      '(a TLS route needs at least one match with sniHosts)',
    ),
    route: l4RouteList('TLS'),
  },
  { check: (r, v, path) => checkWeights(r.route, v, path) },
);

export const virtualServiceSpecSchema: Schema<VirtualServiceSpec> = obj<VirtualServiceSpec>(
  {
    hosts: required(arr(str({ nonEmpty: true }), { minItems: 1 }), '(weft does not support delegate VirtualServices without hosts)'),
    gateways: arr(str({ nonEmpty: true })),
    http: arr(httpRouteSchema),
    tcp: arr(tcpRouteSchema),
    tls: arr(tlsRouteSchema),
    exportTo: unsupported('every VirtualService is visible mesh-wide in weft', arr(str())),
  },
  {
    check(spec, v, path) {
      if (!spec.http?.length && !spec.tcp?.length && !spec.tls?.length) v.error('WEFT_MISSING_FIELD', path, 'http, tcp or tls must be provided');
      // Istio: an SNI host must fall within one of the VirtualService's hosts.
      spec.tls?.forEach((t, i) =>
        t.match.forEach((m, j) =>
          m.sniHosts.forEach((sni, k) => {
            if (spec.hosts.some((h) => hostMatches(h.toLowerCase(), sni.toLowerCase()))) return;
            v.error('WEFT_INVALID_FIELD', `${path}.tls[${i}].match[${j}].sniHosts[${k}]`, `SNI host "${sni}" is not within any of the VirtualService hosts [${spec.hosts.join(', ')}]`);
          }),
        ),
      );
    },
  },
);

// ---- kinds

export const gatewayKind: KindDef<GatewaySpec> = {
  kind: 'Gateway',
  apiVersions: ISTIO_NETWORKING_VERSIONS,
  spec: gatewaySpecSchema,
  specRequired: true,
  finish(res, v) {
    res.spec.servers.forEach((s, i) => {
      if ((s.port.protocol === 'HTTPS' || s.port.protocol === 'TLS') && !s.tls) {
        v.error('WEFT_MISSING_FIELD', `${indexPath('spec.servers', i)}.tls`, `required field is missing: a ${s.port.protocol} server needs tls settings`);
      }
    });
    v.unique('spec.servers', res.spec.servers, (s) => s.name, 'name', 'server name');
  },
};

export const virtualServiceKind: KindDef<VirtualServiceSpec> = {
  kind: 'VirtualService',
  apiVersions: ISTIO_NETWORKING_VERSIONS,
  spec: virtualServiceSpecSchema,
  specRequired: true,
};

export const istioNetworkingKinds = [gatewayKind, virtualServiceKind] as const;
