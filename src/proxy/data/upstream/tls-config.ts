// Compiles a cluster's transport socket (raw buffer or UpstreamTlsContext, object form)
// into the settings the dialer uses. Secrets are resolved here, at update time:
// `default` is the workload certificate (from the IdentityProvider at dial time),
// any other tlsCertificate / validation secret comes from the SDS secrets map.
import { createHash } from 'node:crypto';
import { SECRET } from '../../../xds/names.js';
import type { EnvoyObject } from '../../types.js';
import { FieldPath, dataSource, optArray, optObj, optString, type Obj } from './object-form.js';

export type SanType = 'URI' | 'DNS' | 'EMAIL' | 'IP_ADDRESS';

export interface SanMatcher {
  type: SanType;
  exact?: string;
  prefix?: string;
  suffix?: string;
  contains?: string;
  regex?: RegExp;
  ignoreCase: boolean;
}

export type CertSource =
  | { kind: 'workload' }
  | { kind: 'inline'; certPem: string; keyPem: string }
  | { kind: 'none' }
  /** An SDS secret that has not arrived yet (or is not a certificate: `why`): dials fail with UF until it does. */
  | { kind: 'missing'; secret: string; why?: string };

export interface TlsSettings {
  sni: string | undefined;
  /** alpnProtocols from the config (the dialer picks the ALPN per use: h2, http/1.1, weft-tcp). */
  alpn: readonly string[];
  cert: CertSource;
  /** Whether the server's chain is verified (a validation context is configured). */
  verify: boolean;
  /** Trusted roots; undefined when verify is set but the SDS secret has not arrived. */
  caPem: string | undefined;
  caSecret: string | undefined;
  /** Why the validation secret cannot be used although it arrived (it holds another kind). */
  caWhy?: string;
  /** Allowed server SANs; empty = any (chain check only). */
  sans: readonly SanMatcher[];
}

export type TransportSocket =
  | { readonly kind: 'plaintext'; readonly fingerprint: string }
  | { readonly kind: 'tls'; readonly tls: TlsSettings; readonly fingerprint: string };

export const PLAINTEXT: TransportSocket = { kind: 'plaintext', fingerprint: 'plaintext' };

const TLS_TYPE = 'envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext';
const RAW_TYPE = 'envoy.extensions.transport_sockets.raw_buffer.v3.RawBuffer';
const SAN_TYPES: ReadonlySet<string> = new Set(['URI', 'DNS', 'EMAIL', 'IP_ADDRESS']);

function typeName(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}

/** envoy.config.core.v3.TransportSocket -> TransportSocket. */
export function compileTransportSocket(v: unknown, at: FieldPath, secrets: Map<string, EnvoyObject>): TransportSocket {
  const ts = optObj(v, at);
  if (!ts) return PLAINTEXT;
  const name = optString(ts['name'], at.at('name')) ?? '';
  const typed = optObj(ts['typedConfig'], at.at('typedConfig'));
  const type = typed ? typeName(optString(typed['@type'], at.at('typedConfig').at('@type')) ?? '') : '';
  if (type === TLS_TYPE) return compileTls(typed!, at.at('typedConfig'), secrets);
  if (type === RAW_TYPE || (type === '' && (name === 'envoy.transport_sockets.raw_buffer' || name === 'raw_buffer'))) return PLAINTEXT;
  if (type === '' && name === 'envoy.transport_sockets.tls') throw at.at('typedConfig').error('the tls transport socket needs a typedConfig UpstreamTlsContext');
  return at.at('typedConfig').at('@type').reject(`unsupported transport socket ${JSON.stringify(type || name)}`);
}

function compileTls(ctx: Obj, at: FieldPath, secrets: Map<string, EnvoyObject>): TransportSocket {
  const sni = optString(ctx['sni'], at.at('sni')) || undefined;
  const cAt = at.at('commonTlsContext');
  const common = optObj(ctx['commonTlsContext'], cAt) ?? {};
  const alpn = optArray(common['alpnProtocols'], cAt.at('alpnProtocols')).map((p, i): string => {
    if (typeof p !== 'string' || p === '') throw cAt.at('alpnProtocols').at(i).error('expected a protocol name');
    return p;
  });

  const cert = compileCert(common, cAt, secrets);

  let verify = false;
  let caPem: string | undefined;
  let caSecret: string | undefined;
  let caWhy: string | undefined;
  const sans: SanMatcher[] = [];
  const useValidation = (vc: Obj | undefined, vAt: FieldPath): void => {
    if (!vc) return;
    verify = true;
    const inlineCa = dataSource(vc['trustedCa'], vAt.at('trustedCa'));
    if (inlineCa !== undefined) caPem = inlineCa;
    sans.push(...compileSans(vc, vAt));
  };
  const useSdsValidation = (sds: Obj | undefined, sAt: FieldPath): void => {
    if (!sds) return;
    const name = optString(sds['name'], sAt.at('name'));
    if (!name) throw sAt.at('name').error('expected the secret name');
    verify = true;
    caSecret = name;
    const secret = secrets.get(name);
    if (secret) {
      const secAt = new FieldPath(`secret ${JSON.stringify(name)}`, '');
      const vc = optObj(secret['validationContext'], secAt.at('validationContext'));
      // Another kind under this name (a certificate): this cluster fails closed, the rest of the config applies.
      if (!vc) caWhy = 'holds no validation context';
      else {
        caPem = dataSource(vc['trustedCa'], secAt.at('validationContext').at('trustedCa'));
        sans.push(...compileSans(vc, secAt.at('validationContext')));
      }
    }
  };

  useValidation(optObj(common['validationContext'], cAt.at('validationContext')), cAt.at('validationContext'));
  useSdsValidation(optObj(common['validationContextSdsSecretConfig'], cAt.at('validationContextSdsSecretConfig')), cAt.at('validationContextSdsSecretConfig'));
  const combAt = cAt.at('combinedValidationContext');
  const combined = optObj(common['combinedValidationContext'], combAt);
  if (combined) {
    useValidation(optObj(combined['defaultValidationContext'], combAt.at('defaultValidationContext')) ?? {}, combAt.at('defaultValidationContext'));
    useSdsValidation(optObj(combined['validationContextSdsSecretConfig'], combAt.at('validationContextSdsSecretConfig')), combAt.at('validationContextSdsSecretConfig'));
  }

  const tls: TlsSettings = { sni, alpn, cert, verify, caPem, caSecret, sans, ...(caWhy ? { caWhy } : {}) };
  return { kind: 'tls', tls, fingerprint: fingerprint(tls) };
}

