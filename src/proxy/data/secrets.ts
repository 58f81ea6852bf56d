// The SDS secrets the data plane serves with, checked before a snapshot is applied:
// ROOTCA and, on gateways, certificates (tlsCertificate: chain + key) and client CA
// bundles (validationContext) from Secrets. A secret that does not parse, or whose key
// does not match its certificate, rejects the whole snapshot (a NACK naming the secret and
// the field); the last good config keeps serving.
import tls from 'node:tls';
import { X509Certificate } from 'node:crypto';
import type { EnvoyObject } from '../types.js';
import { dataSource, FieldPath, optObj, resourceName } from './upstream/object-form.js';
import { pemBlocks } from '../../pki/pem.js';

export interface SecretMaterial {
  certChainPem?: string;
  keyPem?: string;
  caPem?: string;
}

function checkCerts(at: FieldPath, pem: string): X509Certificate {
  const blocks = pemBlocks(pem, 'CERTIFICATE');
  if (blocks.length === 0) at.reject('no PEM CERTIFICATE block');
  let first: X509Certificate | undefined;
  for (const [i, b] of blocks.entries()) {
    try {
      const c = new X509Certificate(b);
      first ??= c;
    } catch (e) {
      at.reject(`certificate ${i + 1} does not parse: ${(e as Error).message}`);
    }
  }
  return first!;
}

/** A DataSource that must hold inline PEM. */
function pem(v: unknown, at: FieldPath): string {
  return dataSource(v, at) || at.reject('expected inline PEM');
}

function read(name: string, s: EnvoyObject): SecretMaterial {
  const at = new FieldPath(resourceName('secret', name), '');
  const tc = optObj(s['tlsCertificate'], at.at('tlsCertificate'));
  const vc = optObj(s['validationContext'], at.at('validationContext'));
  if (tc) {
    const certChainPem = pem(tc['certificateChain'], at.at('tlsCertificate').at('certificateChain'));
    const keyPem = pem(tc['privateKey'], at.at('tlsCertificate').at('privateKey'));
    const leaf = checkCerts(at.at('tlsCertificate').at('certificateChain'), certChainPem);
    try {
      // Parses the key and checks it against the leaf, as the handshake will use them.
      tls.createSecureContext({ cert: certChainPem, key: keyPem });
    } catch (e) {
      at.at('tlsCertificate').reject(`${(e as Error).message} (certificate ${leaf.subject.replace(/\n/g, ', ')})`);
    }
    return { certChainPem, keyPem };
  }
  if (vc) {
    const caPem = pem(vc['trustedCa'], at.at('validationContext').at('trustedCa'));
    checkCerts(at.at('validationContext').at('trustedCa'), caPem);
    return { caPem };
  }
  return at.reject('expected tlsCertificate or validationContext');
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
