// Which application protocol a Service port speaks: appProtocol first, then Istio's
// port-name convention (`http`, `http-web`, `grpc-api` ...), else opaque TCP.

import type { PortProtocol } from './types.js';

const BY_APP_PROTOCOL: Record<string, PortProtocol> = {
  http: 'http',
  http2: 'http2',
  h2c: 'http2',
  'kubernetes.io/h2c': 'http2',
  'kubernetes.io/ws': 'http',
  'kubernetes.io/wss': 'https',
  'grpc-web': 'http',
  grpc: 'grpc',
  https: 'https',
  tls: 'tls',
  tcp: 'tcp',
  mongo: 'tcp',
  mysql: 'tcp',
  redis: 'tcp',
};

// Longest first so "http2-x" is not read as "http".
const NAME_PREFIXES: [string, PortProtocol][] = [
  ['grpc-web', 'http'],
  ['http2', 'http2'],
  ['https', 'https'],
  ['http', 'http'],
  ['grpc', 'grpc'],
  ['tcp', 'tcp'],
  ['tls', 'tls'],
];

export function protocolOfPort(port: { name?: string; appProtocol?: string }): PortProtocol {
  const app = port.appProtocol?.toLowerCase();
  if (app !== undefined && BY_APP_PROTOCOL[app] !== undefined) return BY_APP_PROTOCOL[app];
  const name = port.name?.toLowerCase();
  if (name !== undefined) {
    for (const [prefix, proto] of NAME_PREFIXES) {
      if (name === prefix || name.startsWith(`${prefix}-`)) return proto;
    }
  }
  return 'tcp';
}
