// HTTP/1.1 Upgrade (WebSocket and friends): a fresh connection per request (TLS with ALPN
// http/1.1 to mesh endpoints), one request with Upgrade, and on 101 the raw socket.
// Any other answer is an ordinary response and the connection closes after it.
import http, { type IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import { abortError, type Dialer, type DialTarget } from './dial.js';
import type { CancelSignal } from './cancel.js';
import { toHeaderMap, trailersWhenDone } from './http-headers.js';
import { UpstreamError, type HeaderMap, type UpstreamRequest, type UpstreamResponse } from './types.js';
import { Readable } from 'node:stream';

export async function upgradeRequest(target: DialTarget, dialer: Dialer, req: UpstreamRequest, signal: CancelSignal | undefined): Promise<UpstreamResponse> {
  const d = await dialer.dial(target, target.transport.kind === 'tls' ? ['http/1.1'] : undefined, signal);
  const headers: Record<string, string | string[]> = { ...req.headers, host: req.authority, connection: 'Upgrade', upgrade: req.upgrade ?? '' };
  return new Promise<UpstreamResponse>((resolve, reject) => {
    const creq = http.request({
      method: req.method,
      path: req.path,
      headers,
      createConnection: () => d.socket,
      // node:http reads only aborted, reason and add/removeEventListener of a signal.
      signal: signal as AbortSignal | undefined,
    });
    let settled = false;
    creq.once('upgrade', (res: IncomingMessage, socket: Socket, head: Buffer) => {
      settled = true;
      if (head.length > 0) socket.unshift(head);
      const h = toHeaderMap(res.headers);
      h['upgrade'] = res.headers.upgrade ?? req.upgrade ?? '';
      h['connection'] = 'Upgrade';
      resolve({
        status: res.statusCode ?? 101,
        headers: h,
        body: Readable.from([]),
        trailers: Promise.resolve({}),
        upgradedSocket: socket,
        endpoint: target.key,
        peerIdentity: d.peerIdentity,
      });
    });
    creq.once('response', (res: IncomingMessage) => {
      settled = true;
      res.on('error', noop);
      resolve({
        status: res.statusCode ?? 502,
        headers: toHeaderMap(res.headers),
        body: res,
        trailers: trailersWhenDone(res, (): HeaderMap => toHeaderMap(res.trailers)),
        endpoint: target.key,
        peerIdentity: d.peerIdentity,
      });
    });
    creq.once('error', (err: Error) => {
      if (settled) return;
      d.socket.destroy();
      if (signal?.aborted) reject(abortError(signal));
      else reject(new UpstreamError('UR', `${target.cluster} ${target.key}: upgrade failed: ${(err as NodeJS.ErrnoException).code ?? err.message}`));
    });
    if (Buffer.isBuffer(req.body)) creq.end(req.body);
    else if (req.body) req.body.pipe(creq);
    else creq.end();
  });
}

function noop(): void {}
