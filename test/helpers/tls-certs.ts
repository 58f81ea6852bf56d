// Test-only TLS credentials for gateways (DNS SANs, ECDSA P-256), made fresh per run with
// @peculiar/x509 so no private key is ever committed; and the Secret YAML that carries them.
import { webcrypto } from 'node:crypto';
import { x509 } from '../../src/pki/x509.js';
import { toPem } from '../../src/pki/pem.js';

const alg = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;
const DAY = 86_400_000;

export interface Issued {
  certPem: string;
  keyPem: string;
  notAfter: Date;
}

export interface TestTlsCa {
  name: string;
  certPem: string;
  /** A server (and client) certificate for these DNS names; `validity` shifts notBefore/notAfter. */
  issue(dnsNames: string[], opts?: { commonName?: string; notBefore?: Date; notAfter?: Date }): Promise<Issued>;
}

let serial = 1;

export async function makeTlsCa(name: string): Promise<TestTlsCa> {
  const keys = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: (serial++).toString(16).padStart(2, '0'),
    name: `CN=${name}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + DAY),
    keys,
    signingAlgorithm: alg,
    extensions: [new x509.BasicConstraintsExtension(true, undefined, true), new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true)],
  });
  return {
    name,
    certPem: ca.toString('pem'),
    async issue(dnsNames, opts = {}): Promise<Issued> {
      const k = (await webcrypto.subtle.generateKey(alg, true, ['sign', 'verify'])) as CryptoKeyPair;
      const notAfter = opts.notAfter ?? new Date(now + DAY);
      const leaf = await x509.X509CertificateGenerator.create({
        serialNumber: (serial++).toString(16).padStart(2, '0'),
        subject: `CN=${opts.commonName ?? dnsNames[0] ?? 'client'}`,
        issuer: ca.subject,
        notBefore: opts.notBefore ?? new Date(now - 60_000),
        notAfter,
        publicKey: k.publicKey,
        signingKey: keys.privateKey,
        signingAlgorithm: alg,
        extensions: [
          ...(dnsNames.length ? [new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: 'dns' as const, value })))] : []),
          new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
          new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth]),
        ],
      });
      return { certPem: leaf.toString('pem'), keyPem: toPem('PRIVATE KEY', await webcrypto.subtle.exportKey('pkcs8', k.privateKey)), notAfter };
    },
  };
}

const b64 = (s: string): string => Buffer.from(s).toString('base64');

/** A kubernetes.io/tls Secret (with ca.crt when given). */
export function tlsSecretYaml(name: string, namespace: string, c: { certPem: string; keyPem: string }, caPem?: string): string {
  return [
    'apiVersion: v1',
    'kind: Secret',
    'metadata:',
    `  name: ${name}`,
    `  namespace: ${namespace}`,
    'type: kubernetes.io/tls',
    'data:',
    `  tls.crt: ${b64(c.certPem)}`,
    `  tls.key: ${b64(c.keyPem)}`,
    ...(caPem ? [`  ca.crt: ${b64(caPem)}`] : []),
    '',
  ].join('\n');
}

/**
 * An Istio Gateway (namespace default) with one HTTPS server on 443 for `host`, TLS from
 * `credentialName`; the selector as a flow map, e.g. `{istio: ingressgateway}`.
 */
export function httpsGatewayYaml(name: string, selector: string, server: { name: string; host: string; mode: 'SIMPLE' | 'MUTUAL'; credentialName: string }): string {
  return `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: ${name}, namespace: default}
spec:
  selector: ${selector}
  servers:
  - port: {number: 443, name: ${server.name}, protocol: HTTPS}
    hosts: [${server.host}]
    tls: {mode: ${server.mode}, credentialName: ${server.credentialName}}
`;
}
