#!/usr/bin/env node
// weft: the command-line interface. One file per command (see program.ts); this file only runs it.
// Errors thrown by a command are printed by reportError: one clear line (plus findings), exit 1.

import { reportError } from './output.js';
import { buildProgram } from './program.js';

buildProgram()
  .parseAsync(process.argv)
  .catch((e: unknown) => {
    process.exitCode = reportError(e);
  });
