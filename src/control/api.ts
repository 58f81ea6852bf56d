// The control plane's HTTP API (docs/architecture.md, "Control-plane HTTP API"):
// JSON over node:http; mutating calls need `authorization: Bearer <admin token>`.
import http from 'node:http';
import type { ResourceStore } from './store.js';
import type { WorkloadRegistry } from './registry.js';
import type { AdsServer } from './ads.js';
import type { CertificateAuthority } from './ca.js';
import type { TokenIssuer } from './tokens.js';
import type { ParseYamlFn } from './pipeline.js';
import type { Logger } from './log.js';
import { applyYaml } from './apply.js';
import type { Finding } from '../resources/types.js';
import { redactSecret } from '../resources/kubernetes-secret.js';
import { tokenMatches } from './admin-token.js';
import { HttpError, readBody, readJson, sendError, sendJson, sendText } from './http-util.js';
import { errorMessage, isControlError } from './errors.js';

export interface ApiDeps {
  store: ResourceStore;
  registry: WorkloadRegistry;
  ads: AdsServer;
  ca: CertificateAuthority;
  tokens: TokenIssuer;
  adminToken: string;
  parseYaml: ParseYamlFn;
  version: string;
  log: Logger;
  /** False while starting or closing; /readyz answers 503 then. */
  ready: () => boolean;
  /**
   * Cross-resource findings over the stored resources and registered workloads (a gateway
   * server or a DestinationRule credentialName whose Secret is missing or clashes), added to
   * the answer of an apply that touched a kind they concern. `changed`: the apply created or
   * configured one of them, so the model is rebuilt now; otherwise the current findings.
   */
  analyze?: (changed: boolean) => Finding[];
}

/** Kinds whose apply is answered with the credential analysis too. */
const ANALYZED_KINDS: ReadonlySet<string> = new Set(['Gateway', 'Secret', 'DestinationRule']);

type Handler = (req: http.IncomingMessage, res: http.ServerResponse, params: string[], url: URL) => Promise<void> | void;

interface Route {
  method: string;
  pattern: RegExp;
  mutating: boolean;
  handler: Handler;
}

function requireAdmin(req: http.IncomingMessage, adminToken: string): void {
  const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
  if (!m || !tokenMatches(m[1]!, adminToken)) {
    throw new HttpError(401, 'WEFT_ERR_UNAUTHORIZED', 'this call needs "authorization: Bearer <admin token>" (the token is in the state dir, file admin-token)');
  }
}

function statusForError(e: unknown): number {
  if (e instanceof HttpError) return e.status;
  if (!isControlError(e)) return 500;
  switch (e.code) {
    case 'WEFT_ERR_BAD_WORKLOAD':
    case 'WEFT_ERR_BAD_REQUEST':
    case 'WEFT_ERR_AMBIGUOUS_KIND':
      return 400;
    case 'WEFT_ERR_NOT_FOUND':
      return 404;
    default:
      return 500;
  }
}

