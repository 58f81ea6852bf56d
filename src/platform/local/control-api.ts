// Client of the control plane's HTTP API (docs/architecture.md, "Control-plane HTTP API").

import type { Finding } from '../../resources/types.js';
import type { Workload } from '../../model/types.js';
import { LocalPlatformError } from './errors.js';

export interface ApplyResult {
  kind: string;
  namespace: string;
  name: string;
  action: 'created' | 'configured' | 'unchanged' | 'rejected';
}

export interface ApplyResponse {
  results: ApplyResult[];
  findings: Finding[];
}

/** A stored resource as the API returns it. */
export interface StoredResource {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  spec: unknown;
}

export interface XdsTypeStatus {
  sentVersion?: string;
  ackedVersion?: string;
  status: 'SYNCED' | 'STALE' | 'NOT SENT';
  lastError?: string;
}

export type XdsShortType = 'CDS' | 'LDS' | 'EDS' | 'RDS' | 'VHDS' | 'SDS';
export const XDS_SHORT_TYPES: readonly XdsShortType[] = ['CDS', 'LDS', 'EDS', 'RDS', 'VHDS', 'SDS'];

export interface ProxyStatus {
  id: string;
  /** The proxy's own version, when the control plane reports it. */
  version?: string;
  /** The ADS variant its stream speaks (delta or sotw), when the control plane reports it. */
  protocol?: string;
  xds: Partial<Record<XdsShortType, XdsTypeStatus>>;
}

/** Resources last sent to one proxy, by kind. */
export interface ProxyConfig {
  clusters: Record<string, unknown>[];
  listeners: Record<string, unknown>[];
  routes: Record<string, unknown>[];
  endpoints: Record<string, unknown>[];
  secrets: Record<string, unknown>[];
}

const DEFAULT_TIMEOUT_MS = 10_000;

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Maps an xDS type URL or name to its short name. */
export function shortXdsType(key: string): XdsShortType | undefined {
  const k = key.toLowerCase();
  if (k.includes('clusterloadassignment') || k === 'eds' || k === 'endpoints') return 'EDS';
  if (k.includes('routeconfiguration') || k === 'rds' || k === 'routes') return 'RDS';
  if (k.includes('virtualhost') || k === 'vhds') return 'VHDS';
  if (k.includes('listener') || k === 'lds' || k === 'listeners') return 'LDS';
  if (k.includes('secret') || k === 'sds' || k === 'secrets') return 'SDS';
  if (k.includes('cluster') || k === 'cds' || k === 'clusters') return 'CDS';
  return undefined;
}

function listOf(v: unknown): Record<string, unknown>[] {
  if (Array.isArray(v)) return v.filter(isRecord);
  if (isRecord(v)) return Object.entries(v).map(([name, r]) => (isRecord(r) ? ('name' in r || 'clusterName' in r ? r : { name, ...r }) : { name }));
  return [];
}

/** Accepts `[...]`, `{proxies: [...]}`, and per-type status keyed by short name or type URL, at top level or under `xds`/`types`. */
export function normalizeProxies(body: unknown): ProxyStatus[] {
  const arr = Array.isArray(body) ? body : isRecord(body) && Array.isArray(body.proxies) ? body.proxies : [];
  const out: ProxyStatus[] = [];
  for (const p of arr) {
    if (!isRecord(p)) continue;
    const id = typeof p.id === 'string' ? p.id : typeof p.nodeId === 'string' ? p.nodeId : undefined;
    if (!id) continue;
    const xds: ProxyStatus['xds'] = {};
    const sources = [p, p.xds, p.types, p.status].filter(isRecord);
    for (const src of sources) {
      for (const [k, v] of Object.entries(src)) {
        const t = shortXdsType(k);
        if (!t || !isRecord(v) || typeof v.status !== 'string') continue;
        xds[t] = {
          status: v.status === 'SYNCED' || v.status === 'STALE' ? v.status : 'NOT SENT',
          sentVersion: typeof v.sentVersion === 'string' ? v.sentVersion : v.sentVersion === undefined ? undefined : String(v.sentVersion),
          ackedVersion: typeof v.ackedVersion === 'string' ? v.ackedVersion : v.ackedVersion === undefined ? undefined : String(v.ackedVersion),
          lastError: typeof v.lastError === 'string' ? v.lastError : undefined,
        };
      }
    }
    const version = typeof p.version === 'string' ? p.version : typeof p.proxyVersion === 'string' ? p.proxyVersion : undefined;
    const protocol = typeof p.protocol === 'string' ? p.protocol : undefined;
    out.push({ id, xds, ...(version ? { version } : {}), ...(protocol ? { protocol } : {}) });
  }
  return out;
}

export function normalizeProxyConfig(body: unknown): ProxyConfig {
  const cfg: ProxyConfig = { clusters: [], listeners: [], routes: [], endpoints: [], secrets: [] };
  const root = isRecord(body) && isRecord(body.config) ? body.config : isRecord(body) && isRecord(body.resources) ? body.resources : body;
  if (!isRecord(root)) return cfg;
  // VHDS virtual hosts are shown in their route configs (the control plane's view puts them there).
  const slot: Partial<Record<XdsShortType, keyof ProxyConfig>> = { CDS: 'clusters', LDS: 'listeners', RDS: 'routes', EDS: 'endpoints', SDS: 'secrets' };
  for (const [k, v] of Object.entries(root)) {
    const t = shortXdsType(k);
    const into = t && slot[t];
    if (into) cfg[into].push(...listOf(v));
  }
  return cfg;
}

export class ControlApiClient {
  constructor(
    readonly baseUrl: string,
    private readonly adminToken?: string,
    private readonly timeoutMs = DEFAULT_TIMEOUT_MS,
  ) {}

