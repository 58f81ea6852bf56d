// The mesh certificate authority. A root (ECDSA P-256, self-signed, 10 years,
// CN "weft root CA", O = trust domain) is made on first start and kept in
// <stateDir>/ca/ (key mode 0600), or loaded from user-given cert and key files.
// The cert file may hold a chain: the signing certificate first, its root last.
//
// Leaves are issued for CSRs whose one URI SAN is the caller's SPIFFE identity:
// ECDSA P-256 (the proxy's own key; it never leaves the proxy), 24 h by default,
// capped at the configured maximum and at the CA's own expiry.
import fs from 'node:fs/promises';
import path from 'node:path';
import os from 'node:os';
import { createPrivateKey, createPublicKey, randomBytes, webcrypto, type KeyObject } from 'node:crypto';
import { x509 } from '../pki/x509.js';
import { ControlError, errorMessage } from './errors.js';
import { readFileIfExists, writeFileAtomic } from './atomic-file.js';
import { pemBlocks, toPem } from '../pki/pem.js';

export const CA_DEFAULTS = {
  rootValiditySeconds: 10 * 365 * 24 * 3600,
  leafValiditySeconds: 24 * 3600,
  maxLeafValiditySeconds: 24 * 3600,
  servingValiditySeconds: 365 * 24 * 3600,
  /** notBefore is set this far in the past to tolerate clock skew between hosts. */
  backdateSeconds: 60,
} as const;

export interface CaOptions {
  stateDir: string;
  trustDomain: string;
  /** User-given CA certificate (PEM; may be followed by its chain up to the root) and key; both or neither. */
  caCertFile?: string;
  caKeyFile?: string;
  defaultLeafValiditySeconds?: number;
  maxLeafValiditySeconds?: number;
}

export interface IssuedCertificate {
  /** Leaf first, then intermediates, PEM. */
  certChain: string[];
  rootCerts: string[];
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
}

export interface ServingCertificate {
  /** Leaf then intermediates, one PEM text. */
  certChainPem: string;
  keyPem: string;
  notAfter: Date;
}

type SigningAlgorithm = EcdsaParams | Algorithm;

const ECDSA_P256 = { name: 'ECDSA', namedCurve: 'P-256' } as const;
const SAN_OID = '2.5.29.17';

