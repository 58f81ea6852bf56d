// Opens one upstream connection: TCP, or TLS with the workload certificate, the cluster's
// roots, SNI and a per-use ALPN; checks the server's SANs; enforces the connect timeout;
// counts upstream_cx_* and ssl.* on the cluster. Every failure is UpstreamError('UF'). An
// endpoint that is an internal listener of this proxy (envoyInternalAddress) is opened in
// memory through the InternalConnector; TLS, if the cluster has it, runs on top as usual.
import net from 'node:net';
import tls from 'node:tls';
import type { Duplex } from 'node:stream';
import type { IdentityProvider, WorkloadCertificate } from '../../types.js';
import { UpstreamError, type InternalConnector } from './types.js';
import type { CancelSignal } from './cancel.js';
import type { ClusterStats } from './stats.js';
import type { TlsSettings, TransportSocket } from './tls-config.js';
import { parseSubjectAltName, sanAllowed, spiffeIdOf } from './san.js';

export interface DialTarget {
  readonly cluster: string;
  readonly address: string;
  readonly port: number;
  /** host:port, for messages. */
  readonly key: string;
  /** `address` is an internal listener of this proxy: connected in memory, not over a socket. */
  readonly internal?: boolean;
  readonly transport: TransportSocket;
  readonly connectTimeoutMs: number;
  readonly stats: ClusterStats;
}

export interface Dialed {
  socket: net.Socket;
  /** The SPIFFE id the server proved (TLS only). */
  peerIdentity: string | undefined;
  /** The ALPN protocol the server chose (TLS only). */
  alpn: string | undefined;
}

/** TCP keep-alive probes on idle pooled connections. */
const KEEPALIVE_MS = 30_000;
const NO_CERT: object = {};

export class Dialer {
  /** Secure contexts by certificate (object identity) then roots: PEM is parsed once per rotation, not per connection. */
  private readonly contexts = new WeakMap<object, Map<string, tls.SecureContext>>();

  constructor(
    private readonly identity: IdentityProvider,
    /** Opens this proxy's internal listeners (none: internal endpoints fail with UH). */
    private readonly internal?: InternalConnector,
  ) {}

  /**
   * A byte stream to any endpoint, for TCP and CONNECT tunnels: a socket as dial() makes it,
   * or, to an internal listener, the in-memory connection (with the cluster's TLS on top if
   * it has any). `originalDestination` (the CONNECT target) goes to the internal listener.
   */
  open(t: DialTarget, alpn: readonly string[] | undefined, signal?: CancelSignal, originalDestination?: string): Promise<Omit<Dialed, 'socket'> & { socket: Duplex }> {
    if (!t.internal) return this.dial(t, alpn, signal);
    t.stats.cxTotal++;
    const inner = this.internal?.(t.address, { originalDestination });
    if (!inner) {
      t.stats.cxConnectFail++;
      return Promise.reject(new UpstreamError('UH', `${t.cluster}: internal listener ${t.address} is not configured`));
    }
    if (t.transport.kind === 'plaintext') {
      t.stats.cxActive++;
      inner.once('close', () => {
        t.stats.cxActive--;
      });
      return Promise.resolve({ socket: inner, peerIdentity: undefined, alpn: undefined });
    }
    return this.secure(t, t.transport.tls, alpn, signal, inner);
  }

  /** A TCP or TLS socket, for the HTTP pools (Host keeps HTTP away from internal listeners). */
  dial(t: DialTarget, alpn: readonly string[] | undefined, signal?: CancelSignal): Promise<Dialed> {
    t.stats.cxTotal++;
    if (t.transport.kind === 'plaintext') return this.connectPlain(t, signal);
    return this.secure(t, t.transport.tls, alpn, signal);
  }

  /** TLS over a new TCP socket, or over `inner` (an internal connection). */
  private secure(t: DialTarget, s: TlsSettings, alpn: readonly string[] | undefined, signal: CancelSignal | undefined, inner?: Duplex): Promise<Dialed> {
    let options: tls.ConnectionOptions;
    try {
      options = this.tlsOptions(t, s, alpn);
    } catch (err) {
      inner?.destroy();
      t.stats.cxConnectFail++;
      return Promise.reject(err);
    }
    return this.connectTls(t, s, inner ? { ...options, socket: inner } : options, signal);
  }

