// istioctl-style rows from Envoy v3 resources (object form), for `weft proxy-config`. Pure.

import { X509Certificate } from 'node:crypto';
import { parseClusterName } from '../xds/names.js';
import type { Cell } from './table.js';

type Obj = Record<string, unknown>;

function rec(v: unknown): Obj | undefined {
  return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : undefined;
}
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
      const type = str(c.type) ?? (rec(c.clusterType) ? 'CUSTOM' : '');
      return parsed ? [parsed.host, parsed.port, parsed.subset, parsed.direction, type] : [name, '', '', '', type];
    })
    .sort((a, b) => String(a[0]).localeCompare(String(b[0])) || Number(a[1]) - Number(b[1]));
}

export const LISTENER_HEADERS = ['ADDRESS', 'PORT', 'MATCH', 'DESTINATION'];
export function listenerRows(listeners: Obj[]): Cell[][] {
  const rows: Cell[][] = [];
  for (const l of listeners) {
    const sa = rec(rec(l.address)?.socketAddress);
    const address = str(sa?.address) ?? '';
    const port = str(sa?.portValue) ?? '';
    const chains = arr(l.filterChains).map(rec).filter((c): c is Obj => c !== undefined);
    if (!chains.length) rows.push([address, port, 'ALL', str(l.name)]);
    for (const chain of chains) rows.push([address, port, chainMatch(rec(chain.filterChainMatch)), chainDestination(chain)]);
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
  const dport = str(rec(m.destinationPort)?.value ?? m.destinationPort);
  if (dport) parts.push(`Port: ${dport}`);
  return parts.length ? parts.join('; ') : 'ALL';
}

function chainDestination(chain: Obj): string {
  for (const f of arr(chain.filters)) {
    const cfg = rec(rec(f)?.typedConfig);
    if (!cfg) continue;
    const rds = str(rec(cfg.rds)?.routeConfigName);
    if (rds) return `Route: ${rds}`;
    const inline = rec(cfg.routeConfig);
    if (inline) return `Inline Route: ${str(inline.name) ?? ''}`.trimEnd();
    const cluster = str(cfg.cluster);
    if (cluster) return `Cluster: ${cluster}`;
    const weighted = arr(rec(cfg.weightedClusters)?.clusters).map((c) => str(rec(c)?.name)).filter(Boolean);
    if (weighted.length) return `Clusters: ${weighted.join(',')}`;
  }
  return 'Non-HTTP/Non-TCP';
}

export const ROUTE_HEADERS = ['NAME', 'DOMAINS', 'MATCH', 'VIRTUAL SERVICE'];
export function routeRows(routes: Obj[]): Cell[][] {
  const rows: Cell[][] = [];
  for (const rc of routes) {
    const rcName = str(rc.name) ?? '';
    for (const vhv of arr(rc.virtualHosts)) {
      const vh = rec(vhv);
      if (!vh) continue;
      const domains = shortDomains(arr(vh.domains).map(str).filter((d): d is string => d !== undefined));
      const rs = arr(vh.routes).map(rec).filter((r): r is Obj => r !== undefined);
      if (!rs.length) rows.push([rcName, domains, '', '']);
      for (const r of rs) rows.push([rcName, domains, routeMatch(rec(r.match)), virtualService(r)]);
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
  const re = str(rec(m.safeRegex)?.regex);
  if (re) return `regex ${re}`;
  const pst = str(m.pathSeparatedPrefix);
  if (pst) return `${pst}/*`;
  return '/*';
}

function virtualService(r: Obj): string {
  const fm = rec(rec(r.metadata)?.filterMetadata);
  const cfg = str(rec(fm?.istio)?.config);
  if (cfg) {
    const m = /namespaces\/([^/]+)\/virtual-service\/([^/]+)$/.exec(cfg);
    if (m) return `${m[2]}.${m[1]}`;
  }
  const weft = rec(fm?.weft);
  const src = str(weft?.source) ?? str(weft?.virtualService);
  if (src) return src;
  return '';
}

export const ENDPOINT_HEADERS = ['ENDPOINT', 'STATUS', 'OUTLIER CHECK', 'CLUSTER'];
/** outlier: ejected endpoint addresses per cluster, when the proxy's stats told; undefined: unknown. */
export function endpointRows(assignments: Obj[], outlier?: (cluster: string, endpoint: string) => boolean | undefined): Cell[][] {
  const rows: Cell[][] = [];
  for (const cla of assignments) {
    const cluster = str(cla.clusterName) ?? str(cla.name) ?? '';
    for (const loc of arr(cla.endpoints)) {
      for (const lbv of arr(rec(loc)?.lbEndpoints)) {
        const lb = rec(lbv);
        const sa = rec(rec(rec(lb?.endpoint)?.address)?.socketAddress);
        const ep = `${str(sa?.address) ?? '?'}:${str(sa?.portValue) ?? '?'}`;
        const status = str(lb?.healthStatus) ?? 'HEALTHY';
        const ejected = outlier?.(cluster, ep);
        rows.push([ep, status, ejected === undefined ? 'OK' : ejected ? 'FAILED' : 'OK', cluster]);
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
  const d = rec(dump);
  if (!d) return out;
  const certs = [d.certificate, ...arr(d.certificates), rec(d.identity)?.certificate, d.workloadCertificate].map(rec).filter((c): c is Obj => c !== undefined);
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
    const list = Array.isArray(src) ? src : rec(src) ? Object.entries(rec(src)!).map(([name, v]) => ({ name, ...(rec(v) ?? {}) })) : [];
    for (const s of list.map(rec)) {
      const name = str(s?.name);
      const ca = str(rec(rec(rec(s?.validationContext)?.trustedCa))?.inlineString);
      // A gateway's certificates from Secrets (the dump carries their chains, never their keys).
      const chain = str(rec(rec(rec(s?.tlsCertificate)?.certificateChain))?.inlineString);
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
