// gateway.networking.k8s.io (v1, v1beta1): GatewayClass, Gateway, HTTPRoute, GRPCRoute.
// Every recognised field is typed; what weft does not act on yet is kept and warned about.
// Linkerd's policy.linkerd.io HTTPRoute has the same shape and reuses these schemas.

import type { KindDef } from './envelope.js';
import { arr, duration, enumOf, indexPath, int, map, obj, required, str, unsupported, withDefault, type Schema, type Validation } from './schema.js';

export const GATEWAY_API_VERSIONS = ['gateway.networking.k8s.io/v1', 'gateway.networking.k8s.io/v1beta1'] as const;
/** GRPCRoute went GA in v1 (v1.1); v1alpha2 manifests are still common. */
export const GRPC_ROUTE_VERSIONS = ['gateway.networking.k8s.io/v1', 'gateway.networking.k8s.io/v1alpha2'] as const;

const NOT_YET = 'weft does not implement it yet';
const portNumber = () => int({ min: 1, max: 65535 });

// ---- shared

export interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: { key: string; operator: 'In' | 'NotIn' | 'Exists' | 'DoesNotExist'; values?: string[] }[];
}

export const labelSelectorSchema: Schema<LabelSelector> = obj<LabelSelector>({
  matchLabels: map(str()),
  matchExpressions: arr(
    obj<NonNullable<LabelSelector['matchExpressions']>[number]>({
      key: required(str({ nonEmpty: true })),
      operator: required(enumOf(['In', 'NotIn', 'Exists', 'DoesNotExist'] as const)),
      values: arr(str()),
    }),
  ),
});

/** A reference to a parent (Gateway, or Service for mesh routing) or to a backend. */
export interface ParentReference {
  group?: string;
  kind?: string;
  namespace?: string;
  name: string;
  sectionName?: string;
  port?: number;
}

export interface ObjectReference {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
}

export interface BackendObjectReference extends ObjectReference {
  port?: number;
}

const parentRefSchema = obj<ParentReference>({
  group: str(),
  kind: str(),
  namespace: str(),
  name: required(str({ nonEmpty: true })),
  sectionName: str(),
  port: portNumber(),
});

const objectRefSchema = obj<ObjectReference>({ group: str(), kind: str(), name: required(str({ nonEmpty: true })), namespace: str() });

const backendObjectRefFields = { group: str(), kind: str(), name: required(str({ nonEmpty: true })), namespace: str(), port: portNumber() };

// ---- GatewayClass

export interface GatewayClassSpec {
  controllerName: string;
  description?: string;
  parametersRef?: ObjectReference;
}

export const gatewayClassKind: KindDef<GatewayClassSpec> = {
  kind: 'GatewayClass',
  apiVersions: GATEWAY_API_VERSIONS,
  clusterScoped: true,
  specRequired: true,
  spec: obj<GatewayClassSpec>({
    controllerName: required(str({ nonEmpty: true })),
    description: str(),
    parametersRef: unsupported('weft gateways take no class parameters', objectRefSchema),
  }),
};

// ---- Gateway

export type ListenerProtocol = 'HTTP' | 'HTTPS' | 'TLS' | 'TCP' | 'UDP';

export interface GatewayTlsConfig {
  mode?: 'Terminate' | 'Passthrough';
  certificateRefs?: ObjectReference[];
  frontendValidation?: unknown;
  options?: Record<string, string>;
}

export interface AllowedRoutes {
  namespaces?: { from?: 'All' | 'Same' | 'Selector'; selector?: LabelSelector };
  kinds?: { group?: string; kind: string }[];
}

export interface Listener {
  name: string;
  hostname?: string;
  port: number;
  protocol: ListenerProtocol;
  tls?: GatewayTlsConfig;
  allowedRoutes?: AllowedRoutes;
}

export interface GatewayApiGatewaySpec {
  gatewayClassName: string;
  listeners: Listener[];
  addresses?: unknown[];
  infrastructure?: unknown;
  backendTLS?: unknown;
}

const listenerSchema = obj<Listener>({
  name: required(str({ nonEmpty: true })),
  hostname: str({ nonEmpty: true }),
  port: required(portNumber()),
  protocol: required(enumOf(['HTTP', 'HTTPS', 'TLS', 'TCP', 'UDP'] as const)),
  tls: obj<GatewayTlsConfig>({
    mode: enumOf(['Terminate', 'Passthrough'] as const),
    certificateRefs: arr(objectRefSchema),
    frontendValidation: unsupported('client certificate validation on Gateway API listeners is not supported yet yet'),
    options: unsupported('implementation-specific TLS options are not read', map(str())),
  }),
  allowedRoutes: obj<AllowedRoutes>({
    namespaces: obj<NonNullable<AllowedRoutes['namespaces']>>({ from: enumOf(['All', 'Same', 'Selector'] as const), selector: labelSelectorSchema }),
    kinds: arr(obj<NonNullable<AllowedRoutes['kinds']>[number]>({ group: str(), kind: required(str({ nonEmpty: true })) })),
  }),
});

