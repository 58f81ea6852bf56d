// The ADS server's write path at scale: responses assembled from shared bytes
// (ads-wire.ts), one response in flight per stream with later ones coalesced to
// the newest config (ads-connection.ts), and the in-flight byte budget across
// streams (ads-flow.ts); end to end, a client that stops reading.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import http2 from 'node:http2';
import zlib from 'node:zlib';
import * as grpc from '@grpc/grpc-js';
import { ADS_GZIP_FEATURE, ADS_SERVICE, type DiscoveryRequest, type DiscoveryResponse } from '../../src/xds/ads-service.js';
import { ADS_SERVER_SERVICE, COMPRESS_MIN_BYTES, decodeDiscoveryRequest, encodeDiscoveryResponse, encodingFor, framedResponse, markShared, resourcesField, writeFramedResponses } from '../../src/control/ads-wire.js';
import { buildNode } from '../../src/proxy/core/xds-node.js';
import { WriteBudget } from '../../src/control/ads-flow.js';
import { SubscriptionTable } from '../../src/control/ads-subscriptions.js';
import { ProxyConnection, type AdsStream } from '../../src/control/ads-connection.js';
import { AdsServer } from '../../src/control/ads.js';
import { buildSnapshot, type ProxySnapshot } from '../../src/control/snapshot.js';
import { createControlMetrics } from '../../src/control/metrics.js';
import { createMemoryLogger } from '../../src/control/log.js';
import { ResourceStore } from '../../src/control/store.js';
import { WorkloadRegistry } from '../../src/control/registry.js';
import { loadPipeline } from '../../src/control/pipeline.js';
import { nodeId } from '../../src/xds/names.js';
import { T, serviceResource, tmpStateDir, waitFor, workload } from './helpers.js';

const m = ADS_SERVICE.streamAggregatedResources;

/** A snapshot of `n` EDS clusters whose assignments carry `addr` (what changes between versions). */
function snapshot(n: number, addr: string): ProxySnapshot {
  const names = Array.from({ length: n }, (_, i) => `c${String(i).padStart(3, '0')}`);
  return buildSnapshot({
    listeners: [],
    routes: [],
    clusters: names.map((name) => ({ name, type: 'EDS', edsClusterConfig: { edsConfig: { ads: {} } } })),
    endpoints: names.map((clusterName, i) => ({
      clusterName,
      endpoints: [{ lbEndpoints: [{ endpoint: { address: { socketAddress: { address: i === 0 ? addr : '10.0.0.1', portValue: 8080 } } } }] }],
    })),
    secrets: [],
  });
}

/** A stream double: records each write and holds its completion until flush(). */
class HeldStream {
  readonly writes: { res: DiscoveryResponse; buf: Buffer; done: () => void }[] = [];
  ended = false;
  write(buf: Buffer, done: () => void): boolean {
    this.writes.push({ res: m.responseDeserialize(buf), buf, done });
    return true;
  }
  end(): void {
    this.ended = true;
  }
  /** Completes the oldest write not yet completed. */
  flush(): void {
    const w = this.writes.find((x) => !(x as { flushed?: boolean }).flushed) as { done: () => void; flushed?: boolean } | undefined;
    assert.ok(w, 'a write to flush');
    w.flushed = true;
    w.done();
  }
}

function conn(stream: HeldStream, budget = new WriteBudget(), subscriptions = new SubscriptionTable()): ProxyConnection {
  const node = { id: nodeId('sidecar', '10.0.0.9', 'p', 'default'), type: 'sidecar' as const, ip: '10.0.0.9', pod: 'p', namespace: 'default' };
  return new ProxyConnection(node, stream as unknown as AdsStream, { metrics: createControlMetrics(), log: createMemoryLogger(), budget, subscriptions });
}

/** A request as the server reads it off the wire (names kept as bytes). */
const wire = (req: DiscoveryRequest) => decodeDiscoveryRequest(m.requestSerialize(req));

