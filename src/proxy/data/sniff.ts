// Reads the first bytes of an accepted connection without consuming them (read, then
// unshift): TLS ClientHello (SNI, ALPN) or plaintext (HTTP/2 prior-knowledge preface,
// HTTP/1.x request line).
import type { Duplex } from 'node:stream';

export interface Sniffed {
  transport: 'tls' | 'raw_buffer';
  /** SNI from the ClientHello. */
  serverName: string | undefined;
  /** ALPN offered in the ClientHello; for plaintext 'h2c' or 'http/1.1' when recognised. */
  applicationProtocols: string[];
}

export class SniffTimeoutError extends Error {
  readonly code = 'WEFT_ERR_DETECT_TIMEOUT';
  constructor(ms: number) {
    super(`no protocol bytes within ${ms} ms`);
    this.name = 'SniffTimeoutError';
  }
}

export class SniffClosedError extends Error {
  readonly code = 'WEFT_ERR_DETECT_CLOSED';
  constructor() {
    super('connection closed before protocol detection');
    this.name = 'SniffClosedError';
  }
}

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
/** Largest ClientHello we wait for; beyond it we decide on what we have. */
const MAX_PEEK = 16 * 1024 + 5;

/** Enough bytes to decide? Returns the verdict, or undefined to wait for more. */
export function inspect(buf: Buffer): Sniffed | undefined {
  if (buf[0] === 0x16) {
    if (buf.length < 5) return undefined;
    const recLen = buf.readUInt16BE(3);
    if (buf.length < 5 + recLen && buf.length < MAX_PEEK) return undefined;
    const hello = parseClientHello(buf.subarray(5, Math.min(buf.length, 5 + recLen)));
    return { transport: 'tls', serverName: hello.sni, applicationProtocols: hello.alpn };
  }
  const n = Math.min(buf.length, H2_PREFACE.length);
  if (buf.subarray(0, n).equals(H2_PREFACE.subarray(0, n))) {
    if (n < H2_PREFACE.length) return undefined;
    return { transport: 'raw_buffer', serverName: undefined, applicationProtocols: ['h2c'] };
  }
  // An HTTP/1.x request line starts with a method token and a space.
  let i = 0;
  while (i < buf.length && i < 16 && buf[i]! >= 0x41 && buf[i]! <= 0x5a) i++;
  const http1 = i > 0 && i < buf.length && buf[i] === 0x20;
  return { transport: 'raw_buffer', serverName: undefined, applicationProtocols: http1 ? ['http/1.1'] : [] };
}

/** SNI and ALPN from a ClientHello handshake message (bounds-checked; junk yields nothing). */
export function parseClientHello(b: Buffer): { sni: string | undefined; alpn: string[] } {
  const out: { sni: string | undefined; alpn: string[] } = { sni: undefined, alpn: [] };
  try {
    if (b[0] !== 0x01) return out;
    let p = 4 + 2 + 32; // handshake header, version, random
    p += 1 + b[p]!; // session id
    p += 2 + b.readUInt16BE(p); // cipher suites
    p += 1 + b[p]!; // compression methods
    if (p + 2 > b.length) return out;
    const extEnd = Math.min(b.length, p + 2 + b.readUInt16BE(p));
    p += 2;
    while (p + 4 <= extEnd) {
      const type = b.readUInt16BE(p);
      const len = b.readUInt16BE(p + 2);
      const body = b.subarray(p + 4, p + 4 + len);
      p += 4 + len;
      if (type === 0 && body.length >= 5 && body[2] === 0) {
        const nameLen = body.readUInt16BE(3);
        out.sni = body.subarray(5, 5 + nameLen).toString('latin1').toLowerCase();
      } else if (type === 16 && body.length >= 2) {
        let q = 2;
        const end = Math.min(body.length, 2 + body.readUInt16BE(0));
        while (q < end) {
          const l = body[q]!;
          out.alpn.push(body.subarray(q + 1, q + 1 + l).toString('latin1'));
          q += 1 + l;
        }
      }
    }
  } catch {
    // truncated: keep what was found
  }
  return out;
}

/** Peek at the first bytes; they are unshifted back so the next reader sees them. */
export function sniff(socket: Duplex, timeoutMs: number): Promise<Sniffed> {
  return new Promise((resolve, reject) => {
    let buf: Buffer = Buffer.alloc(0);
    const done = (err: Error | undefined, v?: Sniffed): void => {
      clearTimeout(timer);
      socket.removeListener('readable', onReadable);
      socket.removeListener('end', onEnd);
      socket.removeListener('close', onEnd);
      if (buf.length > 0) socket.unshift(buf);
      if (err) reject(err);
      else resolve(v!);
    };
    const onReadable = (): void => {
      let c: Buffer | null;
      while ((c = socket.read() as Buffer | null) !== null) buf = buf.length === 0 ? c : Buffer.concat([buf, c]);
      if (buf.length === 0) return;
      const v = inspect(buf);
      if (v) done(undefined, v);
    };
    const onEnd = (): void => done(new SniffClosedError());
    const timer = setTimeout(() => done(new SniffTimeoutError(timeoutMs)), timeoutMs);
    socket.on('readable', onReadable);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
  });
}
