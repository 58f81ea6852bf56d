// SDS: the mesh root bundle for every proxy, and for gateways the credentials their
// listeners reference (from Secrets). The workload certificate ("default") is never sent:
// each proxy makes its own key and gets its certificate from the CA.
import type { EnvoyObject } from '../proxy/types.js';
import { SECRET } from './names.js';

/** The ROOTCA secret: every trusted root, in the order given, as one PEM bundle. */
export function rootCaSecret(rootCertsPem: string[]): EnvoyObject {
  const bundle = rootCertsPem.map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`)).join('');
  return { name: SECRET.root, validationContext: { trustedCa: { inlineString: bundle } } };
}

/** A gateway's server certificate and key, under its SDS name. */
export function certificateSecret(name: string, certChainPem: string, keyPem: string): EnvoyObject {
  return { name, tlsCertificate: { certificateChain: { inlineString: certChainPem }, privateKey: { inlineString: keyPem } } };
}

/** A MUTUAL gateway server's client CA bundle, under its SDS name. */
export function validationSecret(name: string, caPem: string): EnvoyObject {
  return { name, validationContext: { trustedCa: { inlineString: caPem } } };
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