const addrOf = (r: Record<string, unknown>): string =>
  (r as { endpoints: { lbEndpoints: { endpoint: { address: { socketAddress: { address: string } } } }[] }[] }).endpoints[0]!.lbEndpoints[0]!.endpoint.address.socketAddress.address;

test('ads wire: a hand-assembled DiscoveryResponse decodes like protobufjs encodes it; a request keeps its names bytes', () => {
  const snap = snapshot(3, '10.1.1.1');
  const resources = snap.EDS.all().resources;
  const mine = encodeDiscoveryResponse('v1', T.endpoint, 'n-1', [resourcesField(resources)]);
  const theirs = m.responseSerialize({ versionInfo: 'v1', typeUrl: T.endpoint, nonce: 'n-1', resources: resources.map((r) => r.object) });
  assert.deepEqual(m.responseDeserialize(mine), m.responseDeserialize(theirs));
  assert.equal(mine.length, theirs.length);
  // Empty strings are proto3 defaults: left out, read back as ''.
  const empty = m.responseDeserialize(encodeDiscoveryResponse('', T.endpoint, 'n', []));
  // Runs concatenate: two halves give the same response as the whole.
  assert.deepEqual(encodeDiscoveryResponse('v1', T.endpoint, 'n-1', [resourcesField(resources.slice(0, 1)), resourcesField(resources.slice(1))]), mine);
  assert.equal(empty.versionInfo ?? '', '');
  assert.deepEqual(empty.resources ?? [], []);

  const req: DiscoveryRequest = {
    versionInfo: 'v1',
    node: { id: 'sidecar~10.0.0.9~p.default~default.svc.cluster.local', cluster: 'p.default', metadata: { fields: { NAMESPACE: { stringValue: 'default' } } } },
    resourceNames: ['b', 'a'],
    typeUrl: T.endpoint,
    responseNonce: 'n-1',
    errorDetail: { code: 3, message: 'bad' },
  };
  const wire = decodeDiscoveryRequest(m.requestSerialize(req));
  const ref = m.requestDeserialize(m.requestSerialize(req));
  assert.deepEqual(
    { versionInfo: wire.versionInfo, node: wire.node, resourceNames: wire.resourceNames, typeUrl: wire.typeUrl, responseNonce: wire.responseNonce, errorDetail: wire.errorDetail },
    { versionInfo: ref.versionInfo, node: ref.node, resourceNames: ref.resourceNames, typeUrl: ref.typeUrl, responseNonce: ref.responseNonce, errorDetail: ref.errorDetail },
  );
  const again = decodeDiscoveryRequest(m.requestSerialize({ typeUrl: T.endpoint, resourceNames: ['b', 'a'], responseNonce: 'n-2' }));
  assert.ok(again.resourceNamesBytes.equals(wire.resourceNamesBytes), 'the same names give the same bytes');
  assert.equal(decodeDiscoveryRequest(m.requestSerialize({ typeUrl: T.cluster })).resourceNames, undefined);
  assert.throws(() => decodeDiscoveryRequest(Buffer.from([0x1a, 0x05, 0x61])), /truncated/);
});