  private tlsOptions(t: DialTarget, s: TlsSettings, alpn: readonly string[] | undefined): tls.ConnectionOptions {
    let certKey: object;
    let cert: { certPem: string; keyPem: string } | undefined;
    switch (s.cert.kind) {
      case 'workload': {
        const wc: WorkloadCertificate | undefined = this.identity.current();
        if (!wc) throw new UpstreamError('UF', `${t.cluster} ${t.key}: no workload certificate yet`);
        certKey = wc;
        cert = { certPem: wc.certChainPem, keyPem: wc.keyPem };
        break;
      }
      case 'inline':
        certKey = s.cert;
        cert = s.cert;
        break;
      case 'missing':
        throw new UpstreamError('UF', `${t.cluster} ${t.key}: certificate secret ${JSON.stringify(s.cert.secret)} ${s.cert.why ?? 'not received yet'}`);
      case 'none':
        certKey = NO_CERT;
        break;
    }
    if (s.verify && s.caPem === undefined) {
      throw new UpstreamError('UF', `${t.cluster} ${t.key}: validation secret ${JSON.stringify(s.caSecret ?? '')} ${s.caWhy ?? 'not received yet'}`);
    }
    const caKey = s.caPem ?? '';
    let byCa = this.contexts.get(certKey);
    if (!byCa) this.contexts.set(certKey, (byCa = new Map()));
    let secureContext = byCa.get(caKey);
    if (!secureContext) {
      try {
        secureContext = tls.createSecureContext({ cert: cert?.certPem, key: cert?.keyPem, ca: s.caPem, minVersion: 'TLSv1.2' });
      } catch (err) {
        throw new UpstreamError('UF', `${t.cluster} ${t.key}: bad certificate or roots: ${(err as Error).message}`);
      }
      if (byCa.size > 8) byCa.clear(); // roots rotate rarely; bound the cache anyway
      byCa.set(caKey, secureContext);
    }
    return {
      host: t.address,
      port: t.port,
      secureContext,
      servername: s.sni ?? (net.isIP(t.address) ? undefined : t.address),
      ALPNProtocols: alpn ? [...alpn] : s.alpn.length > 0 ? [...s.alpn] : undefined,
      rejectUnauthorized: s.verify,
      // SPIFFE certificates carry no DNS name for the SNI; identity is checked by SAN below.
      checkServerIdentity: () => undefined,
    };
  }

  private connectPlain(t: DialTarget, signal: CancelSignal | undefined): Promise<Dialed> {
    const socket = net.connect({ host: t.address, port: t.port, noDelay: true, keepAlive: true, keepAliveInitialDelay: KEEPALIVE_MS });
    return this.await(t, socket, 'connect', signal, () => ({ socket, peerIdentity: undefined, alpn: undefined }));
  }

  private connectTls(t: DialTarget, s: TlsSettings, options: tls.ConnectionOptions, signal: CancelSignal | undefined): Promise<Dialed> {
    const socket = tls.connect(options);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, KEEPALIVE_MS);
    return this.await(t, socket, 'secureConnect', signal, () => {
      const sans = parseSubjectAltName(socket.getPeerCertificate().subjectaltname);
      if (!sanAllowed(s.sans, sans)) {
        t.stats.sslFailVerifySan++;
        throw new UpstreamError('UF', `${t.cluster} ${t.key}: server certificate SAN [${sans.uri.join(', ')}] is not among the allowed names`);
      }
      t.stats.sslHandshake++;
      return { socket, peerIdentity: spiffeIdOf(sans), alpn: socket.alpnProtocol || undefined };
    });
  }

  /** Wait for the socket's ready event within the connect timeout; count and map failures. */
  private await(t: DialTarget, socket: net.Socket, ready: 'connect' | 'secureConnect', signal: CancelSignal | undefined, done: () => Dialed): Promise<Dialed> {
    t.stats.cxActive++;
    return new Promise<Dialed>((resolve, reject) => {
      let settled = false;
      const finish = (err: Error | undefined, value?: Dialed, aborted = false): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        socket.off('error', onError);
        socket.off(ready, onReady);
        signal?.removeEventListener('abort', onAbort);
        if (err) {
          socket.on('error', noop);
          socket.destroy();
          t.stats.cxActive--;
          if (!aborted) t.stats.cxConnectFail++;
          reject(err);
        } else {
          socket.once('close', () => {
            t.stats.cxActive--;
          });
          resolve(value!);
        }
      };
      const onError = (err: Error): void => {
        const code = (err as NodeJS.ErrnoException).code;
        if (ready === 'secureConnect' && code !== undefined && CHAIN_VERIFY_ERRORS.has(code)) {
          t.stats.sslFailVerifyError++;
          finish(new UpstreamError('UF', `${t.cluster} ${t.key}: server certificate not verified: ${code}`));
          return;
        }
        finish(new UpstreamError('UF', `${t.cluster} ${t.key}: connect failed: ${code ?? err.message}`));
      };
      const onReady = (): void => {
        try {
          finish(undefined, done());
        } catch (err) {
          finish(err as Error);
        }
      };
      const onAbort = (): void => finish(abortError(signal), undefined, true);
      const timer = setTimeout(() => finish(new UpstreamError('UF', `${t.cluster} ${t.key}: connect timeout after ${t.connectTimeoutMs} ms`)), t.connectTimeoutMs);
      socket.once('error', onError);
      socket.once(ready, onReady);
      if (signal) {
        if (signal.aborted) onAbort();
        else signal.addEventListener('abort', onAbort, { once: true });
      }
    });
  }
}

function noop(): void {}

/** OpenSSL's chain verification results as Node names them: the server's certificate did not verify. */
const CHAIN_VERIFY_ERRORS: ReadonlySet<string> = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_NOT_YET_VALID',
  'CERT_HAS_EXPIRED',
  'CERT_UNTRUSTED',
  'CERT_REJECTED',
  'INVALID_CA',
  'PATH_LENGTH_EXCEEDED',
  'INVALID_PURPOSE',
]);

export function abortError(signal: CancelSignal | undefined): Error {
  const r: unknown = signal?.reason;
  if (r instanceof Error) return r;
  const e = new Error('The operation was aborted');
  e.name = 'AbortError';
  return e;
}
