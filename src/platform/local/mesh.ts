// runLocalMesh: `weft up DIR` — control plane, ingress and egress gateways and every Deployment's pods
// as local processes on loopback addresses, until stop().

import { chmodSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Workload } from '../../model/types.js';
import type { DeploymentSpec, ServiceSpec } from '../../resources/kubernetes-types.js';
import { formatFinding, type Finding, type Resource } from '../../resources/types.js';
import { DEFAULT_TRUST_DOMAIN, PORTS, spiffeId } from '../../xds/names.js';
import { loadResources } from './adapters.js';
import { DEFAULT_NETWORK, checkNetwork, controlAddress, podAddresses, type PodAddresses } from './addresses.js';
import { ControlApiClient } from './control-api.js';
import { LocalPlatformError } from './errors.js';
import { EGRESS, egressServiceYaml } from './egress.js';
import { INGRESS, defaultIngressHttpsPort, exposedUrls, ingressServiceYaml } from './ingress.js';
import { tailLog } from './logs.js';
import { readMeshFile, removeMeshFile, weftPaths, writeMeshFile, type MeshFile, type MeshPod, type WeftPaths } from './mesh-file.js';
import { PROXY_NODE_FLAGS } from './node-flags.js';
import { PodRunner } from './pod.js';
import { pruneStaleWorkloads } from './registry-sync.js';
import { containerArgv, planDeploymentPods, podEnv, type PlannedPod } from './pod-plan.js';
import { resolveReadinessProbe } from './probe.js';
import { DEFAULT_RESTART, SupervisedProcess, pidAlive, type ProcessSpec } from './process.js';

export { PROXY_NODE_FLAGS };

export interface LocalMeshOptions {
  /** Folder (or file) of manifests. */
  dir: string;
  /** $WEFT_HOME */
  home: string;
  network?: number;
  ingressPort?: number;
  ingressHttpsPort?: number;
  trustDomain?: string;
  /** How to run `weft control` and `weft proxy`; defaults to this process's node and the weft bin beside this module. */
  weftCommand?: { command: string; args: string[] };
  /** Progress lines ("starting control plane ..."). */
  log?: (line: string) => void;
  /** Aborting stops whatever has started (Ctrl-C during start-up); runLocalMesh then rejects with WEFT_ERR_INTERRUPTED. */
  signal?: AbortSignal;
  /** How long `runLocalMesh` waits for every pod to become ready before returning anyway. */
  readyTimeoutMs?: number;
}

export interface LocalMesh {
  /** The current mesh.json content. */
  info(): MeshFile;
  /** Stops every process started (pods, then the control plane) and removes mesh.json. */
  stop(): Promise<void>;
}

const CONTROL_READY_TIMEOUT_MS = 30_000;
/** Locally the app is stopped before its proxy, so a short drain suffices (Ctrl-C stays quick). */
const LOCAL_DRAIN_SECONDS = 1;
const STATUS_WRITE_INTERVAL_MS = 2000;
const DEFAULT_READY_TIMEOUT_MS = 90_000;

/**
 * How `weft up` starts its own processes (control plane, proxies). WEFT_NODE_FLAGS adds
 * node flags to them, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof": node refuses those
 * in NODE_OPTIONS, and NODE_OPTIONS would reach the apps too.
 */
export function defaultWeftCommand(): { command: string; args: string[] } {
  const flags = (process.env.WEFT_NODE_FLAGS ?? '').split(/\s+/).filter(Boolean);
  return { command: process.execPath, args: [...flags, fileURLToPath(new URL('../../cli/main.js', import.meta.url))] };
}

/** Fails with WEFT_ERR_PORT_IN_USE when host:port cannot be bound. */
export function checkPortFree(host: string, port: number, what: string): Promise<void> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.once('error', (e: NodeJS.ErrnoException) => {
      reject(new LocalPlatformError('WEFT_ERR_PORT_IN_USE', `${what}: ${host}:${port} is ${e.code === 'EADDRINUSE' ? 'already in use' : `not usable (${e.code ?? e.message})`}`));
    });
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolvePromise()));
  });
}

function childEnv(): NodeJS.ProcessEnv {
  const env = { ...process.env };
  for (const k of ['HTTP_PROXY', 'http_proxy', 'HTTPS_PROXY', 'https_proxy', 'NO_PROXY', 'no_proxy']) delete env[k];
  return env;
}

