// Kubernetes v1 Secret, read as a TLS credential for gateways (Istio's credentialName,
// Gateway API certificateRefs). Keys as Istio reads them: `tls.crt`/`tls.key`/`ca.crt`
// (type kubernetes.io/tls, or Opaque) or the generic `cert`/`key`/`cacert` (Opaque).
// Validation decodes the data, parses the PEM, and checks that the key matches the
// certificate. Key material never leaves the control plane except over SDS to a gateway:
// `redactSecret` is what the API and the CLI show.
import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import type { KindDef } from './envelope.js';
import type { Resource } from './types.js';
import { bool, childPath, map, str, type Schema, type Validation } from './schema.js';
import { pemBlocks } from '../pki/pem.js';

export interface SecretSpec {
  /** Default Opaque. */
  type: string;
  /** Base64 values as written. */
  data?: Record<string, string>;
  /** Plain values; they win over `data` for the same key (as in Kubernetes). */
  stringData?: Record<string, string>;
  immutable?: boolean;
}

export const SECRET_TYPES = { opaque: 'Opaque', tls: 'kubernetes.io/tls' } as const;

/** Where each part of a TLS credential may be, in the order Istio looks. */
export const TLS_KEYS = {
  cert: ['tls.crt', 'cert'],
  key: ['tls.key', 'key'],
  ca: ['ca.crt', 'cacert'],
} as const;

/** Kubernetes Secret data keys. */
const DATA_KEY = /^[-._a-zA-Z0-9]+$/;
/** Kubernetes caps a Secret at 1 MiB. */
const MAX_BYTES = 1024 * 1024;
/** Standard base64 with padding, as the Kubernetes API requires for `data`. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** The decoded TLS material of a Secret (any part may be absent). */
export interface TlsMaterial {
  certChainPem?: string;
  keyPem?: string;
  caPem?: string;
}

/** Every key's value, decoded: `data` (base64) overlaid by `stringData`. Undecodable values are skipped. */
export function decodedData(spec: SecretSpec): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(spec.data ?? {})) {
    const clean = v.replace(/\s+/g, '');
    if (BASE64.test(clean)) out[k] = Buffer.from(clean, 'base64').toString('utf8');
  }
  for (const [k, v] of Object.entries(spec.stringData ?? {})) out[k] = v;
  return out;
}

function firstKey(data: Record<string, string>, keys: readonly string[]): string | undefined {
  return keys.find((k) => data[k] !== undefined);
}

/** The TLS parts of a Secret, by Istio's key names. */
export function tlsMaterial(spec: SecretSpec): TlsMaterial {
  const data = decodedData(spec);
  const out: TlsMaterial = {};
  const c = firstKey(data, TLS_KEYS.cert);
  const k = firstKey(data, TLS_KEYS.key);
  const a = firstKey(data, TLS_KEYS.ca);
  if (c) out.certChainPem = data[c];
  if (k) out.keyPem = data[k];
  if (a) out.caPem = data[a];
  return out;
}

// ---- validation

function pathOf(spec: SecretSpec, key: string): string {
  return childPath(spec.stringData?.[key] !== undefined ? 'stringData' : 'data', key);
}

/** Certificates of a PEM text, or an error message. */
function parseCerts(pem: string): X509Certificate[] | string {
  const blocks = pemBlocks(pem, 'CERTIFICATE');
  if (blocks.length === 0) return 'no PEM CERTIFICATE block';
  const out: X509Certificate[] = [];
  for (const [i, b] of blocks.entries()) {
    try {
      out.push(new X509Certificate(b));
    } catch (e) {
      return `certificate ${i + 1} of ${blocks.length} does not parse: ${(e as Error).message}`;
    }
  }
  return out;
}

function parseKey(pem: string): KeyObject | string {
  if (!/-----BEGIN [A-Z ]*PRIVATE KEY-----/.test(pem)) return 'no PEM PRIVATE KEY block';
  try {
    return createPrivateKey(pem);
  } catch (e) {
    return `the private key does not parse: ${(e as Error).message}`;
  }
}

/** An expired (or not yet valid) certificate is served anyway, as Istio does; the user is told when. */
function checkValidity(cert: X509Certificate, v: Validation, path: string, what: string, now: Date): void {
  const notAfter = new Date(cert.validTo);
  const notBefore = new Date(cert.validFrom);
  if (notAfter.getTime() < now.getTime()) {
    v.warn('WEFT_CERT_EXPIRED', path, `${what} (${cert.subject.replace(/\n/g, ', ')}) expired at ${notAfter.toISOString()} (notAfter); it is still served, and clients will reject it`);
  } else if (notBefore.getTime() > now.getTime()) {
    v.warn('WEFT_CERT_NOT_YET_VALID', path, `${what} (${cert.subject.replace(/\n/g, ', ')}) is valid only from ${notBefore.toISOString()} (notBefore)`);
  }
}

