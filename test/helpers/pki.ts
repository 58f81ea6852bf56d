// Test PKI for every suite (ECDSA P-256, made with @peculiar/x509): a root CA, SPIFFE
// workload certificates, the control plane's serving certificate, CSR signing for CA
// doubles, and an IdentityProvider whose certificate a test rotates by hand.
import { randomBytes, webcrypto } from 'node:crypto';
import { x509 } from '../../src/pki/x509.js';
import type { IdentityProvider, WorkloadCertificate } from '../../src/proxy/types.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY_MS = 86_400_000;

export interface TestRoot {
  cert: x509.X509Certificate;
  keys: CryptoKeyPair;
  pem: string;
}

async function genKeys(): Promise<CryptoKeyPair> {
  return (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as unknown as CryptoKeyPair;
}

/** A positive, unique serial number. */
function serial(): string {
  return `01${randomBytes(8).toString('hex')}`;
}

export async function keyPem(key: CryptoKey): Promise<string> {
  const der = await webcrypto.subtle.exportKey('pkcs8', key as unknown as webcrypto.CryptoKey);
  const b64 = Buffer.from(der).toString('base64').match(/.{1,64}/g)!.join('\n');
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

export async function makeRoot(name = 'weft test root'): Promise<TestRoot> {
  const keys = await genKeys();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: serial(),
    name: `CN=${name}`,
    keys,
    signingAlgorithm: ALG,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + DAY_MS),
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  return { cert, keys, pem: cert.toString('pem') + '\n' };
}

/** A workload certificate for `identity` (URI SAN only, client and server auth), valid a day. */
export async function issueWorkload(root: TestRoot, identity: string): Promise<WorkloadCertificate> {
  const keys = await genKeys();
  const notAfter = new Date(Date.now() + DAY_MS);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: '',
    issuer: root.cert.subject,
    publicKey: keys.publicKey,
    signingKey: root.keys.privateKey,
    signingAlgorithm: ALG,
    notBefore: new Date(Date.now() - 60_000),
    notAfter,
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: identity }], true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  return { keyPem: await keyPem(keys.privateKey), certChainPem: cert.toString('pem') + '\n', identity, notAfter };
}

/** A root and its workload certificates, for tests that need nothing else of the root. */
export interface TestCa {
  certPem: string;
  root: TestRoot;
  issue(identity: string): Promise<WorkloadCertificate>;
}

export async function makeCa(name = 'weft test root'): Promise<TestCa> {
  const root = await makeRoot(name);
  return { certPem: root.pem, root, issue: (identity) => issueWorkload(root, identity) };
}

/** Serving certificate for the control plane: SAN IP <ip> and DNS weft-control. */
export async function makeServerCert(root: TestRoot, ip: string): Promise<{ certPem: string; keyPem: string }> {
  const keys = await genKeys();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: 'CN=weft-control',
    issuer: root.cert.subject,
    publicKey: keys.publicKey,
    signingKey: root.keys.privateKey,
    signingAlgorithm: ALG,
    notBefore: new Date(Date.now() - 60_000),
    notAfter: new Date(Date.now() + DAY_MS),
    extensions: [
      new x509.SubjectAlternativeNameExtension([
        { type: 'ip', value: ip },
        { type: 'dns', value: 'weft-control' },
      ]),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
    ],
  });
  return { certPem: cert.toString('pem') + '\n', keyPem: await keyPem(keys.privateKey) };
}

/** Signs a CSR; `sanOverride` lets a misbehaving CA put another URI in the certificate. */
export async function signCsr(root: TestRoot, csrPem: string, validitySeconds: number, sanOverride?: string): Promise<{ pem: string; uris: string[] }> {
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  if (!(await csr.verify())) throw new Error('CSR signature invalid');
  const ext = csr.extensions.find((e) => e.type === '2.5.29.17');
  const sanExt = ext ? new x509.SubjectAlternativeNameExtension(ext.rawData) : undefined;
  const uris = (sanExt?.names.toJSON() ?? []).filter((n) => n.type === 'url').map((n) => n.value);
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: serial(),
    subject: '',
    issuer: root.cert.subject,
    publicKey: csr.publicKey,
    signingKey: root.keys.privateKey,
    signingAlgorithm: ALG,
    notBefore: new Date(now),
    notAfter: new Date(now + validitySeconds * 1000),
    extensions: [
      new x509.SubjectAlternativeNameExtension([{ type: 'url', value: sanOverride ?? uris[0] ?? '' }], true),
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment, true),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
    ],
  });
  return { pem: cert.toString('pem') + '\n', uris };
}

/** An IdentityProvider holding a fixed certificate (or none) until the test rotates it. */
export class TestIdentity implements IdentityProvider {
  private readonly listeners: Array<(c: WorkloadCertificate) => void> = [];

  constructor(private cert?: WorkloadCertificate) {}

  current(): WorkloadCertificate | undefined {
    return this.cert;
  }

  onRotate(listener: (cert: WorkloadCertificate) => void): void {
    this.listeners.push(listener);
  }

  rotate(cert: WorkloadCertificate): void {
    this.cert = cert;
    for (const l of this.listeners) l(cert);
  }
}
