// `weft exec POD -- COMMAND`: a local command with the pod's environment (HTTP_PROXY to its sidecar ...).

import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalPlatformError } from './errors.js';
import { findPod, weftPaths, type MeshFile, type MeshPod } from './mesh-file.js';

export function podEnvironment(home: string, pod: MeshPod): Record<string, string> {
  const f = join(weftPaths(home).pods, pod.name, 'env.json');
  try {
    return JSON.parse(readFileSync(f, 'utf8')) as Record<string, string>;
  } catch {
    throw new LocalPlatformError('WEFT_ERR_POD_NOT_FOUND', `pod ${pod.namespace}/${pod.name} has no environment file (${f})`);
  }
}

/** Runs argv with the pod's env, stdio inherited; resolves to its exit code (128+n for a signal). */
export function execInPod(home: string, mesh: MeshFile, podName: string, namespace: string | undefined, argv: string[]): Promise<number> {
  const pod = findPod(mesh, podName, namespace);
  if (pod.proxyType !== 'sidecar') throw new LocalPlatformError('WEFT_ERR_INVALID_INPUT', `${pod.name} is a gateway; exec needs a pod with a sidecar`);
  const env = { ...process.env, ...podEnvironment(home, pod) };
  const [cmd, ...args] = argv;
  if (!cmd) throw new LocalPlatformError('WEFT_ERR_INVALID_INPUT', 'no command given: weft exec POD -- COMMAND [ARGS...]');
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { env, stdio: 'inherit' });
    const forward = (s: NodeJS.Signals) => child.kill(s);
    process.on('SIGINT', forward);
    process.on('SIGTERM', forward);
    child.once('error', (e: NodeJS.ErrnoException) => reject(new LocalPlatformError('WEFT_ERR_SPAWN', `cannot run ${cmd}: ${e.code ?? e.message}`)));
    child.once('exit', (code, signal) => {
      process.off('SIGINT', forward);
      process.off('SIGTERM', forward);
      resolve(code ?? 128 + (signal ? (osSignal(signal) ?? 0) : 0));
    });
  });
}

function osSignal(s: NodeJS.Signals): number | undefined {
  return ({ SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGKILL: 9, SIGTERM: 15 } as Partial<Record<NodeJS.Signals, number>>)[s];
}
