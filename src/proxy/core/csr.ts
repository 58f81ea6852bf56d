// A fresh ECDSA P-256 key and a PKCS#10 request whose only SAN is the SPIFFE id.
// The key is made here, in-process, and never leaves the process.
import { webcrypto } from 'node:crypto';
import { x509 } from '../../pki/x509.js';

export interface KeyAndCsr {
  /** PKCS#8 PEM of the private key (handed to the data plane in-process, never sent). */
  keyPem: string;
  csrPem: string;
}

function pkcs8Pem(der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64');
  const lines = b64.match(/.{1,64}/g) ?? [];
  return `-----BEGIN PRIVATE KEY-----\n${lines.join('\n')}\n-----END PRIVATE KEY-----\n`;
}

export async function makeKeyAndCsr(identity: string): Promise<KeyAndCsr> {
  const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' };
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identity }], true)],
  });
  const der = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey as unknown as webcrypto.CryptoKey);
  return { keyPem: pkcs8Pem(der), csrPem: csr.toString('pem') };
}
