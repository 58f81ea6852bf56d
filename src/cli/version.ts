// weft version: this CLI's version and, when a mesh runs, the control plane's.

import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { ControlApiClient } from '../platform/local/control-api.js';
import { readMeshFile } from '../platform/local/mesh-file.js';
import { homeOf, outputOption, print, printData, type OutputFormat } from './output.js';
import { renderPairs } from './table.js';

export function cliVersion(): string {
  for (const rel of ['../../package.json', '../../../package.json']) {
    try {
      const p = JSON.parse(readFileSync(new URL(rel, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (p.name === 'weft' && p.version) return p.version;
    } catch {
      /* try the next */
    }
  }
  return 'unknown';
}

export function versionCommand(): Command {
  return new Command('version')
    .description('print the client and control-plane versions')
    .addOption(outputOption())
    .action(async (flags: { output: OutputFormat }, cmd: Command) => {
      const client = cliVersion();
      const mesh = readMeshFile(homeOf(cmd));
      let server: string | undefined;
      if (mesh) server = await new ControlApiClient(mesh.apiUrl, undefined, 2000).version().catch(() => undefined);
      if (printData(flags.output, { client, controlPlane: server ?? null })) return;
      print(renderPairs([['client', client], ['control plane', server ?? 'not running']]));
    });
}