export const gatewayApiGatewayKind: KindDef<GatewayApiGatewaySpec> = {
  kind: 'Gateway',
  apiVersions: GATEWAY_API_VERSIONS,
  specRequired: true,
  spec: obj<GatewayApiGatewaySpec>({
    gatewayClassName: required(str({ nonEmpty: true })),
    listeners: required(arr(listenerSchema, { minItems: 1 })),
    addresses: unsupported('weft gateways listen on their own addresses'),
    infrastructure: unsupported('weft does not provision gateway infrastructure'),
    backendTLS: unsupported(NOT_YET),
  }),
  finish(res, v) {
    v.unique('spec.listeners', res.spec.listeners, (l) => l.name, 'name', 'listener name');
    res.spec.listeners.forEach((l, i) => {
      const path = indexPath('spec.listeners', i);
      if ((l.protocol === 'HTTPS' || l.protocol === 'TLS') && !l.tls) {
        v.error('WEFT_MISSING_FIELD', `${path}.tls`, `required field is missing: a ${l.protocol} listener needs tls settings`);
      }
      if (l.tls && (l.tls.mode ?? 'Terminate') === 'Terminate' && !(l.tls.certificateRefs?.length)) {
        v.error('WEFT_MISSING_FIELD', `${path}.tls.certificateRefs`, 'required field is missing: TLS mode Terminate needs a certificate');
      }
    });
  },
};

// ---- HTTPRoute

export interface HttpPathMatch {
  type: 'Exact' | 'PathPrefix' | 'RegularExpression';
  value: string;
}

export interface HttpValueMatch {
  type: 'Exact' | 'RegularExpression';
  name: string;
  value: string;
}

export interface HttpRouteMatch {
  path?: HttpPathMatch;
  headers?: HttpValueMatch[];
  queryParams?: HttpValueMatch[];
  method?: string;
}

export interface HttpHeaderFilter {
  set?: { name: string; value: string }[];
  add?: { name: string; value: string }[];
  remove?: string[];
}

export interface HttpPathModifier {
  type: 'ReplaceFullPath' | 'ReplacePrefixMatch';
  replaceFullPath?: string;
  replacePrefixMatch?: string;
}

export interface HttpRequestRedirectFilter {
  scheme?: 'http' | 'https';
  hostname?: string;
  path?: HttpPathModifier;
  port?: number;
  statusCode?: number;
}

export interface HttpUrlRewriteFilter {
  hostname?: string;
  path?: HttpPathModifier;
}

export interface HttpRequestMirrorFilter {
  backendRef: BackendObjectReference;
  percent?: number;
  fraction?: { numerator: number; denominator?: number };
}

export type HttpFilterType = 'RequestHeaderModifier' | 'ResponseHeaderModifier' | 'RequestMirror' | 'RequestRedirect' | 'URLRewrite' | 'ExtensionRef' | 'CORS';

export interface HttpRouteFilter {
  type: HttpFilterType;
  requestHeaderModifier?: HttpHeaderFilter;
  responseHeaderModifier?: HttpHeaderFilter;
  requestMirror?: HttpRequestMirrorFilter;
  requestRedirect?: HttpRequestRedirectFilter;
  urlRewrite?: HttpUrlRewriteFilter;
  extensionRef?: ObjectReference;
  cors?: unknown;
}

export interface HttpBackendRef extends BackendObjectReference {
  weight?: number;
  filters?: HttpRouteFilter[];
}

export interface HttpRouteRule {
  name?: string;
  matches?: HttpRouteMatch[];
  filters?: HttpRouteFilter[];
  backendRefs?: HttpBackendRef[];
  timeouts?: { request?: string; backendRequest?: string };
  retry?: { codes?: number[]; attempts?: number; backoff?: string };
  sessionPersistence?: unknown;
}

export interface HttpRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: HttpRouteRule[];
}

/** Gateway API hostnames: a DNS name, optionally with one leading "*." label. */
const HOSTNAME = /^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const hostnameSchema = str({ pattern: HOSTNAME, patternHint: 'a hostname (lowercase, optionally starting with "*.")' });

const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;

const valueMatchSchema = obj<HttpValueMatch>(
  { type: withDefault(enumOf(['Exact', 'RegularExpression'] as const), () => 'Exact' as const), name: required(str({ nonEmpty: true })), value: required(str()) },
  { check: (m, v, path) => checkRegex(m.type === 'RegularExpression', m.value, v, `${path}.value`) },
);