test('ads wire: a response is framed once, in its own allocation, and the installed grpc-js writes that frame as it is to every stream', async () => {
  const resources = snapshot(3, '10.1.1.1').EDS.all().resources;
  const msg = encodeDiscoveryResponse('v1', T.endpoint, 'n-1', [resourcesField(resources)]);
  const framed = framedResponse(msg)!;
  assert.ok(framed, 'made by encodeDiscoveryResponse: has its frame');
  assert.equal(framed[0], 0, 'not compressed');
  assert.equal(framed.readUInt32BE(1), msg.length);
  assert.ok(framed.buffer === msg.buffer && framed.byteOffset + 5 === msg.byteOffset, 'the message is a view of the frame');
  assert.equal(framedResponse(Buffer.from(msg)), undefined, 'any other Buffer goes the usual way');

  const hooked: boolean[] = [];
  const serialized: Buffer[] = [];
  const server = new grpc.Server();
  server.addService(ADS_SERVER_SERVICE, {
    streamAggregatedResources: (call: AdsStream) => {
      // A grpc-js that is no longer shaped as expected fails here, not silently copying again.
      hooked.push(writeFramedResponses(call));
      serialized.push((call as unknown as { call: { serializeMessage(v: unknown): Buffer } }).call.serializeMessage(msg));
      call.on('data', () => call.write(msg));
      call.on('end', () => call.end());
    },
  });
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    const got: DiscoveryResponse[][] = [[], []];
    const calls = got.map((into) => {
      const call = client.makeBidiStreamRequest<DiscoveryRequest, DiscoveryResponse>(m.path, m.requestSerialize, m.responseDeserialize, new grpc.Metadata());
      call.on('data', (r: DiscoveryResponse) => into.push(r));
      call.on('error', () => {});
      call.write({ typeUrl: T.endpoint });
      call.write({ typeUrl: T.endpoint, versionInfo: 'v1', responseNonce: 'n-1' });
      return call;
    });
    await waitFor(() => got.every((g) => g.length === 2), 3000, 'two responses on each stream');
    assert.deepEqual(hooked, [true, true]);
    for (const b of serialized) assert.equal(b, framed, 'grpc-js is handed the frame itself');
    const want = m.responseDeserialize(msg);
    for (const g of got) for (const r of g) assert.deepEqual(r, want);
    for (const c of calls) c.end();
  } finally {
    client.close();
    server.forceShutdown();
  }
});

test('ads wire: a shared response of 4 KiB or more is gzipped once for the streams that read gzip; a proxy\'s own, a small one, or a stream without the feature get it uncompressed', () => {
  const big = encodeDiscoveryResponse('v1', T.endpoint, 'n-1', [resourcesField(snapshot(200, '10.1.1.1').EDS.all().resources)]);
  const own = encodeDiscoveryResponse('v1', T.endpoint, 'n-2', [resourcesField(snapshot(200, '10.1.1.2').EDS.all().resources)]);
  const small = encodeDiscoveryResponse('v1', T.endpoint, 'n-3', [resourcesField(snapshot(1, '10.1.1.1').EDS.all().resources)]);
  assert.ok(big.length > 4 * COMPRESS_MIN_BYTES && small.length < COMPRESS_MIN_BYTES, `${big.length} ${small.length}`);
  markShared(big);
  markShared(small);
  const z = framedResponse(big, 'gzip')!;
  assert.equal(z[0], 1, 'flagged compressed');
  assert.equal(z.readUInt32BE(1), z.length - 5);
  assert.ok(z.length < big.length / 4, `compressed ${big.length} -> ${z.length}`);
  assert.deepEqual(zlib.gunzipSync(z.subarray(5)), big, 'gzip of the message itself');
  assert.equal(framedResponse(big, 'gzip'), z, 'made once, then reused for every stream');
  assert.equal(framedResponse(big), framedResponse(big, undefined));
  assert.equal(framedResponse(big)![0], 0, 'a stream that does not read gzip gets the plain frame');
  assert.equal(framedResponse(own, 'gzip')![0], 0, 'not shared: not worth compressing');
  assert.equal(framedResponse(small, 'gzip')![0], 0, 'under the threshold');

  assert.equal(encodingFor(buildNode({ type: 'sidecar', ip: '10.0.0.1', pod: 'p', namespace: 'ns', serviceAccount: 'sa', labels: {} })), 'gzip', "weft's proxy says it reads gzip");
  assert.equal(encodingFor({ id: 'x', clientFeatures: ['envoy.lb.does_not_support_overprovisioning'] }), undefined);
  assert.equal(encodingFor({ id: 'x' }), undefined, 'Envoy and gRPC clients do not say so: uncompressed');
  assert.equal(encodingFor(undefined), undefined);
});

