// Linkerd: linkerd.io ServiceProfile (routing, retries, timeouts, retry budget) and the
// policy.linkerd.io kinds (Server, ServerAuthorization, AuthorizationPolicy,
// MeshTLSAuthentication, NetworkAuthentication, HTTPRoute). The policy kinds are parsed
// fully, so bad input is caught now, and reported as not enforced until authorization lands.

import type { KindDef } from './envelope.js';
import { httpRouteSpecSchema, labelSelectorSchema, type HttpRouteSpec, type LabelSelector } from './gateway-api.js';
import { quantity } from './quantity.js';
import { arr, bool, duration, enumOf, int, intOrString, num, obj, regex, required, str, unsupported, type Schema } from './schema.js';

export const SERVICE_PROFILE_VERSIONS = ['linkerd.io/v1alpha2', 'linkerd.io/v1alpha1'] as const;

// ---- ServiceProfile

/** A request condition; the fields set in one condition all have to hold. */
export interface RequestMatch {
  method?: string;
  pathRegex?: string;
  all?: RequestMatch[];
  any?: RequestMatch[];
  not?: RequestMatch;
}

export interface ResponseMatch {
  status?: { min?: number; max?: number };
  all?: ResponseMatch[];
  any?: ResponseMatch[];
  not?: ResponseMatch;
}

export interface ResponseClass {
  condition: ResponseMatch;
  isFailure?: boolean;
}

export interface ProfileRoute {
  name: string;
  condition: RequestMatch;
  responseClasses?: ResponseClass[];
  isRetryable?: boolean;
  timeout?: string;
}

export interface RetryBudgetSpec {
  retryRatio: number;
  minRetriesPerSecond: number;
  ttl: string;
}

export interface WeightedDst {
  authority: string;
  weight: number | string;
}

export interface ServiceProfileSpec {
  routes?: ProfileRoute[];
  retryBudget?: RetryBudgetSpec;
  dstOverrides?: WeightedDst[];
  opaquePorts?: number[];
}

/** Recursive schemas: the table refers to itself through this late-bound reader. */
function lazy<T>(get: () => Schema<T>): Schema<T> {
  return { expected: 'an object', read: (node, v, path) => get().read(node, v, path) };
}

const requestMatchSchema: Schema<RequestMatch> = obj<RequestMatch>({
  method: str({ nonEmpty: true }),
  pathRegex: regex(),
  all: arr(lazy(() => requestMatchSchema)),
  any: arr(lazy(() => requestMatchSchema)),
  not: lazy(() => requestMatchSchema),
});

const responseMatchSchema: Schema<ResponseMatch> = obj<ResponseMatch>(
  {
    status: obj<NonNullable<ResponseMatch['status']>>({ min: int({ min: 100, max: 599 }), max: int({ min: 100, max: 599 }) }),
    all: arr(lazy(() => responseMatchSchema)),
    any: arr(lazy(() => responseMatchSchema)),
    not: lazy(() => responseMatchSchema),
  },
  {
    check(m, v, path) {
      if (m.status?.min !== undefined && m.status.max !== undefined && m.status.min > m.status.max) {
        v.error('WEFT_INVALID_FIELD', `${path}.status`, `min ${m.status.min} is above max ${m.status.max}`);
      }
    },
  },
);

export const serviceProfileSpecSchema: Schema<ServiceProfileSpec> = obj<ServiceProfileSpec>({
  routes: arr(
    obj<ProfileRoute>({
      name: required(str({ nonEmpty: true })),
      condition: required(requestMatchSchema),
      responseClasses: arr(obj<ResponseClass>({ condition: required(responseMatchSchema), isFailure: bool() })),
      isRetryable: bool(),
      timeout: duration(),
    }),
  ),
  retryBudget: obj<RetryBudgetSpec>({
    retryRatio: required(num({ min: 0 })),
    minRetriesPerSecond: required(int({ min: 0 })),
    ttl: required(duration()),
  }),
  dstOverrides: arr(obj<WeightedDst>({ authority: required(str({ nonEmpty: true })), weight: required(quantity()) })),
  opaquePorts: unsupported('opaque ports are read from Service ports (appProtocol / port names)', arr(int({ min: 1, max: 65535 }))),
});

export const serviceProfileKind: KindDef<ServiceProfileSpec> = {
  kind: 'ServiceProfile',
  apiVersions: SERVICE_PROFILE_VERSIONS,
  spec: serviceProfileSpecSchema,
  specRequired: true,
  finish(res, v) {
    v.unique('spec.routes', res.spec.routes, (r) => r.name, 'name', 'route name');
  },
};

// ---- policy.linkerd.io (authorization; parsed, not enforced yet)

const NOT_ENFORCED = 'parsed, authorization not enforced yet: Linkerd policy resources are validated but weft does not apply them';

/** Every policy kind warns once on `spec`, so nothing is dropped silently. */
function policyKind<S>(kind: string, apiVersions: readonly string[], spec: Schema<S>, why = NOT_ENFORCED): KindDef<S> {
  return {
    kind,
    apiVersions,
    spec,
    specRequired: true,
    finish(_res, v) {
      v.warn('WEFT_UNSUPPORTED_FIELD', 'spec', `accepted, not acted on: ${why}`);
    },
  };
}