function checkRegex(isRegex: boolean, value: string, v: Validation, path: string): void {
  if (!isRegex) return;
  try {
    new RegExp(value);
  } catch (e) {
    v.error('WEFT_INVALID_FIELD', path, `invalid regular expression: ${(e as Error).message}`);
  }
}

const pathMatchSchema = obj<HttpPathMatch>(
  {
    type: withDefault(enumOf(['Exact', 'PathPrefix', 'RegularExpression'] as const), () => 'PathPrefix' as const),
    value: withDefault(str(), () => '/'),
  },
  {
    check(m, v, path) {
      if (m.type !== 'RegularExpression' && !m.value.startsWith('/')) v.error('WEFT_INVALID_FIELD', `${path}.value`, `${JSON.stringify(m.value)} must start with "/"`);
      checkRegex(m.type === 'RegularExpression', m.value, v, `${path}.value`);
    },
  },
);

const headerFilterSchema = obj<HttpHeaderFilter>({
  set: arr(obj<{ name: string; value: string }>({ name: required(str({ nonEmpty: true })), value: required(str()) })),
  add: arr(obj<{ name: string; value: string }>({ name: required(str({ nonEmpty: true })), value: required(str()) })),
  remove: arr(str({ nonEmpty: true })),
});

const pathModifierSchema = obj<HttpPathModifier>(
  { type: required(enumOf(['ReplaceFullPath', 'ReplacePrefixMatch'] as const)), replaceFullPath: str(), replacePrefixMatch: str() },
  {
    check(m, v, path) {
      const want = m.type === 'ReplaceFullPath' ? 'replaceFullPath' : 'replacePrefixMatch';
      if (m[want] === undefined) v.error('WEFT_MISSING_FIELD', `${path}.${want}`, `required field is missing: type ${m.type} needs ${want}`);
    },
  },
);

const backendRefObjectSchema = obj<BackendObjectReference>(backendObjectRefFields);

const mirrorSchema = obj<HttpRequestMirrorFilter>({
  backendRef: required(backendRefObjectSchema),
  percent: int({ min: 0, max: 100 }),
  fraction: obj<NonNullable<HttpRequestMirrorFilter['fraction']>>({ numerator: required(int({ min: 0 })), denominator: int({ min: 1 }) }),
});

const FILTER_FIELD: Record<HttpFilterType, keyof HttpRouteFilter> = {
  RequestHeaderModifier: 'requestHeaderModifier',
  ResponseHeaderModifier: 'responseHeaderModifier',
  RequestMirror: 'requestMirror',
  RequestRedirect: 'requestRedirect',
  URLRewrite: 'urlRewrite',
  ExtensionRef: 'extensionRef',
  CORS: 'cors',
};

/** Filters: `type` names the one config field that must be set. */
function filterSchema(types: readonly HttpFilterType[]): Schema<HttpRouteFilter> {
  return obj<HttpRouteFilter>(
    {
      type: required(enumOf(types)),
      requestHeaderModifier: headerFilterSchema,
      responseHeaderModifier: headerFilterSchema,
      requestMirror: mirrorSchema,
      requestRedirect: obj<HttpRequestRedirectFilter>({
        scheme: enumOf(['http', 'https'] as const),
        hostname: hostnameSchema,
        path: pathModifierSchema,
        port: portNumber(),
        statusCode: int({ min: 300, max: 399 }),
      }),
      urlRewrite: obj<HttpUrlRewriteFilter>({ hostname: hostnameSchema, path: pathModifierSchema }),
      extensionRef: objectRefSchema,
      cors: unsupported('the CORS filter is not translated yet'),
    },
    {
      check(f, v, path) {
        const want = FILTER_FIELD[f.type];
        if (f.type !== 'CORS' && f[want] === undefined) v.error('WEFT_MISSING_FIELD', `${path}.${want}`, `required field is missing: filter type ${f.type} needs ${want}`);
        for (const [t, field] of Object.entries(FILTER_FIELD)) {
          if (t !== f.type && f[field] !== undefined) v.error('WEFT_INVALID_FIELD', `${path}.${field}`, `${field} is set but the filter type is ${f.type}`);
        }
      },
    },
  );
}

const HTTP_FILTERS = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'RequestRedirect', 'URLRewrite', 'ExtensionRef', 'CORS'] as const;
const httpFilterSchema = filterSchema(HTTP_FILTERS);

const httpBackendRefSchema = obj<HttpBackendRef>({
  ...backendObjectRefFields,
  weight: int({ min: 0, max: 1_000_000 }),
  filters: arr(httpFilterSchema),
});