function signingParams(key: KeyObject): { importAlg: EcKeyImportParams | RsaHashedImportParams; signAlg: SigningAlgorithm } {
  if (key.asymmetricKeyType === 'ec') {
    const curve = key.asymmetricKeyDetails?.namedCurve;
    const map: Record<string, [string, string]> = { prime256v1: ['P-256', 'SHA-256'], secp384r1: ['P-384', 'SHA-384'], secp521r1: ['P-521', 'SHA-512'] };
    const hit = curve ? map[curve] : undefined;
    if (!hit) throw new ControlError('WEFT_ERR_CA_LOAD', `CA key: unsupported EC curve ${curve ?? '(unknown)'}`);
    return { importAlg: { name: 'ECDSA', namedCurve: hit[0] }, signAlg: { name: 'ECDSA', hash: hit[1] } as EcdsaParams };
  }
  if (key.asymmetricKeyType === 'rsa') {
    return { importAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' }, signAlg: { name: 'RSASSA-PKCS1-v1_5', hash: 'SHA-256' } as Algorithm };
  }
  throw new ControlError('WEFT_ERR_CA_LOAD', `CA key: unsupported key type ${key.asymmetricKeyType ?? '(unknown)'}`);
}

function randomSerial(): string {
  const b = randomBytes(16);
  b[0] = b[0]! & 0x7f; // positive
  if (b[0] === 0) b[0] = 1; // no leading zero octet
  return b.toString('hex');
}

async function exportPkcs8Pem(key: CryptoKey): Promise<string> {
  return toPem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', key));
}

export class CertificateAuthority {
  readonly trustDomain: string;
  /** The CA certificate that signs leaves. */
  readonly signingCert: x509.X509Certificate;
  /** The signing cert and intermediates up to (not including) the root, PEM; empty when the signer is the root. */
  readonly #intermediatesPem: string[];
  readonly #rootPem: string;
  readonly #key: CryptoKey;
  readonly #signAlg: SigningAlgorithm;
  readonly #defaultValidity: number;
  readonly #maxValidity: number;

  private constructor(init: {
    trustDomain: string;
    signingCert: x509.X509Certificate;
    intermediatesPem: string[];
    rootPem: string;
    key: CryptoKey;
    signAlg: SigningAlgorithm;
    defaultValidity: number;
    maxValidity: number;
  }) {
    this.trustDomain = init.trustDomain;
    this.signingCert = init.signingCert;
    this.#intermediatesPem = init.intermediatesPem;
    this.#rootPem = init.rootPem;
    this.#key = init.key;
    this.#signAlg = init.signAlg;
    this.#defaultValidity = init.defaultValidity;
    this.#maxValidity = init.maxValidity;
  }

  /** Loads the user-given CA, or the one in <stateDir>/ca/, or creates it there. */
  static async open(opts: CaOptions): Promise<CertificateAuthority> {
    const maxValidity = opts.maxLeafValiditySeconds ?? CA_DEFAULTS.maxLeafValiditySeconds;
    const defaultValidity = Math.min(opts.defaultLeafValiditySeconds ?? CA_DEFAULTS.leafValiditySeconds, maxValidity);
    if ((opts.caCertFile === undefined) !== (opts.caKeyFile === undefined)) {
      throw new ControlError('WEFT_ERR_CA_LOAD', 'caCertFile and caKeyFile must be given together');
    }
    let certText: string;
    let keyText: string;
    let source: string;
    if (opts.caCertFile && opts.caKeyFile) {
      source = opts.caCertFile;
      try {
        certText = await fs.readFile(opts.caCertFile, 'utf8');
        keyText = await fs.readFile(opts.caKeyFile, 'utf8');
      } catch (e) {
        throw new ControlError('WEFT_ERR_CA_LOAD', `cannot read the CA files: ${errorMessage(e)}`, { cause: e });
      }
    } else {
      const loaded = await loadOrCreateRoot(path.join(opts.stateDir, 'ca'), opts.trustDomain);
      ({ certText, keyText } = loaded);
      source = loaded.certFile;
    }
    return CertificateAuthority.#fromPem(certText, keyText, source, opts.trustDomain, defaultValidity, maxValidity);
  }

  static async #fromPem(certText: string, keyText: string, source: string, trustDomain: string, defaultValidity: number, maxValidity: number): Promise<CertificateAuthority> {
    const certs = pemBlocks(certText, 'CERTIFICATE');
    if (certs.length === 0) throw new ControlError('WEFT_ERR_CA_LOAD', `${source}: no CERTIFICATE block`);
    let signingCert: x509.X509Certificate;
    let keyObject: KeyObject;
    try {
      signingCert = new x509.X509Certificate(certs[0]!);
      keyObject = createPrivateKey(keyText);
    } catch (e) {
      throw new ControlError('WEFT_ERR_CA_LOAD', `${source}: cannot parse the CA certificate or key: ${errorMessage(e)}`, { cause: e });
    }
    const spkiFromKey = createPublicKey(keyObject).export({ type: 'spki', format: 'der' });
    if (!Buffer.from(signingCert.publicKey.rawData).equals(spkiFromKey)) {
      throw new ControlError('WEFT_ERR_CA_LOAD', `${source}: the CA key does not belong to the CA certificate`);
    }
    const bc = signingCert.getExtension(x509.BasicConstraintsExtension);
    if (!bc?.ca) throw new ControlError('WEFT_ERR_CA_LOAD', `${source}: the certificate is not a CA (basicConstraints CA:TRUE missing)`);
    if (signingCert.notAfter.getTime() <= Date.now()) throw new ControlError('WEFT_ERR_CA_LOAD', `${source}: the CA certificate expired at ${signingCert.notAfter.toISOString()}`);
    const { importAlg, signAlg } = signingParams(keyObject);
    const der = keyObject.export({ type: 'pkcs8', format: 'der' });
    const key = await webcrypto.subtle.importKey('pkcs8', der, importAlg, false, ['sign']);
    return new CertificateAuthority({
      trustDomain,
      signingCert,
      intermediatesPem: certs.length > 1 ? certs.slice(0, -1) : [],
      rootPem: certs[certs.length - 1]!,
      key,
      signAlg,
      defaultValidity,
      maxValidity,
    });
  }

  /** The mesh root, PEM. */
  get rootCertPem(): string {
    return this.#rootPem;
  }

  /** What follows a leaf in its chain: the signing cert and intermediates when the signer is not the root. */
  get #chainAfterLeaf(): string[] {
    return this.#intermediatesPem;
  }

  /**
   * Verifies the CSR and issues a leaf for `identity`. Throws ControlError
   * WEFT_ERR_CSR_INVALID (unparsable, bad signature, wrong key type) or
   * WEFT_ERR_CSR_IDENTITY (URI SANs other than exactly `identity`).
   */
  async sign(csrPem: string, identity: string, validitySeconds?: number): Promise<IssuedCertificate> {
    let csr: x509.Pkcs10CertificateRequest;
    try {
      csr = new x509.Pkcs10CertificateRequest(csrPem);
    } catch (e) {
      throw new ControlError('WEFT_ERR_CSR_INVALID', `the CSR cannot be parsed: ${errorMessage(e)}`, { cause: e });
    }
    let verified = false;
    try {
      verified = await csr.verify();
    } catch {
      verified = false;
    }
    if (!verified) throw new ControlError('WEFT_ERR_CSR_INVALID', 'the CSR signature does not verify');
    const alg = csr.publicKey.algorithm as EcKeyAlgorithm;
    if (alg.name !== 'ECDSA' || alg.namedCurve !== 'P-256') {
      throw new ControlError('WEFT_ERR_CSR_INVALID', `the CSR key must be ECDSA P-256, got ${alg.name}${alg.namedCurve ? ` ${alg.namedCurve}` : ''}`);
    }
    const uris = csrUriSans(csr);
    if (uris.length !== 1) {
      throw new ControlError('WEFT_ERR_CSR_IDENTITY', `the CSR must carry exactly one URI SAN (${identity}), it has ${uris.length}`);
    }
    if (uris[0] !== identity) {
      throw new ControlError('WEFT_ERR_CSR_IDENTITY', `the CSR asks for ${uris[0]}, but the caller is ${identity}`);
    }
    const requested = validitySeconds && validitySeconds > 0 ? validitySeconds : this.#defaultValidity;
    const seconds = Math.min(requested, this.#maxValidity);
    const leaf = await this.#issue({
      publicKey: csr.publicKey,
      seconds,
      sans: [{ type: 'url', value: identity }],
      usages: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
    });
    return {
      certChain: [leaf.toString('pem') + '\n', ...this.#chainAfterLeaf],
      rootCerts: [this.#rootPem],
      serialNumber: leaf.serialNumber,
      notBefore: leaf.notBefore,
      notAfter: leaf.notAfter,
    };
  }

  /** A certificate and fresh key for the control plane's own TLS port. */
  async issueServingCertificate(hosts: { ips: string[]; dnsNames: string[] }, seconds: number = CA_DEFAULTS.servingValiditySeconds): Promise<ServingCertificate> {
    const keys = (await webcrypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
    const sans: x509.JsonGeneralName[] = [
      ...hosts.ips.map((value) => ({ type: 'ip' as const, value })),
      ...hosts.dnsNames.map((value) => ({ type: 'dns' as const, value })),
    ];
    const leaf = await this.#issue({ publicKey: keys.publicKey, seconds, sans, usages: x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment });
    return {
      certChainPem: [leaf.toString('pem') + '\n', ...this.#chainAfterLeaf].join(''),
      keyPem: await exportPkcs8Pem(keys.privateKey),
      notAfter: leaf.notAfter,
    };
  }

  async #issue(p: { publicKey: x509.PublicKeyType; seconds: number; sans: x509.JsonGeneralName[]; usages: number }): Promise<x509.X509Certificate> {
    const now = Date.now();
    const notAfter = new Date(Math.min(now + p.seconds * 1000, this.signingCert.notAfter.getTime()));
    const ski = this.signingCert.getExtension(x509.SubjectKeyIdentifierExtension);
    const aki = ski ? new x509.AuthorityKeyIdentifierExtension(ski.keyId) : await x509.AuthorityKeyIdentifierExtension.create(this.signingCert.publicKey);
    return x509.X509CertificateGenerator.create({
      serialNumber: randomSerial(),
      subject: '',
      issuer: this.signingCert.subjectName,
      notBefore: new Date(now - CA_DEFAULTS.backdateSeconds * 1000),
      notAfter,
      publicKey: p.publicKey,
      signingKey: this.#key,
      signingAlgorithm: this.#signAlg,
      extensions: [
        new x509.BasicConstraintsExtension(false, undefined, true),
        new x509.KeyUsagesExtension(p.usages, true),
        new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        // The subject is empty, so the SAN is critical (RFC 5280 4.2.1.6).
        new x509.SubjectAlternativeNameExtension(p.sans, true),
        await x509.SubjectKeyIdentifierExtension.create(p.publicKey),
        aki,
      ],
    });
  }
}

function csrUriSans(csr: x509.Pkcs10CertificateRequest): string[] {
  const out: string[] = [];
  for (const ext of csr.extensions) {
    if (ext.type !== SAN_OID) continue;
    const san = ext instanceof x509.SubjectAlternativeNameExtension ? ext : new x509.SubjectAlternativeNameExtension(ext.rawData);
    for (const n of san.names.items) if (n.type === 'url') out.push(n.value);
  }
  return out;
}

/** The IP SANs for a serving address; a wildcard address gets loopback and every interface address. */
export function servingIps(address: string): string[] {
  if (address !== '0.0.0.0' && address !== '::') return [address];
  const ips = new Set<string>(['127.0.0.1', '::1']);
  for (const list of Object.values(os.networkInterfaces())) for (const a of list ?? []) ips.add(a.address.split('%')[0]!);
  return [...ips];
}

async function loadOrCreateRoot(dir: string, trustDomain: string): Promise<{ certText: string; keyText: string; certFile: string }> {
  const certFile = path.join(dir, 'root-cert.pem');
  const keyFile = path.join(dir, 'root-key.pem');
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  const cert = await readFileIfExists(certFile);
  const key = await readFileIfExists(keyFile);
  if (cert && key) return { certText: cert.toString('utf8'), keyText: key.toString('utf8'), certFile };
  if (cert && !key) {
    throw new ControlError('WEFT_ERR_CA_LOAD', `${certFile} exists but ${keyFile} is missing; restore the key or remove both to make a new root (every workload certificate changes)`);
  }
  // No cert yet (a key alone means an interrupted first start: the root was never published).
  const keys = (await webcrypto.subtle.generateKey(ECDSA_P256, true, ['sign', 'verify'])) as CryptoKeyPair;
  const name: x509.JsonName = [{ CN: ['weft root CA'] }, { O: [trustDomain] }];
  const now = Date.now();
  const root = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: randomSerial(),
    name,
    notBefore: new Date(now - CA_DEFAULTS.backdateSeconds * 1000),
    notAfter: new Date(now + CA_DEFAULTS.rootValiditySeconds * 1000),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
    extensions: [
      new x509.BasicConstraintsExtension(true, undefined, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign | x509.KeyUsageFlags.digitalSignature, true),
      await x509.SubjectKeyIdentifierExtension.create(keys.publicKey),
    ],
  });
  const keyText = await exportPkcs8Pem(keys.privateKey);
  const certText = root.toString('pem') + '\n';
  await writeFileAtomic(keyFile, keyText, 0o600);
  await writeFileAtomic(certFile, certText, 0o644);
  return { certText, keyText, certFile };
}
