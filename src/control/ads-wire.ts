// The ADS server's side of the wire, written by hand where protobufjs costs the
// most at scale (2,000 streams, responses of ~1 MB, ACKs naming ~1,000 clusters):
//   - a DiscoveryResponse is assembled from the resources' Any bytes, which are
//     encoded once and shared by every proxy (snapshot.ts); a response shared by many
//     streams is framed once (gRPC prefix included) and that frame written to each;
//   - a shared response is compressed once (gzip) for the streams whose proxy said it
//     reads that (node.client_features ADS_GZIP_FEATURE), and that frame is written;
//   - a DiscoveryRequest keeps its resource_names as raw bytes and decodes them only
//     when they differ from the last ones seen (an ACK usually repeats them).
// Field numbers: envoy/service/discovery/v3/discovery.proto, google/protobuf/any.proto.
// The client side (and the proxy) keep using src/xds/ads-service.ts; both are the same wire.
import zlib from 'node:zlib';
import { Metadata, type MethodDefinition, type ServiceDefinition } from '@grpc/grpc-js';
import { ADS_GZIP_FEATURE, ADS_SERVICE, type DeltaDiscoveryRequest, type DiscoveryRequest } from '../xds/ads-service.js';
import { messageType, OBJECT_FORM } from '../xds/codec.js';
import { forEachField, lenTag, stringField, varintSize, writeVarint } from '../xds/proto-wire.js';

/** One resource as the response carries it: google.protobuf.Any {type_url = 1, value = 2}. */
export interface WireResource {
  readonly any: { readonly type_url: string; readonly value: Uint8Array };
}

const anyTypeUrlField = new Map<string, Buffer>();

/** Any.type_url (field 1) for a type URL, encoded once per URL. */
export function anyUrlField(url: string): Buffer {
  let u = anyTypeUrlField.get(url);
  if (!u) anyTypeUrlField.set(url, (u = stringField(1, url)));
  return u;
}

/**
 * DiscoveryResponse.resources (field 2) for a list of resources: each one's Any
 * {type_url = 1, value = 2} with its bytes copied, not encoded again. Runs of these
 * concatenate (a group's run is made once and reused in every response that has it).
 */
export function resourcesField(resources: readonly WireResource[]): Buffer {
  let size = 0;
  const urls: Buffer[] = new Array(resources.length);
  for (let i = 0; i < resources.length; i++) {
    const a = resources[i]!.any;
    const u = (urls[i] = anyUrlField(a.type_url));
    const anyLen = u.length + 1 + varintSize(a.value.length) + a.value.length;
    size += 1 + varintSize(anyLen) + anyLen;
  }
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  for (let i = 0; i < resources.length; i++) {
    const v = resources[i]!.any.value;
    const u = urls[i]!;
    out[off++] = lenTag(2);
    off = writeVarint(out, off, u.length + 1 + varintSize(v.length) + v.length);
    out.set(u, off);
    off += u.length;
    out[off++] = lenTag(2);
    off = writeVarint(out, off, v.length);
    out.set(v, off);
    off += v.length;
  }
  return out;
}

/**
 * DiscoveryResponse {version_info = 1, resources = 2, type_url = 4, nonce = 5} in one
 * Buffer of exact size; `resources` are runs made by resourcesField.
 */
export function encodeDiscoveryResponse(versionInfo: string, typeUrl: string, nonce: string, resources: readonly Buffer[]): Buffer {
  return framedMessage([stringField(1, versionInfo), ...resources, stringField(4, typeUrl), stringField(5, nonce)]);
}

/**
 * A response message from its encoded fields, in one Buffer of exact size. It is allocated
 * with gRPC's message prefix in front (uncompressed flag, big-endian length), so the framed
 * message exists once, whatever the number of streams it is written to (framedResponse).
 */
export function framedMessage(parts: readonly Buffer[]): Buffer {
  let size = 0;
  for (const p of parts) size += p.length;
  const framed = Buffer.allocUnsafe(GRPC_PREFIX + size);
  framed[0] = 0;
  framed.writeUInt32BE(size, 1);
  let off = GRPC_PREFIX;
  for (const p of parts) {
    framed.set(p, off);
    off += p.length;
  }
  const message = framed.subarray(GRPC_PREFIX);
  framedMessages.set(message, framed);
  return message;
}

/** gRPC's length prefix: a compressed flag byte and a 4-byte big-endian length. */
const GRPC_PREFIX = 5;
/** Each response made by framedMessage -> the same bytes with their gRPC prefix (one allocation). */
const framedMessages = new WeakMap<Buffer, Buffer>();