const httpRouteRuleSchema = obj<HttpRouteRule>(
  {
    name: str(),
    matches: arr(
      obj<HttpRouteMatch>({
        path: pathMatchSchema,
        headers: arr(valueMatchSchema),
        queryParams: arr(valueMatchSchema),
        method: enumOf(HTTP_METHODS),
      }),
    ),
    filters: arr(httpFilterSchema),
    backendRefs: arr(httpBackendRefSchema),
    timeouts: obj<NonNullable<HttpRouteRule['timeouts']>>({ request: duration(), backendRequest: duration() }),
    retry: obj<NonNullable<HttpRouteRule['retry']>>({
      codes: arr(int({ min: 400, max: 599 })),
      attempts: int({ min: 0 }),
      backoff: unsupported('retry backoff is not configurable yet', duration()),
    }),
    sessionPersistence: unsupported('session persistence is not supported yet yet'),
  },
  {
    check(r, v, path) {
      const kinds = new Set((r.filters ?? []).map((f) => f.type));
      if (kinds.has('RequestRedirect') && kinds.has('URLRewrite')) v.error('WEFT_INVALID_FIELD', `${path}.filters`, 'RequestRedirect and URLRewrite cannot be combined');
      if (kinds.has('RequestRedirect') && r.backendRefs?.length) v.error('WEFT_INVALID_FIELD', `${path}.backendRefs`, 'a rule with a RequestRedirect filter cannot have backendRefs');
    },
  },
);

export const httpRouteSpecSchema: Schema<HttpRouteSpec> = obj<HttpRouteSpec>({
  parentRefs: arr(parentRefSchema),
  hostnames: arr(hostnameSchema),
  rules: withDefault(arr(httpRouteRuleSchema), () => [{}]),
});

export const httpRouteKind: KindDef<HttpRouteSpec> = {
  kind: 'HTTPRoute',
  apiVersions: GATEWAY_API_VERSIONS,
  spec: httpRouteSpecSchema,
  specRequired: true,
};

// ---- GRPCRoute

export interface GrpcMethodMatch {
  type: 'Exact' | 'RegularExpression';
  service?: string;
  method?: string;
}

export interface GrpcRouteMatch {
  method?: GrpcMethodMatch;
  headers?: HttpValueMatch[];
}

export interface GrpcBackendRef extends BackendObjectReference {
  weight?: number;
  filters?: HttpRouteFilter[];
}

export interface GrpcRouteRule {
  name?: string;
  matches?: GrpcRouteMatch[];
  filters?: HttpRouteFilter[];
  backendRefs?: GrpcBackendRef[];
  sessionPersistence?: unknown;
}

export interface GrpcRouteSpec {
  parentRefs?: ParentReference[];
  hostnames?: string[];
  rules?: GrpcRouteRule[];
}

const GRPC_FILTERS = ['RequestHeaderModifier', 'ResponseHeaderModifier', 'RequestMirror', 'ExtensionRef'] as const;
const grpcFilterSchema = filterSchema(GRPC_FILTERS);

const grpcMethodSchema = obj<GrpcMethodMatch>(
  { type: withDefault(enumOf(['Exact', 'RegularExpression'] as const), () => 'Exact' as const), service: str({ nonEmpty: true }), method: str({ nonEmpty: true }) },
  {
    check(m, v, path) {
      if (m.service === undefined && m.method === undefined) v.error('WEFT_MISSING_FIELD', path, 'one of service, method is required');
      if (m.type === 'Exact' && m.service?.includes('/')) v.error('WEFT_INVALID_FIELD', `${path}.service`, 'must not contain "/"');
      if (m.type === 'Exact' && m.method?.includes('/')) v.error('WEFT_INVALID_FIELD', `${path}.method`, 'must not contain "/"');
      if (m.type === 'RegularExpression') {
        if (m.service !== undefined) checkRegex(true, m.service, v, `${path}.service`);
        if (m.method !== undefined) checkRegex(true, m.method, v, `${path}.method`);
      }
    },
  },
);

export const grpcRouteSpecSchema: Schema<GrpcRouteSpec> = obj<GrpcRouteSpec>({
  parentRefs: arr(parentRefSchema),
  hostnames: arr(hostnameSchema),
  rules: withDefault(
    arr(
      obj<GrpcRouteRule>({
        name: str(),
        matches: arr(obj<GrpcRouteMatch>({ method: grpcMethodSchema, headers: arr(valueMatchSchema) })),
        filters: arr(grpcFilterSchema),
        backendRefs: arr(obj<GrpcBackendRef>({ ...backendObjectRefFields, weight: int({ min: 0, max: 1_000_000 }), filters: arr(grpcFilterSchema) })),
        sessionPersistence: unsupported('session persistence is not supported yet yet'),
      }),
    ),
    () => [{}],
  ),
});

export const grpcRouteKind: KindDef<GrpcRouteSpec> = {
  kind: 'GRPCRoute',
  apiVersions: GRPC_ROUTE_VERSIONS,
  spec: grpcRouteSpecSchema,
  specRequired: true,
};

export const gatewayApiKinds = [gatewayClassKind, gatewayApiGatewayKind, httpRouteKind, grpcRouteKind] as const;
