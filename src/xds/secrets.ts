// SDS: the mesh root bundle. The workload certificate ("default") is never sent:
// each proxy makes its own key and gets its certificate from the CA.
import type { EnvoyObject } from '../proxy/types.js';
import { SECRET } from './names.js';

/** The ROOTCA secret: every trusted root, in the order given, as one PEM bundle. */
export function rootCaSecret(rootCertsPem: string[]): EnvoyObject {
  const bundle = rootCertsPem.map((pem) => (pem.endsWith('\n') ? pem : `${pem}\n`)).join('');
  return { name: SECRET.root, validationContext: { trustedCa: { inlineString: bundle } } };
}
