// A small SotW ADS server for tests: a real grpc-js server with ADS_SERVICE.
// It holds one config per type URL; it answers a new or changed subscription
// (when the client's version differs or the names changed) and pushes on set().
// Wildcard only when the first request of a type names nothing (xDS legacy wildcard).
// Every request is recorded so tests can check ACK/NACK, nonces and versions.
import grpc from '@grpc/grpc-js';
import { ADS_SERVICE, type DiscoveryRequest, type DiscoveryResponse } from '../../../src/xds/ads-service.js';
import { TYPE } from '../../../src/xds/codec.js';

type Stream = grpc.ServerDuplexStream<DiscoveryRequest, DiscoveryResponse>;
type Obj = Record<string, unknown>;

interface StreamState {
  id: number;
  stream: Stream;
  /** Per type: names subscribed ('*' for wildcard), last nonce sent. */
  subs: Map<string, { names: string[]; wildcard: boolean; sentNonce: string; sentVersion: string }>;
}

export interface RecordedRequest extends DiscoveryRequest {
  streamId: number;
}

function nameOf(typeUrl: string, r: Obj): string {
  return String(typeUrl === TYPE.endpoint ? r['clusterName'] : r['name']);
}

export class TestAdsServer {
  private server: grpc.Server | undefined;
  private nonceSeq = 0;
  private streamSeq = 0;
  readonly streams = new Set<StreamState>();
  readonly requests: RecordedRequest[] = [];
  readonly config = new Map<string, { version: string; resources: Obj[] }>();
  private waiters: Array<() => void> = [];
  port = 0;

  constructor(private readonly host = '127.0.0.1') {}

  /** Metadata of the last stream opened (e.g. authorization). */
  lastMetadata: grpc.Metadata | undefined;

  /** Starts on `port` (0 = any); with `tls`, serves TLS with that certificate. */
  async start(port = 0, tls?: { certPem: string; keyPem: string }): Promise<number> {
    const server = new grpc.Server();
    const creds = tls
      ? grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(tls.keyPem), cert_chain: Buffer.from(tls.certPem) }], false)
      : grpc.ServerCredentials.createInsecure();
    server.addService(ADS_SERVICE, { streamAggregatedResources: (s: Stream) => this.onStream(s) });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(`${this.host}:${port}`, creds, (err, p) => (err ? reject(err) : resolve(p))),
    );
    this.server = server;
    return this.port;
  }

  get address(): string {
    return `${this.host}:${this.port}`;
  }

  /** Kills the server and every stream at once (the control plane dies). */
  kill(): void {
    this.server?.forceShutdown();
    this.server = undefined;
    this.streams.clear();
  }

  /** Sets the config for a type and pushes it to subscribed streams. */
  set(typeUrl: string, version: string, resources: Obj[]): void {
    this.config.set(typeUrl, { version, resources });
    for (const st of this.streams) if (st.subs.has(typeUrl)) this.send(st, typeUrl);
  }

  private send(st: StreamState, typeUrl: string): void {
    const cfg = this.config.get(typeUrl);
    const sub = st.subs.get(typeUrl);
    if (!cfg || !sub) return;
    const wildcard = sub.wildcard || sub.names.includes('*');
    const resources = wildcard ? cfg.resources : cfg.resources.filter((r) => sub.names.includes(nameOf(typeUrl, r)));
    const nonce = `n${++this.nonceSeq}`;
    sub.sentNonce = nonce;
    sub.sentVersion = cfg.version;
    st.stream.write({ versionInfo: cfg.version, resources, typeUrl, nonce });
  }

  private onStream(stream: Stream): void {
    const st: StreamState = { id: ++this.streamSeq, stream, subs: new Map() };
    this.lastMetadata = stream.metadata;
    this.streams.add(st);
    stream.on('data', (req: DiscoveryRequest) => {
      this.requests.push({ ...req, streamId: st.id });
      const typeUrl = req.typeUrl ?? '';
      const names = [...(req.resourceNames ?? [])].sort();
      const prev = st.subs.get(typeUrl);
      const namesChanged = !prev || prev.names.join('\n') !== names.join('\n');
      if (prev) prev.names = names;
      else st.subs.set(typeUrl, { names, wildcard: names.length === 0, sentNonce: '', sentVersion: '' });
      const cfg = this.config.get(typeUrl);
      const isResponseToUs = prev && req.responseNonce && req.responseNonce === prev.sentNonce;
      if (req.errorDetail) {
        // NACK: nothing to send.
      } else if (cfg && (namesChanged || (!isResponseToUs && req.versionInfo !== cfg.version))) {
        this.send(st, typeUrl);
      }
      const w = this.waiters;
      this.waiters = [];
      for (const f of w) f();
    });
    stream.on('error', () => this.streams.delete(st));
    stream.on('end', () => {
      this.streams.delete(st);
      stream.end();
    });
  }

  /** Waits until a recorded request satisfies pred (bounded). */
  async waitForRequest(pred: (r: RecordedRequest) => boolean, timeoutMs = 5000): Promise<RecordedRequest> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = this.requests.find(pred);
      if (hit) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for a request; got ${this.requests.length}: ${JSON.stringify(this.requests.map((r) => [r.streamId, r.typeUrl?.split('.').pop(), r.versionInfo, r.responseNonce, r.resourceNames, r.errorDetail?.message]))}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 200));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}
