// weft proxy-status: xDS sync state of every connected proxy (istioctl proxy-status).

import { Command } from 'commander';
import { parseNodeId } from '../xds/names.js';
import { XDS_SHORT_TYPES, type ProxyStatus } from '../platform/local/control-api.js';
import { meshContext } from './context.js';
import { outputOption, print, printData, type OutputFormat } from './output.js';
import { renderTable, type Cell } from './table.js';

/**
 * One row per proxy. VHDS is '-' for a proxy whose routes come whole in RDS. ADS is the variant its stream speaks (delta or sotw). VERSION is the
 * proxy's weft version; when the control plane does not report it, `fallbackVersion`
 * (locally every proxy runs the control plane's own build).
 */
export function proxyStatusRows(proxies: ProxyStatus[], fallbackVersion?: string): Cell[][] {
  return proxies
    .map((p) => {
      const n = parseNodeId(p.id);
      // VHDS only where the proxy was sent route configs with vhds (delta sidecars that read it); '-' elsewhere.
      return [n?.pod ?? p.id, n?.namespace ?? '', ...XDS_SHORT_TYPES.map((t) => p.xds[t]?.status ?? (t === 'VHDS' ? '-' : 'NOT SENT')), p.protocol ?? '', p.version ?? fallbackVersion];
    })
    .sort((a, b) => String(a[1]).localeCompare(String(b[1])) || String(a[0]).localeCompare(String(b[0])));
}

export function proxyStatusCommand(): Command {
  return new Command('proxy-status')
    .description('xDS sync state of every proxy (SYNCED, STALE, NOT SENT)')
    .addOption(outputOption())
    .action(async (flags: { output: OutputFormat }, cmd: Command) => {
      const { api } = meshContext(cmd);
      const proxies = await api.proxies();
      if (printData(flags.output, proxies)) return;
      if (!proxies.length) return print('No proxies are connected.');
      const version = await api.version().catch(() => undefined);
      print(renderTable(['NAME', 'NAMESPACE', ...XDS_SHORT_TYPES, 'ADS', 'VERSION'], proxyStatusRows(proxies, version)));
      const errors = proxies.flatMap((p) => XDS_SHORT_TYPES.filter((t) => p.xds[t]?.lastError).map((t) => `${parseNodeId(p.id)?.pod ?? p.id} ${t}: ${p.xds[t]!.lastError}`));
      if (errors.length) print(`\nRejected by proxies:\n${errors.map((e) => `  ${e}`).join('\n')}`);
    });
}