test('ads flow: one response in flight per stream; changes meanwhile coalesce to the newest version, EDS as the changes since what was sent', () => {
  const s = new HeldStream();
  const c = conn(s);
  c.setSnapshot(snapshot(3, '10.1.1.1'));
  c.handleRequest({ typeUrl: T.cluster });
  c.handleRequest({ typeUrl: T.listener });
  const edsNames = ['c000', 'c001', 'c002'];
  c.handleRequest({ typeUrl: T.endpoint, resourceNames: edsNames });
  assert.equal(s.writes.length, 1, 'the CDS answer is in flight; LDS and EDS wait');
  assert.equal(s.writes[0]!.res.typeUrl, T.cluster);
  assert.equal(c.blocked, true);
  s.flush();
  // Then in push order (make-before-break): EDS, then LDS (an empty wildcard answer: no listeners).
  assert.deepEqual(s.writes.map((w) => w.res.typeUrl), [T.cluster, T.endpoint]);
  const eds0 = s.writes[1]!.res;
  assert.equal(eds0.resources.length, 3);
  c.handleRequest({ typeUrl: T.endpoint, resourceNames: edsNames, versionInfo: eds0.versionInfo, responseNonce: eds0.nonce });
  s.flush();
  assert.deepEqual(s.writes.map((w) => w.res.typeUrl), [T.cluster, T.endpoint, T.listener]);

  // Three new versions while a response (LDS) is still in flight: nothing more is written...
  for (const a of ['10.2.2.2', '10.3.3.3', '10.4.4.4']) c.setSnapshot(snapshot(3, a));
  assert.equal(s.writes.length, 3);
  // ...and once it flushes, only the newest goes, with only the assignment that changed since eds0.
  s.flush();
  assert.equal(s.writes.length, 4);
  const eds1 = s.writes[3]!.res;
  assert.deepEqual(eds1.resources.map((r) => [r['clusterName'], addrOf(r)]), [['c000', '10.4.4.4']]);
  assert.equal(eds1.versionInfo, snapshot(3, '10.4.4.4').EDS.select(edsNames).version);
  s.flush();
  assert.equal(s.writes.length, 4, 'nothing else to send');
  // A stale ACK (older nonce) is ignored; the newest one is acknowledged.
  c.handleRequest({ typeUrl: T.endpoint, resourceNames: edsNames, versionInfo: eds0.versionInfo, responseNonce: eds0.nonce });
  c.handleRequest({ typeUrl: T.endpoint, resourceNames: edsNames, versionInfo: eds1.versionInfo, responseNonce: eds1.nonce });
  assert.equal(c.status(true).types.EDS.status, 'SYNCED');
  assert.equal(c.status(true).types.EDS.ackedVersion, eds1.versionInfo);

  // Back to an earlier content while a write is in flight: the stream ends on it, not on what it replaced.
  c.setSnapshot(snapshot(3, '10.5.5.5'));
  c.setSnapshot(snapshot(3, '10.6.6.6'));
  c.setSnapshot(snapshot(3, '10.4.4.4'));
  assert.equal(s.writes.length, 5, 'the first change goes at once (nothing was in flight)');
  s.flush();
  const last = s.writes.at(-1)!.res;
  assert.equal(last.versionInfo, eds1.versionInfo);
  assert.equal(addrOf(last.resources[0]!), '10.4.4.4');
});

