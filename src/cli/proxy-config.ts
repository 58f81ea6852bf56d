// weft proxy-config clusters|listeners|routes|endpoints|secret POD [-n NS]

import { Command, Argument } from 'commander';
import { parseNodeId } from '../xds/names.js';
import { findPod, type MeshPod } from '../platform/local/mesh-file.js';
import { meshContext } from './context.js';
import {
  CLUSTER_HEADERS, ENDPOINT_HEADERS, LISTENER_HEADERS, ROUTE_HEADERS, SECRET_HEADERS,
  certsFromConfigDump, clusterRows, endpointRows, listenerRows, routeRows, secretRows,
} from './config-tables.js';
import { CliError, outputOption, print, printData, type OutputFormat } from './output.js';
import { renderTable } from './table.js';

type Section = 'clusters' | 'listeners' | 'routes' | 'endpoints' | 'secret';
const SECTIONS: Section[] = ['clusters', 'listeners', 'routes', 'endpoints', 'secret'];

async function adminGet(pod: MeshPod, path: string): Promise<unknown> {
  const url = `http://${pod.address}:${pod.adminPort}${path}`;
  let res: Response;
  try {
    res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  } catch {
    throw new CliError('WEFT_ERR_API_UNREACHABLE', `the proxy of ${pod.name} does not answer on ${url}`);
  }
  if (!res.ok) throw new CliError('WEFT_ERR_API', `${url}: HTTP ${res.status}`);
  return res.json() as Promise<unknown>;
}

/** Endpoints ("host:port") the proxy's outlier detection has ejected now, per cluster; undefined when the proxy does not say. */
async function ejections(pod: MeshPod): Promise<Map<string, Set<string>> | undefined> {
  try {
    const byCluster = (await adminGet(pod, '/outlier_ejections')) as Record<string, { endpoint: string }[]>;
    return new Map(Object.entries(byCluster).map(([cluster, list]) => [cluster, new Set(list.map((e) => e.endpoint))]));
  } catch {
    return undefined;
  }
}

export function proxyConfigCommand(): Command {
  return new Command('proxy-config')
    .description('the configuration a proxy was sent (clusters, listeners, routes, endpoints) or holds (secret)')
    .addArgument(new Argument('<section>', 'what to show').choices(SECTIONS))
    .argument('<pod>', 'pod name (or deployment name)')
    .option('-n, --namespace <ns>', 'namespace of the pod')
    .addOption(outputOption())
    .action(async (section: Section, podArg: string, flags: { namespace?: string; output: OutputFormat }, cmd: Command) => {
      const { mesh, api } = meshContext(cmd);
      const pod = findPod(mesh, podArg, flags.namespace);
      if (section === 'secret') {
        const dump = await adminGet(pod, '/config_dump');
        const certs = certsFromConfigDump(dump);
        if (printData(flags.output, certs)) return;
        if (!certs.length) return print(`${pod.name} holds no certificates yet.`);
        print(renderTable(SECRET_HEADERS, secretRows(certs)));
        return;
      }
      const proxy = (await api.proxies()).find((p) => {
        const n = parseNodeId(p.id);
        return n?.pod === pod.name && n.namespace === pod.namespace;
      });
      if (!proxy) throw new CliError('WEFT_ERR_NOT_FOUND', `the proxy of ${pod.namespace}/${pod.name} is not connected to the control plane; see: weft proxy-status`);
      const cfg = await api.proxyConfig(proxy.id);
      const data = { clusters: cfg.clusters, listeners: cfg.listeners, routes: cfg.routes, endpoints: cfg.endpoints }[section];
      if (printData(flags.output, data)) return;
      switch (section) {
        case 'clusters':
          return print(renderTable(CLUSTER_HEADERS, clusterRows(cfg.clusters)));
        case 'listeners':
          return print(renderTable(LISTENER_HEADERS, listenerRows(cfg.listeners)));
        case 'routes':
          return print(renderTable(ROUTE_HEADERS, routeRows(cfg.routes)));
        case 'endpoints': {
          const ej = await ejections(pod);
          return print(renderTable(ENDPOINT_HEADERS, endpointRows(cfg.endpoints, ej ? (c, ep) => ej.get(c)?.has(ep) ?? false : undefined)));
        }
      }
    });
}
