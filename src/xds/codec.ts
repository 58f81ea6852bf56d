// Encodes and decodes Envoy v3 resources with protobufjs, loading only the
// .proto files weft uses (the Envoy protos ship inside @grpc/grpc-js-xds).
// Contract between control plane and proxy: resources travel as plain objects
// in protobufjs "object form": camelCase fields, enums as strings, 64-bit ints
// as numbers, Durations as {seconds, nanos}, Any as {'@type': url, ...fields}.
import protobuf from 'protobufjs';
import fs from 'node:fs';
import path from 'node:path';
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

/** Type URLs of the resources weft exchanges over ADS. */
export const TYPE = {
  listener: 'type.googleapis.com/envoy.config.listener.v3.Listener',
  route: 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration',
  virtualHost: 'type.googleapis.com/envoy.config.route.v3.VirtualHost',
  cluster: 'type.googleapis.com/envoy.config.cluster.v3.Cluster',
  endpoint: 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment',
  secret: 'type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret',
} as const;
export type TypeUrl = (typeof TYPE)[keyof typeof TYPE];
export const TYPE_SHORT: Record<TypeUrl, 'LDS' | 'RDS' | 'VHDS' | 'CDS' | 'EDS' | 'SDS'> = {
  [TYPE.listener]: 'LDS',
  [TYPE.route]: 'RDS',
  [TYPE.virtualHost]: 'VHDS',
  [TYPE.cluster]: 'CDS',
  [TYPE.endpoint]: 'EDS',
  [TYPE.secret]: 'SDS',
};

/** The proto files weft needs; their imports are loaded transitively. */
const PROTO_FILES = [
  'envoy/service/discovery/v3/discovery.proto',
  'envoy/config/listener/v3/listener.proto',
  'envoy/config/route/v3/route.proto',
  'envoy/config/cluster/v3/cluster.proto',
  'envoy/config/endpoint/v3/endpoint.proto',
  'envoy/extensions/transport_sockets/tls/v3/tls.proto',
  'envoy/extensions/transport_sockets/raw_buffer/v3/raw_buffer.proto',
  'envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto',
  'envoy/extensions/filters/network/tcp_proxy/v3/tcp_proxy.proto',
  'envoy/extensions/filters/http/router/v3/router.proto',
  'envoy/extensions/filters/http/fault/v3/fault.proto',
  'envoy/extensions/filters/http/cors/v3/cors.proto',
  'envoy/extensions/upstreams/http/v3/http_protocol_options.proto',
  'envoy/extensions/filters/listener/tls_inspector/v3/tls_inspector.proto',
  'envoy/extensions/filters/listener/http_inspector/v3/http_inspector.proto',
  'weft/ca/v1/ca.proto',
];

function includeDirs(): string[] {
  const xdsPkg = path.dirname(require.resolve('@grpc/grpc-js-xds/package.json'));
  const pbPkg = path.dirname(require.resolve('protobufjs/package.json'));
  const deps = path.join(xdsPkg, 'deps');
  return [
    ...['envoy-api', 'xds', 'googleapis', 'protoc-gen-validate'].map((d) => path.join(deps, d)),
    pbPkg, // google/protobuf/*.proto
    PROTO_DIR, // weft's own
  ];
}

const PROTO_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../../../proto');

/**
 * The same types as PROTO_FILES, as protobufjs JSON (`npm run gen:descriptor` writes it;
 * a test fails when it is stale). Loading it instead of parsing the .proto text saves
 * about 16 MB of resident memory and most of the start-up time in every proxy.
 */
export const DESCRIPTOR_FILE = path.join(PROTO_DIR, 'xds-descriptor.json');

/** Parses the .proto files (the source of truth for the descriptor). */
export function parseProtoFiles(): protobuf.Root {
  const dirs = includeDirs();
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string) => {
    if (path.isAbsolute(target) && fs.existsSync(target)) return target;
    for (const dir of dirs) {
      const candidate = path.join(dir, target);
      if (fs.existsSync(candidate)) return candidate;
    }
    return target;
  };
  root.loadSync(PROTO_FILES, { keepCase: false });
  root.resolveAll();
  return root;
}

let rootCache: protobuf.Root | undefined;

/** The shared protobuf root, loaded once per process: from the descriptor, else from the .proto files. */
export function protoRoot(): protobuf.Root {
  if (rootCache) return rootCache;
  let json: string | undefined;
  try {
    json = fs.readFileSync(DESCRIPTOR_FILE, 'utf8');
  } catch {
    // not generated (a development tree): parse the protos
  }
  rootCache = json !== undefined ? protobuf.Root.fromJSON(JSON.parse(json) as protobuf.INamespace) : parseProtoFiles();
  return rootCache;
}

/** The descriptor text for DESCRIPTOR_FILE: stable key order, so regenerating it is a no-op diff. */
export function descriptorJson(root: protobuf.Root = parseProtoFiles()): string {
  return `${JSON.stringify(root.toJSON())}\n`;
}

/** The message type for a type URL ("type.googleapis.com/pkg.Msg") or a full name ("pkg.Msg"). */
export function messageType(typeUrlOrName: string): protobuf.Type {
  const name = typeUrlOrName.includes('/') ? typeUrlOrName.slice(typeUrlOrName.lastIndexOf('/') + 1) : typeUrlOrName;
  return protoRoot().lookupType(name);
}

export const OBJECT_FORM: protobuf.IConversionOptions = { enums: String, longs: Number, bytes: String, defaults: false, json: true };

export class CodecError extends Error {
  readonly code = 'WEFT_ERR_CODEC';
  constructor(message: string) {
    super(message);
    this.name = 'CodecError';
  }
}

/** Object form -> protobuf bytes. Throws CodecError naming the type when the object does not fit it. */
export function encode(typeUrl: string, obj: object): Uint8Array {
  const type = messageType(typeUrl);
  // Verify the converted message, not the object form: protobufjs's verify() wants
  // numeric enums and would reject the string enums of the object form.
  let message: protobuf.Message;
  try {
    message = type.fromObject(obj as Record<string, unknown>);
  } catch (e) {
    throw new CodecError(`${type.fullName}: ${(e as Error).message}`);
  }
  const err = type.verify(message);
  if (err) throw new CodecError(`${type.fullName}: ${err}`);
  return type.encode(message).finish();
}

/** Protobuf bytes -> object form. */
export function decode<T = Record<string, unknown>>(typeUrl: string, bytes: Uint8Array): T {
  const type = messageType(typeUrl);
  return type.toObject(type.decode(bytes), OBJECT_FORM) as T;
}
