// Checks a certificate chain from the CA before the proxy uses it: it chains to
// a trusted root, its only SAN is the proxy's own SPIFFE id, it matches the key
// the proxy made, and it is valid now.
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { pemBlocks } from '../../pki/pem.js';
import { CertificateValidationError } from './errors.js';

/** Splits a PEM bundle into its certificates (in order). */
export function splitPemCerts(pem: string): string[] {
  return pemBlocks(pem, 'CERTIFICATE');
}

export interface CheckedCertificate {
  leaf: X509Certificate;
  notBefore: Date;
  notAfter: Date;
  serial: string;
}

/** Issuer of `cert` among `candidates`, if any (name match and signature). */
function issuerOf(cert: X509Certificate, candidates: X509Certificate[]): X509Certificate | undefined {
  return candidates.find((c) => cert.checkIssued(c) && cert.verify(c.publicKey));
}

export function checkIssuedCertificate(params: {
  chainPem: string[];
  rootsPem: string;
  identity: string;
  keyPem: string;
  now?: Date;
  /** Tolerated clock skew for notBefore (default 5 min). */
  skewMs?: number;
}): CheckedCertificate {
  const { identity } = params;
  const now = params.now ?? new Date();
  if (params.chainPem.length === 0) throw new CertificateValidationError('CA returned an empty certificate chain');
  let chain: X509Certificate[];
  let roots: X509Certificate[];
  try {
    chain = params.chainPem.map((p) => new X509Certificate(p));
  } catch (err) {
    throw new CertificateValidationError(`certChain: not a certificate: ${(err as Error).message}`);
  }
  try {
    roots = splitPemCerts(params.rootsPem).map((p) => new X509Certificate(p));
  } catch (err) {
    throw new CertificateValidationError(`trusted roots: not a certificate: ${(err as Error).message}`);
  }
  if (roots.length === 0) throw new CertificateValidationError('no trusted root certificate');
  const leaf = chain[0]!;

  // Chain: leaf -> intermediates (as sent) -> a trusted root. Bounded by the chain length.
  let cur = leaf;
  let anchored = false;
  for (let i = 0; i <= chain.length; i++) {
    if (issuerOf(cur, roots)) {
      anchored = true;
      break;
    }
    const next = issuerOf(cur, chain.slice(i + 1));
    if (!next || !next.ca) break;
    cur = next;
  }
  if (!anchored) throw new CertificateValidationError(`certChain: leaf (serial ${leaf.serialNumber}) does not chain to a trusted root`);

  const san = leaf.subjectAltName ?? '';
  const sans = san.split(/,\s*/).filter(Boolean);
  if (sans.length !== 1 || sans[0] !== `URI:${identity}`) {
    throw new CertificateValidationError(`certChain[0].subjectAltName: expected only URI:${identity}, got "${san}"`);
  }
  if (leaf.ca) throw new CertificateValidationError('certChain[0]: a CA certificate, not a workload certificate');
  if (!leaf.checkPrivateKey(createPrivateKey(params.keyPem))) {
    throw new CertificateValidationError('certChain[0]: public key does not match the key this proxy made');
  }
  const notBefore = new Date(leaf.validFrom);
  const notAfter = new Date(leaf.validTo);
  if (notAfter.getTime() <= now.getTime()) throw new CertificateValidationError(`certChain[0]: expired at ${notAfter.toISOString()}`);
  if (notBefore.getTime() > now.getTime() + (params.skewMs ?? 5 * 60_000)) {
    throw new CertificateValidationError(`certChain[0]: not valid before ${notBefore.toISOString()}`);
  }
  return { leaf, notBefore, notAfter, serial: leaf.serialNumber };
}
