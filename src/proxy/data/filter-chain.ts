// Per accepted connection: detect the protocol from the first bytes, pick the filter chain
// by Envoy's FilterChainMatch rules (selectChain), terminate TLS if the chain says so, and
// hand the socket to the chain's network filter (HTTP connection manager or tcp_proxy).
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

/** The chains `has` holds for when there are any, else those that leave the criterion unset (no backtracking). */
function narrow(chains: readonly CompiledChain[], has: (c: CompiledChain) => boolean, unset: (c: CompiledChain) => boolean): CompiledChain[] {
  const hit = chains.filter(has);
  return hit.length > 0 ? hit : chains.filter(unset);
}

/**
 * The length of the most specific `serverNames` entry of a chain matching `sni`: an exact
 * name beats any wildcard ("*.example.com" matches "a.example.com" and "a.b.example.com",
 * not "example.com"), a longer wildcard beats a shorter one; -1 when none matches.
 */
function serverNameScore(names: readonly string[], sni: string): number {
  let best = -1;
  for (const n of names) {
    if (n === sni) return Number.MAX_SAFE_INTEGER;
    if (n.startsWith('*.') && sni.length > n.length - 1 && sni.endsWith(n.slice(1))) best = Math.max(best, n.length);
  }
  return best;
}

function byServerName(chains: readonly CompiledChain[], sni: string | undefined): CompiledChain[] {
  const unset = chains.filter((c) => c.match.serverNames.length === 0);
  if (!sni) return unset;
  const name = sni.toLowerCase();
  let best = -1;
  let hit: CompiledChain[] = [];
  for (const c of chains) {
    const score = serverNameScore(c.match.serverNames, name);
    if (score < 0 || score < best) continue;
    if (score > best) hit = [];
    best = score;
    hit.push(c);
  }
  return hit.length > 0 ? hit : unset;
}

/** Envoy takes the client's ALPN in its order: the first protocol some chain lists decides. */
function byApplicationProtocol(chains: readonly CompiledChain[], offered: readonly string[]): CompiledChain[] {
  for (const p of offered) {
    const hit = chains.filter((c) => c.match.applicationProtocols.includes(p));
    if (hit.length > 0) return hit;
  }
  return chains.filter((c) => c.match.applicationProtocols.length === 0);
}

/**
 * The filter chain for a connection, by Envoy's FilterChainMatch rules: destination port,
 * then server name (SNI), then transport protocol, then application protocols (ALPN). At
 * each step the most specific value any remaining chain names wins and the chains naming
 * another value drop out; chains that leave the criterion unset stay only when none names
 * a match. There is no backtracking. Several chains left (Envoy would refuse such a
 * listener): the first. None left: the listener's default chain.
 */
export function selectChain(l: CompiledListener, s: Sniffed, localPort: number | undefined): CompiledChain | undefined {
  let chains: readonly CompiledChain[] = l.chains;
  chains = narrow(chains, (c) => c.match.destinationPort !== undefined && c.match.destinationPort === localPort, (c) => c.match.destinationPort === undefined);
  chains = byServerName(chains, s.serverName);
  chains = narrow(chains, (c) => c.match.transportProtocol !== undefined && c.match.transportProtocol === s.transport, (c) => c.match.transportProtocol === undefined);
  chains = byApplicationProtocol(chains, s.applicationProtocols);
  return chains[0] ?? l.defaultChain;
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
