// weft apply -f FILE|DIR: validate locally, then store through the control plane.

import { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { formatFinding } from '../resources/types.js';
import { loadResources } from '../platform/local/adapters.js';
import { CliError, outputOption, print, printData, type OutputFormat } from './output.js';
import { meshContext } from './context.js';
import type { ApplyResult } from '../platform/local/control-api.js';

export function applyCommand(): Command {
  return new Command('apply')
    .description('create or update resources from a file or folder')
    .requiredOption('-f, --filename <path>', 'YAML file or folder')
    .option('-R, --recursive', 'also read the folder\'s sub-folders')
    .addOption(outputOption())
    .action(async (flags: { filename: string; recursive?: boolean; output: OutputFormat }, cmd: Command) => {
      const { resources, findings } = await loadResources(flags.filename, flags.recursive === true);
      const errors = findings.filter((f) => f.severity === 'error');
      if (errors.length) throw new CliError('WEFT_ERR_INVALID_INPUT', `${flags.filename}: ${errors.length} error${errors.length > 1 ? 's' : ''}; nothing was applied`, findings.map(formatFinding));
      for (const f of findings) process.stderr.write(`${formatFinding(f)}\n`);
      if (!resources.length) throw new CliError('WEFT_ERR_INVALID_INPUT', `${flags.filename}: no resources found`);
      const { api } = meshContext(cmd);
      const files = [...new Set(resources.map((r) => r.origin?.file).filter((f): f is string => f !== undefined))];
      const results: ApplyResult[] = [];
      const serverFindings = [];
      for (const file of files) {
        const r = await api.apply(readFileSync(file, 'utf8'), file);
        results.push(...r.results);
        serverFindings.push(...r.findings);
      }
      if (printData(flags.output, { results, findings: serverFindings })) return;
      for (const r of results) print(`${r.kind.toLowerCase()}/${r.name}${r.namespace && r.namespace !== 'default' ? ` (${r.namespace})` : ''} ${r.action}`);
      for (const f of serverFindings) process.stderr.write(`${formatFinding(f)}\n`);
      const rejected = results.filter((r) => r.action === 'rejected').length;
      if (rejected || serverFindings.some((f) => f.severity === 'error')) {
        throw new CliError('WEFT_ERR_REJECTED', `${rejected || 'some'} resource${rejected === 1 ? ' was' : 's were'} rejected; the running configuration keeps the previous version`);
      }
    });
}
