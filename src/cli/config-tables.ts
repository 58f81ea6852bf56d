// istioctl-style rows from Envoy v3 resources (object form), for `weft proxy-config`. Pure.

import { X509Certificate } from 'node:crypto';
import { parseClusterName } from '../xds/names.js';
import { obj } from '../xds/object-form.js';
import type { Cell } from './table.js';

type Obj = Record<string, unknown>;

/** Every entry of a list (the shared `arr` keeps only objects; rows here also list strings). */
function arr(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}
function str(v: unknown): string | undefined {
  return typeof v === 'string' ? v : typeof v === 'number' ? String(v) : undefined;
}

export const CLUSTER_HEADERS = ['SERVICE FQDN', 'PORT', 'SUBSET', 'DIRECTION', 'TYPE'];
export function clusterRows(clusters: Obj[]): Cell[][] {
  return clusters
    .map((c) => {
      const name = str(c.name) ?? '';
      const parsed = parseClusterName(name);
      const type = str(c.type) ?? (obj(c.clusterType) ? 'CUSTOM' : '');
      return parsed ? [parsed.host, parsed.port, parsed.subset, parsed.direction, type] : [name, '', '', '', type];
    })
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])) || Number(a[1]) - Number(b[1]));
}

export const LISTENER_HEADERS = ['ADDRESS', 'PORT', 'MATCH', 'DESTINATION'];
export function listenerRows(listeners: Obj[]): Cell[][] {
  const rows: Cell[][] = [];
  for (const l of listeners) {
    const sa = obj(obj(l.address)?.socketAddress);
    // Internal listeners (tls[] SNI routing in sidecars) have no address.
    const address = str(sa?.address) ?? (obj(l.internalListener) ? 'internal' : '');
    const port = str(sa?.portValue) ?? '';
    const chains = arr(l.filterChains).map(obj).filter((c): c is Obj => c !== undefined);
    if (!chains.length) rows.push([address, port, 'ALL', str(l.name)]);
    for (const chain of chains) rows.push([address, port, chainMatch(obj(chain.filterChainMatch)), chainDestination(chain)]);
  }
  return rows;
}

function chainMatch(m: Obj | undefined): string {
  if (!m) return 'ALL';
  const parts: string[] = [];
  const tp = str(m.transportProtocol);
  if (tp) parts.push(`Trans: ${tp}`);
  const names = arr(m.serverNames).map(str).filter(Boolean);
  if (names.length) parts.push(`SNI: ${names.join(',')}`);
  const alpn = arr(m.applicationProtocols).map(str).filter(Boolean);
  if (alpn.length) parts.push(`App: ${alpn.join(',')}`);
  const dport = str(obj(m.destinationPort)?.value ?? m.destinationPort);
  if (dport) parts.push(`Port: ${dport}`);
  return parts.length ? parts.join('; ') : 'ALL';
}

function chainDestination(chain: Obj): string {
  for (const f of arr(chain.filters)) {
    const cfg = obj(obj(f)?.typedConfig);
    if (!cfg) continue;
    const rds = str(obj(cfg.rds)?.routeConfigName);
    if (rds) return `Route: ${rds}`;
    const inline = obj(cfg.routeConfig);
    if (inline) return `Inline Route: ${str(inline.name) ?? ''}`.trimEnd();
    const cluster = str(cfg.cluster);
    if (cluster) return `Cluster: ${cluster}`;
    const weighted = arr(obj(cfg.weightedClusters)?.clusters).map((c) => str(obj(c)?.name)).filter(Boolean);
    if (weighted.length) return `Clusters: ${weighted.join(',')}`;
  }
  return 'Non-HTTP/Non-TCP';
}