interface PodPlan {
  planned: PlannedPod | undefined; // undefined: a gateway
  name: string;
  namespace: string;
  deployment: string;
  serviceAccount: string;
  labels: Record<string, string>;
  addr: PodAddresses;
  proxyType: 'sidecar' | 'router';
  /** Where the proxy binds its listeners: the pod address, or 127.0.0.1 for the ingress (host ports). */
  listenAddress: string;
  ports: Workload['ports'];
  env: Record<string, string>;
  argv?: string[];
  cwd?: string;
}

/** Plans every pod; throws (before anything starts) when a container cannot run locally. */
function planPods(resources: Resource[], network: number, ingressPort: number, ingressHttpsPort: number): PodPlan[] {
  const services = resources.filter((r): r is Resource<ServiceSpec> => r.kind === 'Service');
  const plans: PodPlan[] = [];
  const problems: string[] = [];
  let k = 0;
  for (const d of resources.filter((r): r is Resource<DeploymentSpec> => r.kind === 'Deployment')) {
    const manifestDir = d.origin ? dirname(resolve(d.origin.file)) : process.cwd();
    const where = d.origin ? `${d.origin.file}:${d.origin.line}: ` : '';
    if (d.spec.template.spec.containers.length > 1) {
      problems.push(`${where}Deployment ${d.metadata.namespace}/${d.metadata.name}: only one container per pod runs locally`);
    }
    for (const p of planDeploymentPods(d, manifestDir)) {
      const addr = podAddresses(network, ++k);
      const env = podEnv({ name: p.name, namespace: p.namespace, serviceAccount: p.serviceAccount, address: addr.address, appAddress: addr.appAddress }, p.container, services);
      const argv = containerArgv(p.container, env);
      if (!argv) {
        problems.push(`${where}Deployment ${d.metadata.namespace}/${d.metadata.name}: spec.template.spec.containers[0] has no command or args; locally weft runs them as a process (images are not pulled)`);
      }
      plans.push({
        planned: p,
        name: p.name,
        namespace: p.namespace,
        deployment: p.deployment,
        serviceAccount: p.serviceAccount,
        labels: p.labels,
        addr,
        proxyType: 'sidecar',
        listenAddress: addr.address,
        ports: (p.container.ports ?? []).map((cp) => ({ ...(cp.name ? { name: cp.name } : {}), containerPort: cp.containerPort })),
        env,
        argv,
        cwd: p.container.workingDir ? resolve(manifestDir, p.container.workingDir) : manifestDir,
      });
    }
  }
  if (problems.length) throw new LocalPlatformError('WEFT_ERR_INVALID_INPUT', 'these Deployments cannot run locally:', problems);
  const gateway = (g: typeof INGRESS | typeof EGRESS, addr: PodAddresses, listenAddress: string, ports: Workload['ports']): PodPlan => ({
    planned: undefined,
    name: `${g.name}-${'0'.repeat(10)}-local`,
    namespace: g.namespace,
    deployment: g.name,
    serviceAccount: g.serviceAccount,
    labels: { ...g.labels },
    addr,
    proxyType: 'router',
    listenAddress,
    ports,
    env: {},
  });
  plans.push(
    gateway(INGRESS, podAddresses(network, ++k), '127.0.0.1', [
      { name: 'http2', containerPort: ingressPort },
      { name: 'https', containerPort: ingressHttpsPort },
    ]),
  );
  const egress = podAddresses(network, ++k);
  plans.push(gateway(EGRESS, egress, egress.address, EGRESS.ports.map((p) => ({ name: p.name, containerPort: p.targetPort }))));
  return plans;
}

function proxyArgs(plan: PodPlan, o: { control: string; trustDomain: string; rootFile: string; tokenFile: string }): string[] {
  return [
    'proxy',
    '--type', plan.proxyType,
    '--pod', plan.name,
    '--namespace', plan.namespace,
    '--service-account', plan.serviceAccount,
    '--ip', plan.addr.address,
    '--listen-address', plan.listenAddress,
    '--labels', Object.entries(plan.labels).map(([k, v]) => `${k}=${v}`).join(','),
    '--trust-domain', o.trustDomain,
    '--xds-address', `${o.control}:${PORTS.xdsTls}`,
    '--ca-address', `${o.control}:${PORTS.xdsTls}`,
    '--ca-root-file', o.rootFile,
    '--token-file', o.tokenFile,
    '--admin-port', String(PORTS.proxyAdmin),
    '--drain-seconds', String(LOCAL_DRAIN_SECONDS),
  ];
}