function routes(d: ApiDeps): Route[] {
  const seg = '([^/]+)';
  return [
    { method: 'GET', pattern: /^\/healthz$/, mutating: false, handler: (_q, res) => sendJson(res, 200, { status: 'ok' }) },
    {
      method: 'GET',
      pattern: /^\/readyz$/,
      mutating: false,
      handler: (_q, res) => (d.ready() ? sendJson(res, 200, { status: 'ready' }) : sendJson(res, 503, { status: 'not ready' })),
    },
    { method: 'GET', pattern: /^\/api\/v1\/version$/, mutating: false, handler: (_q, res) => sendJson(res, 200, { version: d.version }) },
    {
      method: 'POST',
      pattern: /^\/api\/v1\/apply$/,
      mutating: true,
      handler: async (req, res) => {
        const text = await readBody(req);
        const sourceHeader = req.headers['x-weft-source'];
        const source = typeof sourceHeader === 'string' && sourceHeader !== '' ? sourceHeader : 'request';
        const { response, anyValid } = await applyYaml(d.store, d.parseYaml, text, source);
        const analysed = response.results.filter((r) => r.action !== 'rejected' && ANALYZED_KINDS.has(r.kind));
        // Only a change rebuilds at once: re-applying unchanged Secrets one by one must not rebuild and push each time.
        if (d.analyze && analysed.length > 0) response.findings.push(...d.analyze(analysed.some((r) => r.action === 'created' || r.action === 'configured')));
        sendJson(res, anyValid ? 200 : 400, response);
      },
    },
    {
      method: 'GET',
      pattern: /^\/api\/v1\/resources$/,
      mutating: false,
      handler: (_q, res, _p, url) => {
        const kind = url.searchParams.get('kind') ?? undefined;
        const namespace = url.searchParams.get('namespace') ?? undefined;
        // Secrets are listed without their values (keys, sizes and the certificate's public summary only).
        sendJson(res, 200, { resources: d.store.list({ ...(kind ? { kind } : {}), ...(namespace ? { namespace } : {}) }).map(redactSecret) });
      },
    },
    {
      method: 'DELETE',
      // The namespace segment may be empty: cluster-scoped kinds (Namespace, MeshConfig) have none.
      pattern: new RegExp(`^/api/v1/resources/${seg}/([^/]*)/${seg}$`),
      mutating: true,
      handler: async (_q, res, [kind, ns, name]) => {
        const removed = await d.store.delete(kind!, ns!, name!);
        if (!removed) throw new HttpError(404, 'WEFT_ERR_NOT_FOUND', `no ${kind} ${ns ? `${ns}/` : ''}${name}`);
        sendJson(res, 200, { deleted: { kind: removed.kind, namespace: removed.metadata.namespace, name: removed.metadata.name } });
      },
    },
    { method: 'GET', pattern: /^\/api\/v1\/workloads$/, mutating: false, handler: (_q, res) => sendJson(res, 200, { workloads: d.registry.list() }) },
    {
      method: 'PUT',
      pattern: new RegExp(`^/api/v1/workloads/${seg}/${seg}$`),
      mutating: true,
      handler: async (req, res, [ns, pod]) => {
        const body = await readJson(req);
        const b = body as { namespace?: unknown; name?: unknown } | null;
        if (!b || typeof b !== 'object' || b.namespace !== ns || b.name !== pod) {
          throw new HttpError(400, 'WEFT_ERR_BAD_WORKLOAD', `the body's namespace and name must equal the path (${ns}/${pod})`);
        }
        const action = await d.registry.put(body);
        sendJson(res, action === 'created' ? 201 : 200, { action });
      },
    },
    {
      method: 'DELETE',
      pattern: new RegExp(`^/api/v1/workloads/${seg}/${seg}$`),
      mutating: true,
      handler: async (_q, res, [ns, pod]) => {
        if (!(await d.registry.delete(ns!, pod!))) throw new HttpError(404, 'WEFT_ERR_NOT_FOUND', `no workload ${ns}/${pod}`);
        sendJson(res, 200, { deleted: { namespace: ns, name: pod } });
      },
    },
    {
      method: 'POST',
      pattern: /^\/api\/v1\/tokens$/,
      mutating: true,
      handler: async (req, res) => {
        const b = (await readJson(req)) as { namespace?: unknown; serviceAccount?: unknown; pod?: unknown; ttlSeconds?: unknown } | null;
        if (!b || typeof b !== 'object') throw new HttpError(400, 'WEFT_ERR_BAD_REQUEST', 'expected {namespace, serviceAccount, pod}');
        const token = d.tokens.mint({
          namespace: b.namespace as string,
          serviceAccount: b.serviceAccount as string,
          pod: b.pod as string,
          ...(typeof b.ttlSeconds === 'number' ? { ttlSeconds: b.ttlSeconds } : {}),
        });
        sendJson(res, 200, { token });
      },
    },
    { method: 'GET', pattern: /^\/api\/v1\/proxies$/, mutating: false, handler: (_q, res) => sendJson(res, 200, { proxies: d.ads.proxies() }) },
    {
      method: 'GET',
      pattern: new RegExp(`^/api/v1/proxies/${seg}/config$`),
      mutating: false,
      handler: (_q, res, [id]) => {
        const config = d.ads.proxyConfig(id!);
        if (!config) throw new HttpError(404, 'WEFT_ERR_NOT_FOUND', `no connected proxy ${id}`);
        sendJson(res, 200, config);
      },
    },
    { method: 'GET', pattern: /^\/api\/v1\/root-cert$/, mutating: false, handler: (_q, res) => sendText(res, 200, 'application/x-pem-file', d.ca.rootCertPem) },
  ];
}

export function createApiHandler(d: ApiDeps): http.RequestListener {
  const table = routes(d);
  return (req, res) => {
    const url = new URL(req.url ?? '/', 'http://api');
    const path = url.pathname;
    let pathMatched = false;
    for (const r of table) {
      const m = r.pattern.exec(path);
      if (!m) continue;
      pathMatched = true;
      if (r.method !== req.method) continue;
      let params: string[];
      try {
        params = m.slice(1).map((p) => decodeURIComponent(p));
      } catch {
        sendError(res, 400, 'WEFT_ERR_BAD_REQUEST', 'bad percent-encoding in the path');
        return;
      }
      Promise.resolve()
        .then(() => {
          if (r.mutating) requireAdmin(req, d.adminToken);
          return r.handler(req, res, params, url);
        })
        .catch((e: unknown) => {
          const status = statusForError(e);
          if (status === 500) d.log('error', `${req.method} ${path}: ${errorMessage(e)}`);
          const code = isControlError(e) ? e.code : 'WEFT_ERR_INTERNAL';
          sendError(res, status, code, status === 500 ? `internal error: ${errorMessage(e)}` : errorMessage(e), status === 401 ? { 'www-authenticate': 'Bearer' } : {});
        });
      return;
    }
    if (pathMatched) sendError(res, 405, 'WEFT_ERR_BAD_REQUEST', `${req.method} is not allowed on ${path}`);
    else sendError(res, 404, 'WEFT_ERR_NOT_FOUND', `no such endpoint: ${path}`);
  };
}
