// The ADS server: state of the world (StreamAggregatedResources, ads-connection.ts)
// and delta (DeltaAggregatedResources, ads-delta.ts) over the same snapshots.
// Streams are identified by the first request's node id; config is regenerated
// after store or registry changes (debounced), and each proxy gets only the types
// whose content changed.
//
// At scale: generation is shared between proxies (the generator's groups, encoded
// once: see snapshot.ts); what changed in the store/registry decides which types
// are rebuilt (a workload's readiness -> EDS only; its identity or labels -> CDS
// too; the store -> everything; the changed workload's own proxy -> everything);
// pushes run in time-sliced batches (setImmediate between them) so the event loop
// keeps writing. Each stream has at most one response in flight and later ones
// coalesce to the newest config; the bytes in flight across streams are bounded
// (ads-stream.ts, ads-flow.ts). Responses are encoded by hand from the shared
// resource bytes and SotW ACKs repeating a subscription are not decoded (ads-wire.ts).
import * as grpc from '@grpc/grpc-js';
import type { MeshModel, Workload } from '../model/types.js';
import { formatFinding, type Finding } from '../resources/types.js';
import { isCredentialFinding } from '../model/credentials.js';
import type { DeltaDiscoveryRequest, DiscoveryRequest } from '../xds/ads-service.js';
import type { ResourceStore } from './store.js';
import type { WorkloadRegistry } from './registry.js';
import type { BuildModelFn, GenerateFn, GenerateGroupsFn } from './pipeline.js';
import type { ControlMetrics } from './metrics.js';
import type { Logger } from './log.js';
import { Debouncer } from './debounce.js';
import { WriteBudget } from './ads-flow.js';
import { bearer } from './ca-service.js';
import { ProxyConnection, type AdsStream } from './ads-connection.js';
import { DeltaConnection, type DeltaStream } from './ads-delta.js';
import type { AdsConnection, AdsProtocol, ProxyNode, ProxyStatus } from './ads-stream.js';
import { buildSnapshot, buildSnapshotFromGroups, XDS_TYPES, type ProxySnapshot, type XdsType } from './snapshot.js';
import { selects } from '../xds/mesh.js';
import { errorMessage } from './errors.js';
import { encodingFor, writeFramedResponses } from './ads-wire.js';
import { VHDS_FEATURE } from '../xds/ads-service.js';
import { classifyNode, configForNode, nodeServable, proxylessClientOf, type ProxylessGenerateFn } from './proxyless-node.js';

export const ADS_DEFAULTS = {
  debounceMs: 100,
  maxDebounceMs: 1000,
  /** A push batch runs this long before yielding to the event loop (setImmediate). */
  pushSliceMs: 10,
} as const;

const ALL_TYPES: ReadonlySet<XdsType> = new Set(XDS_TYPES);

export interface AdsServerOptions {
  store: ResourceStore;
  registry: WorkloadRegistry;
  buildModel: BuildModelFn;
  generate: GenerateFn;
  /** For proxyless gRPC clients (src/control/proxyless-node.ts); defaults to xds/proxyless.ts. */
  generateProxyless?: ProxylessGenerateFn;
  /** Grouped form of `generate` (shares encoded resources between proxies); `generate` is used when absent. */
  generateGroups?: GenerateGroupsFn;
  trustDomain: string;
  /** The mesh roots sent as the ROOTCA secret. */
  rootCertsPem: string[];
  /**
   * Checks a stream's bootstrap token (metadata `authorization: Bearer <token>`). A router
   * or sidecar gets its credentials (gateway certificates, DestinationRule client
   * certificates and CAs: private keys from Secrets) only when its token is valid for its
   * own namespace and pod, as Istio sends credentialName secrets only to an authenticated
   * proxy of the Secret's namespace. Absent: no proxy gets credentials.
   */
  verifyToken?: (token: string) => { ns: string; pod: string };
  metrics: ControlMetrics;
  log: Logger;
  debounceMs?: number;
  maxDebounceMs?: number;
  pushSliceMs?: number;
  /** Bytes of responses in flight across all streams before writes wait (ads-flow.ts FLOW_DEFAULTS). */
  maxInFlightBytes?: number;
  /** A write not flushed after this long stops counting against maxInFlightBytes. */
  writeStallMs?: number;
}