function checkSecret(spec: SecretSpec, v: Validation, now: Date): void {
  let total = 0;
  for (const [field, values] of [['data', spec.data], ['stringData', spec.stringData]] as const) {
    for (const [k, val] of Object.entries(values ?? {})) {
      const p = childPath(field, k);
      total += val.length;
      if (!DATA_KEY.test(k)) v.error('WEFT_INVALID_FIELD', p, `"${k}" is not a valid Secret key (letters, digits, "-", "_" and ".")`);
      if (field === 'data' && !BASE64.test(val.replace(/\s+/g, ''))) v.error('WEFT_INVALID_FIELD', p, 'not valid base64 (data values are base64; put plain text under stringData)');
    }
  }
  if (total > MAX_BYTES) v.error('WEFT_INVALID_FIELD', 'data', `the Secret holds ${total} bytes; Kubernetes allows at most ${MAX_BYTES}`);
  if (v.hasErrors()) return;

  const data = decodedData(spec);
  const certKey = firstKey(data, TLS_KEYS.cert);
  const keyKey = firstKey(data, TLS_KEYS.key);
  const caKey = firstKey(data, TLS_KEYS.ca);
  if (spec.type === SECRET_TYPES.tls) {
    // As the Kubernetes API server requires of this type.
    for (const k of ['tls.crt', 'tls.key']) if (data[k] === undefined) v.error('WEFT_MISSING_FIELD', childPath('data', k), `a ${SECRET_TYPES.tls} Secret needs ${k}`);
  } else if (spec.type !== SECRET_TYPES.opaque) {
    v.warn('WEFT_UNSUPPORTED_FIELD', 'type', `accepted, not acted on: weft reads TLS credentials from ${SECRET_TYPES.opaque} and ${SECRET_TYPES.tls} Secrets only`);
    return;
  }
  if ((certKey === undefined) !== (keyKey === undefined)) {
    const [has, lacks] = certKey ? [certKey, TLS_KEYS.key.join(' or ')] : [keyKey!, TLS_KEYS.cert.join(' or ')];
    v.error('WEFT_MISSING_FIELD', pathOf(spec, has), `has ${has} but no ${lacks}: a certificate needs both`);
  }
  let leaf: X509Certificate | undefined;
  if (certKey) {
    const certs = parseCerts(data[certKey]!);
    if (typeof certs === 'string') v.error('WEFT_INVALID_FIELD', pathOf(spec, certKey), certs);
    else {
      leaf = certs[0]!;
      checkValidity(leaf, v, pathOf(spec, certKey), 'the certificate', now);
    }
  }
  if (keyKey) {
    const key = parseKey(data[keyKey]!);
    if (typeof key === 'string') v.error('WEFT_INVALID_FIELD', pathOf(spec, keyKey), key);
    else if (leaf && !leaf.checkPrivateKey(key)) v.error('WEFT_INVALID_FIELD', pathOf(spec, keyKey), `the private key does not match the certificate in ${certKey} (${leaf.subject.replace(/\n/g, ', ')})`);
  }
  if (caKey) {
    const cas = parseCerts(data[caKey]!);
    if (typeof cas === 'string') v.error('WEFT_INVALID_FIELD', pathOf(spec, caKey), cas);
    else for (const ca of cas) checkValidity(ca, v, pathOf(spec, caKey), 'a CA certificate', now);
  }
}

export const secretKind: KindDef<SecretSpec> = {
  kind: 'Secret',
  apiVersions: ['v1'],
  emptySpec: () => ({ type: SECRET_TYPES.opaque }),
  topLevelSpec: {
    type: str({ nonEmpty: true }) as Schema<unknown>,
    data: map(str()) as Schema<unknown>,
    stringData: map(str()) as Schema<unknown>,
    immutable: bool() as Schema<unknown>,
  },
  finish(res, v) {
    res.spec.type ??= SECRET_TYPES.opaque;
    checkSecret(res.spec, v, new Date());
  },
};

// ---- what may be shown

export interface CertificateSummary {
  subject: string;
  issuer: string;
  notBefore: string;
  notAfter: string;
  dnsNames: string[];
}

export function certificateSummary(pem: string): CertificateSummary | undefined {
  const certs = parseCerts(pem);
  if (typeof certs === 'string') return undefined;
  const c = certs[0]!;
  const dnsNames = (c.subjectAltName ?? '')
    .split(', ')
    .filter((s) => s.startsWith('DNS:'))
    .map((s) => s.slice(4));
  return { subject: c.subject.replace(/\n/g, ', '), issuer: c.issuer.replace(/\n/g, ', '), notBefore: new Date(c.validFrom).toISOString(), notAfter: new Date(c.validTo).toISOString(), dnsNames };
}

/** The redacted view of a Secret's spec: every value replaced by its size, plus the certificate's public summary. */
export interface RedactedSecretSpec {
  type: string;
  data: Record<string, string>;
  immutable?: boolean;
  certificate?: CertificateSummary;
}

export const REDACTED = /^<redacted: \d+ bytes>$/;

/**
 * A Secret as the API and CLI show it: no value of `data` or `stringData` (certificates
 * included: the rule is simple and leaves nothing to judge), the keys with their sizes,
 * and the leaf certificate's subject, issuer, validity and DNS names. Other kinds pass through.
 */
export function redactSecret<R extends Pick<Resource, 'kind' | 'apiVersion' | 'spec'>>(r: R): R {
  if (r.kind !== 'Secret' || r.apiVersion !== 'v1') return r;
  const spec = (r.spec ?? {}) as SecretSpec & { certificate?: CertificateSummary };
  const decoded = decodedData(spec);
  const data: Record<string, string> = {};
  for (const k of [...new Set([...Object.keys(spec.data ?? {}), ...Object.keys(spec.stringData ?? {})])].sort()) {
    const raw = spec.data?.[k];
    // Already redacted (the CLI redacts what an API returns, again): keep the size.
    data[k] = raw !== undefined && REDACTED.test(raw) && spec.stringData?.[k] === undefined ? raw : `<redacted: ${Buffer.byteLength(decoded[k] ?? '')} bytes>`;
  }
  const certKey = firstKey(decoded, TLS_KEYS.cert);
  const certificate = certKey ? certificateSummary(decoded[certKey]!) : spec.certificate;
  const out: RedactedSecretSpec = { type: spec.type ?? SECRET_TYPES.opaque, data };
  if (spec.immutable !== undefined) out.immutable = spec.immutable;
  if (certificate) out.certificate = certificate;
  return { ...r, spec: out };
}