export const ROUTE_HEADERS = ['NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE'];
/** One row per route; a route config's catch-all virtual host ('*': matched when no other domain is) comes last, as it matches. */
export function routeRows(routes: Obj[]): Cell[][] {
  const rows: Cell[][] = [];
  const catchAll = (vh: Obj): boolean => arr(vh.domains).some((d) => d === '*');
  for (const rc of routes) {
    const rcName = str(rc.name) ?? '';
    const vhosts = arr(rc.virtualHosts)
      .map(obj)
      .filter((v): v is Obj => v !== undefined);
    for (const vh of [...vhosts.filter((v) => !catchAll(v)), ...vhosts.filter(catchAll)]) {
      const domains = shortDomains(arr(vh.domains).map(str).filter((d): d is string => d !== undefined));
      const rs = arr(vh.routes).map(obj).filter((r): r is Obj => r !== undefined);
      if (!rs.length) rows.push([rcName, domains, '', '']);
      for (const r of rs) rows.push([rcName, domains, routeMatch(obj(r.match)), virtualService(r)]);
    }
  }
  return rows;
}

/** The first domain that is not host:port, plus a count (like istioctl's "reviews, reviews.default + 1 more..."). */
function shortDomains(domains: string[]): string {
  const plain = domains.filter((d) => !/:\d+$/.test(d));
  const show = (plain.length ? plain : domains).slice(0, 1);
  const more = domains.length - show.length;
  return `${show.join(', ')}${more > 0 ? ` + ${more} more...` : ''}`;
}

function routeMatch(m: Obj | undefined): string {
  if (!m) return '/*';
  if (str(m.path)) return str(m.path)!;
  if (str(m.prefix) !== undefined) return `${str(m.prefix)}*`;
  const re = str(obj(m.safeRegex)?.regex);
  if (re) return `regex ${re}`;
  const pst = str(m.pathSeparatedPrefix);
  if (pst) return `${pst}/*`;
  return '/*';
}

function virtualService(r: Obj): string {
  const fm = obj(obj(r.metadata)?.filterMetadata);
  const cfg = str(obj(fm?.istio)?.config);
  if (cfg) {
    const m = /namespaces\/([^/]+)\/virtual-service\/([^/]+)$/.exec(cfg);
    if (m) return `${m[2]}.${m[1]}`;
  }
  const weft = obj(fm?.weft);
  const src = str(weft?.source) ?? str(weft?.virtualService);
  if (src) return src;
  return '';
}

export const ENDPOINT_HEADERS = ['ENDPOINT', 'STATUS', 'OUTLIER CHECK', 'CLUSTER'];

/** One host as its proxy reports it: EDS health and whether outlier detection ejected it. */
export interface HostHealth {
  status: string;
  outlierFailed: boolean;
}

/** cluster -> `address:port` -> health, from a proxy's `/clusters?format=json` (Envoy's cluster_statuses). */
export type ProxyHostHealth = Map<string, Map<string, HostHealth>>;

export function hostHealthFromClusters(json: unknown): ProxyHostHealth {
  const out: ProxyHostHealth = new Map();
  for (const c of arr(obj(json)?.cluster_statuses).map(obj)) {
    const name = str(c?.name);
    if (!name) continue;
    const hosts = new Map<string, HostHealth>();
    for (const h of arr(c?.host_statuses).map(obj)) {
      const sa = obj(obj(h?.address)?.socket_address);
      const hs = obj(h?.health_status);
      const address = str(sa?.address) ?? '?';
      hosts.set(`${address.includes(':') ? `[${address}]` : address}:${str(sa?.port_value) ?? '?'}`, {
        status: str(hs?.eds_health_status) ?? 'HEALTHY',
        outlierFailed: hs?.failed_outlier_check === true,
      });
    }
    out.set(name, hosts);
  }
  return out;
}

/**
 * Rows like `istioctl proxy-config endpoints`. With the proxy's own view (`health`), every host
 * it runs, inbound and DNS-resolved ones too, with its EDS health and OUTLIER CHECK OK or FAILED
 * (ejected); without it, the endpoints the control plane sent, OUTLIER CHECK UNKNOWN.
 */
