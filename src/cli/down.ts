// weft down: stop the mesh started by `weft up`.

import { Command } from 'commander';
import { stopMesh } from '../platform/local/detach.js';
import { homeOf, print } from './output.js';

export function downCommand(): Command {
  return new Command('down')
    .description('stop the running mesh and every process it started')
    .option('--timeout <seconds>', 'how long to wait before killing what is left', '30')
    .action(async (flags: { timeout: string }, cmd: Command) => {
      const r = await stopMesh(homeOf(cmd), Number(flags.timeout) * 1000);
      print(`stopped the mesh (supervisor pid ${r.supervisorPid}, ${r.pods} pod${r.pods === 1 ? '' : 's'})${r.killed ? `; killed ${r.killed} process group${r.killed === 1 ? '' : 's'} left behind` : ''}`);
    });
}
