// The weft bin of this compiled tree, run with a private WEFT_HOME and no proxy settings.
import { runCli, weftBin, type CliResult } from '../helpers/mesh.js';

export { weftBin };
export type Run = CliResult;

/** Runs the weft bin with a private WEFT_HOME (and `extraEnv`); killed after timeoutMs. */
export function weft(args: string[], home: string, timeoutMs = 30_000, cwd = process.cwd(), extraEnv: NodeJS.ProcessEnv = {}): Promise<Run> {
  const env: NodeJS.ProcessEnv = { ...process.env, ...extraEnv, WEFT_HOME: home };
  for (const k of ['HTTP_PROXY', 'http_proxy', 'NO_PROXY', 'no_proxy']) delete env[k];
  return runCli(args, env, timeoutMs, undefined, cwd);
}
