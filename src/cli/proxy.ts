// weft proxy: the sidecar / router process (started by `weft up`). Flags override WEFT_* env.

import { Command, InvalidArgumentError, Option } from 'commander';
import { startProxy } from './entrypoints.js';
import { parseLabels } from '../proxy/core/options.js';

interface ProxyCmdFlags {
  type?: 'sidecar' | 'router';
  pod?: string;
  namespace?: string;
  serviceAccount?: string;
  ip?: string;
  listenAddress?: string;
  labels?: string;
  trustDomain?: string;
  xdsAddress?: string;
  caAddress?: string;
  caRootFile?: string;
  tokenFile?: string;
  adminPort?: number;
  drainSeconds?: number;
}

const num = (v: string): number => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`not a number: ${v}`);
  return n;
};

export function proxyCommand(): Command {
  return new Command('proxy')
    .description('run a proxy (sidecar or router); SIGTERM drains and stops it')
    .addOption(new Option('--type <type>', 'sidecar or router').choices(['sidecar', 'router']))
    .option('--pod <name>', 'pod name')
    .option('--namespace <ns>', 'pod namespace')
    .option('--service-account <sa>', 'service account (identity)')
    .option('--ip <ip>', 'pod address (node id, inbound listeners)')
    .option('--listen-address <ip>', 'bind address for listeners at 0.0.0.0 (defaults to --ip)')
    .option('--labels <k=v,...>', 'pod labels')
    .option('--trust-domain <domain>', 'SPIFFE trust domain')
    .option('--xds-address <host:port>', 'control plane xDS')
    .option('--ca-address <host:port>', 'control plane CA')
    .option('--ca-root-file <file>', 'root certificate (PEM) to trust the control plane')
    .option('--token-file <file>', 'bootstrap token for the CA')
    .addOption(new Option('--admin-port <port>', 'admin server port').argParser(num))
    .addOption(new Option('--drain-seconds <s>', 'drain time on SIGTERM').argParser(num))
    .action(async (f: ProxyCmdFlags) => {
      await startProxy({ ...f, labels: f.labels === undefined ? undefined : parseLabels(f.labels, '--labels') });
    });
}
