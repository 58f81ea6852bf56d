// weft up DIR: run the folder's workloads as a local mesh (foreground, or --detach).

import { Command, InvalidArgumentError, Option } from 'commander';
import { fileURLToPath } from 'node:url';
import { formatFinding } from '../resources/types.js';
import { checkMeshInput, runLocalMesh } from '../platform/local/mesh.js';
import { spawnDetached, waitForDetachedMesh } from '../platform/local/detach.js';
import { weftPaths } from '../platform/local/mesh-file.js';
import { homeOf, print } from './output.js';
import { meshSummary } from './summary.js';
import { DEFAULT_NETWORK } from '../platform/local/addresses.js';
import { PORTS } from '../xds/names.js';

const DETACH_TIMEOUT_MS = 180_000;

interface UpFlags {
  detach?: boolean;
  network: number;
  ingressPort: number;
  trustDomain?: string;
}

function int(name: string) {
  return (v: string): number => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${name} must be a whole number, got "${v}"`);
    return n;
  };
}

export function upCommand(): Command {
  return new Command('up')
    .description('run the workloads of DIR (Deployments, Services, mesh resources) as a local mesh')
    .argument('<dir>', 'folder (or file) of YAML manifests')
    .option('-d, --detach', 'run in the background; return once every pod is ready')
    .addOption(new Option('--network <n>', 'network octet N: addresses 127.N.x.y').argParser(int('--network')).default(DEFAULT_NETWORK))
    .addOption(new Option('--ingress-port <port>', 'host port of the ingress gateway (Gateway port 80); https is this + 363').argParser(int('--ingress-port')).default(PORTS.ingressHttp))
    .option('--trust-domain <domain>', 'SPIFFE trust domain')
    .action(async (dir: string, flags: UpFlags, cmd: Command) => {
      const home = homeOf(cmd);
      if (flags.detach) {
        for (const f of await checkMeshInput(dir, flags.network, flags.ingressPort)) process.stderr.write(`${formatFinding(f)}\n`);
        const script = fileURLToPath(new URL('./main.js', import.meta.url));
        const args = [script, '--home', home, 'up', dir, '--network', String(flags.network), '--ingress-port', String(flags.ingressPort)];
        if (flags.trustDomain) args.push('--trust-domain', flags.trustDomain);
        const pid = spawnDetached(process.execPath, args, home, weftPaths(home).supervisorLog);
        process.stderr.write(`starting the mesh in the background (pid ${pid}, log ${weftPaths(home).supervisorLog}) ...\n`);
        const mesh = await waitForDetachedMesh(home, pid, DETACH_TIMEOUT_MS);
        print(meshSummary(mesh, 'stop: weft down   status: weft status   logs: ' + weftPaths(home).logs));
        return;
      }
      // Signals are ours from here on: during start-up they abort (stopping what started), afterwards they stop the mesh.
      const abort = new AbortController();
      let stopMesh: (() => Promise<void>) | undefined;
      let stopping: Promise<void> | undefined;
      let wake: () => void = () => {};
      const stopped = new Promise<void>((r) => (wake = r));
      const onSignal = (sig: NodeJS.Signals) => {
        if (stopping) return;
        process.stderr.write(`${sig === 'SIGINT' ? '\n' : ''}stopping the mesh ...\n`);
        if (!stopMesh) {
          abort.abort();
          stopping = Promise.resolve();
          return;
        }
        const p = stopMesh().then(
          () => {
            process.stderr.write('stopped\n');
          },
          (e: unknown) => {
            process.stderr.write(`error: while stopping: ${(e as Error).message}\n`);
            process.exitCode = 1;
          },
        );
        stopping = p;
        void p.then(wake);
      };
      process.on('SIGINT', onSignal);
      process.on('SIGTERM', onSignal);
      process.on('SIGHUP', onSignal);
      process.on('uncaughtException', (e) => {
        process.stderr.write(`internal error: ${e.stack ?? e.message}\n`);
        process.exitCode = 2;
        onSignal('SIGTERM');
        void (stopping ?? Promise.resolve()).then(() => process.exit(2));
      });
      const mesh = await runLocalMesh({
        dir,
        home,
        network: flags.network,
        ingressPort: flags.ingressPort,
        trustDomain: flags.trustDomain,
        signal: abort.signal,
        log: (l) => process.stderr.write(`${l}\n`),
      });
      stopMesh = mesh.stop;
      print(meshSummary(mesh.info(), `stop: Ctrl-C   logs: ${weftPaths(home).logs}`));
      await stopped;
    });
}
