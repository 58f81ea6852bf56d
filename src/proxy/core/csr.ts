// A fresh ECDSA P-256 key and a PKCS#10 request whose only SAN is the SPIFFE id.
// The key is made here, in-process, and never leaves the process.
//
// The request is DER-encoded by hand (RFC 2986, a dozen fixed fields) rather than with
// @peculiar/x509: that library and its ASN.1 schema machinery cost every proxy about
// 15 MB of resident memory for one request a day. The control plane's CA still parses
// and verifies requests with @peculiar/x509 (test/proxy-core/identity.test.ts).
import { generateKeyPairSync, sign } from 'node:crypto';
import { toPem } from '../../pki/pem.js';

export interface KeyAndCsr {
  /** PKCS#8 PEM of the private key (handed to the data plane in-process, never sent). */
  keyPem: string;
  csrPem: string;
}

/** DER: tag, definite length, content. */
function tlv(tag: number, content: Buffer): Buffer {
  const n = content.length;
  let len: Buffer;
  if (n < 0x80) len = Buffer.from([n]);
  else if (n < 0x100) len = Buffer.from([0x81, n]);
  else if (n < 0x10000) len = Buffer.from([0x82, n >> 8, n & 0xff]);
  else len = Buffer.from([0x83, n >> 16, (n >> 8) & 0xff, n & 0xff]);
  return Buffer.concat([Buffer.from([tag]), len, content]);
}

const seq = (...parts: Buffer[]): Buffer => tlv(0x30, Buffer.concat(parts));

/** An OBJECT IDENTIFIER from its dotted form. */
function oid(dotted: string): Buffer {
  const arcs = dotted.split('.').map(Number);
  const bytes = [40 * arcs[0]! + arcs[1]!];
  for (const arc of arcs.slice(2)) {
    const base128 = [arc & 0x7f];
    for (let v = arc >>> 7; v > 0; v >>>= 7) base128.unshift((v & 0x7f) | 0x80);
    bytes.push(...base128);
  }
  return tlv(0x06, Buffer.from(bytes));
}

const OID = {
  extensionRequest: '1.2.840.113549.1.9.14',
  subjectAltName: '2.5.29.17',
  ecdsaWithSha256: '1.2.840.10045.4.3.2',
} as const;

/** CertificationRequestInfo with an empty subject and one critical URI SAN (SPIFFE ids live only in the SAN). */
function requestInfo(spkiDer: Buffer, uri: string): Buffer {
  const generalNames = seq(tlv(0x86 /* [6] IMPLICIT IA5String: uniformResourceIdentifier */, Buffer.from(uri, 'ascii')));
  const san = seq(oid(OID.subjectAltName), tlv(0x01, Buffer.from([0xff])) /* critical */, tlv(0x04, generalNames));
  const attribute = seq(oid(OID.extensionRequest), tlv(0x31, seq(san)));
  return seq(tlv(0x02, Buffer.from([0])) /* version 0 */, seq() /* subject */, spkiDer, tlv(0xa0, attribute));
}

export async function makeKeyAndCsr(identity: string): Promise<KeyAndCsr> {
  if (!/^[\x21-\x7e]+$/.test(identity)) throw new Error(`identity ${JSON.stringify(identity)} is not a printable ASCII URI`);
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const info = requestInfo(publicKey.export({ type: 'spki', format: 'der' }), identity);
  const signature = sign('sha256', info, { key: privateKey, dsaEncoding: 'der' });
  const csr = seq(info, seq(oid(OID.ecdsaWithSha256)), tlv(0x03, Buffer.concat([Buffer.from([0]) /* no unused bits */, signature])));
  return { keyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(), csrPem: toPem('CERTIFICATE REQUEST', csr) };
}
