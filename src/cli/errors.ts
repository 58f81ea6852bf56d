// The user-error printer and CliError, kept apart from output.ts so that the proxy's
// start-up path (main.ts) does not load the YAML printer.

import { isLocalPlatformError } from '../platform/local/errors.js';

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
