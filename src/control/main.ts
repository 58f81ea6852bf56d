// The control-plane process: store + registry on disk, CA, ADS (plaintext and
// TLS ports), the HTTP API and the monitoring port. `weft control` calls
// runControl(); SIGTERM handling is the caller's, which calls close().
//
// Environment overrides (loadControlOptionsFromEnv), each optional:
//   WEFT_STATE_DIR            state directory (default $WEFT_HOME/state, WEFT_HOME default ~/.weft)
//   WEFT_CONTROL_ADDRESS      address every port binds (default 127.0.0.1)
//   WEFT_XDS_PORT             ADS plaintext port (default 15010)
//   WEFT_XDS_TLS_PORT         ADS + CA over TLS (default 15012)
//   WEFT_API_PORT             HTTP API (default 15080)
//   WEFT_MONITORING_PORT      Prometheus /metrics (default 15014)
//   WEFT_TRUST_DOMAIN         SPIFFE trust domain (default cluster.local)
//   WEFT_CA_CERT_FILE, WEFT_CA_KEY_FILE   use this CA instead of the one in the state dir (both or neither)
//   WEFT_CERT_MAX_TTL_SECONDS cap on workload certificate lifetime (default 86400)
//   WEFT_DEBOUNCE_MS          push debounce (default 100)
//   WEFT_MAX_DEBOUNCE_MS      longest a push waits in a burst of changes (default 1000)
// Any port may be 0 (the OS picks one; ControlPlane.ports has the bound ones).
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { CA_SERVICE } from '../xds/ads-service.js';
import { ADS_SERVER_SERVICE } from './ads-wire.js';
import { DEFAULT_TRUST_DOMAIN, PORTS } from '../xds/names.js';
import { ResourceStore } from './store.js';
import { WorkloadRegistry } from './registry.js';
import { CA_DEFAULTS, CertificateAuthority, servingIps } from './ca.js';
import { TokenIssuer } from './tokens.js';
import { AdsServer, ADS_DEFAULTS } from './ads.js';
import { caServiceHandlers } from './ca-service.js';
import { createApiHandler } from './api.js';
import { createMonitoringHandler } from './monitoring.js';
import { createControlMetrics, type ControlMetrics } from './metrics.js';
import { createStderrLogger, type Logger } from './log.js';
import { loadPipeline, type Pipeline } from './pipeline.js';
import { adminTokenPath, loadOrCreateAdminToken } from './admin-token.js';
import { ControlError, errorMessage } from './errors.js';
import type { Finding } from '../resources/types.js';
import { isCredentialFinding } from '../model/credentials.js';

export interface ControlPorts {
  /** ADS, plaintext. */
  xds: number;
  /** ADS and the CA, TLS with a server certificate from the mesh CA. */
  xdsTls: number;
  api: number;
  monitoring: number;
}

export interface ControlOptions {
  stateDir: string;
  address?: string;
  ports?: Partial<ControlPorts>;
  trustDomain?: string;
  caCertFile?: string;
  caKeyFile?: string;
  maxCertValiditySeconds?: number;
  debounceMs?: number;
  maxDebounceMs?: number;
  /** Replace parts of the parse/model/generate pipeline (tests, embedding). */
  pipeline?: Partial<Pipeline>;
  log?: Logger;
}

export const CONTROL_DEFAULTS = {
  address: '127.0.0.1',
  ports: { xds: PORTS.xdsPlaintext, xdsTls: PORTS.xdsTls, api: PORTS.controlApi, monitoring: PORTS.controlMonitoring } satisfies ControlPorts,
  trustDomain: DEFAULT_TRUST_DOMAIN,
  maxCertValiditySeconds: CA_DEFAULTS.maxLeafValiditySeconds,
  debounceMs: ADS_DEFAULTS.debounceMs,
  maxDebounceMs: ADS_DEFAULTS.maxDebounceMs,
  /** DNS SANs of the control plane's serving certificate (besides its IP). */
  servingDnsNames: ['weft-control', 'istiod.istio-system.svc', 'localhost'],
  shutdownGraceMs: 2000,
} as const;

