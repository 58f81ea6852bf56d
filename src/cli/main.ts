#!/usr/bin/env node
// weft: the command-line interface. One file per command (see program.ts); this file only runs it.
// Errors thrown by a command are printed by reportError: one clear line (plus findings), exit 1.

import type { Command } from 'commander';
import { reportError } from './errors.js';

// `weft proxy` runs in every pod: give it only its own command, so the process does not
// load every other command's modules (YAML, resource schemas: about 20 MB resident).
async function program(): Promise<Command> {
  if (process.argv[2] === 'proxy') {
    const [{ Command: Cmd }, { proxyCommand }] = await Promise.all([import('commander'), import('./proxy.js')]);
    return new Cmd('weft').addCommand(proxyCommand());
  }
  return (await import('./program.js')).buildProgram();
}

program()
  .then((p) => p.parseAsync(process.argv))
  .catch((e: unknown) => {
    process.exitCode = reportError(e);
  });
