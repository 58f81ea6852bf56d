// The weft command tree.

import { Command } from 'commander';
import { applyCommand } from './apply.js';
import { controlCommand } from './control.js';
import { deleteCommand } from './delete.js';
import { downCommand } from './down.js';
import { execCommand } from './exec.js';
import { getCommand } from './get.js';
import { proxyCommand } from './proxy.js';
import { proxyConfigCommand } from './proxy-config.js';
import { proxyStatusCommand } from './proxy-status.js';
import { statusCommand } from './status.js';
import { upCommand } from './up.js';
import { cliVersion, versionCommand } from './version.js';

export function buildProgram(): Command {
  const program = new Command('weft')
    .description('a service mesh: mTLS, traffic management and observability from the YAML you already have')
    .version(cliVersion(), '--version', 'print the client version')
    .option('--home <dir>', 'state, logs and mesh.json (env WEFT_HOME, default ~/.weft)')
    .showSuggestionAfterError()
    .showHelpAfterError('(run weft --help for usage)');
  const commands = [
    upCommand(), downCommand(), statusCommand(), applyCommand(), getCommand(), deleteCommand(),
    proxyStatusCommand(), proxyConfigCommand(), execCommand(), versionCommand(), controlCommand(), proxyCommand(),
  ];
  for (const c of commands) program.addCommand(c);
  return program;
}
