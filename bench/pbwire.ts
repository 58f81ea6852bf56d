// The ADS bench clients' side of the wire: just enough to read a DiscoveryResponse's
// version, type, nonce and resources without decoding the Envoy messages, and to
// write their requests (ACKs name every EDS cluster: the names are encoded once per
// list, not per ACK), so the clients, not the control plane, are not the cost. The
// wire primitives are the control plane's own (src/xds/proto-wire.ts).
import { forEachField, lenField, stringField } from '../src/xds/proto-wire.js';

export interface RawDiscoveryResponse {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  /** Any.value of each resource. */
  resources: Buffer[];
}

export function readDiscoveryResponse(buf: Buffer): RawDiscoveryResponse {
  const r: RawDiscoveryResponse = { versionInfo: '', typeUrl: '', nonce: '', resources: [] };
  forEachField(buf, (no, start, end) => {
    if (no === 1) r.versionInfo = buf.toString('utf8', start, end);
    else if (no === 4) r.typeUrl = buf.toString('utf8', start, end);
    else if (no === 5) r.nonce = buf.toString('utf8', start, end);
    else if (no === 2) {
      const any = buf.subarray(start, end);
      forEachField(any, (a, s, e) => void (a === 2 && r.resources.push(any.subarray(s, e))));
    }
  });
  return r;
}

/** Cluster.name (1), and whether it is an EDS cluster (type (2) = 3 or eds_cluster_config (3) present). */
export function readCluster(buf: Buffer): { name: string; eds: boolean } {
  let name = '';
  let eds = false;
  forEachField(
    buf,
    (no, start, end) => {
      if (no === 1) name = buf.toString('utf8', start, end);
      else if (no === 3) eds = true;
    },
    (no, v) => void (no === 2 && v === 3 && (eds = true)),
  );
  return { name, eds };
}

/** DiscoveryRequest.resource_names (3) for a list of names: encode once, reuse in every ACK. */
export function namesField(names: readonly string[]): Buffer {
  return Buffer.concat(names.map((n) => stringField(3, n)));
}

/**
 * DiscoveryRequest {version_info 1, node 2, resource_names 3, type_url 4, response_nonce 5}
 * from parts; `node` is the encoded Node message, `names` a namesField().
 */
export function discoveryRequest(p: { versionInfo?: string; node?: Buffer; names?: Buffer; typeUrl: string; nonce?: string }): Buffer {
  return Buffer.concat([stringField(1, p.versionInfo ?? ''), p.node ? lenField(2, p.node) : Buffer.alloc(0), p.names ?? Buffer.alloc(0), stringField(4, p.typeUrl), stringField(5, p.nonce ?? '')]);
}

export interface RawDeltaResponse {
  typeUrl: string;
  nonce: string;
  /** Each Resource's Any.value (its name is the resource's own: not decoded here, as a SotW response's are not). */
  resources: Buffer[];
  removed: string[];
}

/** DeltaDiscoveryResponse {resources 2 (Resource {resource 2 (Any)}), type_url 4, nonce 5, removed_resources 6}. */
export function readDeltaResponse(buf: Buffer): RawDeltaResponse {
  const r: RawDeltaResponse = { typeUrl: '', nonce: '', resources: [], removed: [] };
  forEachField(buf, (no, start, end) => {
    if (no === 4) r.typeUrl = buf.toString('utf8', start, end);
    else if (no === 5) r.nonce = buf.toString('utf8', start, end);
    else if (no === 6) r.removed.push(buf.toString('utf8', start, end));
    else if (no === 2) {
      const res = buf.subarray(start, end);
      forEachField(res, (f, s, e) => {
        if (f !== 2) return;
        const any = res.subarray(s, e);
        forEachField(any, (a, as, ae) => void (a === 2 && r.resources.push(any.subarray(as, ae))));
      });
    }
  });
  return r;
}

/** DeltaDiscoveryRequest {node 1, type_url 2, resource_names_subscribe 3, resource_names_unsubscribe 4, response_nonce 6}. */
export function deltaRequest(p: { node?: Buffer; typeUrl: string; subscribe?: readonly string[]; unsubscribe?: readonly string[]; nonce?: string }): Buffer {
  return Buffer.concat([
    p.node ? lenField(1, p.node) : Buffer.alloc(0),
    stringField(2, p.typeUrl),
    ...(p.subscribe ?? []).map((n) => stringField(3, n)),
    ...(p.unsubscribe ?? []).map((n) => stringField(4, n)),
    stringField(6, p.nonce ?? ''),
  ]);
}
