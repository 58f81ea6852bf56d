// Per accepted connection: detect the protocol from the first bytes, pick the first filter
// chain whose match fits, terminate TLS if the chain says so, and hand the socket to the
// chain's network filter (HTTP connection manager or tcp_proxy).
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ClusterManager } from './upstream/types.js';
import type { CompiledChain, CompiledListener } from './listener-config.js';
import type { Counters, ListenerStatNames } from './stats.js';
import { tcpStatNames } from './stats.js';
import { sniff, SniffTimeoutError, type Sniffed } from './sniff.js';
import type { DownstreamTls } from './tls.js';
import type { HttpEngine } from './http.js';
import type { ConnInfo } from './http-handler.js';
import { runTcpProxy, TCP_DEFAULTS } from './tcp-proxy.js';
import { ALPN_WEFT_TCP } from '../../xds/names.js';

export const DETECT_DEFAULTS = { firstBytesTimeoutMs: 10_000 } as const;

/** ALPN a client sidecar uses for opaque TCP over mTLS. */
export { ALPN_WEFT_TCP };

export interface ConnectionEnv {
  counters: Counters;
  tls: DownstreamTls;
  http: HttpEngine;
  clusterManager(): ClusterManager;
  firstBytesTimeoutMs: number;
}

function serverNameMatches(names: string[], sni: string | undefined): boolean {
  if (names.length === 0) return true;
  if (!sni) return false;
  for (const n of names) {
    if (n === sni) return true;
    if (n.startsWith('*.') && sni.endsWith(n.slice(1))) return true;
  }
  return false;
}

/** The first chain whose filterChainMatch fits (then the default chain). */
export function selectChain(l: CompiledListener, s: Sniffed, localPort: number | undefined): CompiledChain | undefined {
  for (const c of l.chains) {
    const m = c.match;
    if (m.transportProtocol !== undefined && m.transportProtocol !== s.transport) continue;
    if (m.destinationPort !== undefined && m.destinationPort !== localPort) continue;
    if (!serverNameMatches(m.serverNames, s.serverName)) continue;
    if (m.applicationProtocols.length > 0 && !m.applicationProtocols.some((p) => s.applicationProtocols.includes(p))) continue;
    return c;
  }
  return l.defaultChain;
}

const tcpNamesCache = new Map<string, ReturnType<typeof tcpStatNames>>();
function weftTcpNames(listener: string): ReturnType<typeof tcpStatNames> {
  let n = tcpNamesCache.get(listener);
  if (!n) {
    n = tcpStatNames(`${listener}.weft_tcp`);
    tcpNamesCache.set(listener, n);
  }
  return n;
}

/** Runs one accepted connection through detection, chain selection, TLS and its filter. */
export function handleConnection(env: ConnectionEnv, listener: CompiledListener, names: ListenerStatNames, socket: Socket): void {
  const counters = env.counters;
  counters.inc(names.cxTotal);
  counters.inc(names.cxActive);
  socket.once('close', () => counters.dec(names.cxActive));
  socket.on('error', () => socket.destroy());
  socket.setNoDelay(true);
  sniff(socket, env.firstBytesTimeoutMs).then(
    (s) => {
      const chain = selectChain(listener, s, socket.localPort);
      if (!chain) {
        counters.inc(names.noFilterChain);
        socket.destroy();
        return;
      }
      if (!chain.tls) {
        runFilter(env, listener, chain, socket, false, undefined, s.applicationProtocols.includes('h2c') ? 'h2' : 'h1');
        return;
      }
      env.tls.handshake(socket, chain.tls, names).then(
        (hs) => {
          if (hs.alpn === ALPN_WEFT_TCP) {
            if (!chain.tcpCluster) {
              hs.socket.destroy();
              return;
            }
            counters.inc(names.tcpTunnelTotal);
            runTcpProxy(hs.socket, { cluster: chain.tcpCluster, idleTimeoutMs: TCP_DEFAULTS.idleTimeoutMs, names: weftTcpNames(listener.name) }, env.clusterManager(), counters);
            return;
          }
          runFilter(env, listener, chain, hs.socket, true, hs.peerIdentity, hs.alpn === 'h2' ? 'h2' : 'h1');
        },
        () => socket.destroy(),
      );
    },
    (err: unknown) => {
      if (err instanceof SniffTimeoutError) counters.inc(names.detectTimeout);
      else counters.inc(names.cxDestroyedNoBytes);
      socket.destroy();
    },
  );
}

function runFilter(env: ConnectionEnv, listener: CompiledListener, chain: CompiledChain, socket: Duplex, tls: boolean, peerIdentity: string | undefined, detected: 'h1' | 'h2'): void {
  const f = chain.filter;
  if (f.kind === 'tcp') {
    runTcpProxy(socket, f.tcp, env.clusterManager(), env.counters);
    return;
  }
  const conn: ConnInfo = { listener: listener.name, hcm: f.hcm, tls, peerIdentity, current: undefined };
  const codec = f.hcm.codec === 'HTTP2' ? 'h2' : f.hcm.codec === 'HTTP1' ? 'h1' : detected;
  env.http.serve(socket, conn, codec);
}