export interface PushStats {
  startedAt: number;
  modelMs: number;
  proxies: number;
  refreshMs: number;
  doneMs: number | undefined;
}

function wkey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

export class AdsServer {
  readonly #opts: AdsServerOptions;
  readonly #conns = new Set<AdsConnection>();
  readonly #debouncer: Debouncer;
  readonly #unsubscribe: (() => void)[] = [];
  #model: MeshModel | undefined;
  #findings: Finding[] = [];
  #closed = false;
  /** Workloads as of the last model build, to tell what a registry change changed. */
  #lastWorkloads = new Map<string, Workload>();
  #storeDirty = true;
  readonly #dirtyWorkloads = new Set<string>();
  /** Connections still to refresh, with the types to rebuild for each. */
  readonly #pending = new Map<AdsConnection, Set<XdsType>>();
  #pumpScheduled = false;
  readonly #budget: WriteBudget;
  #lastPush: PushStats | undefined;
  /** The framed-write hook could not be installed (another grpc-js shape): said once. */
  #framingWarned = false;
  #pushStart = 0;

  constructor(opts: AdsServerOptions) {
    this.#opts = opts;
    this.#budget = new WriteBudget(opts.maxInFlightBytes, opts.writeStallMs);
    const delay = opts.debounceMs ?? ADS_DEFAULTS.debounceMs;
    this.#debouncer = new Debouncer(() => this.rebuild(), delay, Math.max(delay, opts.maxDebounceMs ?? ADS_DEFAULTS.maxDebounceMs));
    this.#unsubscribe.push(
      opts.store.onChange(() => {
        this.#storeDirty = true;
        this.#debouncer.trigger();
      }),
    );
    this.#unsubscribe.push(
      opts.registry.onChange((c) => {
        this.#dirtyWorkloads.add(wkey(c.namespace, c.name));
        this.#debouncer.trigger();
      }),
    );
    opts.metrics.registry.gauge('weft_xds_connected_proxies', 'Proxies with an open ADS stream.', () => this.#conns.size);
    opts.metrics.registry.gauge('weft_xds_write_inflight_bytes', 'Bytes of xDS responses written and not yet flushed to proxies.', () => this.#budget.inFlightBytes);
    opts.metrics.registry.gauge('weft_xds_write_waiting_streams', 'ADS streams waiting for room to write (the in-flight budget is spent).', () => this.#budget.waiting);
    this.rebuild();
  }

  /** Implementation object for `server.addService(ADS_SERVER_SERVICE, ...)` (ads-wire.ts). */
  handlers(): grpc.UntypedServiceImplementation {
    return {
      streamAggregatedResources: (call: AdsStream) => this.#onStream(call, 'sotw'),
      deltaAggregatedResources: (call: DeltaStream) => this.#onStream(call, 'delta'),
    };
  }

  /** Findings of the last model build. */
  get modelFindings(): readonly Finding[] {
    return this.#findings;
  }

  /**
   * Rebuilds now, not after the debounce (a pending debounced rebuild is dropped: this one
   * covers it), and returns the new model's findings; undefined when the model did not build
   * (logged; proxies keep their config). For an apply whose answer reports the findings,
   * so the model is built once for both.
   */
  rebuildNow(): readonly Finding[] | undefined {
    this.#debouncer.cancel();
    return this.rebuild() ? this.#findings : undefined;
  }

  /** Rebuilds the model once and pushes (in batches) to every connected proxy whose config changed; false when the model did not build. */
  rebuild(): boolean {
    if (this.#closed) return false;
    const { store, registry, buildModel, trustDomain, metrics, log } = this.#opts;
    const started = performance.now();
    const workloads = registry.list();
    try {
      const built = buildModel(store.list(), workloads, { trustDomain });
      this.#model = built.model;
      this.#logNewCredentialFindings(built.findings);
      this.#findings = built.findings;
      metrics.rebuilds.inc();
    } catch (e) {
      metrics.generateErrors.inc({ stage: 'model' });
      log('error', `building the mesh model failed; proxies keep their config: ${errorMessage(e)}`);
      return false;
    }
    const next = new Map(workloads.map((w) => [wkey(w.namespace, w.name), w]));
    const plan = this.#storeDirty ? { all: ALL_TYPES, own: new Set<string>() } : this.#registryPlan(this.#lastWorkloads, next);
    this.#storeDirty = false;
    this.#dirtyWorkloads.clear();
    this.#lastWorkloads = next;
    for (const conn of this.#conns) {
      const types = plan.own.has(wkey(conn.node.namespace, conn.node.pod)) || proxylessClientOf(conn.node) ? ALL_TYPES : plan.all;
      if (types.size === 0) continue;
      const prev = this.#pending.get(conn);
      if (prev) for (const t of types) prev.add(t);
      else this.#pending.set(conn, new Set(types));
    }
    this.#lastPush = { startedAt: Date.now(), modelMs: performance.now() - started, proxies: this.#pending.size, refreshMs: 0, doneMs: undefined };
    this.#pushStart = started;
    this.#schedulePump();
    return true;
  }

  /**
   * Which types a registry-only change can affect: readiness or address -> EDS;
   * identity, labels, namespace or a created/deleted workload -> CDS too when the set
   * of identities behind a service changes. The changed workloads' own proxies get
   * every type (their inbound listeners/clusters, source-dependent routes).
   */
  #registryPlan(before: Map<string, Workload>, after: Map<string, Workload>): { all: ReadonlySet<XdsType>; own: Set<string> } {
    const all = new Set<XdsType>();
    const own = new Set<string>();
    const model = this.#model;
    for (const k of this.#dirtyWorkloads) {
      const a = before.get(k);
      const b = after.get(k);
      if (a === b) continue;
      own.add(k);
      all.add('EDS');
      if (all.has('CDS')) continue;
      if (!a || !b || a.identity !== b.identity || a.namespace !== b.namespace || JSON.stringify(a.labels) !== JSON.stringify(b.labels) || a.meshed !== b.meshed) {
        // Does the set of identities behind any service selecting it change?
        for (const s of model?.services ?? []) {
          const selA = !!a && a.namespace === s.namespace && selects(s.selector, a.labels);
          const selB = !!b && b.namespace === s.namespace && selects(s.selector, b.labels);
          if (!selA && !selB) continue;
          const ids = (ws: Iterable<Workload>): string =>
            [...new Set([...ws].filter((w) => w.namespace === s.namespace && selects(s.selector, w.labels)).map((w) => w.identity))].sort().join('\n');
          if (ids(before.values()) !== ids(after.values())) {
            all.add('CDS');
            break;
          }
        }
      }
      if (a && b && (JSON.stringify(a.ports) !== JSON.stringify(b.ports) || a.proxyType !== b.proxyType)) all.add('CDS');
    }
    return { all, own };
  }

  #schedulePump(): void {
    if (this.#pumpScheduled || this.#pending.size === 0) return;
    this.#pumpScheduled = true;
    setImmediate(() => this.#pump());
  }

  /** Refreshes pending connections for one time slice, then yields to the event loop (so writes flow). */
  #pump(): void {
    this.#pumpScheduled = false;
    if (this.#closed) return;
    const slice = this.#opts.pushSliceMs ?? ADS_DEFAULTS.pushSliceMs;
    const start = performance.now();
    for (const [conn, types] of this.#pending) {
      this.#pending.delete(conn);
      if (!conn.closed) this.#refresh(conn, types);
      if (performance.now() - start >= slice) break;
    }
    const push = this.#lastPush;
    if (push && push.doneMs === undefined) {
      push.refreshMs += performance.now() - start;
      if (this.#pending.size === 0) push.doneMs = performance.now() - this.#pushStart;
    }
    this.#schedulePump();
  }

  /**
   * The last rebuild: when it started, how long the model took, how many proxies it
   * refreshed, the time spent refreshing them (generate, snapshot, write or queue) and
   * from the start until the last one was done (undefined while pushing).
   */
  get lastPush(): Readonly<PushStats> | undefined {
    return this.#lastPush;
  }

  proxies(): ProxyStatus[] {
    return this.#newestByNode().map((c) => c.status(nodeServable(c.node, this.#workloadOf(c))));
  }

  proxyConfig(nodeId: string): Record<XdsType, Record<string, unknown>[]> | undefined {
    return this.#newestByNode().find((c) => c.node.id === nodeId)?.config();
  }

  get connectedCount(): number {
    return this.#conns.size;
  }

  /** Writes in flight across all streams (bytes) and streams waiting for room to write. */
  get writeStats(): { inFlightBytes: number; waitingStreams: number; blockedStreams: number } {
    let blocked = 0;
    for (const c of this.#conns) if (c.blocked) blocked++;
    return { inFlightBytes: this.#budget.inFlightBytes, waitingStreams: this.#budget.waiting, blockedStreams: blocked };
  }

  /** Ends every stream (status OK) and stops reacting to changes. */
  close(): void {
    this.#closed = true;
    this.#debouncer.close();
    this.#pending.clear();
    this.#budget.close();
    for (const u of this.#unsubscribe) u();
    for (const c of this.#conns) c.close();
    this.#conns.clear();
  }

  #newestByNode(): AdsConnection[] {
    const byId = new Map<string, AdsConnection>();
    for (const c of this.#conns) {
      const prev = byId.get(c.node.id);
      if (!prev || prev.seq < c.seq) byId.set(c.node.id, c);
    }
    return [...byId.values()].sort((a, b) => a.node.id.localeCompare(b.node.id));
  }

  #workloadOf(conn: AdsConnection): Workload | undefined {
    return this.#opts.registry.get(conn.node.namespace, conn.node.pod);
  }

  /** One node's snapshot from the model, by the generator its kind needs (shared groups for weft proxies when available). */
  #snapshotFor(model: MeshModel, conn: AdsConnection, workload: Workload | undefined): ProxySnapshot | undefined {
    const { generate, generateGroups, generateProxyless, rootCertsPem } = this.#opts;
    const ctx = { rootCertsPem, credentials: conn.credentials, vhds: conn.vhds };
    if (generateGroups && workload && !proxylessClientOf(conn.node)) return buildSnapshotFromGroups(generateGroups(model, workload, ctx));
    const gen = configForNode(model, conn.node, workload, { generate, ...(generateProxyless ? { generateProxyless } : {}) }, ctx);
    return gen ? buildSnapshot(gen) : undefined;
  }

  /** Regenerates one node's config from the current model (no-op while a proxy's workload is unknown). */
  #refresh(conn: AdsConnection, types: ReadonlySet<XdsType> = ALL_TYPES): void {
    const model = this.#model;
    const workload = this.#workloadOf(conn);
    if (!model || !nodeServable(conn.node, workload)) return;
    const { metrics, log } = this.#opts;
    try {
      const fresh = this.#snapshotFor(model, conn, workload);
      if (!fresh) return;
      const prev = conn.snapshot;
      if (prev && types.size < ALL_TYPES.size && !proxylessClientOf(conn.node)) {
        // Types this change cannot affect keep their resource sets (and versions).
        const merged = { ...prev };
        for (const t of types) merged[t] = fresh[t];
        conn.setSnapshot(merged);
      } else conn.setSnapshot(fresh);
    } catch (e) {
      metrics.generateErrors.inc({ stage: 'proxy' });
      log('error', `generating config for ${conn.node.id} failed; it keeps its config: ${errorMessage(e)}`);
    }
  }

  /** A missing or clashing credential (a gateway server left unserved, a cluster that fails closed) is logged once, when it starts being so. */
  #logNewCredentialFindings(findings: readonly Finding[]): void {
    const before = new Set(this.#findings.filter(isCredentialFinding).map(formatFinding));
    for (const f of findings) {
      if (!isCredentialFinding(f)) continue;
      const line = formatFinding(f);
      if (!before.has(line)) this.#opts.log('warn', line);
    }
  }

  /**
   * A router or sidecar whose stream carries a bootstrap token for its own namespace and pod.
   * A router without one is warned about (its TLS servers need credentials); a sidecar only
   * when its token is wrong (most need none; proxyless clients never get credentials).
   */
  #mayHaveCredentials(node: ProxyNode, metadata: grpc.Metadata | undefined): boolean {
    const verify = this.#opts.verifyToken;
    if (proxylessClientOf(node) || !verify) return false;
    let token: string | undefined;
    // Most sidecars send no token (they need no credentials): no error is made for them.
    if (metadata?.get('authorization').length) {
      try {
        token = bearer(metadata);
      } catch {
        // malformed: as none
      }
    }
    if (token === undefined) {
      if (node.type === 'router') this.#opts.log('warn', `router ${node.id} sent no bootstrap token on its ADS stream: its credentials are not sent, its TLS servers have no certificate`);
      return false;
    }
    try {
      const claims = verify(token);
      if (claims.ns === node.namespace && claims.pod === node.pod) return true;
      this.#opts.log('warn', `${node.type} ${node.id}: its token is for ${claims.ns}/${claims.pod}; credentials are not sent`);
    } catch (e) {
      this.#opts.log('warn', `${node.type} ${node.id}: ${errorMessage(e)}; credentials are not sent`);
    }
    return false;
  }

  #onStream(call: AdsStream | DeltaStream, protocol: AdsProtocol): void {
    if (this.#closed) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'the control plane is shutting down' });
      return;
    }
    let conn: AdsConnection | undefined;
    let rejected = false;
    const done = (): void => {
      if (!conn) return;
      conn.markClosed();
      this.#conns.delete(conn);
      this.#pending.delete(conn);
      conn = undefined;
    };
    call.on('data', (req: DiscoveryRequest | DeltaDiscoveryRequest) => {
      if (rejected) return;
      if (!conn) {
        const classified = classifyNode(req.node);
        if ('error' in classified) {
          call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: classified.error });
          rejected = true;
          return;
        }
        const encoding = encodingFor(req.node);
        const framed = writeFramedResponses(call, encoding);
        if (!framed && !this.#framingWarned) {
          this.#framingWarned = true;
          this.#opts.log('warn', 'this @grpc/grpc-js has no serializeMessage on its server calls: ADS responses are copied per stream, uncompressed (slower at scale, same config)');
        }
        const deps = { metrics: this.#opts.metrics, log: this.#opts.log, budget: this.#budget, encoding: framed ? encoding : undefined };
        conn = protocol === 'delta' ? new DeltaConnection(classified.node, call as DeltaStream, deps) : new ProxyConnection(classified.node, call as AdsStream, deps);
        conn.credentials = this.#mayHaveCredentials(conn.node, call.metadata);
        conn.vhds = protocol === 'delta' && (req.node?.clientFeatures?.includes(VHDS_FEATURE) ?? false);
        this.#conns.add(conn);
        this.#refresh(conn);
      }
      conn.handleRequest(req);
    });
    call.on('end', () => {
      done();
      call.end();
    });
    call.on('error', done);
    call.on('cancelled', done);
    call.on('close', done);
  }
}