test('ads flow: streams asking for the same names share one subscription; an ACK naming others re-answers, a reordered one does not', () => {
  const subs = new SubscriptionTable();
  const budget = new WriteBudget();
  const streams = [new HeldStream(), new HeldStream()];
  const conns = streams.map((s) => conn(s, budget, subs));
  const names = ['c000', 'c001'];
  const snap = snapshot(3, '10.1.1.1'); // one generation, as proxies of one namespace share
  for (const c of conns) {
    c.setSnapshot(snap);
    c.handleRequest(wire({ typeUrl: T.endpoint, resourceNames: names }));
  }
  assert.equal(subs.size, 1, 'one shared EDS subscription for both streams');
  const [s0, s1] = streams;
  assert.equal(s0!.writes[0]!.buf, s1!.writes[0]!.buf, 'the same response Buffer (encoded once) for both');
  s0!.flush();
  const eds = s0!.writes[0]!.res;
  assert.equal(eds.resources.length, 2);
  // A re-request of the same version is answered again, with a nonce of its own.
  conns[1]!.handleRequest(wire({ typeUrl: T.endpoint, resourceNames: names }));
  s1!.flush();
  assert.equal(s1!.writes.length, 2);
  assert.equal(s1!.writes[1]!.res.versionInfo, eds.versionInfo);
  assert.notEqual(s1!.writes[1]!.res.nonce, s1!.writes[0]!.res.nonce);
  // The same names in another order: an ACK, nothing to send.
  conns[0]!.handleRequest(wire({ typeUrl: T.endpoint, resourceNames: ['c001', 'c000'], versionInfo: eds.versionInfo, responseNonce: eds.nonce }));
  assert.equal(s0!.writes.length, 1);
  assert.equal(conns[0]!.status(true).types.EDS.status, 'SYNCED');
  // A third name: the whole new selection goes (not just a diff).
  conns[0]!.handleRequest(wire({ typeUrl: T.endpoint, resourceNames: ['c000', 'c001', 'c002'], versionInfo: eds.versionInfo, responseNonce: eds.nonce }));
  assert.equal(s0!.writes.length, 2);
  assert.deepEqual(s0!.writes[1]!.res.resources.map((r) => r['clusterName']), ['c000', 'c001', 'c002']);
  assert.equal(subs.size, 2);
  for (const c of conns) c.markClosed();
  assert.equal(subs.size, 0, 'closed streams give their subscriptions back');
});

test('ads flow: the budget queues streams in order, each writes its newest config on its turn; stalled writes stop counting; a closed stream leaves the queue', async () => {
  const budget = new WriteBudget(1, 150); // room for one write at a time
  const streams = [new HeldStream(), new HeldStream(), new HeldStream()];
  const conns = streams.map((s) => conn(s, budget));
  for (const c of conns) c.setSnapshot(snapshot(2, '10.1.1.1'));
  for (const c of conns) c.handleRequest({ typeUrl: T.cluster });
  assert.deepEqual(streams.map((s) => s.writes.length), [1, 0, 0]);
  assert.equal(budget.waiting, 2);
  assert.ok(budget.inFlightBytes > 0);
  // The third stream closes while queued: it leaves the queue and never writes.
  conns[2]!.markClosed();
  assert.equal(budget.waiting, 1);
  // New config while waiting: the second stream's turn sends the newest.
  conns[1]!.setSnapshot(snapshot(4, '10.1.1.1'));
  streams[0]!.flush();
  assert.deepEqual(streams.map((s) => s.writes.length), [1, 1, 0]);
  assert.equal(streams[1]!.writes[0]!.res.resources.length, 4);
  // The second stream's write never flushes (a client that stopped reading): after stallMs it no longer
  // holds the budget, so the first stream writes again, while the second keeps its one message.
  conns[0]!.setSnapshot(snapshot(5, '10.1.1.1'));
  assert.equal(streams[0]!.writes.length, 1);
  await waitFor(() => streams[0]!.writes.length === 2, 2000, 'the stalled write to stop counting');
  assert.equal(conns[1]!.blocked, true);
  conns[1]!.setSnapshot(snapshot(6, '10.1.1.1'));
  assert.equal(streams[1]!.writes.length, 1, 'a stream with a write in flight writes nothing more');
  // Closing a stream with a write in flight gives its bytes back.
  streams[0]!.flush();
  conns[1]!.markClosed();
  assert.equal(budget.inFlightBytes, 0);
  budget.close();
  assert.equal(streams[2]!.writes.length, 0);
});

