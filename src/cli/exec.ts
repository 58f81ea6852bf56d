// weft exec POD [-n NS] -- COMMAND...: run a local command with the pod's environment.

import { Command } from 'commander';
import { execInPod } from '../platform/local/exec.js';
import { requireMesh } from '../platform/local/mesh-file.js';
import { homeOf } from './output.js';

export function execCommand(): Command {
  return new Command('exec')
    .description("run COMMAND locally with a pod's environment (its traffic goes through the pod's sidecar)")
    .argument('<pod>', 'pod name (or deployment name)')
    .argument('<command...>', 'command and arguments, after --')
    .option('-n, --namespace <ns>', 'namespace of the pod')
    .action(async (pod: string, argv: string[], flags: { namespace?: string }, cmd: Command) => {
      const home = homeOf(cmd);
      process.exitCode = await execInPod(home, requireMesh(home), pod, flags.namespace, argv);
    });
}
