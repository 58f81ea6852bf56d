// Test PKI: a root CA and SPIFFE leaf certificates (ECDSA P-256), made with @peculiar/x509,
// and an IdentityProvider whose certificate the test rotates by hand.
import { webcrypto } from 'node:crypto';
import { x509 } from '../../../src/pki/x509.js';
import type { IdentityProvider, WorkloadCertificate } from '../../../src/proxy/types.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

export interface Leaf {
  certPem: string;
  keyPem: string;
  identity: string;
}

export interface TestPki {
  caPem: string;
  issue(identity: string): Promise<Leaf>;
}

function toPem(der: ArrayBuffer, label: string): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN ${label}-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END ${label}-----\n`;
}

export async function createPki(): Promise<TestPki> {
  const caKeys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    name: 'CN=weft test root',
    keys: caKeys,
    signingAlgorithm: ALG,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + 86_400_000),
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  let serial = 1;
  return {
    caPem: ca.toString('pem') + '\n',
    async issue(identity: string): Promise<Leaf> {
      const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
      const cert = await x509.X509CertificateGenerator.create({
        serialNumber: (serial++).toString(16).padStart(2, '0'),
        subject: '',
        issuer: ca.subject,
        publicKey: keys.publicKey,
        signingKey: caKeys.privateKey,
        signingAlgorithm: ALG,
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 86_400_000),
        extensions: [
          new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identity }], true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        ],
      });
      const pkcs8 = await webcrypto.subtle.exportKey('pkcs8', keys.privateKey);
      return { certPem: cert.toString('pem') + '\n', keyPem: toPem(pkcs8, 'PRIVATE KEY'), identity };
    },
  };
}

export class TestIdentity implements IdentityProvider {
  private cert: WorkloadCertificate | undefined;
  private readonly listeners: Array<(c: WorkloadCertificate) => void> = [];

  constructor(leaf?: Leaf) {
    if (leaf) this.cert = toWorkload(leaf);
  }

  current(): WorkloadCertificate | undefined {
    return this.cert;
  }

  onRotate(listener: (cert: WorkloadCertificate) => void): void {
    this.listeners.push(listener);
  }

  rotate(leaf: Leaf): void {
    this.cert = toWorkload(leaf);
    for (const l of this.listeners) l(this.cert);
  }
}

function toWorkload(leaf: Leaf): WorkloadCertificate {
  return { keyPem: leaf.keyPem, certChainPem: leaf.certPem, identity: leaf.identity, notAfter: new Date(Date.now() + 86_400_000) };
}