test('ads flow: streams already sent something go before streams that have nothing (a started sync finishes first)', () => {
  const budget = new WriteBudget(1, 60_000);
  const order: string[] = [];
  const release = budget.charge(10);
  budget.wait(() => order.push('new-1'));
  budget.wait(() => order.push('started-1'), true);
  budget.wait(() => order.push('new-2'));
  budget.wait(() => order.push('started-2'), true);
  assert.equal(budget.waiting, 4);
  release(); // nothing charges again, so every turn runs
  assert.deepEqual(order, ['started-1', 'started-2', 'new-1', 'new-2']);
  assert.equal(budget.waiting, 0);
  budget.close();
});

/** A raw HTTP/2 gRPC client for ADS whose reading can be stopped (so HTTP/2 flow control stalls the server's writes). */
class RawAdsClient {
  readonly session: http2.ClientHttp2Session;
  readonly stream: http2.ClientHttp2Stream;
  readonly received: DiscoveryResponse[] = [];
  /** Each received message's gRPC flag byte (1 = compressed) and size on the wire, in order. */
  readonly frames: { compressed: boolean; bytes: number }[] = [];
  headers: http2.IncomingHttpHeaders | undefined;
  #buf = Buffer.alloc(0);
  constructor(port: number) {
    this.session = http2.connect(`http://127.0.0.1:${port}`);
    this.session.on('error', () => {});
    this.stream = this.session.request({ ':method': 'POST', ':path': m.path, 'content-type': 'application/grpc', te: 'trailers' });
    this.stream.on('error', () => {});
    this.stream.on('response', (h) => void (this.headers = h));
    this.stream.on('data', (chunk: Buffer) => {
      this.#buf = Buffer.concat([this.#buf, chunk]);
      while (this.#buf.length >= 5 && this.#buf.length >= 5 + this.#buf.readUInt32BE(1)) {
        const len = this.#buf.readUInt32BE(1);
        const compressed = this.#buf[0] === 1;
        const body = this.#buf.subarray(5, 5 + len);
        if (compressed) assert.equal(this.headers?.['grpc-encoding'], 'gzip', 'a compressed message under grpc-encoding gzip');
        this.frames.push({ compressed, bytes: len });
        this.received.push(m.responseDeserialize(compressed ? zlib.gunzipSync(body) : body));
        this.#buf = this.#buf.subarray(5 + len);
      }
    });
  }
  send(req: DiscoveryRequest): void {
    const body = m.requestSerialize(req);
    const frame = Buffer.alloc(5 + body.length);
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    this.stream.write(frame);
  }
  close(): void {
    this.stream.close();
    this.session.close();
  }
}

/** A real AdsServer (real store, registry and pipeline) behind a grpc-js server on loopback. */
async function servedAds(serverOptions: grpc.ServerOptions = {}) {
  const stateDir = await tmpStateDir();
  const [store, registry, pipeline] = await Promise.all([ResourceStore.open(stateDir), WorkloadRegistry.open(stateDir), loadPipeline()]);
  const metrics = createControlMetrics();
  const log = createMemoryLogger();
  const ads = new AdsServer({
    store,
    registry,
    buildModel: pipeline.buildModel,
    generate: pipeline.generate,
    ...(pipeline.generateGroups ? { generateGroups: pipeline.generateGroups } : {}),
    trustDomain: 'cluster.local',
    rootCertsPem: ['-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n'],
    metrics,
    log,
    debounceMs: 5,
    writeStallMs: 60_000,
  });
  const server = new grpc.Server(serverOptions);
  server.addService(ADS_SERVER_SERVICE, ads.handlers());
  const port = await new Promise<number>((resolve, reject) => server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))));
  return { store, registry, metrics, log, ads, server, port };
}