async function waitFor(cond: () => Promise<boolean> | boolean, timeoutMs: number, failFast?: () => boolean, stepMs = 200): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await cond()) return true;
    if (failFast?.()) return false;
    await new Promise((r) => setTimeout(r, stepMs));
  }
  return false;
}

interface MeshInput {
  source: string;
  resources: Resource[];
  findings: Finding[];
  plans: PodPlan[];
}

async function loadMeshInput(dir: string, network: number, ingressPort: number, ingressHttpsPort: number): Promise<MeshInput> {
  const source = resolve(dir);
  if (!existsSync(source)) throw new LocalPlatformError('WEFT_ERR_INVALID_INPUT', `${dir}: no such file or folder`);
  const { resources, findings } = await loadResources(source);
  const errors = findings.filter((f) => f.severity === 'error');
  if (errors.length) {
    throw new LocalPlatformError('WEFT_ERR_INVALID_INPUT', `${dir}: ${errors.length} error${errors.length > 1 ? 's' : ''}; nothing was started`, findings.map(formatFinding));
  }
  return { source, resources, findings, plans: planPods(resources, network, ingressPort, ingressHttpsPort) };
}

/**
 * Checks a folder as `weft up` would, starting nothing: throws LocalPlatformError
 * (WEFT_ERR_INVALID_INPUT, details = findings) on errors; returns the warnings.
 */
export async function checkMeshInput(dir: string, network = DEFAULT_NETWORK, ingressPort: number = PORTS.ingressHttp): Promise<Finding[]> {
  const r = await loadMeshInput(dir, checkNetwork(network), ingressPort, defaultIngressHttpsPort(ingressPort));
  return r.findings;
}

