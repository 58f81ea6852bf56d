// Shared by the commands: -o json|yaml and the home folder (errors: errors.ts).

import { Command, Option } from 'commander';
import { stringify } from 'yaml';
import { resolveHome } from '../platform/local/mesh-file.js';

export type OutputFormat = 'table' | 'json' | 'yaml';

export function outputOption(): Option {
  return new Option('-o, --output <format>', 'output format').choices(['table', 'json', 'yaml']).default('table');
}

/** Prints data as JSON or YAML; returns false for table output (the caller prints its table). */
export function printData(format: OutputFormat, data: unknown): boolean {
  if (format === 'json') {
    process.stdout.write(`${JSON.stringify(data, null, 2)}\n`);
    return true;
  }
  if (format === 'yaml') {
    process.stdout.write(Array.isArray(data) ? data.map((d) => stringify(d)).join('---\n') : stringify(data));
    return true;
  }
  return false;
}

export function print(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** The global --home (or WEFT_HOME, or ~/.weft). */
export function homeOf(cmd: Command): string {
  const g = cmd.optsWithGlobals() as { home?: string };
  return resolveHome(g.home);
}

export { CliError, reportError } from './errors.js';
