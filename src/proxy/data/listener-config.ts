// Compiles a Listener (object form) into bind address and filter chains.
import type { EnvoyObject } from '../types.js';
import { anyType, arr, num, obj, str, strs } from '../../xds/object-form.js';
import { ANY } from '../../xds/envoy.js';
import { compileHcm, singleCluster, type HcmConfig } from './hcm-config.js';
import { compileTcpProxy, type TcpProxyConfig } from './tcp-proxy.js';
import { compileDownstreamTls, type DownstreamTlsConfig } from './tls.js';
import { compileCidr, type Cidr } from './cidr.js';

export interface ChainMatch {
  transportProtocol: string | undefined;
  serverNames: string[];
  applicationProtocols: string[];
  destinationPort: number | undefined;
  /** prefixRanges: the address the client connected to (empty = any). */
  prefixRanges: Cidr[];
}

export type NetworkFilter = { kind: 'hcm'; hcm: HcmConfig } | { kind: 'tcp'; tcp: TcpProxyConfig };

export interface CompiledChain {
  name: string;
  match: ChainMatch;
  tls: DownstreamTlsConfig | undefined;
  filter: NetworkFilter;
  /** Where ALPN weft-tcp goes: the tcp_proxy cluster or the inline route's single cluster. */
  tcpCluster: string | undefined;
}

export interface CompiledListener {
  name: string;
  /** An Envoy internal listener: no address, reached through a cluster endpoint's envoyInternalAddress. */
  internal: boolean;
  /** As configured (0.0.0.0 is replaced by the proxy's listen address when binding); "" and 0 for internal listeners. */
  host: string;
  port: number;
  chains: CompiledChain[];
  defaultChain: CompiledChain | undefined;
  /**
   * Whether the first bytes are read before choosing a chain: when the listener has
   * listener filters (tls_inspector), or a chain terminates TLS or runs an HTTP connection
   * manager (codec detection). Otherwise (tcp_proxy only) the chain is chosen at once, as
   * Envoy does, so server-first protocols (MySQL, SMTP) work.
   */
  inspect: boolean;
}

export class ListenerConfigError extends Error {
  readonly code = 'WEFT_ERR_LISTENER_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'ListenerConfigError';
  }
}

/** Message names of the typed configs a chain may carry (anyType compares names, not urls). */
const TYPES = { hcm: anyType({ '@type': ANY.hcm }), tcpProxy: anyType({ '@type': ANY.tcpProxy }), downstreamTls: anyType({ '@type': ANY.downstreamTls }) } as const;

function inboundPortOf(listener: string): number | undefined {
  const m = /^inbound\|(\d+)/.exec(listener);
  return m ? Number(m[1]) : undefined;
}

function compileChain(listener: string, fc: EnvoyObject, where: string): CompiledChain {
  const m = obj(fc.filterChainMatch) ?? {};
  const match: ChainMatch = {
    transportProtocol: str(m.transportProtocol) || undefined,
    serverNames: strs(m.serverNames).map((s) => s.toLowerCase()),
    applicationProtocols: strs(m.applicationProtocols),
    destinationPort: num(m.destinationPort),
    prefixRanges: arr(m.prefixRanges).map((r, i) => {
      const c = compileCidr(str(r.addressPrefix) ?? '', num(r.prefixLen) ?? 0);
      if (!c) throw new ListenerConfigError(`${where}.filterChainMatch.prefixRanges[${i}]: ${JSON.stringify(r.addressPrefix)}/${String(num(r.prefixLen))} is not a CIDR range`);
      return c;
    }),
  };
  // Matching on the source would be silently widened if ignored: refuse it.
  for (const f of ['sourcePrefixRanges', 'sourcePorts', 'directSourcePrefixRanges', 'sourceType']) {
    if (m[f] !== undefined) throw new ListenerConfigError(`${where}.filterChainMatch.${f}: not supported by weft's proxy`);
  }
  let tls: DownstreamTlsConfig | undefined;
  const ts = obj(fc.transportSocket);
  if (ts) {
    const t = obj(ts.typedConfig);
    const type = anyType(t);
    if (type === TYPES.downstreamTls) tls = compileDownstreamTls(t!, `${where}.transportSocket`);
    else if (type !== '' && !type.endsWith('RawBuffer')) throw new ListenerConfigError(`${where}.transportSocket: unsupported type ${type}`);
  }
  const filters = arr(fc.filters);
  let filter: NetworkFilter | undefined;
  filters.forEach((f, i) => {
    const t = obj(f.typedConfig);
    const type = anyType(t);
    const fw = `${where}.filters[${i}]`;
    try {
      if (type === TYPES.hcm) filter = { kind: 'hcm', hcm: compileHcm(t!, fw, inboundPortOf(listener)) };
      else if (type === TYPES.tcpProxy) filter = { kind: 'tcp', tcp: compileTcpProxy(t!, fw) };
    } catch (err) {
      throw new ListenerConfigError((err as Error).message);
    }
    // Other network filters (RBAC, metadata exchange, ...) belong to later stages.
  });
  if (!filter) throw new ListenerConfigError(`${where}.filters: an http_connection_manager or tcp_proxy filter is required`);
  const tcpCluster = filter.kind === 'tcp' ? filter.tcp.cluster : singleCluster(filter.hcm);
  return { name: str(fc.name) ?? '', match, tls, filter, tcpCluster };
}

/** The filter chains and default chain of a listener (at least one of them), and whether it inspects first bytes. */
function compileChains(name: string, l: EnvoyObject): Pick<CompiledListener, 'chains' | 'defaultChain' | 'inspect'> {
  const chains = arr(l.filterChains).map((fc, i) => compileChain(name, fc, `Listener ${name}: filterChains[${i}]`));
  const dfc = obj(l.defaultFilterChain);
  const defaultChain = dfc ? compileChain(name, dfc, `Listener ${name}: defaultFilterChain`) : undefined;
  if (chains.length === 0 && !defaultChain) throw new ListenerConfigError(`Listener ${name}: filterChains is empty`);
  const all = defaultChain ? [...chains, defaultChain] : chains;
  const inspect = arr(l.listenerFilters).length > 0 || all.some((c) => c.tls !== undefined || c.filter.kind === 'hcm');
  return { chains, defaultChain, inspect };
}

export function compileListener(name: string, l: EnvoyObject): CompiledListener {
  if (obj(l.internalListener)) return { name, internal: true, host: '', port: 0, ...compileChains(name, l) };
  const sa = obj(obj(l.address)?.socketAddress);
  const host = str(sa?.address);
  const port = num(sa?.portValue);
  if (!host || port === undefined || port < 0 || port > 65535) {
    throw new ListenerConfigError(`Listener ${name}: address.socketAddress needs address and portValue`);
  }
  return { name, internal: false, host, port, ...compileChains(name, l) };
}