export interface ControlPlane {
  address: string;
  ports: ControlPorts;
  stateDir: string;
  trustDomain: string;
  adminToken: string;
  adminTokenFile: string;
  rootCertPem: string;
  store: ResourceStore;
  registry: WorkloadRegistry;
  ads: AdsServer;
  ca: CertificateAuthority;
  tokens: TokenIssuer;
  metrics: ControlMetrics;
  /** Ends ADS streams (status OK), stops every listener. Idempotent. */
  close(): Promise<void>;
}

function intEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new ControlError('WEFT_ERR_CONFIG', `${name}: expected a non-negative integer, got ${JSON.stringify(v)}`);
  return n;
}

export function loadControlOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ControlOptions {
  const home = env['WEFT_HOME'] || path.join(os.homedir(), '.weft');
  const ports: Partial<ControlPorts> = {};
  const portVars: [keyof ControlPorts, string][] = [
    ['xds', 'WEFT_XDS_PORT'],
    ['xdsTls', 'WEFT_XDS_TLS_PORT'],
    ['api', 'WEFT_API_PORT'],
    ['monitoring', 'WEFT_MONITORING_PORT'],
  ];
  for (const [k, name] of portVars) {
    const p = intEnv(env, name);
    if (p !== undefined) {
      if (p > 65535) throw new ControlError('WEFT_ERR_CONFIG', `${name}: ${p} is not a port`);
      ports[k] = p;
    }
  }
  const opts: ControlOptions = { stateDir: env['WEFT_STATE_DIR'] || path.join(home, 'state'), ports };
  if (env['WEFT_CONTROL_ADDRESS']) opts.address = env['WEFT_CONTROL_ADDRESS'];
  if (env['WEFT_TRUST_DOMAIN']) opts.trustDomain = env['WEFT_TRUST_DOMAIN'];
  if (env['WEFT_CA_CERT_FILE']) opts.caCertFile = env['WEFT_CA_CERT_FILE'];
  if (env['WEFT_CA_KEY_FILE']) opts.caKeyFile = env['WEFT_CA_KEY_FILE'];
  const ttl = intEnv(env, 'WEFT_CERT_MAX_TTL_SECONDS');
  if (ttl !== undefined) opts.maxCertValiditySeconds = ttl;
  const deb = intEnv(env, 'WEFT_DEBOUNCE_MS');
  if (deb !== undefined) opts.debounceMs = deb;
  const maxDeb = intEnv(env, 'WEFT_MAX_DEBOUNCE_MS');
  if (maxDeb !== undefined) opts.maxDebounceMs = maxDeb;
  return opts;
}

function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}

function bindGrpc(server: grpc.Server, address: string, port: number, creds: grpc.ServerCredentials): Promise<number> {
  return new Promise((resolve, reject) => {
    server.bindAsync(hostPort(address, port), creds, (err, bound) => (err ? reject(err) : resolve(bound)));
  });
}

