// The SDS secrets the data plane serves with, checked before a snapshot is applied:
// ROOTCA and, on gateways, certificates (tlsCertificate: chain + key) and client CA
// bundles (validationContext) from Secrets. A secret that does not parse, or whose key
// does not match its certificate, rejects the whole snapshot (a NACK naming the secret);
// the last good config keeps serving.
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { EnvoyObject } from '../types.js';
import { ConfigRejectedError } from '../types.js';
import { obj, str } from '../../xds/object-form.js';
import { pemBlocks } from '../../pki/pem.js';

export interface SecretMaterial {
  certChainPem?: string;
  keyPem?: string;
  caPem?: string;
}

/** A DataSource's inline content (inlineString, or inlineBytes as base64 in object form). */
function inline(ds: unknown): string | undefined {
  const d = obj(ds);
  if (!d) return undefined;
  const s = str(d['inlineString']);
  if (s !== undefined) return s;
  const b = str(d['inlineBytes']);
  return b !== undefined ? Buffer.from(b, 'base64').toString('utf8') : undefined;
}

function reject(name: string, why: string): never {
  throw new ConfigRejectedError(`secret "${name}": ${why}`);
}

function checkCerts(name: string, field: string, pem: string): X509Certificate {
  const blocks = pemBlocks(pem, 'CERTIFICATE');
  if (blocks.length === 0) reject(name, `${field}: no PEM CERTIFICATE block`);
  let first: X509Certificate | undefined;
  for (const [i, b] of blocks.entries()) {
    try {
      const c = new X509Certificate(b);
      first ??= c;
    } catch (e) {
      reject(name, `${field}: certificate ${i + 1} does not parse: ${(e as Error).message}`);
    }
  }
  return first!;
}

function read(name: string, s: EnvoyObject): SecretMaterial {
  const tc = obj(s['tlsCertificate']);
  const vc = obj(s['validationContext']);
  if (tc) {
    const certChainPem = inline(tc['certificateChain']);
    const keyPem = inline(tc['privateKey']);
    if (!certChainPem) reject(name, 'tlsCertificate.certificateChain: expected inline PEM');
    if (!keyPem) reject(name, 'tlsCertificate.privateKey: expected inline PEM');
    const leaf = checkCerts(name, 'tlsCertificate.certificateChain', certChainPem);
    try {
      // Parses the key and checks it against the leaf, as the handshake will use them.
      tls.createSecureContext({ cert: certChainPem, key: keyPem });
    } catch (e) {
      reject(name, `tlsCertificate: ${(e as Error).message} (certificate ${leaf.subject.replace(/\n/g, ', ')})`);
    }
    return { certChainPem, keyPem };
  }
  if (vc) {
    const caPem = inline(vc['trustedCa']);
    if (!caPem) reject(name, 'validationContext.trustedCa: expected inline PEM');
    checkCerts(name, 'validationContext.trustedCa', caPem);
    return { caPem };
  }
  return reject(name, 'expected tlsCertificate or validationContext');
}

const cache = new WeakMap<EnvoyObject, SecretMaterial>();

/** Every secret read and checked (by object identity, so an unchanged secret is checked once). Throws ConfigRejectedError. */
export function readSecrets(secrets: Map<string, EnvoyObject>): Map<string, SecretMaterial> {
  const out = new Map<string, SecretMaterial>();
  for (const [name, s] of secrets) {
    let m = cache.get(s);
    if (!m) {
      m = read(name, s);
      cache.set(s, m);
    }
    out.set(name, m);
  }
  return out;
}
