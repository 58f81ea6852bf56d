// Test certificates (ECDSA P-256, SPIFFE URI SANs) made with @peculiar/x509.
import { webcrypto } from 'node:crypto';
import { x509 } from '../../src/pki/x509.js';
import type { WorkloadCertificate } from '../../src/proxy/types.js';



const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

function pemKey(der: ArrayBuffer): string {
  const b64 = Buffer.from(der).toString('base64').replace(/(.{64})/g, '$1\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

export interface TestCa {
  certPem: string;
  issue(spiffe: string): Promise<WorkloadCertificate>;
}

export async function makeCa(name: string): Promise<TestCa> {
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${name}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 86_400_000),
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  let serial = 2;
  return {
    certPem: ca.toString('pem'),
    async issue(spiffe: string): Promise<WorkloadCertificate> {
      const k = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
      const notAfter = new Date(now + 86_400_000);
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: (serial++).toString(16).padStart(2, '0'),
        subject: '',
        issuer: ca.subject,
        notBefore: new Date(now - 60_000),
        notAfter,
        publicKey: k.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: alg,
        extensions: [
          new x509.SubjectAlternativeNameExtension([{ type: 'url', value: spiffe }], true),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        ],
      });
      const keyPem = pemKey(await webcrypto.subtle.exportKey('pkcs8', k.privateKey));
      return { keyPem, certChainPem: leaf.toString('pem'), identity: spiffe, notAfter };
    },
  };
}

