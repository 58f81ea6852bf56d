// A minimal protobuf wire reader and request writer: just enough for the ADS bench
// clients to read a DiscoveryResponse's version, type, nonce and resources without
// decoding the Envoy messages, and to write their requests (ACKs name every EDS
// cluster: the names are encoded once per list, not per ACK), so the clients, not
// the control plane, are not the cost.
export interface Field {
  no: number;
  wire: number;
  /** varint value (wire 0) */
  num?: number;
  /** bytes (wire 2) */
  bytes?: Buffer;
}

export function* fields(buf: Buffer): Generator<Field> {
  let i = 0;
  const varint = (): number => {
    let v = 0;
    let mul = 1;
    for (;;) {
      const b = buf[i++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
  };
  while (i < buf.length) {
    const key = varint();
    const no = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) yield { no, wire, num: varint() };
    else if (wire === 2) {
      const len = varint();
      yield { no, wire, bytes: buf.subarray(i, i + len) };
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
}

export interface RawDiscoveryResponse {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  /** Any.value of each resource. */
  resources: Buffer[];
}

export function readDiscoveryResponse(buf: Buffer): RawDiscoveryResponse {
  const r: RawDiscoveryResponse = { versionInfo: '', typeUrl: '', nonce: '', resources: [] };
  for (const f of fields(buf)) {
    if (f.no === 1 && f.bytes) r.versionInfo = f.bytes.toString();
    else if (f.no === 4 && f.bytes) r.typeUrl = f.bytes.toString();
    else if (f.no === 5 && f.bytes) r.nonce = f.bytes.toString();
    else if (f.no === 2 && f.bytes) for (const a of fields(f.bytes)) if (a.no === 2 && a.bytes) r.resources.push(a.bytes);
  }
  return r;
}

/** Cluster.name (1), and whether it is an EDS cluster (type (2) = 3 or eds_cluster_config (3) present). */
export function readCluster(buf: Buffer): { name: string; eds: boolean } {
  let name = '';
  let eds = false;
  for (const f of fields(buf)) {
    if (f.no === 1 && f.bytes) name = f.bytes.toString();
    else if (f.no === 2 && f.num === 3) eds = true;
    else if (f.no === 3 && f.bytes) eds = true;
  }
  return { name, eds };
}

function varintBytes(n: number): number[] {
  const out: number[] = [];
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80);
    n = Math.floor(n / 128);
  }
  out.push(n);
  return out;
}

/** One length-delimited field: tag, length, bytes. */
export function lenField(no: number, bytes: Buffer): Buffer {
  return Buffer.concat([Buffer.from([(no << 3) | 2, ...varintBytes(bytes.length)]), bytes]);
}

const stringField = (no: number, s: string): Buffer => (s === '' ? Buffer.alloc(0) : lenField(no, Buffer.from(s)));

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
