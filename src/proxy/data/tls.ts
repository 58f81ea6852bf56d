// Server-side TLS from a DownstreamTlsContext. One non-listening tls.Server per distinct
// chain TLS setting. The certificate is the workload's (SDS "default", from the identity
// provider) or, on gateways, a named SDS secret from a Secret; client certificates are
// checked against ROOTCA (mesh mTLS) or a named CA secret (MUTUAL gateway servers).
// Rotation of either swaps the SecureContext for new handshakes only: open connections
// keep the certificate they were made with.
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { EnvoyObject, IdentityProvider, WorkloadCertificate } from '../types.js';
import { SECRET } from '../../xds/names.js';
import { arr, bool, obj, str, strs } from '../../xds/object-form.js';
import type { Counters, ListenerStatNames } from './stats.js';
import { TlsConfigError } from './errors.js';
import type { SecretMaterial } from './secrets.js';

export const TLS_DEFAULTS = { handshakeTimeoutMs: 10_000, minVersion: 'TLSv1.2' as tls.SecureVersion } as const;

export interface DownstreamTlsConfig {
  requireClientCertificate: boolean;
  alpn: string[];
  /** SDS name of the server certificate: "default" is the workload certificate. */
  certSecret: string;
  /** SDS name of the CAs client certificates must chain to (ROOTCA for mesh mTLS); undefined: none. */
  caSecret: string | undefined;
  /** Cache key: equal configs share one tls.Server. */
  key: string;
}

export function compileDownstreamTls(typed: EnvoyObject, where: string): DownstreamTlsConfig {
  const common = obj(typed.commonTlsContext) ?? {};
  const certs = arr(common.tlsCertificateSdsSecretConfigs);
  if (certs.length > 1) throw new TlsConfigError(`${where}.commonTlsContext.tlsCertificateSdsSecretConfigs: one certificate per chain (got ${certs.length})`);
  if (arr(common.tlsCertificates).length > 0) throw new TlsConfigError(`${where}.commonTlsContext.tlsCertificates: inline certificates are not read; use an SDS secret`);
  const certSecret = certs.length ? str(certs[0]!.name) : SECRET.workload;
  if (!certSecret) throw new TlsConfigError(`${where}.commonTlsContext.tlsCertificateSdsSecretConfigs[0].name: expected the secret name`);
  const validation = obj(common.validationContextSdsSecretConfig) ?? obj(obj(common.combinedValidationContext)?.validationContextSdsSecretConfig);
  const requireClientCertificate = bool(typed.requireClientCertificate) ?? false;
  // Mesh listeners that ask for client certificates without naming a CA check them against the mesh root.
  const caSecret = str(validation?.name) || (requireClientCertificate ? SECRET.root : undefined);
  const alpn = strs(common.alpnProtocols);
  return { requireClientCertificate, alpn, certSecret, caSecret, key: [requireClientCertificate ? 1 : 0, alpn.join(','), certSecret, caSecret ?? ''].join('|') };
}

/** The peer's first URI SAN (its SPIFFE id), from a "URI:a, DNS:b" subjectaltname string. */
export function uriSan(subjectaltname: string | undefined): string | undefined {
  if (!subjectaltname) return undefined;
  for (const part of subjectaltname.split(', ')) {
    if (part.startsWith('URI:')) return part.slice(4);
  }
  return undefined;
}

export interface HandshakeResult {
  socket: tls.TLSSocket;
  alpn: string | false;
  peerIdentity: string | undefined;
}

export class DownstreamTls {
  private cert: WorkloadCertificate | undefined;
  private secrets = new Map<string, SecretMaterial>();
  private readonly servers = new Map<string, tls.Server>();
  private readonly configs = new Map<string, DownstreamTlsConfig>();
  /** Handshakes in progress, by the raw socket tls.Server wrapped (TLSSocket#_parent). */
  private readonly pending = new WeakMap<Duplex, (err: Error | null, sock: tls.TLSSocket) => void>();

  constructor(
    identity: IdentityProvider,
    private readonly counters: Counters,
  ) {
    this.cert = identity.current();
    identity.onRotate((c) => {
      this.cert = c;
      this.refresh((cfg) => cfg.certSecret === SECRET.workload);
    });
  }

  /** The SDS secrets in force (checked by readSecrets); servers using a changed one get a new context. */
  setSecrets(next: Map<string, SecretMaterial>): void {
    const prev = this.secrets;
    this.secrets = next;
    const changed = (name: string | undefined): boolean => name !== undefined && name !== SECRET.workload && prev.get(name) !== next.get(name);
    this.refresh((cfg) => changed(cfg.certSecret) || changed(cfg.caSecret));
  }

