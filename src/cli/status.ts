// weft status: the control plane and the pods of the running mesh.

import { Command } from 'commander';
import { ControlApiClient } from '../platform/local/control-api.js';
import { requireMesh } from '../platform/local/mesh-file.js';
import { homeOf, outputOption, print, printData, type OutputFormat } from './output.js';
import { age, renderPairs, renderTable } from './table.js';

export function statusCommand(): Command {
  return new Command('status')
    .description('show the control plane and every pod of the running mesh')
    .addOption(outputOption())
    .action(async (flags: { output: OutputFormat }, cmd: Command) => {
      const home = homeOf(cmd);
      const mesh = requireMesh(home);
      const api = new ControlApiClient(mesh.apiUrl, undefined, 3000);
      const ready = await api.ready();
      const version = ready ? await api.version().catch(() => undefined) : undefined;
      const control = { address: mesh.controlAddress, api: mesh.apiUrl, ready, version };
      if (printData(flags.output, { control, phase: mesh.phase, supervisorPid: mesh.supervisorPid, ingressUrl: mesh.ingressUrl, pods: mesh.pods })) return;
      const stale = Date.now() - mesh.updatedAt > 10_000 ? `   (status ${age(mesh.updatedAt)} old)` : '';
      print(
        renderPairs([
          ['control plane', `${mesh.controlAddress}   ${ready ? 'ready' : 'NOT READY'}${version ? `   version ${version}` : ''}   API ${mesh.apiUrl}`],
          ['ingress', mesh.ingressUrl],
          ['supervisor', `pid ${mesh.supervisorPid}   ${mesh.phase}${stale}`],
        ]),
      );
      print('');
      print(
        renderTable(
          ['NAME', 'NAMESPACE', 'READY', 'ADDRESS', 'RESTARTS', 'AGE'],
          mesh.pods.map((p) => [p.name, p.namespace, `${p.readyContainers}/${p.containers}`, p.address, p.restarts, age(p.startedAt)]),
        ),
      );
    });
}
