// SDS: the mesh root bundle for every proxy, and the credentials (from Secrets) a proxy's
// gateway listeners and DestinationRule TLS origination reference. The workload certificate
// ("default") is never sent: each proxy makes its own key and gets its certificate from the CA.
import type { EnvoyObject } from '../proxy/types.js';
import { CREDENTIAL, SECRET } from './names.js';

/** The ROOTCA secret: every trusted root, in the order given, as one PEM bundle. */
export function rootCaSecret(rootCertsPem: string[]): EnvoyObject {
  const bundle = rootCertsPem.map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`)).join('');
  return { name: SECRET.root, validationContext: { trustedCa: { inlineString: bundle } } };
}

/** A certificate and key from a Secret (a gateway's server certificate, a cluster's client certificate), under its SDS name. */
export function certificateSecret(name: string, certChainPem: string, keyPem: string): EnvoyObject {
  return { name, tlsCertificate: { certificateChain: { inlineString: certChainPem }, privateKey: { inlineString: keyPem } } };
}

/** A CA bundle from a Secret (a MUTUAL server's client CA, a cluster's server CA), under its SDS name. */
export function validationSecret(name: string, caPem: string): EnvoyObject {
  return { name, validationContext: { trustedCa: { inlineString: caPem } } };
}

/**
 * The SDS secrets of credential `name` (CREDENTIAL names): the certificate when given,
 * the CA bundle when given. `namespace` only for Gateway API certificateRefs.
 */
export function credentialSecrets(name: string, namespace: string | undefined, cert: { certChainPem?: string; keyPem?: string } | undefined, caPem: string | undefined): EnvoyObject[] {
  const out: EnvoyObject[] = [];
  if (cert?.certChainPem && cert.keyPem) out.push(certificateSecret(CREDENTIAL.cert(name, namespace), cert.certChainPem, cert.keyPem));
  if (caPem) out.push(validationSecret(CREDENTIAL.ca(name, namespace), caPem));
  return out;
}

/** A copy without any `privateKey` field, however deep: what may be shown (APIs, dumps, logs). */
export function withoutPrivateKeys<T>(v: T): T {
  if (Array.isArray(v)) return v.map(withoutPrivateKeys) as T;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) if (k !== 'privateKey') out[k] = withoutPrivateKeys(x);
    return out as T;
  }
  return v;
}
