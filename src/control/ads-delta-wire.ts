// The delta (incremental) ADS wire on the server's side: DeltaDiscoveryResponses
// assembled from the resources' shared Any bytes, as ads-wire.ts does for state of
// the world (same framing, so the same framed and compressed writes apply).
// Requests are small in delta xDS (an ACK names nothing): protobufjs decodes them
// (ads-wire.ts ADS_SERVER_SERVICE).
// Field numbers: envoy/service/discovery/v3/discovery.proto.
import { lenTag, stringField, varintSize, writeVarint } from '../xds/proto-wire.js';
import { anyUrlField, framedMessage } from './ads-wire.js';
import type { EncodedGroup, SnapshotResource } from './snapshot.js';

/**
 * DeltaDiscoveryResponse.resources (field 2) for a list of resources: each a Resource
 * {version = 1, resource = 2 (Any {type_url = 1, value = 2}), name = 3}, the Any's
 * bytes copied, not encoded again.
 */
export function deltaResourcesField(resources: readonly SnapshotResource[]): Buffer {
  let size = 0;
  const parts: { url: Buffer; version: Buffer; name: Buffer; anyLen: number; resLen: number }[] = new Array(resources.length);
  for (let i = 0; i < resources.length; i++) {
    const r = resources[i]!;
    const url = anyUrlField(r.any.type_url);
    const version = stringField(1, r.version);
    const name = stringField(3, r.name);
    const v = r.any.value.length;
    const anyLen = url.length + 1 + varintSize(v) + v;
    const resLen = version.length + 1 + varintSize(anyLen) + anyLen + name.length;
    parts[i] = { url, version, name, anyLen, resLen };
    size += 1 + varintSize(resLen) + resLen;
  }
  const out = Buffer.allocUnsafe(size);
  let off = 0;
  for (let i = 0; i < resources.length; i++) {
    const p = parts[i]!;
    const value = resources[i]!.any.value;
    out[off++] = lenTag(2);
    off = writeVarint(out, off, p.resLen);
    out.set(p.version, off);
    off += p.version.length;
    out[off++] = lenTag(2);
    off = writeVarint(out, off, p.anyLen);
    out.set(p.url, off);
    off += p.url.length;
    out[off++] = lenTag(2);
    off = writeVarint(out, off, value.length);
    out.set(value, off);
    off += value.length;
    out.set(p.name, off);
    off += p.name.length;
  }
  return out;
}

const groupBodies = new WeakMap<EncodedGroup, Buffer>();

/** A group's resources as Resource entries, made once (a first response is whole groups). */
export function deltaGroupBody(group: EncodedGroup): Buffer {
  let b = groupBodies.get(group);
  if (!b) groupBodies.set(group, (b = deltaResourcesField(group.resources)));
  return b;
}

/**
 * DeltaDiscoveryResponse {system_version_info = 1, resources = 2, type_url = 4, nonce = 5,
 * removed_resources = 6}, framed once (ads-wire.ts framedMessage); `resources` are runs
 * made by deltaResourcesField or deltaGroupBody.
 */
export function encodeDeltaResponse(systemVersion: string, typeUrl: string, nonce: string, resources: readonly Buffer[], removed: readonly string[]): Buffer {
  return framedMessage([stringField(1, systemVersion), ...resources, stringField(4, typeUrl), stringField(5, nonce), ...removed.map((n) => stringField(6, n))]);
}