export function endpointRows(assignments: Obj[], health?: ProxyHostHealth): Cell[][] {
  const rows: Cell[][] = [];
  if (health) {
    for (const [cluster, hosts] of health) {
      for (const [ep, h] of hosts) rows.push([ep, h.status, h.outlierFailed ? 'FAILED' : 'OK', cluster]);
    }
  } else {
    for (const cla of assignments) {
      const cluster = str(cla.clusterName) ?? str(cla.name) ?? '';
      for (const loc of arr(cla.endpoints)) {
        for (const lbv of arr(obj(loc)?.lbEndpoints)) {
          const lb = obj(lbv);
          const sa = obj(obj(obj(lb?.endpoint)?.address)?.socketAddress);
          const status = str(lb?.healthStatus) ?? 'HEALTHY';
          rows.push([`${str(sa?.address) ?? '?'}:${str(sa?.portValue) ?? '?'}`, status === 'UNKNOWN' ? 'HEALTHY' : status, 'UNKNOWN', cluster]);
        }
      }
    }
  }
  return rows.sort((a, b) => String(a[3]).localeCompare(String(b[3])) || String(a[0]).localeCompare(String(b[0])));
}

export const SECRET_HEADERS = ['RESOURCE NAME', 'TYPE', 'STATUS', 'VALID CERT', 'SERIAL NUMBER', 'NOT AFTER', 'NOT BEFORE'];

export interface CertInfo {
  name: string;
  type: 'Cert Chain' | 'CA';
  pem?: string;
  serial?: string;
  notAfter?: string;
  notBefore?: string;
}

/** The certificate section of a proxy's /config_dump, tolerant of shape: {certificate|certificates|secrets ...}. */
export function certsFromConfigDump(dump: unknown): CertInfo[] {
  const out: CertInfo[] = [];
  const d = obj(dump);
  if (!d) return out;
  const certs = [d.certificate, ...arr(d.certificates), obj(d.identity)?.certificate, d.workloadCertificate].map(obj).filter((c): c is Obj => c !== undefined);
  for (const c of certs) {
    out.push({
      name: str(c.name) ?? 'default',
      type: 'Cert Chain',
      pem: str(c.certChainPem) ?? str(c.certificateChain) ?? str(c.pem) ?? str(c.cert),
      serial: str(c.serialNumber) ?? str(c.serial),
      notAfter: str(c.notAfter) ?? str(c.expirationTime),
      notBefore: str(c.notBefore) ?? str(c.validFrom),
    });
  }
  // SDS secrets (ROOTCA; a gateway's credentials): by name, list or map, possibly under a type-URL key.
  const secretSources = [d.secrets, d.SDS, ...Object.entries(d).filter(([k]) => k.toLowerCase().includes('secret')).map(([, v]) => v)];
  const seen = new Set<string>();
  for (const src of secretSources) {
    const list = Array.isArray(src) ? src : obj(src) ? Object.entries(obj(src)!).map(([name, v]) => ({ name, ...(obj(v) ?? {}) })) : [];
    for (const s of list.map(obj)) {
      const name = str(s?.name);
      const ca = str(obj(obj(obj(s?.validationContext)?.trustedCa))?.inlineString);
      // A gateway's certificates from Secrets (the dump carries their chains, never their keys).
      const chain = str(obj(obj(obj(s?.tlsCertificate)?.certificateChain))?.inlineString);
      if (name && (ca || chain) && !seen.has(name)) {
        seen.add(name);
        out.push(chain ? { name, type: 'Cert Chain', pem: chain } : { name, type: 'CA', pem: ca });
      }
    }
  }
  return out;
}

export function secretRows(certs: CertInfo[], now = new Date()): Cell[][] {
  return certs.map((c) => {
    let serial = c.serial;
    let notAfter = c.notAfter;
    let notBefore = c.notBefore;
    if (c.pem) {
      try {
        const x = new X509Certificate(c.pem);
        serial ??= x.serialNumber.toLowerCase();
        notAfter ??= new Date(x.validTo).toISOString();
        notBefore ??= new Date(x.validFrom).toISOString();
      } catch {
        /* not parseable: show what the dump said */
      }
    }
    const valid = notAfter && notBefore ? new Date(notBefore) <= now && now < new Date(notAfter) : undefined;
    return [c.name, c.type, 'ACTIVE', valid === undefined ? '' : String(valid), serial?.toLowerCase(), notAfter, notBefore];
  });
}
