// The ADS clients of bench/control-scale, in their own process (so their decoding
// does not count as control-plane CPU). Each client subscribes like a weft proxy:
// node id per docs/architecture.md, LDS and CDS wildcard, EDS for the EDS clusters
// CDS names, RDS http_proxy, ACKs every response. Responses are read with a tiny
// wire reader, not decoded. Driven by its parent over IPC:
//   {type:'start', target, nodes:[{id, pod, ns, sa, ip}]} -> {type:'synced', ms, count, cpuS} when all have CDS, EDS, LDS and RDS
//   {type:'watch', marker, t0Us, profile?} -> {type:'watching', cpuS}, then {type:'changed', latenciesMs[], missing, cpuS}
//     once all saw marker (or on 'report'); with `profile`, a CPU profile of that span is written there
// cpuS is this process's CPU time so far (user + system), so the parent can report
// the clients' CPU and tell whether they, not the control plane, were the limit.
// The parent may run several of these, each with a share of the nodes.
import * as grpc from '@grpc/grpc-js';
import inspector from 'node:inspector/promises';
import fs from 'node:fs';
import { ADS_SERVICE } from '../src/xds/ads-service.js';
import { TYPE, messageType } from '../src/xds/codec.js';
import { discoveryRequest, namesField, readCluster, readDiscoveryResponse } from './pbwire.js';

interface NodeSpec {
  id: string;
  pod: string;
  ns: string;
  sa: string;
  ip: string;
}
type Msg = { type: 'start'; target: string; nodes: NodeSpec[]; connectionsPerChannel: number } | { type: 'watch'; marker: string; t0Us: number; profile?: string } | { type: 'report' };

const nowUs = (): number => Number(process.hrtime.bigint()) / 1000;
const cpuS = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
const send = (m: Record<string, unknown>): void => void process.send!({ ...m, cpuS: cpuS() });
const raw = (b: Buffer): Buffer => b;
const m = ADS_SERVICE.streamAggregatedResources;

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

function startClient(idx: number, channel: grpc.Client, n: NodeSpec): void {
  const call = channel.makeBidiStreamRequest<Buffer, Buffer>(m.path, raw, raw, new grpc.Metadata());
  call.on('error', () => {});
  let edsNames: string[] = [];
  let edsField = namesField([]);
  let edsSubscribed = false;
  let rdsSubscribed = false;
  const got = new Set<string>();
  call.on('data', (buf: Buffer) => {
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
    if (marker && !changedAt.has(idx) && buf.indexOf(marker) >= 0) {
      changedAt.set(idx, nowUs());
      maybeReportChange();
    }
    // Synced once it has every type it asked for (CDS, EDS, LDS, RDS).
    if (!syncedAt.has(idx) && got.add(r.typeUrl).size === 4) {
      syncedAt.set(idx, nowUs());
      if (syncedAt.size === total) send({ type: 'synced', ms: (nowUs() - startUs) / 1000, count: total });
    }
    call.write(discoveryRequest({ versionInfo: r.versionInfo, typeUrl: r.typeUrl, nonce: r.nonce, ...(names ? { names } : {}) }));
    if (r.typeUrl === TYPE.cluster && edsNames.length && (!edsSubscribed || edsChanged)) {
      edsSubscribed = true;
      call.write(discoveryRequest({ typeUrl: TYPE.endpoint, names: edsField }));
    }
    if (r.typeUrl === TYPE.listener && !rdsSubscribed) {
      rdsSubscribed = true;
      call.write(discoveryRequest({ typeUrl: TYPE.route, names: rdsField }));
    }
  });
  const node = {
    id: n.id,
    cluster: `${n.pod}.${n.ns}`,
    userAgentName: 'weft-bench',
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
  call.write(discoveryRequest({ node: Buffer.from(nodeType.encode(nodeType.fromObject(node)).finish()), typeUrl: TYPE.cluster }));
  call.write(discoveryRequest({ typeUrl: TYPE.listener }));
}

const rdsField = namesField(['http_proxy']);

process.on('message', (msg: Msg) => {
  if (msg.type === 'start') {
    total = msg.nodes.length;
    startUs = nowUs();
    let channel: grpc.Client | undefined;
    msg.nodes.forEach((n, i) => {
      if (i % msg.connectionsPerChannel === 0)
        channel = new grpc.Client(msg.target, grpc.credentials.createInsecure(), {
          'grpc.use_local_subchannel_pool': 1,
          'grpc.max_receive_message_length': 256 * 1024 * 1024,
          'grpc.keepalive_time_ms': 300_000,
        });
      startClient(i, channel!, n);
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