  private async call(method: string, path: string, body?: string, headers: Record<string, string> = {}): Promise<{ status: number; json: unknown; text: string }> {
    const h: Record<string, string> = { accept: 'application/json', ...headers };
    if (this.adminToken) h.authorization = `Bearer ${this.adminToken}`;
    let res: Response;
    try {
      res = await fetch(`${this.baseUrl}${path}`, { method, headers: h, body, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      const cause = (e as { cause?: { code?: string } }).cause?.code ?? (e as Error).name;
      throw new LocalPlatformError('WEFT_ERR_API_UNREACHABLE', `control plane at ${this.baseUrl} is unreachable (${cause})`);
    }
    const text = await res.text();
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: res.status, json, text };
  }

  private async ok(method: string, path: string, body?: string, headers?: Record<string, string>): Promise<unknown> {
    const r = await this.call(method, path, body, headers);
    if (r.status === 404) throw new LocalPlatformError('WEFT_ERR_NOT_FOUND', `${method} ${path}: not found`);
    if (r.status < 200 || r.status >= 300) {
      const err = isRecord(r.json) ? r.json.error : undefined;
      const msg = typeof err === 'string' ? err : isRecord(err) && typeof err.message === 'string' ? err.message : r.text.slice(0, 200);
      throw new LocalPlatformError('WEFT_ERR_API', `${method} ${path}: HTTP ${r.status}${msg ? `: ${msg}` : ''}`);
    }
    return r.json;
  }

  /** True when /readyz answers 200. */
  async ready(): Promise<boolean> {
    try {
      return (await this.call('GET', '/readyz')).status === 200;
    } catch {
      return false;
    }
  }

  async version(): Promise<string> {
    const v = await this.ok('GET', '/api/v1/version');
    return isRecord(v) && typeof v.version === 'string' ? v.version : 'unknown';
  }

  /** Applies YAML; a 400 with findings is returned (not thrown) so callers can print the findings. */
  async apply(yamlText: string, source: string): Promise<ApplyResponse> {
    const r = await this.call('POST', '/api/v1/apply', yamlText, { 'content-type': 'application/yaml', 'x-weft-source': source });
    if (isRecord(r.json) && (Array.isArray(r.json.results) || Array.isArray(r.json.findings))) {
      return {
        results: (Array.isArray(r.json.results) ? r.json.results : []) as ApplyResult[],
        findings: (Array.isArray(r.json.findings) ? r.json.findings : []) as Finding[],
      };
    }
    throw new LocalPlatformError('WEFT_ERR_API', `POST /api/v1/apply: HTTP ${r.status}: ${r.text.slice(0, 200)}`);
  }

  async resources(kind?: string, namespace?: string): Promise<StoredResource[]> {
    const q = new URLSearchParams();
    if (kind) q.set('kind', kind);
    if (namespace) q.set('namespace', namespace);
    const body = await this.ok('GET', `/api/v1/resources${q.size ? `?${q}` : ''}`);
    const arr = Array.isArray(body) ? body : isRecord(body) && Array.isArray(body.items) ? body.items : isRecord(body) && Array.isArray(body.resources) ? body.resources : [];
    return arr.filter(isRecord) as unknown as StoredResource[];
  }

  async deleteResource(kind: string, namespace: string, name: string): Promise<void> {
    await this.ok('DELETE', `/api/v1/resources/${encodeURIComponent(kind)}/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`);
  }

  async workloads(): Promise<Workload[]> {
    const body = await this.ok('GET', '/api/v1/workloads');
    const arr = Array.isArray(body) ? body : isRecord(body) && Array.isArray(body.workloads) ? body.workloads : isRecord(body) && Array.isArray(body.items) ? body.items : [];
    return arr.filter(isRecord) as unknown as Workload[];
  }

  async putWorkload(w: Workload): Promise<void> {
    await this.ok('PUT', `/api/v1/workloads/${encodeURIComponent(w.namespace)}/${encodeURIComponent(w.name)}`, JSON.stringify(w), { 'content-type': 'application/json' });
  }

  async deleteWorkload(namespace: string, name: string): Promise<void> {
    await this.ok('DELETE', `/api/v1/workloads/${encodeURIComponent(namespace)}/${encodeURIComponent(name)}`);
  }

  async token(namespace: string, serviceAccount: string, pod: string): Promise<string> {
    const body = await this.ok('POST', '/api/v1/tokens', JSON.stringify({ namespace, serviceAccount, pod }), { 'content-type': 'application/json' });
    if (isRecord(body) && typeof body.token === 'string') return body.token;
    throw new LocalPlatformError('WEFT_ERR_API', 'POST /api/v1/tokens: answer has no token');
  }

  async rootCert(): Promise<string> {
    const r = await this.call('GET', '/api/v1/root-cert', undefined, { accept: 'application/x-pem-file, application/json' });
    if (r.status !== 200) throw new LocalPlatformError('WEFT_ERR_API', `GET /api/v1/root-cert: HTTP ${r.status}`);
    if (isRecord(r.json)) {
      const pem = r.json.pem ?? r.json.rootCert ?? r.json.cert;
      if (typeof pem === 'string') return pem;
    }
    if (r.text.includes('BEGIN CERTIFICATE')) return r.text;
    throw new LocalPlatformError('WEFT_ERR_API', 'GET /api/v1/root-cert: answer holds no PEM certificate');
  }

  async proxies(): Promise<ProxyStatus[]> {
    return normalizeProxies(await this.ok('GET', '/api/v1/proxies'));
  }

  async proxyConfig(nodeId: string): Promise<ProxyConfig> {
    return normalizeProxyConfig(await this.ok('GET', `/api/v1/proxies/${encodeURIComponent(nodeId)}/config`));
  }
}
