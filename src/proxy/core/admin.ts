// The proxy's admin HTTP server (Istio's port 15000 on the pod address):
//   GET  /ready          200 once LDS and CDS are applied and a workload certificate is held; else 503 + reason
//   GET  /config_dump    JSON: resources in force, secrets (ROOTCA; a gateway's credentials without private keys), certificate summary, xDS status per type
//   GET  /stats          `name: value` lines, sorted (?format=json for an object)
//   GET  /clusters       Envoy-style `cluster::host::name::value` lines: health flags (ejected hosts
//                        show /failed_outlier_check), breakers, outlier counters (?format=json: cluster_statuses)
//   GET  /certs          JSON: the workload certificate chain and roots (never a private key)
//   GET  /memory         JSON: resident set, V8 heap (per space), external and ArrayBuffer bytes
//   GET  /healthz        liveness
//   POST /quitquitquit   drain and exit
//   POST /cpuprofiler?enable=y|n   start / stop a CPU profile; stop answers the .cpuprofile path
//   POST /heap_snapshot  write a .heapsnapshot and answer its path
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { X509Certificate } from 'node:crypto';
import v8 from 'node:v8';
import { withoutPrivateKeys } from '../../xds/secrets.js';
import type { DataPlane, EnvoyObject, WorkloadCertificate, XdsSnapshot } from '../types.js';
import { splitPemCerts } from './cert-check.js';
import { clustersJson, clustersText } from './clusters-view.js';
import { errorMessage } from './errors.js';
import type { IdentityStatus } from './identity.js';
import { silentLogger, type Logger } from './log.js';
import type { XdsStatus } from './xds-client.js';
import { KINDS } from './xds-state.js';
import type { Profiler } from './profiler.js';

/**
 * Envoy's /memory, in Node's terms: where the resident set goes. `heap` is V8's
 * (committed per space, used), `external` is memory V8 objects hold outside the heap
 * (Buffers, TLS and HTTP/2 native state counted by Node), `arrayBuffers` its Buffer part;
 * the rest of `rss` is code, stacks and native allocations Node does not count.
 */
function memoryReport(): Record<string, unknown> {
  const m = process.memoryUsage();
  const heap = v8.getHeapStatistics();
  return {
    rss: m.rss,
    heapTotal: m.heapTotal,
    heapUsed: m.heapUsed,
    external: m.external,
    arrayBuffers: m.arrayBuffers,
    heapSizeLimit: heap.heap_size_limit,
    mallocedMemory: heap.malloced_memory,
    peakMallocedMemory: heap.peak_malloced_memory,
    spaces: Object.fromEntries(v8.getHeapSpaceStatistics().map((s) => [s.space_name, { size: s.space_size, used: s.space_used_size, available: s.space_available_size }])),
  };
}

/** What the admin server reads; narrow views of the xDS client, the identity and the data plane. */
export interface AdminSources {
  xds: {
    snapshot(): XdsSnapshot;
    status(): XdsStatus;
    synced(): { lds: boolean; cds: boolean };
    stats(): Record<string, number>;
  };
  identity?: {
    current(): WorkloadCertificate | undefined;
    status(): IdentityStatus;
    stats(): Record<string, number>;
    readonly rootsPem: string | undefined;
  };
  dataPlane: Pick<DataPlane, 'stats' | 'boundListeners' | 'clusterStatus'>;
  /** POST /quitquitquit: start draining and exit (called once). */
  onQuit(): void;
}

export interface AdminServerOptions {
  host: string;
  /** Default 15000; 0 picks a free port. */
  port: number;
  logger?: Logger;
  /** Serves /cpuprofiler and /heap_snapshot when given. */
  profiler?: Profiler;
}

function mapToObject(m: Map<string, EnvoyObject>): Record<string, EnvoyObject> {
  const out: Record<string, EnvoyObject> = {};
  for (const k of [...m.keys()].sort()) out[k] = m.get(k)!;
  return out;
}

