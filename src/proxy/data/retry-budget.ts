// Retry budgets (weft's cluster extension `weft.retry_budget`, Linkerd semantics): per
// cluster, a sliding window of ttl over the requests sent and the retries made. A retry
// is allowed only while retries in the window < max(minRetriesPerSecond x ttl seconds,
// retryRatio x requests in the window). The window is a ring of buckets, so counting
// allocates nothing.
import type { EnvoyObject } from '../types.js';
import { obj, structToJson } from '../../xds/object-form.js';
import { RETRY_BUDGET_EXTENSION } from '../../xds/retry-budget.js';

export const RETRY_BUDGET_DEFAULTS = {
  /** Linkerd's defaults for a ServiceProfile without retryBudget fields. */
  retryRatio: 0.2,
  minRetriesPerSecond: 10,
  ttlMs: 10_000,
  /** Buckets the window is divided into. */
  buckets: 10,
} as const;

export interface RetryBudgetConfig {
  retryRatio: number;
  minRetriesPerSecond: number;
  ttlMs: number;
}

export class RetryBudgetConfigError extends Error {
  readonly code = 'WEFT_ERR_RETRY_BUDGET_CONFIG';
  constructor(cluster: string, message: string) {
    super(`Cluster ${cluster}: typedExtensionProtocolOptions['${RETRY_BUDGET_EXTENSION}']: ${message}`);
    this.name = 'RetryBudgetConfigError';
  }
}

function finite(v: unknown): number | undefined {
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

/** The budget a cluster carries, if any. Throws RetryBudgetConfigError on a malformed one. */
export function compileRetryBudget(name: string, cluster: EnvoyObject): RetryBudgetConfig | undefined {
  const any = obj(obj(cluster.typedExtensionProtocolOptions)?.[RETRY_BUDGET_EXTENSION]);
  if (!any) return undefined;
  const f = structToJson(any);
  const retryRatio = finite(f.retryRatio) ?? RETRY_BUDGET_DEFAULTS.retryRatio;
  const minRetriesPerSecond = finite(f.minRetriesPerSecond) ?? RETRY_BUDGET_DEFAULTS.minRetriesPerSecond;
  const ttlSeconds = finite(f.ttlSeconds);
  const ttlMs = ttlSeconds === undefined ? RETRY_BUDGET_DEFAULTS.ttlMs : Math.round(ttlSeconds * 1000);
  if (retryRatio < 0) throw new RetryBudgetConfigError(name, 'retryRatio must not be negative');
  if (minRetriesPerSecond < 0) throw new RetryBudgetConfigError(name, 'minRetriesPerSecond must not be negative');
  if (ttlMs <= 0) throw new RetryBudgetConfigError(name, 'ttlSeconds must be positive');
  return { retryRatio, minRetriesPerSecond, ttlMs };
}

export class RetryBudget {
  private readonly width: number;
  private readonly requests: Float64Array;
  private readonly retries: Float64Array;
  private epoch = -1;
  private totalRequests = 0;
  private totalRetries = 0;
  private readonly floor: number;

  constructor(
    readonly config: RetryBudgetConfig,
    private readonly now: () => number = performance.now.bind(performance),
  ) {
    const n = RETRY_BUDGET_DEFAULTS.buckets;
    this.width = config.ttlMs / n;
    this.requests = new Float64Array(n);
    this.retries = new Float64Array(n);
    this.floor = (config.minRetriesPerSecond * config.ttlMs) / 1000;
  }

  /** Move the window to now: buckets that fell out of it are emptied. */
  private advance(): number {
    const n = this.requests.length;
    const e = Math.floor(this.now() / this.width);
    if (this.epoch < 0) this.epoch = e;
    if (e > this.epoch) {
      const steps = Math.min(n, e - this.epoch);
      for (let i = 1; i <= steps; i++) {
        const b = (this.epoch + i) % n;
        this.totalRequests -= this.requests[b]!;
        this.totalRetries -= this.retries[b]!;
        this.requests[b] = 0;
        this.retries[b] = 0;
      }
      this.epoch = e;
    }
    return this.epoch % n;
  }

  /** One original request went to the cluster. */
  recordRequest(): void {
    const b = this.advance();
    this.requests[b]!++;
    this.totalRequests++;
  }

  /** Whether one more retry fits; when it does, it is counted. */
  tryRetry(): boolean {
    const b = this.advance();
    if (this.totalRetries >= Math.max(this.floor, this.config.retryRatio * this.totalRequests)) return false;
    this.retries[b]!++;
    this.totalRetries++;
    return true;
  }

  /** Requests and retries in the current window. */
  window(): { requests: number; retries: number } {
    this.advance();
    return { requests: this.totalRequests, retries: this.totalRetries };
  }
}

function sameConfig(a: RetryBudgetConfig, b: RetryBudgetConfig): boolean {
  return a.retryRatio === b.retryRatio && a.minRetriesPerSecond === b.minRetriesPerSecond && a.ttlMs === b.ttlMs;
}

/** The budgets of all clusters; a cluster whose budget is unchanged keeps its window across updates. */
export class RetryBudgets {
  private budgets = new Map<string, RetryBudget>();

  constructor(private readonly now?: () => number) {}

  /** The budgets for a new set of clusters (throws RetryBudgetConfigError); nothing changes until commit(). */
  prepare(clusters: ReadonlyMap<string, EnvoyObject>): Map<string, RetryBudget> {
    const next = new Map<string, RetryBudget>();
    for (const [name, c] of clusters) {
      const cfg = compileRetryBudget(name, c);
      if (!cfg) continue;
      const old = this.budgets.get(name);
      next.set(name, old && sameConfig(old.config, cfg) ? old : new RetryBudget(cfg, this.now));
    }
    return next;
  }

  commit(prepared: Map<string, RetryBudget>): void {
    this.budgets = prepared;
  }

  get(cluster: string): RetryBudget | undefined {
    return this.budgets.get(cluster);
  }
}
