// A fresh ECDSA P-256 key and a PKCS#10 request whose only SAN is the SPIFFE id.
// The key is made here, in-process, and never leaves the process.
import { webcrypto } from 'node:crypto';
import { toPem } from '../../pki/pem.js';
import { x509 } from '../../pki/x509.js';

export interface KeyAndCsr {
  /** PKCS#8 PEM of the private key (handed to the data plane in-process, never sent). */
  keyPem: string;
  csrPem: string;
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
  return { keyPem: toPem('PRIVATE KEY', der), csrPem: csr.toString('pem') };
}