test('ads flow: a proxy that stops reading holds one response while config keeps changing, then converges to the newest', async () => {
  const { store, registry, metrics, ads, server, port } = await servedAds();
  const client = new RawAdsClient(port);
  try {
    // 150 services: each CDS answer is ~100 KB, more than HTTP/2's initial 64 KB window.
    const svcs = Array.from({ length: 150 }, (_, i) => serviceResource('default', `s${i}`, 8080));
    await store.apply(svcs);
    await registry.put(workload('default', 'me', '10.0.0.9', { app: 'me' }));
    const node = { id: nodeId('sidecar', '10.0.0.9', 'me', 'default') };
    await waitFor(() => metrics.rebuilds.get() >= 2, 3000, 'the model');
    client.send({ node, typeUrl: T.cluster });
    await waitFor(() => client.received.length === 1, 3000, 'the first CDS');
    const first = client.received[0]!;
    client.send({ typeUrl: T.cluster, versionInfo: first.versionInfo, responseNonce: first.nonce });

    // Stop reading, then add services one by one: each rebuild changes CDS.
    client.stream.pause();
    for (let i = 0; i < 12; i++) {
      const rebuilds = metrics.rebuilds.get();
      await store.apply([serviceResource('default', `late${i}`, 8080)]);
      await waitFor(() => metrics.rebuilds.get() > rebuilds, 3000, `rebuild ${i}`);
      await new Promise((r) => setImmediate(r));
    }
    await waitFor(() => ads.writeStats.blockedStreams === 1, 3000, 'the stream to block');
    const pushes = metrics.xdsPushes.get({ type: 'CDS' });
    assert.ok(pushes <= 3, `a stalled stream is not written to on every change (${pushes} CDS pushes for 13 versions)`);
    assert.ok(ads.writeStats.inFlightBytes < 256 * 1024, `one response in flight (${ads.writeStats.inFlightBytes} bytes)`);

    // Reading again: the held response arrives, then the newest config, and nothing in between.
    client.stream.resume();
    const want = 150 + 12;
    const outbound = (r: DiscoveryResponse): number => r.resources.filter((x) => String(x['name']).startsWith('outbound|')).length;
    await waitFor(() => client.received.some((r) => outbound(r) === want), 5000, 'the newest CDS');
    const counts = client.received.map(outbound);
    assert.ok(counts.length <= 4, `coalesced: ${counts.join(', ')}`);
    for (let i = 1; i < counts.length; i++) assert.ok(counts[i]! >= counts[i - 1]!, `never an older version after a newer one: ${counts.join(', ')}`);
    assert.equal(counts.at(-1), want);
    assert.equal(ads.writeStats.inFlightBytes, 0);
  } finally {
    client.close();
    ads.close();
    await new Promise<void>((r) => server.tryShutdown(() => r()));
  }
});

test('ads: where the framed write cannot be hooked (a server interceptor wraps the calls), responses are copied as before and the control plane says so once', async () => {
  const { store, registry, metrics, log, ads, server, port } = await servedAds({ interceptors: [(_method, call) => new grpc.ServerInterceptingCall(call)] });
  const clients = [new RawAdsClient(port), new RawAdsClient(port)];
  try {
    await store.apply([serviceResource('default', 'api', 8080)]);
    await registry.put(workload('default', 'me', '10.0.0.9', { app: 'me' }));
    await waitFor(() => metrics.rebuilds.get() >= 1, 3000, 'the model');
    for (const c of clients) c.send({ node: { id: nodeId('sidecar', '10.0.0.9', 'me', 'default') }, typeUrl: T.cluster });
    const hasApi = (r: DiscoveryResponse): boolean => r.resources.some((x) => x['name'] === 'outbound|8080||api.default.svc.cluster.local');
    await waitFor(() => clients.every((c) => c.received.some(hasApi)), 3000, 'CDS with the service on both streams');
    const warnings = log.lines.filter((l) => l.includes('serializeMessage'));
    assert.equal(warnings.length, 1, log.lines.join('\n'));
    assert.match(warnings[0]!, /^warn .*copied per stream/);
  } finally {
    for (const c of clients) c.close();
    ads.close();
    await new Promise<void>((r) => server.tryShutdown(() => r()));
  }
});

