// weft control: the control-plane process (started by `weft up`, or on its own).

import { Command, InvalidArgumentError, Option } from 'commander';
import { startControl } from './entrypoints.js';

const port = (v: string): number => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new InvalidArgumentError(`not a port: ${v}`);
  return n;
};

interface ControlCmdFlags {
  address?: string;
  stateDir?: string;
  trustDomain?: string;
  xdsPort?: number;
  xdsTlsPort?: number;
  apiPort?: number;
  monitoringPort?: number;
}

export function controlCommand(): Command {
  return new Command('control')
    .description('run the control plane (xDS, CA, HTTP API); SIGTERM stops it')
    .option('--address <ip>', 'address to bind')
    .option('--state-dir <dir>', 'store, CA root and admin token')
    .option('--trust-domain <domain>', 'SPIFFE trust domain')
    .addOption(new Option('--xds-port <port>', 'xDS plaintext').argParser(port))
    .addOption(new Option('--xds-tls-port <port>', 'xDS and CA over TLS').argParser(port))
    .addOption(new Option('--api-port <port>', 'HTTP API and dashboard').argParser(port))
    .addOption(new Option('--monitoring-port <port>', 'metrics').argParser(port))
    .action(async (f: ControlCmdFlags) => {
      await startControl({
        address: f.address,
        stateDir: f.stateDir,
        trustDomain: f.trustDomain,
        ports: { xds: f.xdsPort, xdsTls: f.xdsTlsPort, api: f.apiPort, monitoring: f.monitoringPort },
      });
    });
}