function describeCert(pem: string): Record<string, unknown> {
  try {
    const c = new X509Certificate(pem);
    return {
      subject: c.subject,
      issuer: c.issuer,
      serial: c.serialNumber,
      notBefore: new Date(c.validFrom).toISOString(),
      notAfter: new Date(c.validTo).toISOString(),
      subjectAltNames: c.subjectAltName ? c.subjectAltName.split(/,\s*/) : [],
      ca: c.ca,
    };
  } catch (err) {
    return { error: errorMessage(err) };
  }
}

export class AdminServer {
  private readonly server: http.Server;
  private draining = false;
  private quitting = false;
  private readonly log: Logger;

  constructor(
    private readonly sources: AdminSources,
    private readonly opts: AdminServerOptions,
  ) {
    this.log = (opts.logger ?? silentLogger).child({ component: 'admin' });
    this.server = http.createServer((req, res) => this.handle(req, res));
    this.server.keepAliveTimeout = 5000;
    this.server.headersTimeout = 10_000;
    this.server.requestTimeout = 10_000;
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen(this.opts.port, this.opts.host, () => {
        this.server.off('error', onError);
        resolve();
      });
    });
    const addr = this.address();
    this.log.info('admin listening', { address: `${addr.address}:${addr.port}` });
    return addr;
  }

  address(): AddressInfo {
    return this.server.address() as AddressInfo;
  }

  /** From now on /ready answers 503 "draining". */
  setDraining(): void {
    this.draining = true;
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  /** Why the proxy is not ready, or undefined when it is. */
  notReadyReason(): string | undefined {
    if (this.draining) return 'draining';
    const reasons: string[] = [];
    const { lds, cds } = this.sources.xds.synced();
    if (!lds) reasons.push('LDS not applied yet');
    if (!cds) reasons.push('CDS not applied yet');
    if (!this.sources.identity) reasons.push('no workload certificate: identity not configured (caRootFile, tokenFile)');
    else if (!this.sources.identity.current()) {
      const e = this.sources.identity.status().lastError;
      reasons.push(`no workload certificate yet${e ? ` (last error ${e.code}: ${e.message})` : ''}`);
    }
    return reasons.length ? reasons.join('; ') : undefined;
  }

  stats(): Record<string, number> {
    const merged: Record<string, number> = {
      ...this.sources.dataPlane.stats(),
      ...this.sources.xds.stats(),
      ...(this.sources.identity?.stats() ?? {}),
      'server.ready': this.notReadyReason() === undefined ? 1 : 0,
      'server.draining': this.draining ? 1 : 0,
    };
    const out: Record<string, number> = {};
    for (const k of Object.keys(merged).sort()) out[k] = merged[k]!;
    return out;
  }

  configDump(): Record<string, unknown> {
    const snap = this.sources.xds.snapshot();
    const st = this.sources.xds.status();
    const xds: Record<string, unknown> = {};
    for (const k of KINDS) {
      const t = st.types[k];
      xds[k] = {
        version: t.version,
        nonce: t.nonce,
        lastUpdate: t.lastUpdate?.toISOString() ?? null,
        accepted: t.accepted,
        rejected: t.rejected,
        subscribed: t.subscribed,
        lastError: t.lastError ?? null,
      };
    }
    const id = this.sources.identity?.status();
    return {
      node: { id: st.nodeId },
      listeners: mapToObject(snap.listeners),
      routes: mapToObject(snap.routes),
      // VHDS: the virtual hosts of the route configs sent with `vhds`, by resource name.
      virtualHosts: mapToObject(snap.virtualHosts ?? new Map()),
      clusters: mapToObject(snap.clusters),
      endpoints: mapToObject(snap.endpoints),
      // ROOTCA and, on gateways, their credentials: never a private key.
      secrets: withoutPrivateKeys(mapToObject(snap.secrets)),
      certificate:
        id && id.hasCertificate
          ? { identity: id.identity, notBefore: id.notBefore?.toISOString(), notAfter: id.notAfter?.toISOString(), serial: id.serial }
          : null,
      xds,
      boundListeners: this.sources.dataPlane.boundListeners(),
    };
  }

  certs(): Record<string, unknown> {
    const ident = this.sources.identity;
    const cur = ident?.current();
    const st = ident?.status();
    return {
      identity: st?.identity ?? null,
      certificate: cur
        ? {
            identity: cur.identity,
            serial: st?.serial,
            notBefore: st?.notBefore?.toISOString(),
            notAfter: cur.notAfter.toISOString(),
            secondsUntilExpiration: Math.max(0, Math.floor((cur.notAfter.getTime() - Date.now()) / 1000)),
            chain: splitPemCerts(cur.certChainPem).map(describeCert),
          }
        : null,
      roots: splitPemCerts(ident?.rootsPem ?? '').map(describeCert),
      rotations: st?.rotations ?? 0,
      nextRenewal: st?.nextAttemptAt?.toISOString() ?? null,
      lastError: st?.lastError ? { code: st.lastError.code, message: st.lastError.message, at: st.lastError.at.toISOString() } : null,
    };
  }

  private profile(path: string, enable: string | null, send: (status: number, body: string) => void): void {
    const profiler = this.opts.profiler;
    if (!profiler) return send(404, 'profiling is not enabled in this proxy\n');
    const fail = (err: unknown): void => send(409, `${errorMessage(err)}\n`);
    if (path === '/heap_snapshot') return send(200, `${profiler.heapSnapshot()}\n`);
    if (enable === 'y') {
      profiler.startCpu().then(() => send(200, 'CPU profiling started\n'), fail);
    } else if (enable === 'n') {
      profiler.stopCpu().then(({ file, seconds }) => {
        this.log.info('CPU profile written', { file, seconds });
        send(200, `${file}\n`);
      }, fail);
    } else {
      send(400, 'use ?enable=y or ?enable=n\n');
    }
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin');
    const method = req.method ?? 'GET';
    const path = url.pathname;
    const send = (status: number, body: string, type = 'text/plain; charset=utf-8'): void => {
      res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'cache-control': 'no-store' });
      res.end(method === 'HEAD' ? undefined : body);
    };
    const json = (status: number, v: unknown): void => send(status, JSON.stringify(v, null, 2) + '\n', 'application/json');
    try {
      if (path === '/quitquitquit') {
        if (method !== 'POST') return send(405, 'use POST\n');
        send(200, 'OK\n');
        if (!this.quitting) {
          this.quitting = true;
          this.log.info('quitquitquit received: draining');
          setImmediate(() => this.sources.onQuit());
        }
        return;
      }
      if (path === '/cpuprofiler' || path === '/heap_snapshot') {
        if (method !== 'POST') return send(405, 'use POST\n');
        return this.profile(path, url.searchParams.get('enable'), send);
      }
      if (method !== 'GET' && method !== 'HEAD') return send(405, 'method not allowed\n');
      switch (path) {
        case '/healthz':
          return send(200, 'ok\n');
        case '/ready': {
          const reason = this.notReadyReason();
          return reason ? send(503, `not ready: ${reason}\n`) : send(200, 'LIVE\n');
        }
        case '/stats': {
          const stats = this.stats();
          if (url.searchParams.get('format') === 'json') return json(200, stats);
          return send(200, Object.entries(stats).map(([k, v]) => `${k}: ${v}\n`).join(''));
        }
        case '/config_dump':
          return json(200, this.configDump());
        case '/clusters': {
          const clusters = this.sources.dataPlane.clusterStatus();
          if (url.searchParams.get('format') === 'json') return json(200, clustersJson(clusters));
          return send(200, clustersText(clusters));
        }
        case '/certs':
          return json(200, this.certs());
        case '/memory':
          return json(200, memoryReport());
        default:
          return send(404, `no such admin path: ${path}\n`);
      }
    } catch (err) {
      this.log.error('admin handler failed', { path, error: errorMessage(err) });
      if (!res.headersSent) send(500, `error: ${errorMessage(err)}\n`);
      else res.destroy();
    }
  }
}
