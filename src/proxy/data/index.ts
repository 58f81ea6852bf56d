// The proxy's data path: createDataPlane(info, identity) implements DataPlane
// (src/proxy/types.ts) from listeners, protocol detection, TLS, HTTP, router and tcp_proxy
// stages; the upstream side is a ClusterManager (src/proxy/data/upstream/).
import type { ClusterStatus, DataPlane, IdentityProvider, ProxyIdentityInfo, XdsSnapshot } from '../types.js';
import { ConfigRejectedError } from '../types.js';
import type { ClusterManager, InternalConnector } from './upstream/types.js';
import { Counters } from './stats.js';
import type { CompiledRouteConfig } from './router.js';
import { compileRouteConfigs } from './route-configs.js';
import { compileListener, type CompiledListener } from './listener-config.js';
import { DownstreamTls } from './tls.js';
import { readSecrets, type SecretMaterial } from './secrets.js';
import { HttpEngine } from './http.js';
import type { HttpEnv } from './http-handler.js';
import { ListenerManager } from './listeners.js';
import { DETECT_DEFAULTS, type ConnectionEnv } from './filter-chain.js';
import { RetryBudgets } from './retry-budget.js';

export interface DataPlaneDeps {
  clusterManager?: ClusterManager;
  /** Close connections that send no bytes within this time (default 10 s). */
  firstBytesTimeoutMs?: number;
  /** Uniform random source of the per-request stages (fault, mirror, retry jitter); Math.random by default. */
  random?: () => number;
}

class NotReadyError extends Error {
  readonly code = 'WEFT_ERR_NOT_READY';
  constructor() {
    super('data plane has no cluster manager yet (no snapshot applied)');
    this.name = 'NotReadyError';
  }
}

async function loadClusterManager(info: ProxyIdentityInfo, identity: IdentityProvider, internal: InternalConnector): Promise<ClusterManager> {
  // Loaded on first apply so the downstream path can run (and be tested) on its own.
  const mod = await import('./upstream/index.js');
  return mod.createClusterManager(info, identity, { internal });
}

class WeftDataPlane implements DataPlane {
  private readonly counters = new Counters();
  private cm: ClusterManager | undefined;
  private routes = new Map<string, CompiledRouteConfig>();
  private readonly retryBudgets = new RetryBudgets();
  private readonly tls: DownstreamTls;
  private readonly http: HttpEngine;
  private readonly listeners: ListenerManager;
  private draining = false;
  private active = 0;
  private idleWaiters: (() => void)[] = [];
  private last: XdsSnapshot | undefined;
  private applying: Promise<void> = Promise.resolve();

  constructor(
    private readonly info: ProxyIdentityInfo,
    private readonly identity: IdentityProvider,
    deps: DataPlaneDeps,
  ) {
    if (deps.clusterManager) this.cm = deps.clusterManager;
    this.tls = new DownstreamTls(identity, this.counters);
    const httpEnv: HttpEnv = {
      counters: this.counters,
      clusterManager: () => this.clusterManager(),
      routeConfig: (name) => this.routes.get(name),
      ownIdentity: () => this.identity.current()?.identity ?? this.info.identity,
      draining: () => this.draining,
      requestStarted: () => {
        this.active++;
      },
      requestDone: () => {
        this.active--;
        if (this.active === 0) for (const w of this.idleWaiters.splice(0)) w();
      },
      random: deps.random ?? Math.random,
      retryBudget: (cluster) => this.retryBudgets.get(cluster),
    };
    this.http = new HttpEngine(httpEnv);
    const connEnv: ConnectionEnv = {
      counters: this.counters,
      tls: this.tls,
      http: this.http,
      clusterManager: () => this.clusterManager(),
      firstBytesTimeoutMs: deps.firstBytesTimeoutMs ?? DETECT_DEFAULTS.firstBytesTimeoutMs,
      random: httpEnv.random,
    };
    this.listeners = new ListenerManager(info, connEnv);
  }

  private clusterManager(): ClusterManager {
    if (!this.cm) throw new NotReadyError();
    return this.cm;
  }

  apply(snapshot: XdsSnapshot): Promise<void> {
    // One apply at a time, in order.
    const run = this.applying.then(() => this.applyNow(snapshot));
    this.applying = run.catch(() => {});
    return run;
  }

  private async applyNow(snapshot: XdsSnapshot): Promise<void> {
    if (this.draining) throw new ConfigRejectedError('data plane is draining');
    // 1. Compile and validate everything before touching anything.
    const listeners = new Map<string, CompiledListener>();
    let routes: Map<string, CompiledRouteConfig>;
    let budgets;
    let secrets: Map<string, SecretMaterial>;
    try {
      secrets = readSecrets(snapshot.secrets);
      for (const [name, l] of snapshot.listeners) listeners.set(name, compileListener(name, l));
      routes = compileRouteConfigs(snapshot.routes, snapshot.virtualHosts, snapshot.vhdsPending, this.routes);
      budgets = this.retryBudgets.prepare(snapshot.clusters);
    } catch (err) {
      throw new ConfigRejectedError((err as Error).message);
    }
    // 2. Clusters (the cluster manager validates and throws ConfigRejectedError itself).
    // Clusters whose endpoints are internal listeners reach them in memory (upstream/dial.ts).
    if (!this.cm) this.cm = await loadClusterManager(this.info, this.identity, (name, meta) => this.listeners.openInternal(name, meta));
    this.cm.update(snapshot.clusters, snapshot.endpoints, snapshot.secrets);
    // 3. Listeners: a bind failure leaves the previous listeners (and clusters) in force.
    try {
      await this.listeners.apply(listeners);
    } catch (err) {
      if (this.last) this.cm.update(this.last.clusters, this.last.endpoints, this.last.secrets);
      throw err;
    }
    this.routes = routes;
    this.retryBudgets.commit(budgets);
    this.tls.setSecrets(secrets);
    this.last = snapshot;
  }

  async drain(timeoutMs: number): Promise<void> {
    this.draining = true;
    this.listeners.stopAccepting();
    this.http.drain();
    if (this.active > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        t.unref();
        this.idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    this.http.destroyAll();
    this.listeners.destroyConnections();
  }

  stats(): Record<string, number> {
    const out = this.counters.snapshot();
    if (this.cm) Object.assign(out, this.cm.stats());
    return out;
  }

  boundListeners(): Record<string, string> {
    return this.listeners.boundListeners();
  }

  clusterStatus(): ClusterStatus[] {
    return this.cm?.clusterStatus?.() ?? [];
  }

  async close(): Promise<void> {
    this.draining = true;
    this.listeners.stopAccepting();
    this.http.destroyAll();
    this.listeners.destroyConnections();
    await this.cm?.close();
  }
}

export function createDataPlane(info: ProxyIdentityInfo, identity: IdentityProvider, deps?: DataPlaneDeps): DataPlane {
  return new WeftDataPlane(info, identity, deps ?? {});
}
