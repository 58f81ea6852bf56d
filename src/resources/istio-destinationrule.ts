// networking.istio.io DestinationRule (v1, v1beta1, v1alpha3): subsets and client-side
// traffic policy. Every field Istio defines is recognised; what weft does not act on is
// kept out of the spec and warned about (WEFT_UNSUPPORTED_FIELD).

import type { KindDef } from './envelope.js';
import { arr, bool, duration, enumOf, int, map, obj, required, str, unsupported, withDefault, type Schema } from './schema.js';
import { ISTIO_NETWORKING_VERSIONS } from './istio-networking.js';

const NOT_YET = 'weft does not implement it yet';
const MESH_WIDE = 'every DestinationRule is visible mesh-wide in weft';

export type SimpleLb = 'UNSPECIFIED' | 'RANDOM' | 'PASSTHROUGH' | 'ROUND_ROBIN' | 'LEAST_REQUEST' | 'LEAST_CONN';

export interface HttpCookie {
  name: string;
  path?: string;
  ttl?: string;
}

export interface ConsistentHashLb {
  httpHeaderName?: string;
  httpCookie?: HttpCookie;
  useSourceIp?: boolean;
  httpQueryParameterName?: string;
  ringHash?: { minimumRingSize?: number };
  maglev?: { tableSize?: number };
  minimumRingSize?: number;
}

export interface LoadBalancerSettings {
  simple?: SimpleLb;
  consistentHash?: ConsistentHashLb;
}

export interface TcpKeepalive {
  probes?: number;
  time?: string;
  interval?: string;
}

export interface ConnectionPoolSettings {
  tcp?: { maxConnections?: number; connectTimeout?: string; tcpKeepalive?: TcpKeepalive };
  http?: {
    http1MaxPendingRequests?: number;
    http2MaxRequests?: number;
    maxRequestsPerConnection?: number;
    maxRetries?: number;
    idleTimeout?: string;
    h2UpgradePolicy?: 'DEFAULT' | 'DO_NOT_UPGRADE' | 'UPGRADE';
  };
}

export interface OutlierDetection {
  consecutive5xxErrors?: number;
  consecutiveGatewayErrors?: number;
  interval?: string;
  baseEjectionTime?: string;
  maxEjectionPercent?: number;
  minHealthPercent?: number;
  splitExternalLocalOriginErrors?: boolean;
  consecutiveLocalOriginFailures?: number;
}

export type ClientTlsMode = 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';

export interface ClientTlsSettings {
  mode: ClientTlsMode;
  sni?: string;
  subjectAltNames?: string[];
  credentialName?: string;
  insecureSkipVerify?: boolean;
}

export interface PortTrafficPolicy {
  port: { number: number };
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTlsSettings;
}

export interface DestinationTrafficPolicy {
  loadBalancer?: LoadBalancerSettings;
  connectionPool?: ConnectionPoolSettings;
  outlierDetection?: OutlierDetection;
  tls?: ClientTlsSettings;
  portLevelSettings?: PortTrafficPolicy[];
}

export interface Subset {
  name: string;
  labels: Record<string, string>;
  trafficPolicy?: DestinationTrafficPolicy;
}

export interface DestinationRuleSpec {
  host: string;
  trafficPolicy?: DestinationTrafficPolicy;
  subsets?: Subset[];
}

const nonNegative = () => int({ min: 0 });
const percent = () => int({ min: 0, max: 100 });

const MAX_MAGLEV_TABLE = 5_000_011;
const MAX_RING_SIZE = 8_388_608;

function isPrime(n: number): boolean {
  if (n < 2) return false;
  for (let d = 2; d * d <= n; d++) if (n % d === 0) return false;
  return true;
}

const consistentHashSchema = obj<ConsistentHashLb>(
  {
    httpHeaderName: str({ nonEmpty: true }),
    httpCookie: obj<HttpCookie>({ name: required(str({ nonEmpty: true })), path: str(), ttl: duration() }),
    useSourceIp: bool(),
    httpQueryParameterName: str({ nonEmpty: true }),
    ringHash: obj<NonNullable<ConsistentHashLb['ringHash']>>({ minimumRingSize: int({ min: 1 }) }),
    maglev: obj<NonNullable<ConsistentHashLb['maglev']>>({ tableSize: int({ min: 1 }) }),
    // Deprecated by Istio in favour of ringHash.minimumRingSize; still honoured.
    minimumRingSize: int({ min: 1 }),
  },
  {
    oneOf: { keys: ['httpHeaderName', 'httpCookie', 'useSourceIp', 'httpQueryParameterName'], exactlyOne: true },
    check(h, v, path) {
      if (h.ringHash && h.maglev) v.error('WEFT_INVALID_FIELD', `${path}.maglev`, 'only one of ringHash, maglev may be set');
      // Envoy's limits: a Maglev table is a prime up to 5000011; a ring at most 8M entries.
      const size = h.maglev?.tableSize;
      if (size !== undefined && (size > MAX_MAGLEV_TABLE || !isPrime(size))) {
        v.error('WEFT_INVALID_FIELD', `${path}.maglev.tableSize`, `${size} is not a prime up to ${MAX_MAGLEV_TABLE} (Maglev needs a prime table size, e.g. 65537)`);
      }
      const ring = h.ringHash?.minimumRingSize ?? h.minimumRingSize;
      if (ring !== undefined && ring > MAX_RING_SIZE) {
        v.error('WEFT_INVALID_FIELD', `${path}.${h.ringHash ? 'ringHash.' : ''}minimumRingSize`, `${ring} is above the maximum ring size ${MAX_RING_SIZE}`);
      }
    },
  },
);