export interface PolicyRef {
  group?: string;
  kind: string;
  name?: string;
  namespace?: string;
}

const policyRefSchema = obj<PolicyRef>({ group: str(), kind: required(str({ nonEmpty: true })), name: str(), namespace: str() });

export interface Network {
  cidr: string;
  except?: string[];
}

const networkSchema = obj<Network>({ cidr: required(str({ nonEmpty: true })), except: arr(str({ nonEmpty: true })) });

export interface ServerSpec {
  podSelector?: LabelSelector;
  externalWorkloadSelector?: LabelSelector;
  port: number | string;
  proxyProtocol?: 'unknown' | 'HTTP/1' | 'HTTP/2' | 'gRPC' | 'opaque' | 'TLS';
  accessPolicy?: string;
}

export const serverKind = policyKind<ServerSpec>(
  'Server',
  ['policy.linkerd.io/v1beta3', 'policy.linkerd.io/v1beta2', 'policy.linkerd.io/v1beta1', 'policy.linkerd.io/v1alpha1'],
  obj<ServerSpec>(
    {
      podSelector: labelSelectorSchema,
      externalWorkloadSelector: labelSelectorSchema,
      port: required(intOrString()),
      proxyProtocol: enumOf(['unknown', 'HTTP/1', 'HTTP/2', 'gRPC', 'opaque', 'TLS'] as const),
      accessPolicy: enumOf(['all-unauthenticated', 'all-authenticated', 'cluster-unauthenticated', 'cluster-authenticated', 'deny', 'audit'] as const),
    },
    { oneOf: { keys: ['podSelector', 'externalWorkloadSelector'], exactlyOne: true } },
  ),
);

export interface ServerAuthorizationSpec {
  server: { name?: string; selector?: LabelSelector };
  client: {
    meshTLS?: { serviceAccounts?: { name: string; namespace?: string }[]; identities?: string[]; unauthenticatedTLS?: boolean };
    networks?: Network[];
    unauthenticated?: boolean;
  };
}

export const serverAuthorizationKind = policyKind<ServerAuthorizationSpec>(
  'ServerAuthorization',
  ['policy.linkerd.io/v1beta1', 'policy.linkerd.io/v1alpha1'],
  obj<ServerAuthorizationSpec>({
    server: required(obj<ServerAuthorizationSpec['server']>({ name: str(), selector: labelSelectorSchema }, { oneOf: { keys: ['name', 'selector'], exactlyOne: true } })),
    client: required(
      obj<ServerAuthorizationSpec['client']>({
        meshTLS: obj<NonNullable<ServerAuthorizationSpec['client']['meshTLS']>>({
          serviceAccounts: arr(obj<{ name: string; namespace?: string }>({ name: required(str({ nonEmpty: true })), namespace: str() })),
          identities: arr(str({ nonEmpty: true })),
          unauthenticatedTLS: bool(),
        }),
        networks: arr(networkSchema),
        unauthenticated: bool(),
      }),
    ),
  }),
);

export interface AuthorizationPolicySpec {
  targetRef: PolicyRef;
  requiredAuthenticationRefs: PolicyRef[];
}

export const authorizationPolicyKind = policyKind<AuthorizationPolicySpec>(
  'AuthorizationPolicy',
  ['policy.linkerd.io/v1alpha1'],
  obj<AuthorizationPolicySpec>({ targetRef: required(policyRefSchema), requiredAuthenticationRefs: required(arr(policyRefSchema)) }),
);

export interface MeshTlsAuthenticationSpec {
  identities?: string[];
  identityRefs?: PolicyRef[];
}

export const meshTlsAuthenticationKind = policyKind<MeshTlsAuthenticationSpec>(
  'MeshTLSAuthentication',
  ['policy.linkerd.io/v1alpha1'],
  obj<MeshTlsAuthenticationSpec>({ identities: arr(str({ nonEmpty: true })), identityRefs: arr(policyRefSchema) }, { oneOf: { keys: ['identities', 'identityRefs'], exactlyOne: true } }),
);

export interface NetworkAuthenticationSpec {
  networks: Network[];
}

export const networkAuthenticationKind = policyKind<NetworkAuthenticationSpec>(
  'NetworkAuthentication',
  ['policy.linkerd.io/v1alpha1'],
  obj<NetworkAuthenticationSpec>({ networks: required(arr(networkSchema, { minItems: 1 })) }),
);

/** Linkerd's own HTTPRoute: the Gateway API shape, used by Linkerd to scope authorization to routes. */
export const linkerdHttpRouteKind = policyKind<HttpRouteSpec>(
  'HTTPRoute',
  ['policy.linkerd.io/v1beta3', 'policy.linkerd.io/v1beta2', 'policy.linkerd.io/v1beta1', 'policy.linkerd.io/v1alpha1'],
  httpRouteSpecSchema,
  `${NOT_ENFORCED}; route with gateway.networking.k8s.io HTTPRoutes`,
);

export const linkerdKinds = [
  serviceProfileKind,
  serverKind,
  serverAuthorizationKind,
  authorizationPolicyKind,
  meshTlsAuthenticationKind,
  networkAuthenticationKind,
  linkerdHttpRouteKind,
] as const;
