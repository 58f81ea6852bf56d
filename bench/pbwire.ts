// A minimal protobuf wire reader: just enough for the ADS bench clients to read a
// DiscoveryResponse's version, type, nonce and resources without decoding the
// Envoy messages (which would make the clients, not the control plane, the cost).
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
