// The pooled HTTP/2 session and stream resets. Node's http2 server (nghttp2 >= 1.57)
// answers more than ~1000 received RST_STREAM frames (then ~33/s) with
// GOAWAY(INTERNAL_ERROR), which destroys the client's session and every stream on it.
// So the pool must not reset streams that already completed, and a stream the server's
// GOAWAY says it never processed must be retried rather than failed.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import { Readable } from 'node:stream';
import type { AddressInfo } from 'node:net';
import { createClusterManager } from '../../src/proxy/data/upstream/index.js';
import { UpstreamError, type ClusterManager } from '../../src/proxy/data/upstream/types.js';
import { TestIdentity } from '../helpers/pki.js';
import { cluster, get, INFO, maps, readAll } from './helpers/xds.js';

const C = 'inbound|9191||';
const G = 'inbound|9192||';

function listen(server: http2.Http2Server): Promise<number> {
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));
}

describe('h2 pool: stream resets', () => {
  let h2: http2.Http2Server;
  let sessions = 0;
  const resets: number[] = [];
  let goawayServer: http2.Http2Server;
  let goawaySessions = 0;
  let cm: ClusterManager;
  /** Streams seen per /refuse-once path: the first is refused (REFUSED_STREAM), the next echoes its body. */
  const refusals = new Map<string, number>();

  before(async () => {
    h2 = http2.createServer();
    h2.on('session', () => sessions++);
    h2.on('stream', (stream, headers) => {
      stream.on('error', () => {});
      stream.on('close', () => {
        if (stream.rstCode !== http2.constants.NGHTTP2_NO_ERROR) resets.push(stream.rstCode);
      });
      const p = String(headers[':path']);
      if (p.startsWith('/refuse-once')) {
        refusals.set(p, (refusals.get(p) ?? 0) + 1);
        if (refusals.get(p) === 1) return void stream.close(http2.constants.NGHTTP2_REFUSED_STREAM);
        const chunks: Buffer[] = [];
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => {
          stream.respond({ ':status': 200 });
          stream.end(`echo ${Buffer.concat(chunks).toString()}`);
        });
        return;
      }
      if (headers[':path'] === '/slow') {
        stream.respond({ ':status': 200 });
        stream.write('first ');
        return; // never ends: the client cancels it
      }
      stream.respond({ ':status': 200 });
      stream.end(`ok ${String(headers[':path'])}`);
    });

    // Holds /hold; when the third stream arrives, says GOAWAY(INTERNAL_ERROR) with the first stream as the last processed one.
    goawayServer = http2.createServer();
    goawayServer.on('session', (session) => {
      goawaySessions++;
      session.on('error', () => {});
      const n = goawaySessions;
      let streams = 0;
      session.on('stream', (stream, headers) => {
        stream.on('error', () => {});
        if (n > 1) {
          stream.respond({ ':status': 200 });
          stream.end(`retried ${String(headers[':path'])}`);
          return;
        }
        streams++;
        if (streams === 3) session.goaway(http2.constants.NGHTTP2_INTERNAL_ERROR, 1);
      });
    });

    cm = createClusterManager(INFO, new TestIdentity());
    cm.update(
      ...maps([
        cluster(C, { type: 'STATIC', endpoints: [{ address: '127.0.0.1', port: await listen(h2) }], protocol: 'h2' }),
        cluster(G, { type: 'STATIC', endpoints: [{ address: '127.0.0.1', port: await listen(goawayServer) }], protocol: 'h2' }),
      ]),
    );
  });

  after(async () => {
    await cm.close();
    await new Promise<void>((r) => h2.close(() => r()));
    await new Promise<void>((r) => goawayServer.close(() => r()));
  });

  it('aborting the signal after a complete response resets nothing; 1500 requests stay on one session', { timeout: 15_000 }, async () => {
    const before = sessions;
    let ok = 0;
    const failures: string[] = [];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < 1500) {
        const i = next++;
        const ac = new AbortController();
        try {
          const res = await cm.request(C, get(`/r${i}`), { signal: ac.signal });
          const body = (await readAll(res.body)).toString();
          if (body === `ok /r${i}`) ok++;
          else failures.push(`#${i}: ${body}`);
        } catch (err) {
          failures.push(`#${i}: ${(err as Error).message}`);
        }
        // What the router does when the downstream response closes.
        ac.abort();
      }
    };
    await Promise.all(Array.from({ length: 4 }, worker));
    assert.deepEqual(failures.slice(0, 5), [], `${failures.length} failed`);
    assert.equal(ok, 1500);
    assert.deepEqual(resets, []);
    assert.equal(sessions - before, 1);
    const s = cm.stats();
    assert.equal(s[`cluster.${C}.upstream_cx_total`], 1);
    assert.equal(s[`cluster.${C}.upstream_rq_2xx`], 1500);
  });

  it('aborting mid-body still cancels the stream (RST_STREAM CANCEL) and errors the body', async () => {
    resets.length = 0;
    const ac = new AbortController();
    const res = await cm.request(C, get('/slow'), { signal: ac.signal });
    const first = await new Promise<string>((resolve) => res.body.once('data', (c: Buffer) => resolve(c.toString())));
    assert.equal(first, 'first ');
    const ended = new Promise<string>((resolve) => {
      res.body.once('error', (err: Error) => resolve(`error ${err.name}`));
      res.body.once('end', () => resolve('end'));
    });
    ac.abort();
    assert.equal(await ended, 'error AbortError');
    for (let i = 0; i < 50 && resets.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(resets, [http2.constants.NGHTTP2_CANCEL]);
    resets.length = 0;
  });

  it('an aborted signal before the request sends nothing', async () => {
    const ac = new AbortController();
    ac.abort();
    await assert.rejects(cm.request(C, get('/never'), { signal: ac.signal }), (err: Error) => err.name === 'AbortError');
  });

  it('a refused stream is sent once more when its body is a whole Buffer (buffered for retries); a streamed body cannot be replayed and fails as UR', async () => {
    const res = await cm.request(C, { ...get('/refuse-once-buffer'), method: 'POST', body: Buffer.from('payload') });
    assert.equal((await readAll(res.body)).toString(), 'echo payload');
    assert.equal(refusals.get('/refuse-once-buffer'), 2);
    await assert.rejects(
      cm.request(C, { ...get('/refuse-once-stream'), method: 'POST', body: Readable.from([Buffer.from('streamed')]) }),
      (err: Error) => err instanceof UpstreamError && err.flag === 'UR',
    );
    assert.equal(refusals.get('/refuse-once-stream'), 1);
  });

  it('streams past the last stream id of an error GOAWAY are retried on a new session', async () => {
    const results = await Promise.allSettled([cm.request(G, get('/hold')), cm.request(G, get('/a')), cm.request(G, get('/b'))]);
    // Stream 1 was processed (the server may have acted on it): it fails. Streams 3 and 5 were not: retried.
    assert.equal(results[0]!.status, 'rejected');
    assert.ok((results[0] as PromiseRejectedResult).reason instanceof UpstreamError);
    const bodies = await Promise.all(
      results.slice(1).map(async (r) => {
        assert.equal(r.status, 'fulfilled');
        return (await readAll((r as PromiseFulfilledResult<{ body: NodeJS.ReadableStream }>).value.body as never)).toString();
      }),
    );
    assert.deepEqual(bodies.sort(), ['retried /a', 'retried /b']);
    assert.equal(goawaySessions, 2);
  });
});