test('ads: over the wire a proxy that reads gzip gets shared responses compressed (grpc-encoding gzip) and a grpc-js client decodes them; a client without the feature gets them plain', async () => {
  const { store, registry, metrics, ads, server, port } = await servedAds();
  const plain = new RawAdsClient(port);
  const raw = new RawAdsClient(port);
  const grpcClient = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
  try {
    // 60 services: the namespace's shared RDS (one virtual host each) is ~15 KB.
    const http = (name: string): ReturnType<typeof serviceResource> => {
      const r = serviceResource('default', name, 8080);
      return { ...r, spec: { ...r.spec, ports: [{ name: 'http', port: 8080, targetPort: 8080 }] } };
    };
    await store.apply(Array.from({ length: 60 }, (_, i) => http(`s${i}`)));
    await registry.put(workload('default', 'me', '10.0.0.9', { app: 'me' }));
    await waitFor(() => metrics.rebuilds.get() >= 1, 3000, 'the model');
    const id = nodeId('sidecar', '10.0.0.9', 'me', 'default');
    const rds = { typeUrl: T.route, resourceNames: ['http_proxy'] };
    plain.send({ node: { id }, ...rds });
    raw.send({ node: { id, clientFeatures: [ADS_GZIP_FEATURE] }, ...rds });
    const viaGrpc: DiscoveryResponse[] = [];
    const call = grpcClient.makeBidiStreamRequest<DiscoveryRequest, DiscoveryResponse>(m.path, m.requestSerialize, m.responseDeserialize, new grpc.Metadata());
    call.on('data', (r: DiscoveryResponse) => viaGrpc.push(r));
    call.on('error', () => {});
    call.write({ node: { id, clientFeatures: [ADS_GZIP_FEATURE] }, ...rds });
    const hosts = (r: DiscoveryResponse | undefined): number => ((r?.resources[0]?.['virtualHosts'] as unknown[]) ?? []).length;
    // 60 services and allow_any.
    await waitFor(() => [plain.received, raw.received, viaGrpc].every((got) => hosts(got.at(-1)) === 61), 3000, 'RDS with every service on the three streams');
    for (const c of [plain, raw]) c.frames.splice(0, c.frames.length - 1);

    assert.equal(plain.headers?.['grpc-encoding'], 'identity');
    assert.equal(plain.frames[0]!.compressed, false);
    assert.ok(plain.frames[0]!.bytes > COMPRESS_MIN_BYTES, `RDS is ${plain.frames[0]!.bytes} bytes`);
    assert.equal(raw.headers?.['grpc-encoding'], 'gzip');
    assert.equal(raw.frames[0]!.compressed, true);
    assert.ok(raw.frames[0]!.bytes * 4 < plain.frames[0]!.bytes, `${plain.frames[0]!.bytes} -> ${raw.frames[0]!.bytes} bytes on the wire`);
    for (const r of [raw.received.at(-1)!, viaGrpc.at(-1)!]) {
      assert.deepEqual(r.resources, plain.received.at(-1)!.resources, 'the same RouteConfiguration');
      assert.equal(r.nonce, plain.received.at(-1)!.nonce, 'one shared response');
    }
    call.end();
  } finally {
    plain.close();
    raw.close();
    grpcClient.close();
    ads.close();
    await new Promise<void>((r) => server.tryShutdown(() => r()));
  }
});