/**
 * The gRPC message encoding a shared response may be compressed with. A routing change at
 * 1,000 services sends every proxy a ~300 KB RouteConfiguration that gzip makes ~20 KB:
 * compressed once, that is 15x fewer bytes to write to 2,000 streams and for each proxy
 * to read (inflating it costs a proxy ~0.2 ms, in zlib's thread pool with grpc-js).
 */
export type AdsEncoding = 'gzip';
/** Smaller responses go uncompressed: a few KB write cheaply, and the flag byte and the headers are the same either way. */
export const COMPRESS_MIN_BYTES = 4096;
/** zlib level 3: as fast as level 1 here and ~10% smaller; level 6 takes 2.5x as long for 12% less. */
const COMPRESS_LEVEL = 3;

/** Responses written to more than one stream (markShared): only these are compressed, once each. */
const sharedMessages = new WeakSet<Buffer>();
/** Each shared response -> its gzipped frame (or its plain frame when gzip does not shrink it), made on first write. */
const compressedFrames = new WeakMap<Buffer, Buffer>();

/**
 * Marks a response made by encodeDiscoveryResponse as shared by several streams, so that
 * it is worth compressing (once). A response made for one proxy is written as it is:
 * compressing it would cost the control plane more than writing it.
 */
export function markShared(message: Buffer): void {
  sharedMessages.add(message);
}

/**
 * The encoding to compress a stream's responses with: gzip for a client that lists
 * ADS_GZIP_FEATURE in its node's client_features (weft's proxies do), none for any other.
 * Not grpc-accept-encoding: grpc-js's server drops that header before a handler sees it.
 */
export function encodingFor(node: DiscoveryRequest['node']): AdsEncoding | undefined {
  return node?.clientFeatures?.includes(ADS_GZIP_FEATURE) ? 'gzip' : undefined;
}

/**
 * The frame to write for a response made by encodeDiscoveryResponse (undefined for any other
 * value): with `encoding`, a shared response of COMPRESS_MIN_BYTES or more is compressed
 * (flag byte 1), made once and kept while the response is; otherwise its
 * uncompressed frame. A response that does not shrink keeps its uncompressed frame.
 */
export function framedResponse(message: unknown, encoding?: AdsEncoding): Buffer | undefined {
  if (!Buffer.isBuffer(message)) return undefined;
  const framed = framedMessages.get(message);
  if (!framed || !encoding || message.length < COMPRESS_MIN_BYTES || !sharedMessages.has(message)) return framed;
  let frame = compressedFrames.get(message);
  if (!frame) compressedFrames.set(message, (frame = gzippedFrame(message) ?? framed));
  return frame;
}

function gzippedFrame(message: Buffer): Buffer | undefined {
  const body = zlib.gzipSync(message, { level: COMPRESS_LEVEL });
  if (body.length >= message.length) return undefined;
  const frame = Buffer.allocUnsafe(GRPC_PREFIX + body.length);
  frame[0] = 1;
  frame.writeUInt32BE(body.length, 1);
  frame.set(body, GRPC_PREFIX);
  return frame;
}

type Serializer = (value: unknown) => Buffer;
interface HookableStream {
  call?: { serializeMessage?: unknown };
  sendMetadata(md: Metadata): void;
}

/**
 * Makes a server stream write responses made by encodeDiscoveryResponse as they are, or
 * compressed with `encoding` (see framedResponse; the response headers then say
 * grpc-encoding, and are sent now). grpc-js frames every message it sends into a new
 * Buffer (prefix + a copy of the message): for a routing change that is 2,000 copies of a
 * 300 KB RouteConfiguration, and the 600 MB of fresh Buffers cost more in V8's
 * external-memory GCs than the copies.
 * The call's serializeMessage (grpc-js's BaseServerInterceptingCall, reached as the
 * stream's `call`; no public hook exists) is given the already-framed bytes; any other
 * message goes the usual way (uncompressed, which grpc-encoding allows per message).
 * False when this grpc-js is not shaped so (test/control/ads-flow checks that the
 * installed one is): responses are then copied, uncompressed, as before.
 */
export function writeFramedResponses(stream: object, encoding?: AdsEncoding): boolean {
  const s = stream as HookableStream;
  const call = s.call;
  if (!call || typeof call.serializeMessage !== 'function') return false;
  const serialize = call.serializeMessage as Serializer;
  call.serializeMessage = function (this: unknown, value: unknown): Buffer {
    return framedResponse(value, encoding) ?? serialize.call(this, value);
  };
  if (encoding) {
    const md = new Metadata();
    md.set('grpc-encoding', encoding);
    s.sendMetadata(md);
  }
  return true;
}