function compileCert(common: Obj, cAt: FieldPath, secrets: Map<string, EnvoyObject>): CertSource {
  const inline = optArray(common['tlsCertificates'], cAt.at('tlsCertificates'));
  if (inline.length > 0) return inlineCert(inline[0], cAt.at('tlsCertificates').at(0));
  const sdsList = optArray(common['tlsCertificateSdsSecretConfigs'], cAt.at('tlsCertificateSdsSecretConfigs'));
  if (sdsList.length === 0) return { kind: 'none' };
  const sAt = cAt.at('tlsCertificateSdsSecretConfigs').at(0);
  const sds = optObj(sdsList[0], sAt) ?? {};
  const name = optString(sds['name'], sAt.at('name'));
  if (!name) throw sAt.at('name').error('expected the secret name');
  if (name === SECRET.workload) return { kind: 'workload' };
  const secret = secrets.get(name);
  if (!secret) return { kind: 'missing', secret: name };
  if (secret['tlsCertificate'] === undefined) return { kind: 'missing', secret: name, why: 'holds no certificate' };
  const secAt = new FieldPath(`secret ${JSON.stringify(name)}`, 'tlsCertificate');
  return inlineCert(secret['tlsCertificate'], secAt);
}

function inlineCert(v: unknown, at: FieldPath): CertSource {
  const c = optObj(v, at) ?? at.reject('expected a TlsCertificate');
  const certPem = dataSource(c['certificateChain'], at.at('certificateChain'));
  const keyPem = dataSource(c['privateKey'], at.at('privateKey'));
  if (!certPem) throw at.at('certificateChain').error('expected inline certificate data');
  if (!keyPem) throw at.at('privateKey').error('expected inline key data');
  return { kind: 'inline', certPem, keyPem };
}

function compileSans(vc: Obj, at: FieldPath): SanMatcher[] {
  const out: SanMatcher[] = [];
  const typed = optArray(vc['matchTypedSubjectAltNames'], at.at('matchTypedSubjectAltNames'));
  typed.forEach((m, i) => {
    const mAt = at.at('matchTypedSubjectAltNames').at(i);
    const o = optObj(m, mAt) ?? {};
    const type = optString(o['sanType'], mAt.at('sanType'));
    if (!type || !SAN_TYPES.has(type)) throw mAt.at('sanType').error(`expected one of ${[...SAN_TYPES].join(', ')}`);
    out.push(stringMatcher(type as SanType, o['matcher'], mAt.at('matcher')));
  });
  // The deprecated untyped form matches any SAN type.
  const legacy = optArray(vc['matchSubjectAltNames'], at.at('matchSubjectAltNames'));
  legacy.forEach((m, i) => {
    for (const t of SAN_TYPES) out.push(stringMatcher(t as SanType, m, at.at('matchSubjectAltNames').at(i)));
  });
  return out;
}

function stringMatcher(type: SanType, v: unknown, at: FieldPath): SanMatcher {
  const m = optObj(v, at) ?? at.reject('expected a StringMatcher');
  const ignoreCase = m['ignoreCase'] === true;
  const exact = optString(m['exact'], at.at('exact'));
  const prefix = optString(m['prefix'], at.at('prefix'));
  const suffix = optString(m['suffix'], at.at('suffix'));
  const contains = optString(m['contains'], at.at('contains'));
  let regex: RegExp | undefined;
  const safe = optObj(m['safeRegex'], at.at('safeRegex'));
  if (safe) {
    const src = optString(safe['regex'], at.at('safeRegex').at('regex')) ?? '';
    try {
      regex = new RegExp(`^(?:${src})$`, ignoreCase ? 'i' : '');
    } catch (e) {
      throw at.at('safeRegex').at('regex').error(`invalid regex: ${(e as Error).message}`);
    }
  }
  if (exact === undefined && prefix === undefined && suffix === undefined && contains === undefined && !regex) {
    throw at.error('expected one of exact, prefix, suffix, contains, safeRegex');
  }
  return { type, exact, prefix, suffix, contains, regex, ignoreCase };
}

function fingerprint(tls: TlsSettings): string {
  const h = createHash('sha256');
  h.update(JSON.stringify({ ...tls, sans: tls.sans.map((s) => ({ ...s, regex: s.regex?.source })) }));
  return `tls:${h.digest('base64url')}`;
}

