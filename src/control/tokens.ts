// Bootstrap tokens: ES256 JWTs the control plane signs for one pod, with a key of
// their own (<stateDir>/ca/token-key.pem, mode 0600), separate from the CA key.
// A proxy presents its token to the CA to prove which identity it may ask for.
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';
import { spiffeId } from '../xds/names.js';
import { ControlError } from './errors.js';
import { readFileIfExists, writeFileAtomic } from './atomic-file.js';

export const TOKEN_DEFAULTS = {
  ttlSeconds: 365 * 24 * 3600,
  /** Tolerated clock skew for iat/exp. */
  skewSeconds: 60,
} as const;

export interface TokenClaims {
  /** SPIFFE identity. */
  sub: string;
  ns: string;
  sa: string;
  pod: string;
  iat: number;
  exp: number;
}

export interface MintRequest {
  namespace: string;
  serviceAccount: string;
  pod: string;
  ttlSeconds?: number;
}

const NAME_RE = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function b64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

function invalid(message: string): ControlError {
  return new ControlError('WEFT_ERR_TOKEN_INVALID', `bootstrap token: ${message}`);
}

export class TokenIssuer {
  readonly #key: KeyObject;
  readonly #publicKey: KeyObject;
  readonly #kid: string;
  readonly trustDomain: string;

  private constructor(key: KeyObject, trustDomain: string) {
    this.#key = key;
    this.#publicKey = createPublicKey(key);
    this.#kid = createHash('sha256').update(this.#publicKey.export({ type: 'spki', format: 'der' })).digest('base64url').slice(0, 16);
    this.trustDomain = trustDomain;
  }

  static async open(stateDir: string, trustDomain: string): Promise<TokenIssuer> {
    const dir = path.join(stateDir, 'ca');
    const file = path.join(dir, 'token-key.pem');
    await fs.mkdir(dir, { recursive: true, mode: 0o700 });
    const existing = await readFileIfExists(file);
    if (existing) {
      const key = createPrivateKey(existing);
      if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
        throw new ControlError('WEFT_ERR_CA_LOAD', `${file}: the token key must be ECDSA P-256`);
      }
      return new TokenIssuer(key, trustDomain);
    }
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    await writeFileAtomic(file, privateKey.export({ type: 'pkcs8', format: 'pem' }), 0o600);
    return new TokenIssuer(privateKey, trustDomain);
  }

  mint(req: MintRequest, now: number = Date.now()): string {
    for (const [field, v] of [['namespace', req.namespace], ['serviceAccount', req.serviceAccount], ['pod', req.pod]] as const) {
      if (typeof v !== 'string' || !NAME_RE.test(v)) throw new ControlError('WEFT_ERR_BAD_REQUEST', `${field}: expected a Kubernetes name, got ${JSON.stringify(v)}`);
    }
    const ttl = req.ttlSeconds && req.ttlSeconds > 0 ? req.ttlSeconds : TOKEN_DEFAULTS.ttlSeconds;
    const iat = Math.floor(now / 1000);
    const claims: TokenClaims = {
      sub: spiffeId(req.namespace, req.serviceAccount, this.trustDomain),
      ns: req.namespace,
      sa: req.serviceAccount,
      pod: req.pod,
      iat,
      exp: iat + ttl,
    };
    const signingInput = `${b64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: this.#kid }))}.${b64url(JSON.stringify(claims))}`;
    const sig = sign('sha256', Buffer.from(signingInput), { key: this.#key, dsaEncoding: 'ieee-p1363' });
    return `${signingInput}.${b64url(sig)}`;
  }

  /** Checks signature, algorithm, time and claim consistency; throws WEFT_ERR_TOKEN_INVALID / WEFT_ERR_TOKEN_EXPIRED. */
  verify(token: string, now: number = Date.now()): TokenClaims {
    const parts = token.split('.');
    if (parts.length !== 3) throw invalid('not a JWT (expected three dot-separated parts)');
    const [h, p, s] = parts as [string, string, string];
    let header: { alg?: unknown };
    let claims: Partial<TokenClaims>;
    try {
      header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8')) as { alg?: unknown };
      claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8')) as Partial<TokenClaims>;
    } catch {
      throw invalid('header or payload is not base64url JSON');
    }
    if (header.alg !== 'ES256') throw invalid(`algorithm ${JSON.stringify(header.alg)} is not accepted (ES256 only)`);
    const ok = verify('sha256', Buffer.from(`${h}.${p}`), { key: this.#publicKey, dsaEncoding: 'ieee-p1363' }, Buffer.from(s, 'base64url'));
    if (!ok) throw invalid('signature does not verify (not issued by this control plane)');
    const { sub, ns, sa, pod, iat, exp } = claims;
    if (typeof sub !== 'string' || typeof ns !== 'string' || typeof sa !== 'string' || typeof pod !== 'string' || typeof iat !== 'number' || typeof exp !== 'number') {
      throw invalid('claims sub, ns, sa, pod, iat, exp are required');
    }
    if (sub !== spiffeId(ns, sa, this.trustDomain)) throw invalid(`sub ${sub} does not match ns/sa in trust domain ${this.trustDomain}`);
    const nowSec = now / 1000;
    if (iat > nowSec + TOKEN_DEFAULTS.skewSeconds) throw invalid('issued in the future');
    if (exp <= nowSec - TOKEN_DEFAULTS.skewSeconds) throw new ControlError('WEFT_ERR_TOKEN_EXPIRED', `bootstrap token expired at ${new Date(exp * 1000).toISOString()}`);
    return { sub, ns, sa, pod, iat, exp };
  }
}
