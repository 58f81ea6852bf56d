// The ADS clients of bench/control-scale, in their own process (so their decoding
// does not count as control-plane CPU). Each client subscribes like a weft proxy:
// node id per docs/architecture.md, LDS and CDS wildcard, EDS for the EDS clusters
// CDS names, RDS http_proxy, ACKs every response; it reads gzip (client_features, as
// a proxy says) and inflates what comes compressed. A delta client also says it reads
// VHDS (as a proxy does) and subscribes http_proxy's virtual hosts. The gRPC stream is node:http2 with
// the 5-byte message framing done here (RawAdsStream) and responses are read with a
// tiny wire reader, not decoded. Driven by its parent over IPC:
//   {type:'start', target, nodes:[{id, pod, ns, sa, ip}], protocol} -> {type:'synced', ms, count, cpuS} when all have CDS, EDS, LDS and RDS (and delta: VHDS)
// protocol 'delta' (as weft's proxies speak by default: subscriptions by name, ACKs by
// nonce, responses of what changed) or 'sotw' (state of the world).
//   {type:'watch', marker, t0Us, profile?} -> {type:'watching', cpuS}, then {type:'changed', latenciesMs[], missing, cpuS}
//     once all saw marker (or on 'report'); with `profile`, a CPU profile of that span is written there
// cpuS is this process's CPU time so far (user + system), so the parent can report
// the clients' CPU and tell whether they, not the control plane, were the limit.
// The parent may run several of these, each with a share of the nodes.
import http2 from 'node:http2';
import inspector from 'node:inspector/promises';
import fs from 'node:fs';
import zlib from 'node:zlib';
import { ADS_GZIP_FEATURE, ADS_SERVICE, VHDS_FEATURE } from '../src/xds/ads-service.js';
import { CONTROL_FLOW_WINDOW_BYTES } from '../src/proxy/core/control-channel.js';
import { TYPE, messageType } from '../src/xds/codec.js';
import { deltaRequest, discoveryRequest, namesField, readCluster, readDeltaResponse, readDiscoveryResponse } from './pbwire.js';

interface NodeSpec {
  id: string;
  pod: string;
  ns: string;
  sa: string;
  ip: string;
}
type Msg = { type: 'start'; target: string; nodes: NodeSpec[]; connectionsPerChannel: number; protocol: 'delta' | 'sotw' } | { type: 'watch'; marker: string; t0Us: number; profile?: string } | { type: 'report' };

const nowUs = (): number => Number(process.hrtime.bigint()) / 1000;
const cpuS = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const send = (m: Record<string, unknown>): void => void process.send!({ ...m, cpuS: cpuS() });

let marker: Buffer | undefined;
let t0Us = 0;
const changedAt = new Map<number, number>();
let total = 0;
const syncedAt = new Map<number, number>();
let startUs = 0;
let changeReported = false;

/** This process's CPU profile of one change (the parent's --profile), written before 'changed' is sent. */
let profiling: { session: inspector.Session; file: string } | undefined;

async function startProfile(file: string): Promise<void> {
  const session = new inspector.Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  profiling = { session, file };
}

function maybeReportChange(force = false): void {
  if (changeReported || !marker) return;
  if (changedAt.size < total && !force) return;
  changeReported = true;
  const msg = { type: 'changed', latenciesMs: [...changedAt.values()].map((t) => (t - t0Us) / 1000), missing: total - changedAt.size };
  const p = profiling;
  profiling = undefined;
  if (!p) return send(msg);
  void p.session
    .post('Profiler.stop')
    .then(({ profile }) => fs.writeFileSync(p.file, JSON.stringify(profile)))
    .catch((e: unknown) => process.stderr.write(`ads-clients: profile ${p.file}: ${String(e)}\n`))
    .finally(() => {
      p.session.disconnect();
      send(msg);
    });
}

/**
 * One ADS stream on node:http2 with gRPC's framing done here (a 5-byte prefix per message),
 * not through grpc-js: the simulated proxies share two processes, and grpc-js's per-message
 * layers (filters, a promise per message for decompression, object-mode streams) made them,
 * not the control plane, the limit of a routing change (2,000 x 300 KB). Every byte still
 * goes through HTTP/2 and each response is assembled whole before it is read, as a proxy does.
 */
