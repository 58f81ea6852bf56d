// Header handling between downstream and upstream: hop-by-hop removal, forwarding headers
// (x-forwarded-proto, x-request-id, x-forwarded-client-cert) and route header mutations.
import { randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { HeaderMap } from './upstream/types.js';
import type { HeaderMutations } from './router.js';

/** RFC 9110 hop-by-hop headers, plus HTTP/1 framing headers that never cross a hop. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'proxy-authenticate',
  'proxy-authorization',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'http2-settings',
  'host',
]);

function connectionTokens(v: string | string[] | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const s = Array.isArray(v) ? v.join(',') : v;
  if (s === '' || s === 'keep-alive' || s === 'close') return undefined;
  return s.split(',').map((t) => t.trim().toLowerCase());
}

/**
 * Request headers for the upstream: lower-case, no pseudo-headers, no hop-by-hop headers
 * (but `te: trailers`, which gRPC needs, is kept).
 */
function upstreamRequestHeaders(src: IncomingHttpHeaders): HeaderMap {
  const out: HeaderMap = {};
  const extra = connectionTokens(src.connection);
  for (const name in src) {
    const v = src[name];
    if (v === undefined || name.charCodeAt(0) === 58 /* ':' */) continue;
    if (HOP_BY_HOP.has(name)) {
      if (name === 'te' && typeof v === 'string' && v.toLowerCase().includes('trailers')) out.te = 'trailers';
      continue;
    }
    if (extra && extra.includes(name)) continue;
    out[name] = v;
  }
  return out;
}

/**
 * Response headers for the downstream: no pseudo-headers, no hop-by-hop headers. Strips
 * the upstream answer's own map in place (it is not read again) rather than copying it.
 */
export function downstreamResponseHeaders(h: HeaderMap): OutgoingHttpHeaders {
  const extra = connectionTokens(h.connection);
  for (const name in h) {
    if (name.charCodeAt(0) === 58 || HOP_BY_HOP.has(name) || (extra && extra.includes(name))) delete h[name];
  }
  return h;
}

/** Adds x-forwarded-proto, x-request-id (when absent) and sets or strips XFCC. */
function addForwardingHeaders(h: HeaderMap, tls: boolean, ownIdentity: string | undefined, peerIdentity: string | undefined): void {
  h['x-forwarded-proto'] = tls ? 'https' : 'http';
  if (h['x-request-id'] === undefined) h['x-request-id'] = randomUUID();
  if (peerIdentity !== undefined && ownIdentity !== undefined) {
    h['x-forwarded-client-cert'] = `By=${ownIdentity};URI=${peerIdentity}`;
  } else if (h['x-forwarded-client-cert'] !== undefined) {
    delete h['x-forwarded-client-cert'];
  }
}

/**
 * The upstream request headers of a routed request (plain and Upgrade alike): the downstream's
 * without hop-by-hop headers, the forwarding headers, then the route's and the drawn weighted
 * cluster's mutations.
 */
export function routedRequestHeaders(
  src: IncomingHttpHeaders,
  d: { route: { requestHeaders: HeaderMutations }; clusterHeaders: HeaderMutations | undefined },
  tls: boolean,
  ownIdentity: string | undefined,
  peerIdentity: string | undefined,
): HeaderMap {
  const h = upstreamRequestHeaders(src);
  addForwardingHeaders(h, tls, ownIdentity, peerIdentity);
  applyMutations(h, d.route.requestHeaders);
  if (d.clusterHeaders) applyMutations(h, d.clusterHeaders);
  return h;
}

export function applyMutations(h: HeaderMap | OutgoingHttpHeaders, m: HeaderMutations): void {
  for (const name of m.remove) delete h[name];
  for (const opt of m.add) {
    const cur = h[opt.key];
    if (!opt.append || cur === undefined) {
      h[opt.key] = opt.value;
    } else if (Array.isArray(cur)) {
      h[opt.key] = [...cur, opt.value];
    } else {
      h[opt.key] = [String(cur), opt.value];
    }
  }
}

/** HTTP/1.1 response head for a raw socket (upgrade answers and errors on hijacked sockets). */
export function rawResponseHead(status: number, reason: string, headers: OutgoingHttpHeaders): string {
  let s = `HTTP/1.1 ${status} ${reason}\r\n`;
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) s += `${name}: ${x}\r\n`;
    else s += `${name}: ${String(v)}\r\n`;
  }
  return `${s}\r\n`;
}
