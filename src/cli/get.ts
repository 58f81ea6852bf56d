// weft get KIND [NAME] [-n NS] [-A]: stored resources (and pods: the workload registry).

import { Command } from 'commander';
import type { Workload } from '../model/types.js';
import type { StoredResource } from '../platform/local/control-api.js';
import { meshContext } from './context.js';
import { isWorkloadKind, resolveKind, unknownKind } from './kinds.js';
import { CliError, outputOption, print, printData, type OutputFormat } from './output.js';
import { renderTable } from './table.js';
import { redactSecret, type RedactedSecretSpec } from '../resources/kubernetes-secret.js';

interface GetFlags {
  namespace: string;
  allNamespaces?: boolean;
  output: OutputFormat;
}

export function getCommand(): Command {
  return new Command('get')
    .description('list resources of a kind (vs, dr, gw, svc, deploy, pods ...)')
    .argument('<kind>', 'kind, plural or short name')
    .argument('[name]', 'one resource')
    .option('-n, --namespace <ns>', 'namespace', 'default')
    .option('-A, --all-namespaces', 'every namespace')
    .addOption(outputOption())
    .action(async (kindArg: string, name: string | undefined, flags: GetFlags, cmd: Command) => {
      const { api } = meshContext(cmd);
      const ns = flags.allNamespaces ? undefined : flags.namespace;
      if (isWorkloadKind(kindArg)) {
        const ws = (await api.workloads()).filter((w) => (!ns || w.namespace === ns) && (!name || w.name === name));
        if (name && !ws.length) throw new CliError('WEFT_ERR_NOT_FOUND', `pod "${name}" not found in namespace ${flags.namespace}`);
        if (printData(flags.output, ws)) return;
        if (!ws.length) return print(`No pods found${ns ? ` in ${ns} namespace` : ''}.`);
        print(workloadTable(ws, !ns));
        return;
      }
      const resolved = resolveKind(kindArg);
      if (!resolved) throw unknownKind(kindArg);
      const { kind } = resolved;
      // Cluster-scoped kinds (Namespace, MeshConfig) are in no namespace.
      const resourceNs = resolved.clusterScoped ? undefined : ns;
      const items = (await api.resources(kind, resourceNs)).filter((r) => !name || r.metadata.name === name);
      if (name && !items.length) throw new CliError('WEFT_ERR_NOT_FOUND', `${kind} "${name}" not found${resourceNs ? ` in namespace ${resourceNs}` : ''}`);
      // The control plane already redacts Secrets; redacting again here keeps an older one from leaking key material.
      const clean = items.map((r): StoredResource => redactSecret({ apiVersion: r.apiVersion, kind: r.kind, metadata: r.metadata, spec: r.spec }));
      if (printData(flags.output, name ? clean[0] : clean)) return;
      if (!items.length) return print(`No ${kind} resources found${resourceNs ? ` in ${resourceNs} namespace` : ''}.`);
      const withNs = !ns && !resolved.clusterScoped;
      print(kind === 'Secret' ? secretTable(clean, withNs) : resourceTable(items, withNs));
    });
}

function workloadTable(ws: Workload[], withNs: boolean): string {
  const head = [...(withNs ? ['NAMESPACE'] : []), 'NAME', 'READY', 'ADDRESS', 'IDENTITY'];
  return renderTable(head, ws.map((w) => [...(withNs ? [w.namespace] : []), w.name, w.ready ? 'true' : 'false', w.address, w.identity]));
}

/** Secrets: never a value; the keys, and the certificate's subject and expiry when there is one. */
function secretTable(items: StoredResource[], withNs: boolean): string {
  const head = [...(withNs ? ['NAMESPACE'] : []), 'NAME', 'TYPE', 'KEYS', 'SUBJECT', 'NOT AFTER'];
  return renderTable(
    head,
    items.map((r) => {
      const spec = r.spec as RedactedSecretSpec;
      const keys = Object.keys(spec.data ?? {}).join(',');
      return [...(withNs ? [r.metadata.namespace] : []), r.metadata.name, spec.type, keys || '-', spec.certificate?.subject ?? '-', spec.certificate?.notAfter ?? '-'];
    }),
  );
}

function resourceTable(items: StoredResource[], withNs: boolean): string {
  const head = [...(withNs ? ['NAMESPACE'] : []), 'NAME', 'KIND', 'API VERSION'];
  return renderTable(head, items.map((r) => [...(withNs ? [r.metadata.namespace] : []), r.metadata.name, r.kind, r.apiVersion]));
}