class RawAdsStream {
  readonly #stream: http2.ClientHttp2Stream;
  #chunks: Buffer[] = [];
  #have = 0;
  #encoding = 'identity';
  constructor(session: http2.ClientHttp2Session, methodPath: string, onMessage: (msg: Buffer) => void) {
    this.#stream = session.request({ ':method': 'POST', ':path': methodPath, 'content-type': 'application/grpc', te: 'trailers' });
    this.#stream.on('error', () => {});
    this.#stream.on('response', (headers) => void (this.#encoding = String(headers['grpc-encoding'] ?? 'identity')));
    this.#stream.on('data', (chunk: Buffer) => {
      this.#chunks.push(chunk);
      this.#have += chunk.length;
      while (this.#have >= 5) {
        const head = this.#chunks[0]!.length >= 5 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
        const compressed = head[0] === 1;
        if (compressed && this.#encoding !== 'gzip') return void this.#stream.destroy(new Error(`a compressed response with grpc-encoding ${this.#encoding}`));
        const len = head.readUInt32BE(1);
        if (this.#have < 5 + len) return;
        const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks, this.#have);
        const rest = all.subarray(5 + len);
        this.#chunks = rest.length ? [rest] : [];
        this.#have = rest.length;
        const body = all.subarray(5, 5 + len);
        // Inflated here, synchronously: a proxy's grpc-js inflates in zlib's thread pool, but
        // with 1,000 streams in a process that pool's handoffs cost 3x the inflating itself.
        onMessage(compressed ? gunzipWhole(body) : body);
      }
    });
  }
  write(body: Buffer): void {
    const frame = Buffer.allocUnsafe(5 + body.length);
    frame[0] = 0;
    frame.writeUInt32BE(body.length, 1);
    body.copy(frame, 5);
    this.#stream.write(frame);
  }
}

/**
 * gunzip into one buffer of the size gzip's trailer gives (ISIZE: the length mod 2^32),
 * not zlib's 16 KB chunks joined at the end: a quarter less time per 300 KB response.
 */
function gunzipWhole(gz: Buffer): Buffer {
  const size = gz.length >= 18 ? gz.readUInt32LE(gz.length - 4) : 0;
  return zlib.gunzipSync(gz, { chunkSize: Math.max(64, Math.min(size, 64 * 1024 * 1024)) });
}

/** The time a client first saw the watched marker (one change's latency), and whether it now has the `types` types it asks for. */
function seen(idx: number, buf: Buffer, got: Set<string>, typeUrl: string, types: number): void {
  if (marker && !changedAt.has(idx) && buf.indexOf(marker) >= 0) {
    changedAt.set(idx, nowUs());
    maybeReportChange();
  }
  // Synced once it has every type it asked for.
  if (!syncedAt.has(idx) && got.add(typeUrl).size === types) {
    syncedAt.set(idx, nowUs());
    if (syncedAt.size === total) send({ type: 'synced', ms: (nowUs() - startUs) / 1000, count: total });
  }
}

function startClient(idx: number, session: http2.ClientHttp2Session, n: NodeSpec): void {
  const call = new RawAdsStream(session, ADS_SERVICE.streamAggregatedResources.path, (buf) => onData(buf));
  let edsNames: string[] = [];
  let edsField = namesField([]);
  let edsSubscribed = false;
  let rdsSubscribed = false;
  const got = new Set<string>();
  const onData = (buf: Buffer): void => {
    const r = readDiscoveryResponse(buf);
    let names: Buffer | undefined;
    let edsChanged = false;
    if (r.typeUrl === TYPE.cluster) {
      const next = r.resources.map(readCluster).filter((c) => c.eds).map((c) => c.name).sort();
      edsChanged = next.join('\n') !== edsNames.join('\n');
      edsNames = next;
      if (edsChanged) edsField = namesField(edsNames);
    } else if (r.typeUrl === TYPE.endpoint) {
      names = edsField;
    } else if (r.typeUrl === TYPE.route) names = rdsField;
    seen(idx, buf, got, r.typeUrl, 4);
    call.write(discoveryRequest({ versionInfo: r.versionInfo, typeUrl: r.typeUrl, nonce: r.nonce, ...(names ? { names } : {}) }));
    if (r.typeUrl === TYPE.cluster && edsNames.length && (!edsSubscribed || edsChanged)) {
      edsSubscribed = true;
      call.write(discoveryRequest({ typeUrl: TYPE.endpoint, names: edsField }));
    }
    if (r.typeUrl === TYPE.listener && !rdsSubscribed) {
      rdsSubscribed = true;
      call.write(discoveryRequest({ typeUrl: TYPE.route, names: rdsField }));
    }
  };
  call.write(discoveryRequest({ node: encodedNode(n), typeUrl: TYPE.cluster }));
  call.write(discoveryRequest({ typeUrl: TYPE.listener }));
}

