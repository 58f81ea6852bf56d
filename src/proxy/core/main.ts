// The proxy process: identity (key, CSR, renewal), data plane, ADS client and
// admin server, wired together; drain and exit on SIGTERM/SIGINT or
// POST /quitquitquit. Settings: see options.ts (WEFT_* variables listed there).
//
// Run directly: `node dist/src/proxy/core/main.js` with the WEFT_* variables set.
import { pathToFileURL } from 'node:url';
import type { DataPlane, IdentityProvider, ProxyIdentityInfo } from '../types.js';
import { AdminServer } from './admin.js';
import { Profiler } from './profiler.js';
import { readPemFile } from './control-channel.js';
import { errorMessage } from './errors.js';
import { WorkloadIdentity } from './identity.js';
import { createLogger, type Logger } from './log.js';
import { loadProxyOptionsFromEnv, resolveProxyOptions, type ProxyOptions, type ResolvedProxyOptions } from './options.js';
import { XdsClient } from './xds-client.js';

export { loadProxyOptionsFromEnv, resolveProxyOptions, PROXY_DEFAULTS, parseLabels } from './options.js';
export type { ProxyOptions, ResolvedProxyOptions } from './options.js';

export type DataPlaneFactory = (info: ProxyIdentityInfo, identity: IdentityProvider) => DataPlane;

export interface RunProxyDeps {
  /** Default: createDataPlane from src/proxy/data (loaded on first use). */
  createDataPlane?: DataPlaneFactory;
  /** Default: JSON lines on stderr at opts.logLevel. */
  logger?: Logger;
}

export interface RunningProxy {
  readonly options: ResolvedProxyOptions;
  readonly admin: AdminServer;
  /** host:port of the admin server. */
  readonly adminAddress: string;
  readonly xds: XdsClient;
  /** Undefined when no caRootFile/tokenFile is configured (the proxy then never becomes ready). */
  readonly identity: WorkloadIdentity | undefined;
  readonly dataPlane: DataPlane;
  readonly logger: Logger;
  /** Stop readiness, drain the data plane (drainSeconds), close everything. Idempotent. */
  shutdown(reason: string): Promise<void>;
  /** Resolves when shutdown has finished (by any path). */
  readonly closed: Promise<void>;
}

const NO_IDENTITY: IdentityProvider = { current: () => undefined, onRotate: () => {} };

async function defaultDataPlaneFactory(): Promise<DataPlaneFactory> {
  const mod = await import('../data/index.js');
  return mod.createDataPlane;
}

export async function runProxy(input: ProxyOptions, deps: RunProxyDeps = {}): Promise<RunningProxy> {
  const opts = resolveProxyOptions(input);
  const logger = deps.logger ?? createLogger({ level: opts.logLevel, base: { pod: `${opts.namespace}/${opts.pod}` } });
  const log = logger.child({ component: 'main' });

  const info: ProxyIdentityInfo = {
    type: opts.type,
    pod: opts.pod,
    namespace: opts.namespace,
    serviceAccount: opts.serviceAccount,
    identity: opts.identity,
    ip: opts.ip,
    listenAddress: opts.listenAddress,
    labels: opts.labels,
    trustDomain: opts.trustDomain,
  };

  const rootPem = opts.caRootFile ? await readPemFile(opts.caRootFile, 'CA root file') : undefined;
  let identity: WorkloadIdentity | undefined;
  if (opts.caRootFile && opts.tokenFile) {
    identity = new WorkloadIdentity({
      identity: opts.identity,
      caAddress: opts.caAddress,
      caRootFile: opts.caRootFile,
      tokenFile: opts.tokenFile,
      serverName: opts.controlServerName,
      validitySeconds: opts.certValiditySeconds,
      retryInitialMs: opts.caRetryInitialMs,
      retryMaxMs: opts.caRetryMaxMs,
      logger,
    });
  } else {
    log.warn('no caRootFile/tokenFile: no workload certificate will be requested; the proxy will not become ready');
  }

  const factory = deps.createDataPlane ?? (await defaultDataPlaneFactory());
  const dataPlane = factory(info, identity ?? NO_IDENTITY);
  identity?.start();

  const xds = new XdsClient({
    target: { address: opts.xdsAddress, rootPem: opts.xdsTls ? rootPem : undefined, serverName: opts.controlServerName },
    node: { type: opts.type, ip: opts.ip, pod: opts.pod, namespace: opts.namespace, serviceAccount: opts.serviceAccount, labels: opts.labels },
    dataPlane,
    tokenFile: opts.xdsTls ? opts.tokenFile : undefined,
    backoffMaxMs: opts.xdsBackoffMaxMs,
    protocol: opts.xdsProtocol,
    logger,
  });

  let shutdownPromise: Promise<void> | undefined;
  let resolveClosed!: () => void;
  const closed = new Promise<void>((r) => (resolveClosed = r));

  const admin = new AdminServer(
    {
      xds,
      identity,
      dataPlane,
      onQuit: () => void proxy.shutdown('quitquitquit'),
    },
    { host: opts.ip, port: opts.adminPort, logger, profiler: new Profiler(opts.profileDir, opts.pod) },
  );

  const shutdown = (reason: string): Promise<void> => {
    shutdownPromise ??= (async () => {
      log.info('shutting down: draining', { reason, drainSeconds: opts.drainSeconds });
      admin.setDraining();
      const step = async (what: string, f: () => Promise<void> | void): Promise<void> => {
        try {
          await f();
        } catch (err) {
          log.error(`shutdown: ${what} failed`, { error: errorMessage(err) });
        }
      };
      await step('drain', () => dataPlane.drain(opts.drainSeconds * 1000));
      await step('xds stop', () => xds.stop());
      await step('identity stop', () => identity?.stop());
      await step('data plane close', () => dataPlane.close());
      await step('admin close', () => admin.close());
      log.info('proxy stopped', { reason });
      await logger.flush();
      resolveClosed();
    })();
    return shutdownPromise;
  };

  let adminAddress: string;
  try {
    const a = await admin.listen();
    adminAddress = a.family === 'IPv6' ? `[${a.address}]:${a.port}` : `${a.address}:${a.port}`;
  } catch (err) {
    await identity?.stop();
    await dataPlane.close().catch(() => {});
    throw err;
  }
  xds.start();
  log.info('proxy started', { nodeId: xds.nodeId, identity: opts.identity, xds: opts.xdsAddress, tls: opts.xdsTls, admin: adminAddress });

  const proxy: RunningProxy = { options: opts, admin, adminAddress, xds, identity, dataPlane, logger, shutdown, closed };
  return proxy;
}

/** SIGTERM/SIGINT -> drain and exit 0 (a second signal exits at once); any other shutdown (quitquitquit) also exits. */
export function installSignalHandlers(proxy: RunningProxy, exit: (code: number) => void = (c) => process.exit(c)): () => void {
  let signalled = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (signalled) return exit(1);
    signalled = true;
    void proxy.shutdown(sig);
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
  void proxy.closed.then(() => exit(0));
  return () => {
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
  };
}

async function main(): Promise<void> {
  let proxy: RunningProxy;
  try {
    proxy = await runProxy(loadProxyOptionsFromEnv());
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    const logger = createLogger();
    logger.error('proxy failed to start', { code: typeof code === 'string' ? code : null, error: errorMessage(err) });
    await logger.flush();
    process.exit(2);
  }
  installSignalHandlers(proxy);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
