// The ADS server (state of the world). Streams are identified by the first
// request's node id; config is regenerated after store or registry changes
// (debounced), and each proxy gets only the types whose content changed.
import * as grpc from '@grpc/grpc-js';
import type { MeshModel, Workload } from '../model/types.js';
import type { Finding } from '../resources/types.js';
import { parseNodeId } from '../xds/names.js';
import type { DiscoveryRequest } from '../xds/ads-service.js';
import type { ResourceStore } from './store.js';
import type { WorkloadRegistry } from './registry.js';
import type { BuildModelFn, GenerateFn } from './pipeline.js';
import type { ControlMetrics } from './metrics.js';
import type { Logger } from './log.js';
import { Debouncer } from './debounce.js';
import { ProxyConnection, type AdsStream, type ProxyStatus } from './ads-connection.js';
import { buildSnapshot, type XdsType } from './snapshot.js';
import { errorMessage } from './errors.js';

export const ADS_DEFAULTS = {
  debounceMs: 100,
  maxDebounceMs: 1000,
} as const;

export interface AdsServerOptions {
  store: ResourceStore;
  registry: WorkloadRegistry;
  buildModel: BuildModelFn;
  generate: GenerateFn;
  trustDomain: string;
  /** The mesh roots sent as the ROOTCA secret. */
  rootCertsPem: string[];
  metrics: ControlMetrics;
  log: Logger;
  debounceMs?: number;
  maxDebounceMs?: number;
}

export class AdsServer {
  readonly #opts: AdsServerOptions;
  readonly #conns = new Set<ProxyConnection>();
  readonly #debouncer: Debouncer;
  readonly #unsubscribe: (() => void)[] = [];
  #model: MeshModel | undefined;
  #findings: Finding[] = [];
  #closed = false;

  constructor(opts: AdsServerOptions) {
    this.#opts = opts;
    const delay = opts.debounceMs ?? ADS_DEFAULTS.debounceMs;
    this.#debouncer = new Debouncer(() => this.rebuild(), delay, Math.max(delay, opts.maxDebounceMs ?? ADS_DEFAULTS.maxDebounceMs));
    this.#unsubscribe.push(opts.store.onChange(() => this.#debouncer.trigger()));
    this.#unsubscribe.push(opts.registry.onChange(() => this.#debouncer.trigger()));
    opts.metrics.registry.gauge('weft_xds_connected_proxies', 'Proxies with an open ADS stream.', () => this.#conns.size);
    this.rebuild();
  }

  /** Implementation object for `server.addService(ADS_SERVICE, ...)`. */
  handlers(): grpc.UntypedServiceImplementation {
    return { streamAggregatedResources: (call: AdsStream) => this.#onStream(call) };
  }

  /** Findings of the last model build. */
  get modelFindings(): readonly Finding[] {
    return this.#findings;
  }

  /** Rebuilds the model once and pushes to every connected proxy whose config changed. */
  rebuild(): void {
    if (this.#closed) return;
    const { store, registry, buildModel, trustDomain, metrics, log } = this.#opts;
    try {
      const built = buildModel(store.list(), registry.list(), { trustDomain });
      this.#model = built.model;
      this.#findings = built.findings;
      metrics.rebuilds.inc();
    } catch (e) {
      metrics.generateErrors.inc({ stage: 'model' });
      log('error', `building the mesh model failed; proxies keep their config: ${errorMessage(e)}`);
      return;
    }
    for (const conn of this.#conns) this.#refresh(conn);
  }

  proxies(): ProxyStatus[] {
    return this.#newestByNode().map((c) => c.status(this.#workloadOf(c) !== undefined));
  }

  proxyConfig(nodeId: string): Record<XdsType, Record<string, unknown>[]> | undefined {
    return this.#newestByNode().find((c) => c.node.id === nodeId)?.config();
  }

  get connectedCount(): number {
    return this.#conns.size;
  }

  /** Ends every stream (status OK) and stops reacting to changes. */
  close(): void {
    this.#closed = true;
    this.#debouncer.close();
    for (const u of this.#unsubscribe) u();
    for (const c of this.#conns) c.close();
    this.#conns.clear();
  }

  #newestByNode(): ProxyConnection[] {
    const byId = new Map<string, ProxyConnection>();
    for (const c of this.#conns) {
      const prev = byId.get(c.node.id);
      if (!prev || prev.seq < c.seq) byId.set(c.node.id, c);
    }
    return [...byId.values()].sort((a, b) => a.node.id.localeCompare(b.node.id));
  }

  #workloadOf(conn: ProxyConnection): Workload | undefined {
    return this.#opts.registry.get(conn.node.namespace, conn.node.pod);
  }

  /** Regenerates one proxy's config from the current model (no-op while its workload is unknown). */
  #refresh(conn: ProxyConnection): void {
    const model = this.#model;
    const workload = this.#workloadOf(conn);
    if (!model || !workload) return;
    const { generate, rootCertsPem, metrics, log } = this.#opts;
    try {
      conn.setSnapshot(buildSnapshot(generate(model, workload, { rootCertsPem })));
    } catch (e) {
      metrics.generateErrors.inc({ stage: 'proxy' });
      log('error', `generating config for ${conn.node.id} failed; it keeps its config: ${errorMessage(e)}`);
    }
  }

  #onStream(call: AdsStream): void {
    if (this.#closed) {
      call.emit('error', { code: grpc.status.UNAVAILABLE, details: 'the control plane is shutting down' });
      return;
    }
    let conn: ProxyConnection | undefined;
    let rejected = false;
    const done = (): void => {
      if (!conn) return;
      conn.markClosed();
      this.#conns.delete(conn);
      conn = undefined;
    };
    call.on('data', (req: DiscoveryRequest) => {
      if (rejected) return;
      if (!conn) {
        const id = req.node?.id ?? '';
        const parsed = parseNodeId(id);
        if (!parsed) {
          call.emit('error', { code: grpc.status.INVALID_ARGUMENT, details: `the first request must carry node.id "<sidecar|router>~<ip>~<pod>.<ns>~<ns>.svc.cluster.local", got ${JSON.stringify(id)}` });
          rejected = true;
          return;
        }
        conn = new ProxyConnection({ id, ...parsed }, call, { metrics: this.#opts.metrics, log: this.#opts.log });
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
