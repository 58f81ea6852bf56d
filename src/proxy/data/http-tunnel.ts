// The HTTP requests that leave HTTP: CONNECT tunnels and HTTP/1.1 Upgrade (WebSocket).
import type { Duplex } from 'node:stream';
import type { IncomingMessage } from 'node:http';
import type { OutgoingHttpHeaders } from 'node:http';
import { STATUS_CODES } from 'node:http';
import { splice } from './splice.js';
import { applyMutations, downstreamResponseHeaders, rawResponseHead, routedRequestHeaders } from './headers.js';
import { countStatus, decide, type ConnInfo, type HttpEnv, localReply } from './http-handler.js';
import type { H2Downstream } from './downstream.js';
import { UpstreamError } from './upstream/types.js';

/** Idle timeout of tunnels (CONNECT, upgraded connections). */
export const TUNNEL_DEFAULTS = { idleTimeoutMs: 60 * 60 * 1000 } as const;

function rawReply(socket: Duplex, status: number, flag: string | undefined, body: string): void {
  if (socket.destroyed) return;
  const h: OutgoingHttpHeaders = { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), connection: 'close' };
  if (flag) h['x-weft-flags'] = flag;
  socket.end(rawResponseHead(status, STATUS_CODES[status] ?? '', h) + body);
}

function flagOf(err: unknown): string {
  return err instanceof UpstreamError ? err.flag : 'UF';
}

/** How one protocol answers a CONNECT: an error reply (flag '' = none), or the go-ahead before bytes flow. */
interface TunnelReplies {
  fail(status: number, flag: string, body: string): void;
  established(): void;
}

/**
 * CONNECT host:port, for both protocols: route by authority, connect to the cluster, then
 * splice `downstream` (the HTTP/1.1 socket or the HTTP/2 stream) with the upstream.
 */
function openTunnel(env: HttpEnv, conn: ConnInfo, authority: string, headers: IncomingMessage['headers'], downstream: Duplex, reply: TunnelReplies, head?: Buffer): void {
  const names = conn.hcm.names;
  env.counters.inc(names.rqTotal);
  const fail = (status: number, flag: string, body: string): void => {
    countStatus(env, conn, status);
    reply.fail(status, flag, body);
  };
  const d = decide(env, conn, authority, '/', 'CONNECT', headers);
  if (d?.kind === 'direct') {
    // e.g. REGISTRY_ONLY's catch-all: the tunnel is refused with the route's answer.
    fail(d.status, '', d.body);
    return;
  }
  if (!d || d.kind !== 'route') {
    env.counters.inc(names.noRoute);
    fail(404, 'NR', 'route not found\n');
    return;
  }
  const cm = env.clusterManager();
  if (!cm.has(d.cluster)) {
    env.counters.inc(names.noCluster);
    fail(503, 'NC', `cluster not found: ${d.cluster}\n`);
    return;
  }
  // The CONNECT target is the tunnel's original destination (ORIGINAL_DST clusters, and
  // through an SNI internal listener to the clusters behind it).
  cm.connect(d.cluster, { originalDestination: authority }).then(
    ({ socket: up }) => {
      if (downstream.destroyed) {
        up.destroy();
        return;
      }
      countStatus(env, conn, 200);
      reply.established();
      if (head && head.length > 0) up.write(head);
      splice(downstream, up, { idleTimeoutMs: TUNNEL_DEFAULTS.idleTimeoutMs });
    },
    (err: unknown) => fail(503, flagOf(err), `upstream connect error: ${d.cluster}\n`),
  );
}

/** HTTP/1.1 CONNECT host:port. */
export function handleConnect1(env: HttpEnv, conn: ConnInfo, req: IncomingMessage, socket: Duplex, head: Buffer): void {
  socket.on('error', () => socket.destroy());
  openTunnel(env, conn, req.url ?? '', req.headers, socket, {
    fail: (status, flag, body) => rawReply(socket, status, flag, body),
    established: () => socket.write('HTTP/1.1 200 Connection Established\r\n\r\n'),
  }, head);
}

/** HTTP/2 CONNECT (RFC 9113 8.5): the stream itself is the tunnel. */
export function handleConnect2(env: HttpEnv, conn: ConnInfo, ds: H2Downstream): void {
  openTunnel(env, conn, String(ds.headers[':authority'] ?? ''), ds.headers, ds.stream, {
    fail: (status, flag, body) => localReply(ds, status, body, flag ? { 'x-weft-flags': flag } : {}),
    established: () => ds.establishTunnel(),
  });
}

/** HTTP/1.1 Upgrade: send it upstream with `upgrade` set; on 101 splice the two sockets. */
export function handleUpgrade1(env: HttpEnv, conn: ConnInfo, req: IncomingMessage, socket: Duplex, head: Buffer, authority: string, path: string): void {
  const names = conn.hcm.names;
  env.counters.inc(names.rqTotal);
  socket.on('error', () => socket.destroy());
  const d = decide(env, conn, authority, path, req.method ?? 'GET', req.headers);
  if (!d || d.kind === 'none') {
    env.counters.inc(names.noRoute);
    countStatus(env, conn, 404);
    rawReply(socket, 404, 'NR', 'route not found\n');
    return;
  }
  if (d.kind !== 'route') {
    countStatus(env, conn, d.status);
    const h: OutgoingHttpHeaders = d.kind === 'redirect' ? { location: d.location, 'content-length': 0, connection: 'close' } : { 'content-length': Buffer.byteLength(d.body), connection: 'close' };
    socket.end(rawResponseHead(d.status, STATUS_CODES[d.status] ?? '', h) + (d.kind === 'direct' ? d.body : ''));
    return;
  }
  const cm = env.clusterManager();
  if (!cm.has(d.cluster)) {
    env.counters.inc(names.noCluster);
    countStatus(env, conn, 503);
    rawReply(socket, 503, 'NC', `cluster not found: ${d.cluster}\n`);
    return;
  }
  const headers = routedRequestHeaders(req.headers, d, conn.tls, env.ownIdentity(), conn.peerIdentity);
  const upgrade = String(req.headers.upgrade ?? '');
  const ac = new AbortController();
  socket.once('close', () => ac.abort());
  cm.request(d.cluster, { method: req.method ?? 'GET', path: d.path, authority: d.authority, scheme: conn.tls ? 'https' : 'http', headers, body: null, upgrade }, { signal: ac.signal }).then(
    (up) => {
      countStatus(env, conn, up.status);
      const upgraded = String(up.headers.upgrade ?? upgrade);
      const h = downstreamResponseHeaders(up.headers);
      applyMutations(h, d.route.responseHeaders);
      if (up.status === 101 && up.upgradedSocket) {
        const us = up.upgradedSocket;
        if (socket.destroyed) {
          us.destroy();
          return;
        }
        h.connection = 'Upgrade';
        h.upgrade = upgraded;
        socket.write(rawResponseHead(101, 'Switching Protocols', h));
        if (head.length > 0) us.write(head);
        splice(socket, us, { idleTimeoutMs: TUNNEL_DEFAULTS.idleTimeoutMs });
        return;
      }
      // Not upgraded: relay the answer and close.
      h.connection = 'close';
      socket.write(rawResponseHead(up.status, STATUS_CODES[up.status] ?? '', h));
      up.body.on('error', () => socket.destroy());
      up.body.pipe(socket);
    },
    (err: unknown) => {
      const flag = flagOf(err);
      countStatus(env, conn, 503);
      rawReply(socket, 503, flag, `upstream error (${flag}): ${d.cluster}\n`);
    },
  );
}
