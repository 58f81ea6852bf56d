// Protobuf wire primitives for the hand-written codecs (the control plane's ADS
// envelope, src/control/ads-wire.ts, and the bench's ADS clients, bench/pbwire.ts):
// varints, length-delimited fields, and a reader that walks a message's fields
// without decoding it. Encoding: https://protobuf.dev/programming-guides/encoding/
const LEN = 2;

/** The key of a length-delimited field (wire type 2). */
export const lenTag = (field: number): number => (field << 3) | LEN;

export function varintSize(n: number): number {
  let s = 1;
  while (n >= 0x80) {
    n = Math.floor(n / 128);
    s++;
  }
  return s;
}

/** Writes `n` as a varint at `off`; returns the offset after it. */
export function writeVarint(buf: Buffer, off: number, n: number): number {
  while (n >= 0x80) {
    buf[off++] = (n & 0x7f) | 0x80;
    n = Math.floor(n / 128);
  }
  buf[off++] = n;
  return off;
}

/** One length-delimited field: tag, length, bytes, in a Buffer of exact size. */
export function lenField(field: number, bytes: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(varintSize(lenTag(field)) + varintSize(bytes.length) + bytes.length);
  out.set(bytes, writeVarint(out, writeVarint(out, 0, lenTag(field)), bytes.length));
  return out;
}

const EMPTY = Buffer.alloc(0);

/** A string field (UTF-8), empty for '' (proto3 leaves defaults out). */
export function stringField(field: number, s: string): Buffer {
  return s === '' ? EMPTY : lenField(field, Buffer.from(s, 'utf8'));
}

export class WireError extends Error {}

/**
 * Calls `fn` for each length-delimited field with the value's [start, end) and the
 * field's own start (its tag), and `varint` (if given) for each varint field. Skips
 * fixed fields; throws WireError on a malformed buffer.
 */
export function forEachField(buf: Buffer, fn: (field: number, start: number, end: number, fieldStart: number) => void, varint?: (field: number, value: number) => void): void {
  let i = 0;
  const read = (): number => {
    let v = 0;
    let mul = 1;
    for (let n = 0; n < 10; n++) {
      if (i >= buf.length) throw new WireError('truncated varint');
      const b = buf[i++]!;
      v += (b & 0x7f) * mul;
      if (b < 0x80) return v;
      mul *= 128;
    }
    throw new WireError('varint too long');
  };
  while (i < buf.length) {
    const fieldStart = i;
    const key = read();
    const field = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) {
      const v = read();
      varint?.(field, v);
    } else if (wire === LEN) {
      const len = read();
      if (i + len > buf.length) throw new WireError('truncated field');
      fn(field, i, i + len, fieldStart);
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new WireError(`unsupported wire type ${wire}`);
    if (i > buf.length) throw new WireError('truncated field');
  }
}
