// Header and trailer plumbing shared by the HTTP/1.1 and HTTP/2 pools.
import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { HeaderMap, UpstreamRequest } from './types.js';

/** Connection-specific headers HTTP/2 forbids and HTTP/1.1 responses carry for the hop only. */
const HOP_BY_HOP: ReadonlySet<string> = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'host', 'http2-settings']);

/** The request as HTTP/2 headers (pseudo-headers first). */
export function toH2Headers(req: UpstreamRequest): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {
    ':method': req.method,
    ':path': req.path,
    ':authority': req.authority,
    ':scheme': req.scheme,
  };
  const h = req.headers;
  for (const k in h) {
    if (HOP_BY_HOP.has(k)) continue;
    if (k === 'te') {
      // HTTP/2 allows only "te: trailers".
      if (h[k] === 'trailers') out[k] = 'trailers';
      continue;
    }
    out[k] = h[k];
  }
  return out;
}

/** Response headers or trailers from node:http2 / node:http / undici -> HeaderMap without pseudo and hop-by-hop headers. */
export function toHeaderMap(h: IncomingHttpHeaders | Record<string, string | string[] | number | undefined>): HeaderMap {
  const out: HeaderMap = {};
  for (const k in h) {
    if (k.charCodeAt(0) === 58 /* ':' */ || HOP_BY_HOP.has(k)) continue;
    const v = h[k];
    if (v === undefined) continue;
    out[k] = typeof v === 'number' ? String(v) : v;
  }
  return out;
}

/** Resolves with the trailers once the body ends (or closes early: then with what arrived, usually none). */
export function trailersWhenDone(body: Readable, read: () => HeaderMap | undefined): Promise<HeaderMap> {
  return new Promise((resolve) => {
    const done = (): void => {
      body.off('end', done);
      body.off('close', done);
      resolve(read() ?? {});
    };
    body.once('end', done);
    body.once('close', done);
  });
}
