// Shared by the commands: -o json|yaml, the user-error printer, the home folder.

import { Command, Option } from 'commander';
import { stringify } from 'yaml';
import { isLocalPlatformError } from '../platform/local/errors.js';
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

/** An error the user caused or can fix: one line (plus details), no stack trace. */
export class CliError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly details: string[] = [],
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Prints an error the way every command does and returns the exit code. */
export function reportError(e: unknown): number {
  if (e instanceof CliError || isLocalPlatformError(e) || isCodedError(e)) {
    process.stderr.write(`error: ${e.message}\n`);
    const details = (e as { details?: unknown }).details;
    if (Array.isArray(details)) for (const d of details) process.stderr.write(`${String(d)}\n`);
    return e instanceof CliError ? e.exitCode : 1;
  }
  // A bug, not a user error: keep the stack.
  process.stderr.write(`internal error: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}\n`);
  return 2;
}

function isCodedError(e: unknown): e is Error & { code: string } {
  return e instanceof Error && typeof (e as { code?: unknown }).code === 'string' && (e as unknown as { code: string }).code.startsWith('WEFT_');
}