export async function runLocalMesh(opts: LocalMeshOptions): Promise<LocalMesh> {
  const log = opts.log ?? (() => {});
  const network = checkNetwork(opts.network ?? DEFAULT_NETWORK);
  const ingressPort = opts.ingressPort ?? PORTS.ingressHttp;
  const ingressHttpsPort = opts.ingressHttpsPort ?? defaultIngressHttpsPort(ingressPort);
  const trustDomain = opts.trustDomain ?? DEFAULT_TRUST_DOMAIN;
  const weft = opts.weftCommand ?? defaultWeftCommand();
  const paths: WeftPaths = weftPaths(opts.home);
  const control = controlAddress(network);

  // 1. Input: nothing starts unless every file is valid and every pod can run.
  const { source, resources, findings, plans } = await loadMeshInput(opts.dir, network, ingressPort, ingressHttpsPort);
  for (const f of findings) log(formatFinding(f));

  const existing = readMeshFile(opts.home);
  if (existing && existing.supervisorPid !== process.pid && pidAlive(existing.supervisorPid)) {
    throw new LocalPlatformError('WEFT_ERR_MESH_RUNNING', `a mesh is already running from ${opts.home} (pid ${existing.supervisorPid}); stop it with: weft down`);
  }
  await checkPortFree(control, PORTS.controlApi, 'control plane API');
  await checkPortFree(control, PORTS.xdsPlaintext, 'control plane xDS');
  await checkPortFree(control, PORTS.xdsTls, 'control plane xDS/TLS');
  await checkPortFree('127.0.0.1', ingressPort, 'ingress http (--ingress-port)');
  await checkPortFree('127.0.0.1', ingressHttpsPort, 'ingress https');

  mkdirSync(paths.logs, { recursive: true });
  mkdirSync(paths.state, { recursive: true });
  rmSync(paths.pods, { recursive: true, force: true });
  mkdirSync(paths.pods, { recursive: true, mode: 0o700 });

  const apiUrl = `http://${control}:${PORTS.controlApi}`;
  const ingressUrl = `http://127.0.0.1:${ingressPort}`;
  const runners = new Map<string, PodRunner>();
  const startedAt = Date.now();
  const state: MeshFile = {
    network,
    controlAddress: control,
    apiUrl,
    adminTokenFile: join(paths.state, 'admin-token'),
    supervisorPid: process.pid,
    ingressUrl,
    appUrls: exposedUrls(resources, ingressUrl),
    phase: 'starting',
    source,
    startedAt,
    updatedAt: startedAt,
    pods: [],
  };
  const snapshot = (): MeshFile => {
    state.updatedAt = Date.now();
    state.controlPgid = controlProc.pid;
    state.pods = plans.map((p): MeshPod => {
      const r = runners.get(p.name);
      return {
        name: p.name,
        namespace: p.namespace,
        address: p.addr.address,
        appAddress: p.proxyType === 'router' ? p.listenAddress : p.addr.appAddress,
        adminPort: PORTS.proxyAdmin,
        proxyType: p.proxyType,
        deployment: p.deployment,
        ready: r?.isReady ?? false,
        readyContainers: r?.readyContainers ?? 0,
        containers: p.proxyType === 'router' ? 1 : 2,
        restarts: r?.restarts ?? 0,
        startedAt: r?.startedAt ?? startedAt,
        pgids: r?.pgids ?? [],
      };
    });
    return state;
  };
  const save = () => writeMeshFile(opts.home, snapshot());

  // 2. Control plane.
  const controlLog = join(paths.logs, 'control.log');
  const controlProc = new SupervisedProcess(
    { name: 'control plane', command: weft.command, args: [...weft.args, 'control', '--address', control, '--state-dir', paths.state, '--trust-domain', trustDomain], env: childEnv(), logFile: controlLog },
    DEFAULT_RESTART,
  );
  controlProc.on('exit', (i) => log(`control plane exited (${i.signal ?? `code ${i.code}`})${i.restartInMs ? `; restarting in ${i.restartInMs / 1000} s` : ''}`));
  save();

  let stopped: Promise<void> | undefined;
  let stopRequested = false;
  let timer: NodeJS.Timeout | undefined;
  const stop = (): Promise<void> =>
    (stopped ??= (async () => {
      stopRequested = true;
      if (timer) clearInterval(timer);
      state.phase = 'stopping';
      save();
      await Promise.all([...runners.values()].map((r) => r.stop()));
      await controlProc.stop();
      rmSync(paths.pods, { recursive: true, force: true });
      removeMeshFile(opts.home);
    })());

  const aborted = () => opts.signal?.aborted === true;
  const checkAbort = () => {
    if (stopRequested && !aborted()) throw new LocalPlatformError('WEFT_ERR_INTERRUPTED', 'stopped while starting');
    if (aborted()) throw new LocalPlatformError('WEFT_ERR_INTERRUPTED', 'interrupted while starting; everything started was stopped');
  };
  opts.signal?.addEventListener('abort', () => void stop(), { once: true });

  try {
    checkAbort();
    log(`starting control plane on ${control}`);
    await controlProc.start();
    const api0 = new ControlApiClient(apiUrl);
    let controlExits = 0;
    controlProc.on('exit', () => controlExits++);
    const up = await waitFor(() => api0.ready(), CONTROL_READY_TIMEOUT_MS, () => controlExits > 0 || aborted());
    checkAbort();
    if (!up) {
      throw new LocalPlatformError(
        'WEFT_ERR_CONTROL_START',
        controlExits > 0 ? `the control plane exited while starting (log: ${controlLog})` : `the control plane was not ready after ${CONTROL_READY_TIMEOUT_MS / 1000} s (log: ${controlLog})`,
        tailLog(controlLog).map((l) => `  ${l}`),
      );
    }
    if (!(await waitFor(() => existsSync(state.adminTokenFile), 5000))) {
      throw new LocalPlatformError('WEFT_ERR_CONTROL_START', `the control plane wrote no admin token (${state.adminTokenFile})`);
    }
    const api = new ControlApiClient(apiUrl, readFileSync(state.adminTokenFile, 'utf8').trim());

    // 3. Resources: every file as written, then the gateways' Services.
    const files = [...new Set(resources.map((r) => r.origin?.file).filter((f): f is string => f !== undefined))];
    const docs: { text: string; source: string }[] = files.map((f) => ({ text: readFileSync(f, 'utf8'), source: f }));
    docs.push({ text: ingressServiceYaml(ingressPort, ingressHttpsPort), source: 'weft:ingress-gateway' });
    docs.push({ text: egressServiceYaml(), source: 'weft:egress-gateway' });
    for (const d of docs) {
      checkAbort();
      const res = await api.apply(d.text, d.source);
      const bad = res.findings.filter((f) => f.severity === 'error');
      const rejected = res.results.filter((r) => r.action === 'rejected');
      if (bad.length || rejected.length) {
        throw new LocalPlatformError('WEFT_ERR_API', `the control plane rejected ${d.source}`, res.findings.map(formatFinding));
      }
    }
    log(`applied ${resources.length} resource${resources.length === 1 ? '' : 's'} from ${files.length} file${files.length === 1 ? '' : 's'}`);

    // 4. Pods, once the registry holds none of a previous run's.
    const stale = await pruneStaleWorkloads(api, plans);
    if (stale.length) log(`removed ${stale.length} workload${stale.length === 1 ? '' : 's'} a previous run left in the registry`);
    const rootFile = join(paths.pods, 'root-cert.pem');
    writeFileSync(rootFile, await api.rootCert(), { mode: 0o644 });
    timer = setInterval(() => {
      try {
        save();
      } catch {
        /* the next write will tell */
      }
    }, STATUS_WRITE_INTERVAL_MS);
    timer.unref();

    await Promise.all(plans.map((plan) => startPod(plan)));
    checkAbort();
    const allReady = await waitFor(() => [...runners.values()].every((r) => r.isReady), opts.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS, aborted);
    checkAbort();
    if (!allReady) log('some pods are not ready yet; see: weft status');
    state.phase = 'ready';
    save();
    return { info: snapshot, stop };

    async function startPod(plan: PodPlan): Promise<void> {
      checkAbort();
      const workload: Workload = {
        name: plan.name,
        namespace: plan.namespace,
        labels: plan.labels,
        serviceAccount: plan.serviceAccount,
        identity: spiffeId(plan.namespace, plan.serviceAccount, trustDomain),
        address: plan.addr.address,
        appAddress: plan.proxyType === 'router' ? plan.addr.address : plan.addr.appAddress,
        ports: plan.ports,
        ready: false,
        meshed: true,
        owner: plan.deployment,
        proxyType: plan.proxyType,
      };
      await api.putWorkload(workload);
      const podDir = join(paths.pods, plan.name);
      mkdirSync(podDir, { recursive: true, mode: 0o700 });
      const tokenFile = join(podDir, 'token');
      writeFileSync(tokenFile, await api.token(plan.namespace, plan.serviceAccount, plan.name), { mode: 0o600 });
      chmodSync(tokenFile, 0o600);
      writeFileSync(join(podDir, 'env.json'), `${JSON.stringify(plan.env, null, 2)}\n`);

      // Readiness goes to the registry in order, one update at a time.
      let chain = Promise.resolve();
      const report = (ready: boolean) => {
        chain = chain.then(() => api.putWorkload({ ...workload, ready })).catch((e: unknown) => log(`${plan.name}: cannot report readiness: ${(e as Error).message}`));
        save();
      };
      const proxySpec: ProcessSpec = {
        name: `${plan.name} ${plan.proxyType}`,
        command: weft.command,
        args: [...(weft.command === process.execPath ? PROXY_NODE_FLAGS : []), ...weft.args, ...proxyArgs(plan, { control, trustDomain, rootFile, tokenFile })],
        env: childEnv(),
        logFile: join(paths.logs, `${plan.name}.proxy.log`),
      };
      const appEnv = { ...childEnv(), ...plan.env };
      const [cmd, ...args] = plan.argv ?? [];
      const runner = new PodRunner({
        name: plan.name,
        proxy: { spec: proxySpec, readyUrl: `http://${plan.addr.address}:${PORTS.proxyAdmin}/ready` },
        app:
          plan.planned && cmd
            ? {
                spec: { name: `${plan.name} app`, command: cmd, args, env: appEnv, cwd: plan.cwd, logFile: join(paths.logs, `${plan.name}.log`) },
                probe: resolveReadinessProbe(plan.planned.container, plan.addr.appAddress, appEnv, plan.cwd),
              }
            : undefined,
        onReadyChange: report,
        onExit: (which, i) => {
          log(`${plan.name}: ${which} exited (${i.signal ?? `code ${i.code}`})${i.restartInMs !== undefined ? `; restarting in ${i.restartInMs / 1000} s` : ''}`);
          save();
        },
      });
      checkAbort();
      runners.set(plan.name, runner);
      await runner.start();
    }
  } catch (e) {
    if (aborted()) e = new LocalPlatformError('WEFT_ERR_INTERRUPTED', 'interrupted while starting; everything started was stopped');
    state.phase = 'failed';
    state.error = (e as Error).message;
    state.errorDetails = e instanceof LocalPlatformError ? e.details : undefined;
    await stop();
    throw e;
  }
}