const loadBalancerSchema = obj<LoadBalancerSettings>(
  {
    simple: enumOf(['UNSPECIFIED', 'RANDOM', 'PASSTHROUGH', 'ROUND_ROBIN', 'LEAST_REQUEST', 'LEAST_CONN'] as const),
    consistentHash: consistentHashSchema,
    localityLbSetting: unsupported('weft has no locality-aware load balancing yet'),
    warmupDurationSecs: unsupported(NOT_YET),
    warmup: unsupported(NOT_YET),
  },
  { oneOf: { keys: ['simple', 'consistentHash'] } },
);

const connectionPoolSchema = obj<ConnectionPoolSettings>({
  tcp: obj<NonNullable<ConnectionPoolSettings['tcp']>>({
    maxConnections: int({ min: 1 }),
    connectTimeout: duration(),
    tcpKeepalive: obj<TcpKeepalive>({ probes: int({ min: 1 }), time: duration(), interval: duration() }),
    maxConnectionDuration: unsupported(NOT_YET),
    idleTimeout: unsupported(NOT_YET),
  }),
  http: obj<NonNullable<ConnectionPoolSettings['http']>>({
    http1MaxPendingRequests: int({ min: 1 }),
    http2MaxRequests: int({ min: 1 }),
    maxRequestsPerConnection: nonNegative(),
    maxRetries: nonNegative(),
    idleTimeout: duration(),
    h2UpgradePolicy: enumOf(['DEFAULT', 'DO_NOT_UPGRADE', 'UPGRADE'] as const),
    useClientProtocol: unsupported(NOT_YET),
    maxConcurrentStreams: unsupported(NOT_YET),
  }),
});

const outlierSchema = obj<OutlierDetection>({
  consecutive5xxErrors: nonNegative(),
  consecutiveGatewayErrors: nonNegative(),
  interval: duration(),
  baseEjectionTime: duration(),
  maxEjectionPercent: percent(),
  minHealthPercent: percent(),
  splitExternalLocalOriginErrors: bool(),
  consecutiveLocalOriginFailures: nonNegative(),
  consecutiveErrors: unsupported('deprecated by Istio; use consecutive5xxErrors'),
});

const CERT_FILES = 'weft takes client certificates from credentialName (SDS), not files';

const tlsSchema = obj<ClientTlsSettings>({
  mode: required(enumOf(['DISABLE', 'SIMPLE', 'MUTUAL', 'ISTIO_MUTUAL'] as const)),
  sni: str(),
  subjectAltNames: arr(str({ nonEmpty: true })),
  credentialName: str({ nonEmpty: true }),
  insecureSkipVerify: bool(),
  clientCertificate: unsupported(CERT_FILES),
  privateKey: unsupported(CERT_FILES),
  caCertificates: unsupported(CERT_FILES),
  caCrl: unsupported(CERT_FILES),
});

const policyFields = {
  loadBalancer: loadBalancerSchema,
  connectionPool: connectionPoolSchema,
  outlierDetection: outlierSchema,
  tls: tlsSchema,
  tunnel: unsupported(NOT_YET),
  proxyProtocol: unsupported(NOT_YET),
  retryBudget: unsupported(NOT_YET),
};

const portPolicySchema: Schema<PortTrafficPolicy> = obj<PortTrafficPolicy>({
  port: required(obj<{ number: number }>({ number: required(int({ min: 1, max: 65535 })) })),
  ...policyFields,
});

const trafficPolicySchema: Schema<DestinationTrafficPolicy> = obj<DestinationTrafficPolicy>(
  { ...policyFields, portLevelSettings: arr(portPolicySchema) },
  {
    check(p, v, path) {
      v.unique(`${path}.portLevelSettings`, p.portLevelSettings, (s) => s.port.number, 'port.number', 'port');
    },
  },
);

const subsetSchema = obj<Subset>({
  name: required(str({ pattern: /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/, patternHint: 'a subset name (letters, digits, "-", "_", ".")' })),
  // No labels: the subset is every endpoint of the host.
  labels: withDefault(map(str()), () => ({})),
  trafficPolicy: trafficPolicySchema,
});

export const destinationRuleSpecSchema: Schema<DestinationRuleSpec> = obj<DestinationRuleSpec>({
  host: required(str({ nonEmpty: true })),
  trafficPolicy: trafficPolicySchema,
  subsets: arr(subsetSchema),
  exportTo: unsupported(MESH_WIDE, arr(str())),
  workloadSelector: unsupported('a DestinationRule applies to every client proxy in weft'),
});

export const destinationRuleKind: KindDef<DestinationRuleSpec> = {
  kind: 'DestinationRule',
  apiVersions: ISTIO_NETWORKING_VERSIONS,
  spec: destinationRuleSpecSchema,
  specRequired: true,
  finish(res, v) {
    v.unique('spec.subsets', res.spec.subsets, (s) => s.name, 'name', 'subset name');
  },
};
