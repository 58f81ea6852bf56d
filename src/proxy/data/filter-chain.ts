// Per accepted connection (a socket, or the server end of an internal-listener
// connection): detect the protocol from the first bytes, pick the filter chain as Envoy
// does, terminate TLS if the chain says so, and hand the stream to the chain's network
// filter (HTTP connection manager or tcp_proxy).
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
import { bestByServerName } from './server-names.js';
import { cidrContains } from './cidr.js';
import { ALPN_WEFT_TCP } from '../../xds/names.js';

export const DETECT_DEFAULTS = { firstBytesTimeoutMs: 10_000 } as const;

/** What a listener that reads no first bytes knows of a connection. */
const UNINSPECTED: Sniffed = { transport: 'raw_buffer', serverName: undefined, applicationProtocols: [] };

/** ALPN a client sidecar uses for opaque TCP over mTLS. */
export { ALPN_WEFT_TCP };

export interface ConnectionEnv {
  counters: Counters;
  tls: DownstreamTls;
  http: HttpEngine;
  clusterManager(): ClusterManager;
  firstBytesTimeoutMs: number;
  /** Uniform in [0, 1): tcp_proxy weightedClusters draws (seedable for tests); Math.random by default. */
  random?: () => number;
}

/** Where a connection arrived: the local address and port (absent on internal listeners), and what a tunnel asked for. */
export interface ConnectionMeta {
  localAddress?: string | undefined;
  localPort?: number | undefined;
  /** The CONNECT target an internal connection carries (ORIGINAL_DST clusters connect there). */
  originalDestination?: string | undefined;
}

/**
 * One step of Envoy's filter chain match: the chains whose field holds the connection's
 * value; if none, the chains that leave the field unset.
 */
function narrow(chains: readonly CompiledChain[], unset: (c: CompiledChain) => boolean, fits: (c: CompiledChain) => boolean): CompiledChain[] {
  const specific = chains.filter((c) => !unset(c) && fits(c));
  return specific.length ? specific : chains.filter(unset);
}

/** The longest prefix range holding the local address wins; then chains without ranges. */
function byPrefixRange(chains: readonly CompiledChain[], address: string | undefined): CompiledChain[] {
  let best = -1;
  let out: CompiledChain[] = [];
  for (const c of chains) {
    const len = c.match.prefixRanges.reduce((m, r) => (r.prefixLen > m && cidrContains(r, address) ? r.prefixLen : m), -1);
    if (len < 0 || len < best) continue;
    if (len > best) {
      best = len;
      out = [];
    }
    out.push(c);
  }
  return out.length ? out : chains.filter((c) => c.match.prefixRanges.length === 0);
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
 * Envoy's filter chain match, criterion by criterion, each narrowing the candidates to the
 * most specific that fit: destination port, destination IP (prefixRanges), server name
 * (exact, then the longest wildcard, then none: server-names.ts), transport protocol,
 * application protocols (in the client's order). Several chains left (Envoy would refuse
 * such a listener): the first. No chain left: the default chain.
 */
export function selectChain(l: CompiledListener, s: Sniffed, local: number | ConnectionMeta | undefined): CompiledChain | undefined {
  const meta: ConnectionMeta = typeof local === 'number' || local === undefined ? { localPort: local } : local;
  let c: CompiledChain[] = l.chains;
  c = narrow(c, (x) => x.match.destinationPort === undefined, (x) => x.match.destinationPort === meta.localPort);
  c = byPrefixRange(c, meta.localAddress);
  c = bestByServerName(c, (x) => x.match.serverNames, s.serverName?.toLowerCase());
  c = narrow(c, (x) => x.match.transportProtocol === undefined, (x) => x.match.transportProtocol === s.transport);
  c = byApplicationProtocol(c, s.applicationProtocols);
  return c[0] ?? l.defaultChain;
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
  socket.setNoDelay(true);
  runConnection(env, listener, names, socket, { localAddress: socket.localAddress, localPort: socket.localPort });
}

/** The same for a connection to an internal listener (the server end of an in-memory pair). */
export function handleInternalConnection(env: ConnectionEnv, listener: CompiledListener, names: ListenerStatNames, stream: Duplex, meta: ConnectionMeta): void {
  runConnection(env, listener, names, stream, meta);
}

function runConnection(env: ConnectionEnv, listener: CompiledListener, names: ListenerStatNames, socket: Duplex, meta: ConnectionMeta): void {
  const counters = env.counters;
  counters.inc(names.cxTotal);
  counters.inc(names.cxActive);
  socket.once('close', () => counters.dec(names.cxActive));
  socket.on('error', () => socket.destroy());
  // Without listener filters there is nothing to read first (Envoy: transport raw_buffer, no SNI).
  const detected = listener.inspect ? sniff(socket, env.firstBytesTimeoutMs) : Promise.resolve(UNINSPECTED);
  detected.then(
    (s) => {
      const chain = selectChain(listener, s, meta);
      if (!chain) {
        counters.inc(names.noFilterChain);
        socket.destroy();
        return;
      }
      if (!chain.tls) {
        runFilter(env, listener, chain, socket, false, undefined, s.applicationProtocols.includes('h2c') ? 'h2' : 'h1', meta);
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
            runTcpProxy(hs.socket, { cluster: chain.tcpCluster, weighted: [], totalWeight: 0, idleTimeoutMs: TCP_DEFAULTS.idleTimeoutMs, names: weftTcpNames(listener.name) }, env.clusterManager(), counters);
            return;
          }
          runFilter(env, listener, chain, hs.socket, true, hs.peerIdentity, hs.alpn === 'h2' ? 'h2' : 'h1', meta);
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

function runFilter(
  env: ConnectionEnv,
  listener: CompiledListener,
  chain: CompiledChain,
  socket: Duplex,
  tls: boolean,
  peerIdentity: string | undefined,
  detected: 'h1' | 'h2',
  meta: ConnectionMeta,
): void {
  const f = chain.filter;
  if (f.kind === 'tcp') {
    runTcpProxy(socket, f.tcp, env.clusterManager(), env.counters, { random: env.random, originalDestination: meta.originalDestination });
    return;
  }
  const conn: ConnInfo = { listener: listener.name, hcm: f.hcm, tls, peerIdentity, current: undefined };
  const codec = f.hcm.codec === 'HTTP2' ? 'h2' : f.hcm.codec === 'HTTP1' ? 'h1' : detected;
  env.http.serve(socket, conn, codec);
}
