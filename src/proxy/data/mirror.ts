// The mirror stage (route requestMirrorPolicies): after the route is chosen, a copy of
// the request goes, fire-and-forget, to each sampled mirror cluster with its authority
// suffixed "-shadow" (Envoy's). The copy never touches the caller's response or latency:
// nothing awaits it, its answer is drained and dropped, and failures are only counted.
// A request body is copied while it streams to the primary; one over the buffer limit
// is not mirrored.
import { Transform, type TransformCallback } from 'node:stream';
import type { EnvoyObject } from '../types.js';
import type { ClusterManager, UpstreamRequest } from './upstream/types.js';
import type { Counters } from './stats.js';
import { arr, obj, str } from '../../xds/object-form.js';
import { fraction } from './fault.js';

export const MIRROR_DEFAULTS = {
  /** Bodies up to this size are copied to mirrors; a larger body skips mirroring for that request. */
  bodyLimitBytes: 64 * 1024,
  /** Bound on a mirrored request when the route has no timeout. */
  timeoutMs: 15_000,
} as const;

export interface MirrorTarget {
  cluster: string;
  probability: number;
}

export class MirrorConfigError extends Error {
  readonly code = 'WEFT_ERR_MIRROR_CONFIG';
  constructor(field: string, message: string) {
    super(`${field}: ${message}`);
    this.name = 'MirrorConfigError';
  }
}

/** route.requestMirrorPolicies (object form) -> targets; a policy without runtimeFraction mirrors everything. */
export function compileMirrors(field: string, route: EnvoyObject): MirrorTarget[] {
  return arr(route.requestMirrorPolicies).map((p, i) => {
    const cluster = str(p.cluster);
    if (!cluster) throw new MirrorConfigError(`${field}.requestMirrorPolicies[${i}].cluster`, 'missing (clusterHeader is not supported)');
    const rf = obj(p.runtimeFraction);
    return { cluster, probability: rf ? fraction(rf.defaultValue) : 1 };
  });
}

/** Envoy's shadow authority: "host:port" -> "host-shadow:port", "host" -> "host-shadow". */
export function shadowAuthority(authority: string): string {
  const i = authority.lastIndexOf(':');
  if (i > 0 && authority.indexOf(':') === i) return `${authority.slice(0, i)}-shadow${authority.slice(i)}`;
  return `${authority}-shadow`;
}

/** The mirror clusters this request goes to (each drawn on its own), or undefined for none. */
export function sampleMirrors(targets: readonly MirrorTarget[], random: () => number): string[] | undefined {
  let out: string[] | undefined;
  for (const t of targets) {
    if (t.probability >= 1 || (t.probability > 0 && random() < t.probability)) (out ??= []).push(t.cluster);
  }
  return out;
}

/**
 * A pass-through for the primary's body that keeps a copy up to `limit` bytes and, at the
 * end, hands it to `done` (undefined when the body was over the limit or failed).
 */
export class BodyCopy extends Transform {
  private chunks: Buffer[] | undefined = [];
  private size = 0;

  constructor(
    private readonly limit: number,
    private readonly done: (body: Buffer | undefined) => void,
  ) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.chunks) {
      this.size += chunk.length;
      if (this.size > this.limit) this.chunks = undefined;
      else this.chunks.push(chunk);
    }
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    const c = this.chunks;
    this.chunks = undefined;
    cb();
    this.done(c ? Buffer.concat(c, this.size) : undefined);
  }

  override _destroy(err: Error | null, cb: (error?: Error | null) => void): void {
    if (this.chunks) {
      this.chunks = undefined;
      this.done(undefined);
    }
    cb(err);
  }
}

export interface MirrorStats {
  /** http.<prefix>.rq_mirror_error */
  error: string;
  /** http.<prefix>.rq_mirror_total */
  total: string;
}

/** Send the copies; returns at once. `req.headers` must already be the primary's final headers. */
export function sendMirrors(cm: ClusterManager, clusters: readonly string[], req: UpstreamRequest, body: Buffer | null, timeoutMs: number, counters: Counters, stats: MirrorStats): void {
  const authority = shadowAuthority(req.authority);
  for (const cluster of clusters) {
    counters.inc(stats.total);
    if (!cm.has(cluster)) {
      counters.inc(stats.error);
      continue;
    }
    const copy: UpstreamRequest = { ...req, authority, headers: { ...req.headers }, body };
    let p;
    try {
      p = cm.request(cluster, copy, { signal: AbortSignal.timeout(timeoutMs > 0 ? timeoutMs : MIRROR_DEFAULTS.timeoutMs) });
    } catch {
      counters.inc(stats.error);
      continue;
    }
    p.then(
      (up) => {
        up.body.on('error', () => {});
        up.body.resume();
      },
      () => counters.inc(stats.error),
    );
  }
}
