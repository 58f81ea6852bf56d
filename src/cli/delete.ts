// weft delete KIND NAME [-n NS] | weft delete -f FILE

import { Command } from 'commander';
import { apiGroup, formatFinding } from '../resources/types.js';
import { loadResources } from '../platform/local/adapters.js';
import { meshContext } from './context.js';
import { resolveKind, unknownKind } from './kinds.js';
import { CliError, print } from './output.js';

export function deleteCommand(): Command {
  return new Command('delete')
    .description('delete a resource by kind and name, or every resource of a file')
    .argument('[kind]', 'kind, plural or short name')
    .argument('[name]', 'resource name')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-f, --filename <path>', 'delete the resources of this YAML file or folder')
    .option('-R, --recursive', 'also read the folder\'s sub-folders')
    .action(async (kindArg: string | undefined, name: string | undefined, flags: { namespace: string; filename?: string; recursive?: boolean }, cmd: Command) => {
      // `kind` goes to the API (Kind.group when the file names one: Istio's and the Gateway API's Gateway share a kind); `shown` is printed.
      const targets: { kind: string; shown: string; namespace: string; name: string }[] = [];
      if (flags.filename) {
        if (kindArg) throw new CliError('WEFT_ERR_USAGE', 'give either -f FILE or KIND NAME, not both');
        const { resources, findings } = await loadResources(flags.filename, flags.recursive === true);
        const errors = findings.filter((f) => f.severity === 'error');
        if (errors.length) throw new CliError('WEFT_ERR_INVALID_INPUT', `${flags.filename}: ${errors.length} error${errors.length > 1 ? 's' : ''}; nothing was deleted`, findings.map(formatFinding));
        for (const r of resources) {
          const group = apiGroup(r.apiVersion);
          targets.push({ kind: group ? `${r.kind}.${group}` : r.kind, shown: r.kind, namespace: r.metadata.namespace, name: r.metadata.name });
        }
      } else {
        if (!kindArg || !name) throw new CliError('WEFT_ERR_USAGE', 'usage: weft delete KIND NAME [-n NS] | weft delete -f FILE');
        const resolved = resolveKind(kindArg);
        if (!resolved) throw unknownKind(kindArg);
        targets.push({ kind: resolved.kind, shown: resolved.kind, namespace: resolved.clusterScoped ? '' : flags.namespace, name });
      }
      const { api } = meshContext(cmd);
      let missing = 0;
      for (const t of targets) {
        try {
          await api.deleteResource(t.kind, t.namespace, t.name);
          print(`${t.shown.toLowerCase()}/${t.name}${t.namespace && t.namespace !== 'default' ? ` (${t.namespace})` : ''} deleted`);
        } catch (e) {
          if ((e as { code?: string }).code !== 'WEFT_ERR_NOT_FOUND') throw e;
          missing++;
          process.stderr.write(`${t.shown} ${t.namespace ? `${t.namespace}/` : ''}${t.name} not found\n`);
        }
      }
      if (missing) throw new CliError('WEFT_ERR_NOT_FOUND', `${missing} of ${targets.length} resource${targets.length === 1 ? '' : 's'} not found`);
    });
}