/**
 * A delta client: CDS and LDS wildcard, EDS by the EDS clusters it holds (subscribing and
 * unsubscribing the difference as CDS changes), RDS http_proxy, then VHDS http_proxy (its
 * virtual hosts); an ACK is the nonce.
 */
function startDeltaClient(idx: number, session: http2.ClientHttp2Session, n: NodeSpec): void {
  const call = new RawAdsStream(session, ADS_SERVICE.deltaAggregatedResources.path, (buf) => onData(buf));
  const edsClusters = new Set<string>();
  const subscribed = new Set<string>();
  let rdsSubscribed = false;
  let vhdsSubscribed = false;
  const got = new Set<string>();
  const onData = (buf: Buffer): void => {
    const r = readDeltaResponse(buf);
    seen(idx, buf, got, r.typeUrl, 5);
    call.write(deltaRequest({ typeUrl: r.typeUrl, nonce: r.nonce }));
    if (r.typeUrl === TYPE.cluster) {
      for (const name of r.removed) edsClusters.delete(name);
      for (const value of r.resources) {
        const c = readCluster(value);
        if (c.eds) edsClusters.add(c.name);
        else edsClusters.delete(c.name);
      }
      const subscribe = [...edsClusters].filter((c) => !subscribed.has(c));
      const unsubscribe = [...subscribed].filter((c) => !edsClusters.has(c));
      for (const c of subscribe) subscribed.add(c);
      for (const c of unsubscribe) subscribed.delete(c);
      if (subscribe.length || unsubscribe.length) call.write(deltaRequest({ typeUrl: TYPE.endpoint, subscribe: subscribe.sort(), unsubscribe }));
    }
    if (r.typeUrl === TYPE.listener && !rdsSubscribed) {
      rdsSubscribed = true;
      call.write(deltaRequest({ typeUrl: TYPE.route, subscribe: ['http_proxy'] }));
    }
    // The route config comes with vhds (this client says it reads VHDS): its virtual hosts by its name.
    if (r.typeUrl === TYPE.route && !vhdsSubscribed) {
      vhdsSubscribed = true;
      call.write(deltaRequest({ typeUrl: TYPE.virtualHost, subscribe: ['http_proxy'] }));
    }
  };
  call.write(deltaRequest({ node: encodedNode(n, [VHDS_FEATURE]), typeUrl: TYPE.cluster }));
  call.write(deltaRequest({ typeUrl: TYPE.listener }));
}

function encodedNode(n: NodeSpec, features: string[] = []): Buffer {
  const node = {
    id: n.id,
    cluster: `${n.pod}.${n.ns}`,
    userAgentName: 'weft-bench',
    clientFeatures: [ADS_GZIP_FEATURE, ...features],
    metadata: {
      fields: {
        NAMESPACE: { stringValue: n.ns },
        POD_NAME: { stringValue: n.pod },
        SERVICE_ACCOUNT: { stringValue: n.sa },
        INSTANCE_IPS: { stringValue: n.ip },
      },
    },
  };
  const nodeType = messageType('envoy.config.core.v3.Node');
  return Buffer.from(nodeType.encode(nodeType.fromObject(node)).finish());
}

const rdsField = namesField(['http_proxy']);

process.on('message', (msg: Msg) => {
  if (msg.type === 'start') {
    total = msg.nodes.length;
    startUs = nowUs();
    let session: http2.ClientHttp2Session | undefined;
    msg.nodes.forEach((n, i) => {
      if (i % msg.connectionsPerChannel === 0) {
        // The windows a proxy grants the control plane (stream and connection).
        session = http2.connect(`http://${msg.target}`, { settings: { initialWindowSize: CONTROL_FLOW_WINDOW_BYTES } });
        const s = session;
        s.once('connect', () => s.setLocalWindowSize(CONTROL_FLOW_WINDOW_BYTES));
        session.on('error', () => {});
      }
      (msg.protocol === 'sotw' ? startClient : startDeltaClient)(i, session!, n);
    });
  } else if (msg.type === 'watch') {
    marker = Buffer.from(msg.marker);
    t0Us = msg.t0Us;
    changedAt.clear();
    changeReported = false;
    if (msg.profile) void startProfile(msg.profile).then(() => send({ type: 'watching' }));
    else send({ type: 'watching' });
  } else if (msg.type === 'report') {
    if (syncedAt.size < total) send({ type: 'synced', ms: -1, count: syncedAt.size });
    maybeReportChange(true);
  }
});
process.on('disconnect', () => process.exit(0));