function listenHttp(server: http.Server, address: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, address, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

function shutdownGrpc(server: grpc.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      server.forceShutdown();
      resolve();
    }, graceMs);
    server.tryShutdown(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function closeHttp(server: http.Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}

function packageVersion(): string {
  try {
    const file = new URL('../../../package.json', import.meta.url);
    return (JSON.parse(fs.readFileSync(file, 'utf8')) as { version?: string }).version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

const GRPC_SERVER_OPTIONS: grpc.ServerOptions = {
  'grpc.keepalive_time_ms': 30_000,
  'grpc.keepalive_timeout_ms': 10_000,
  'grpc.keepalive_permit_without_calls': 1,
  'grpc.max_receive_message_length': 16 * 1024 * 1024,
};

/**
 * The model's credential findings, for an apply's answer. After a change the ADS server
 * rebuilds at once (not after the push debounce) and its push uses the same model; an apply
 * that changed nothing reads the current model's findings. A model that does not build is
 * logged by the ADS server.
 */
function credentialAnalysis(ads: AdsServer, changed: boolean): Finding[] {
  return ((changed ? ads.rebuildNow() : ads.modelFindings) ?? []).filter(isCredentialFinding);
}

export async function runControl(opts: ControlOptions): Promise<ControlPlane> {
  const address = opts.address ?? CONTROL_DEFAULTS.address;
  const wantPorts: ControlPorts = { ...CONTROL_DEFAULTS.ports, ...opts.ports };
  const trustDomain = opts.trustDomain ?? CONTROL_DEFAULTS.trustDomain;
  const stateDir = path.resolve(opts.stateDir);
  const log = opts.log ?? createStderrLogger('control');
  const onListenerError = (e: unknown): void => log('error', `change listener failed: ${errorMessage(e)}`);

  fs.mkdirSync(stateDir, { recursive: true, mode: 0o700 });
  const pipeline = await loadPipeline(opts.pipeline);
  const metrics = createControlMetrics();
  const store = await ResourceStore.open(stateDir, onListenerError);
  const registry = await WorkloadRegistry.open(stateDir, onListenerError);
  for (const p of [...store.loadProblems, ...registry.loadProblems]) log('warn', `skipped unreadable state file ${p.file}: ${p.message}`);
  const ca = await CertificateAuthority.open({
    stateDir,
    trustDomain,
    ...(opts.caCertFile !== undefined ? { caCertFile: opts.caCertFile } : {}),
    ...(opts.caKeyFile !== undefined ? { caKeyFile: opts.caKeyFile } : {}),
    maxLeafValiditySeconds: opts.maxCertValiditySeconds ?? CONTROL_DEFAULTS.maxCertValiditySeconds,
  });
  const tokens = await TokenIssuer.open(stateDir, trustDomain);
  const adminToken = await loadOrCreateAdminToken(stateDir);
  const serving = await ca.issueServingCertificate({ ips: servingIps(address), dnsNames: [...CONTROL_DEFAULTS.servingDnsNames] });

  const ads = new AdsServer({
    store,
    registry,
    buildModel: pipeline.buildModel,
    generate: pipeline.generate,
    ...(pipeline.generateGroups ? { generateGroups: pipeline.generateGroups } : {}),
    trustDomain,
    rootCertsPem: [ca.rootCertPem],
    verifyToken: (token) => tokens.verify(token),
    metrics,
    log,
    debounceMs: opts.debounceMs ?? CONTROL_DEFAULTS.debounceMs,
    maxDebounceMs: opts.maxDebounceMs ?? CONTROL_DEFAULTS.maxDebounceMs,
  });

  let ready = false;
  const plain = new grpc.Server(GRPC_SERVER_OPTIONS);
  plain.addService(ADS_SERVER_SERVICE, ads.handlers());
  const secure = new grpc.Server(GRPC_SERVER_OPTIONS);
  secure.addService(ADS_SERVER_SERVICE, ads.handlers());
  secure.addService(CA_SERVICE, caServiceHandlers({ ca, tokens, metrics, log }));
  const api = http.createServer(
    createApiHandler({
      store,
      registry,
      ads,
      ca,
      tokens,
      adminToken,
      parseYaml: pipeline.parseYaml,
      version: packageVersion(),
      log,
      ready: () => ready,
      analyze: (changed) => credentialAnalysis(ads, changed),
    }),
  );
  const monitoring = http.createServer(createMonitoringHandler(metrics.registry));

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= (async () => {
      ready = false;
      ads.close();
      const grace = CONTROL_DEFAULTS.shutdownGraceMs;
      await Promise.all([shutdownGrpc(plain, grace), shutdownGrpc(secure, grace), closeHttp(api, grace), closeHttp(monitoring, grace)]);
    })();
    return closing;
  };

  try {
    const tlsCreds = grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(serving.keyPem), cert_chain: Buffer.from(serving.certChainPem) }], false);
    const ports: ControlPorts = {
      xds: await bindGrpc(plain, address, wantPorts.xds, grpc.ServerCredentials.createInsecure()),
      xdsTls: await bindGrpc(secure, address, wantPorts.xdsTls, tlsCreds),
      api: await listenHttp(api, address, wantPorts.api),
      monitoring: await listenHttp(monitoring, address, wantPorts.monitoring),
    };
    ready = true;
    log('info', `control plane on ${address}: xds ${ports.xds}, xds-tls ${ports.xdsTls}, api ${ports.api}, monitoring ${ports.monitoring}; state ${stateDir}`);
    return {
      address,
      ports,
      stateDir,
      trustDomain,
      adminToken,
      adminTokenFile: adminTokenPath(stateDir),
      rootCertPem: ca.rootCertPem,
      store,
      registry,
      ads,
      ca,
      tokens,
      metrics,
      close,
    };
  } catch (e) {
    await close();
    throw new ControlError('WEFT_ERR_CONFIG', `cannot bind the control plane's ports on ${address}: ${errorMessage(e)}`, { cause: e });
  }
}