/**
 * A DiscoveryRequest read off the wire. `resourceNames` is decoded on first use;
 * `resourceNamesBytes` (every resource_names field as sent, in order) lets the
 * server tell an unchanged subscription without decoding it.
 */
export class WireDiscoveryRequest implements DiscoveryRequest {
  versionInfo?: string;
  node?: DiscoveryRequest['node'];
  typeUrl?: string;
  responseNonce?: string;
  errorDetail?: DiscoveryRequest['errorDetail'];
  /** The resource_names fields' bytes (tags included); empty when there are none. */
  resourceNamesBytes: Buffer = EMPTY;
  #names: string[] | undefined;
  #namesDecoded = false;

  get resourceNames(): string[] | undefined {
    if (!this.#namesDecoded) {
      this.#namesDecoded = true;
      if (this.resourceNamesBytes.length > 0) {
        const names: string[] = [];
        forEachField(this.resourceNamesBytes, (_f, start, end) => void names.push(this.resourceNamesBytes.toString('utf8', start, end)));
        this.#names = names;
      }
    }
    return this.#names;
  }
}

const EMPTY = Buffer.alloc(0);

const OBJECT_FORM_NODE = 'envoy.config.core.v3.Node';
const OBJECT_FORM_STATUS = 'google.rpc.Status';

/** DiscoveryRequest bytes -> WireDiscoveryRequest (node and error_detail decoded by protobufjs: they are rare). */
export function decodeDiscoveryRequest(buf: Buffer): WireDiscoveryRequest {
  const r = new WireDiscoveryRequest();
  let namesStart = -1;
  let namesEnd = -1;
  let namesParts: Buffer[] | undefined;
  forEachField(buf, (field, start, end, fieldStart) => {
    switch (field) {
      case 1:
        r.versionInfo = buf.toString('utf8', start, end);
        break;
      case 2: {
        const t = messageType(OBJECT_FORM_NODE);
        r.node = t.toObject(t.decode(buf.subarray(start, end)), OBJECT_FORM) as DiscoveryRequest['node'];
        break;
      }
      case 3:
        // Usually one contiguous run; otherwise the runs are concatenated.
        if (namesStart < 0) namesStart = fieldStart;
        else if (fieldStart !== namesEnd) {
          namesParts ??= [];
          namesParts.push(buf.subarray(namesStart, namesEnd));
          namesStart = fieldStart;
        }
        namesEnd = end;
        break;
      case 4:
        r.typeUrl = buf.toString('utf8', start, end);
        break;
      case 5:
        r.responseNonce = buf.toString('utf8', start, end);
        break;
      case 6: {
        const t = messageType(OBJECT_FORM_STATUS);
        r.errorDetail = t.toObject(t.decode(buf.subarray(start, end)), OBJECT_FORM) as DiscoveryRequest['errorDetail'];
        break;
      }
      default:
        break; // resource_locators and future fields: not used by weft
    }
  });
  if (namesStart >= 0) {
    // A view of the request (a subscription that keeps the bytes copies them: ads-subscriptions.ts).
    const last = buf.subarray(namesStart, namesEnd);
    r.resourceNamesBytes = namesParts ? Buffer.concat([...namesParts, last]) : last;
  }
  return r;
}

const base = ADS_SERVICE.streamAggregatedResources;

/**
 * The ADS service as the control plane serves it: SotW requests decoded by
 * decodeDiscoveryRequest; responses written as Buffers already encoded by
 * encodeDiscoveryResponse (delta: ads-delta-wire.ts). Same paths and wire as ADS_SERVICE.
 */
export const ADS_SERVER_SERVICE = {
  streamAggregatedResources: {
    path: base.path,
    requestStream: true,
    responseStream: true,
    requestSerialize: base.requestSerialize,
    requestDeserialize: decodeDiscoveryRequest,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  } satisfies MethodDefinition<DiscoveryRequest, Buffer>,
  // Delta requests are small (an ACK names nothing): protobufjs decodes them.
  deltaAggregatedResources: {
    ...ADS_SERVICE.deltaAggregatedResources,
    responseSerialize: (b: Buffer) => b,
    responseDeserialize: (b: Buffer) => b,
  } satisfies MethodDefinition<DeltaDiscoveryRequest, Buffer>,
} satisfies ServiceDefinition;
