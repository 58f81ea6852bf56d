// Server-side TLS from a DownstreamTlsContext. One non-listening tls.Server per distinct
// chain TLS setting; the workload certificate (SDS "default") comes from the identity
// provider and the roots from the ROOTCA secret. Rotation swaps the SecureContext for new
// handshakes only.
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { EnvoyObject, IdentityProvider, WorkloadCertificate } from '../types.js';
import { SECRET } from '../../xds/names.js';
import { bool, obj, str, strs } from '../../xds/object-form.js';
import type { Counters, ListenerStatNames } from './stats.js';
import { TlsConfigError } from './errors.js';

export const TLS_DEFAULTS = { handshakeTimeoutMs: 10_000, minVersion: 'TLSv1.2' as tls.SecureVersion } as const;

export interface DownstreamTlsConfig {
  requireClientCertificate: boolean;
  alpn: string[];
  /** Cache key: equal configs share one tls.Server. */
  key: string;
}

export function compileDownstreamTls(typed: EnvoyObject, where: string): DownstreamTlsConfig {
  const common = obj(typed.commonTlsContext) ?? {};
  const certs = (Array.isArray(common.tlsCertificateSdsSecretConfigs) ? common.tlsCertificateSdsSecretConfigs : []) as EnvoyObject[];
  for (const c of certs) {
    const name = str(c.name);
    if (name !== SECRET.workload) throw new TlsConfigError(`${where}.commonTlsContext.tlsCertificateSdsSecretConfigs: unsupported secret "${name ?? ''}" (only "${SECRET.workload}")`);
  }
  const requireClientCertificate = bool(typed.requireClientCertificate) ?? false;
  const alpn = strs(common.alpnProtocols);
  return { requireClientCertificate, alpn, key: `${requireClientCertificate ? 1 : 0}|${alpn.join(',')}` };
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

export function rootsFromSecrets(secrets: Map<string, EnvoyObject>): string | undefined {
  const s = secrets.get(SECRET.root);
  return str(obj(obj(obj(s?.validationContext)?.trustedCa))?.inlineString);
}

export class DownstreamTls {
  private cert: WorkloadCertificate | undefined;
  private roots: string | undefined;
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
      this.refresh();
    });
  }

  setRoots(pem: string | undefined): void {
    if (pem === this.roots) return;
    this.roots = pem;
    this.refresh();
  }

  private contextOptions(cfg: DownstreamTlsConfig): tls.SecureContextOptions {
    return {
      key: this.cert?.keyPem,
      cert: this.cert?.certChainPem,
      ca: cfg.requireClientCertificate || this.roots ? this.roots : undefined,
      minVersion: TLS_DEFAULTS.minVersion,
    };
  }

  private refresh(): void {
    for (const [key, server] of this.servers) {
      try {
        server.setSecureContext(this.contextOptions(this.configs.get(key)!));
      } catch {
        // a bad root bundle keeps the previous context
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