  /** Why a chain cannot handshake yet (its secrets have not arrived), or undefined. */
  private missing(cfg: DownstreamTlsConfig): string | undefined {
    if (cfg.certSecret === SECRET.workload ? !this.cert : !this.secrets.get(cfg.certSecret)?.certChainPem) return `certificate secret "${cfg.certSecret}" not received yet`;
    if (cfg.caSecret !== undefined && !this.secrets.get(cfg.caSecret)?.caPem) return `validation secret "${cfg.caSecret}" not received yet`;
    return undefined;
  }

  private contextOptions(cfg: DownstreamTlsConfig): tls.SecureContextOptions {
    const own = cfg.certSecret === SECRET.workload ? { key: this.cert?.keyPem, cert: this.cert?.certChainPem } : { key: this.secrets.get(cfg.certSecret)?.keyPem, cert: this.secrets.get(cfg.certSecret)?.certChainPem };
    return { ...own, ca: cfg.caSecret !== undefined ? this.secrets.get(cfg.caSecret)?.caPem : undefined, minVersion: TLS_DEFAULTS.minVersion };
  }

  private refresh(affected: (cfg: DownstreamTlsConfig) => boolean): void {
    for (const [key, server] of this.servers) {
      const cfg = this.configs.get(key)!;
      if (!affected(cfg) || this.missing(cfg)) continue;
      try {
        server.setSecureContext(this.contextOptions(cfg));
      } catch {
        // secrets were checked before they were accepted; a failure keeps the previous context
      }
    }
  }

  private server(cfg: DownstreamTlsConfig): tls.Server {
    let s = this.servers.get(cfg.key);
    if (!s) {
      s = tls.createServer({
        ...this.contextOptions(cfg),
        requestCert: cfg.requireClientCertificate,
        // Verification is checked after the handshake so failures can be counted by kind.
        rejectUnauthorized: false,
        ALPNProtocols: cfg.alpn.length > 0 ? cfg.alpn : undefined,
        handshakeTimeout: TLS_DEFAULTS.handshakeTimeoutMs,
      });
      s.on('secureConnection', (sock: tls.TLSSocket) => this.settle(sock, null));
      s.on('tlsClientError', (err: Error, sock: tls.TLSSocket) => {
        this.settle(sock, err);
        sock.destroy();
      });
      this.servers.set(cfg.key, s);
      this.configs.set(cfg.key, cfg);
    }
    return s;
  }

  private settle(sock: tls.TLSSocket, err: Error | null): void {
    const raw = (sock as tls.TLSSocket & { _parent?: Duplex })._parent;
    const cb = raw ? this.pending.get(raw) : undefined;
    if (!raw || !cb) {
      sock.destroy();
      return;
    }
    this.pending.delete(raw);
    cb(err, sock);
  }

  /** Terminate TLS on an accepted socket (its ClientHello may have been unshifted back). */
  handshake(raw: Duplex, cfg: DownstreamTlsConfig, names: ListenerStatNames): Promise<HandshakeResult> {
    const notYet = this.missing(cfg);
    if (notYet) {
      // As Envoy does for a listener whose SDS secret is not there: the connection is closed.
      this.counters.inc(names.sslConnectionError);
      raw.destroy();
      return Promise.reject(new TlsConfigError(notYet));
    }
    const server = this.server(cfg);
    return new Promise((resolve, reject) => {
      // The TLSSocket is created synchronously inside the 'connection' listener; catch it.
      const onSecure = (err: Error | null, sock: tls.TLSSocket): void => {
        if (err) {
          this.counters.inc(names.sslConnectionError);
          reject(err);
          return;
        }
        if (cfg.requireClientCertificate) {
          const peer = sock.getPeerCertificate();
          if (!peer || Object.keys(peer).length === 0) {
            this.counters.inc(names.sslNoCertificate);
            this.counters.inc(names.sslConnectionError);
            sock.destroy();
            reject(new TlsConfigError('client presented no certificate'));
            return;
          }
          if (!sock.authorized) {
            this.counters.inc(names.sslFailVerifyError);
            this.counters.inc(names.sslConnectionError);
            sock.destroy();
            reject(new TlsConfigError(`client certificate rejected: ${String(sock.authorizationError)}`));
            return;
          }
        }
        this.counters.inc(names.sslHandshake);
        const peerIdentity = cfg.requireClientCertificate || sock.authorized ? uriSan(sock.getPeerCertificate().subjectaltname) : undefined;
        resolve({ socket: sock, alpn: sock.alpnProtocol ?? false, peerIdentity });
      };
      this.pending.set(raw, onSecure);
      raw.on('error', () => raw.destroy());
      raw.once('close', () => {
        if (this.pending.delete(raw)) {
          this.counters.inc(names.sslConnectionError);
          reject(new TlsConfigError('connection closed during the TLS handshake'));
        }
      });
      server.emit('connection', raw);
    });
  }
}

