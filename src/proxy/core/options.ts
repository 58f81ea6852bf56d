// Every proxy setting, typed and defaulted in one place.
//
// Environment variables (read by loadProxyOptionsFromEnv):
//   WEFT_PROXY_TYPE          sidecar | router                          (default sidecar)
//   WEFT_POD_NAME            pod name                                  (required)
//   WEFT_POD_NAMESPACE       namespace                                 (default "default")
//   WEFT_SERVICE_ACCOUNT     service account                           (default "default")
//   WEFT_POD_IP              pod address P: node id, admin, listeners  (required)
//   WEFT_LISTEN_ADDRESS      where 0.0.0.0 listeners bind              (default WEFT_POD_IP)
//   WEFT_POD_LABELS          labels: JSON object or k=v,k=v            (default none)
//   WEFT_TRUST_DOMAIN        SPIFFE trust domain                       (default cluster.local)
//   WEFT_XDS_ADDRESS         control plane ADS host:port               (default 127.0.0.1:15010, or :15012 with a root file)
//   WEFT_XDS_PROTOCOL        delta | sotw: the ADS variant to speak    (default delta; sotw anyway where the control plane has no delta)
//   WEFT_CA_ADDRESS          control plane CA host:port (TLS)          (default <xds host>:15012)
//   WEFT_CA_ROOT_FILE        PEM root(s) of the mesh; turns on TLS for ADS and enables the workload certificate
//   WEFT_TOKEN_FILE          bootstrap token (JWT) for the CA
//   WEFT_CONTROL_SERVER_NAME TLS name verified for the control plane (default weft-control)
//   WEFT_ADMIN_PORT          admin port on WEFT_POD_IP                 (default 15000)
//   WEFT_DRAIN_SECONDS       drain time on SIGTERM / quitquitquit      (default 5)
//   WEFT_LOG_LEVEL           debug | info | warn | error               (default info)
//   WEFT_PROFILE_DIR         where admin /cpuprofiler and /heap_snapshot write files (default <tmpdir>/weft-profiles)
import { DEFAULT_TRUST_DOMAIN, PORTS, spiffeId, type ProxyType } from '../../xds/names.js';
import { splitHostPort } from './control-channel.js';
import { ProxyOptionsError } from './errors.js';
import { isLogLevel, type LogLevel } from './log.js';
import type { XdsProtocol } from './xds-client.js';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

/** Settings as given (flags, env, code); unset ones take the defaults below. */
export interface ProxyOptions {
  type?: ProxyType;
  pod: string;
  namespace?: string;
  serviceAccount?: string;
  ip: string;
  listenAddress?: string;
  labels?: Record<string, string>;
  trustDomain?: string;
  /** host:port; plaintext unless caRootFile is set. */
  xdsAddress?: string;
  /** delta (default) or sotw. */
  xdsProtocol?: XdsProtocol;
  /** host:port of the CA (TLS). */
  caAddress?: string;
  caRootFile?: string;
  tokenFile?: string;
  /** TLS name verified for the control plane (default weft-control; its serving cert has it). */
  controlServerName?: string;
  adminPort?: number;
  drainSeconds?: number;
  logLevel?: LogLevel;
  /** Where admin-triggered CPU profiles and heap snapshots go. */
  profileDir?: string;
  /** Requested certificate lifetime (default 86400). */
  certValiditySeconds?: number;
  /** ADS reconnect backoff cap (default 5000). */
  xdsBackoffMaxMs?: number;
  /** CA retry backoff (defaults 1000 .. 30000). */
  caRetryInitialMs?: number;
  caRetryMaxMs?: number;
}

export type ResolvedProxyOptions = Required<Omit<ProxyOptions, 'caRootFile' | 'tokenFile' | 'controlServerName'>> &
  Pick<ProxyOptions, 'caRootFile' | 'tokenFile' | 'controlServerName'> & {
    /** spiffe://<trustDomain>/ns/<namespace>/sa/<serviceAccount> */
    identity: string;
    /** ADS over TLS (caRootFile set). */
    xdsTls: boolean;
  };

export const PROXY_DEFAULTS = {
  type: 'sidecar' as ProxyType,
  namespace: 'default',
  serviceAccount: 'default',
  trustDomain: DEFAULT_TRUST_DOMAIN,
  controlHost: '127.0.0.1',
  adminPort: PORTS.proxyAdmin,
  drainSeconds: 5,
  logLevel: 'info' as LogLevel,
  certValiditySeconds: 86_400,
  xdsBackoffMaxMs: 5000,
  xdsProtocol: 'delta' as XdsProtocol,
  profileDir: path.join(os.tmpdir(), 'weft-profiles'),
  caRetryInitialMs: 1000,
  caRetryMaxMs: 30_000,
};

const NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;

function hostPart(address: string, what: string): string {
  const { host } = splitHostPort(address, what);
  return host.includes(':') ? `[${host}]` : host;
}

export function resolveProxyOptions(o: ProxyOptions): ResolvedProxyOptions {
  const type = o.type ?? PROXY_DEFAULTS.type;
  if (type !== 'sidecar' && type !== 'router') throw new ProxyOptionsError(`type: expected sidecar or router, got "${String(type)}"`);
  if (!o.pod || !NAME.test(o.pod)) throw new ProxyOptionsError(`pod: expected a DNS-1123 name, got "${o.pod ?? ''}"`);
  const namespace = o.namespace ?? PROXY_DEFAULTS.namespace;
  if (!NAME.test(namespace)) throw new ProxyOptionsError(`namespace: expected a DNS-1123 name, got "${namespace}"`);
  const serviceAccount = o.serviceAccount ?? PROXY_DEFAULTS.serviceAccount;
  if (!NAME.test(serviceAccount)) throw new ProxyOptionsError(`serviceAccount: expected a DNS-1123 name, got "${serviceAccount}"`);
  if (!net.isIP(o.ip ?? '')) throw new ProxyOptionsError(`ip: expected an IP address, got "${o.ip ?? ''}"`);
  const listenAddress = o.listenAddress ?? o.ip;
  if (!net.isIP(listenAddress)) throw new ProxyOptionsError(`listenAddress: expected an IP address, got "${listenAddress}"`);
  const xdsTls = Boolean(o.caRootFile);
  const xdsAddress = o.xdsAddress ?? `${PROXY_DEFAULTS.controlHost}:${xdsTls ? PORTS.xdsTls : PORTS.xdsPlaintext}`;
  splitHostPort(xdsAddress, 'xdsAddress');
  const caAddress = o.caAddress ?? `${hostPart(xdsAddress, 'xdsAddress')}:${PORTS.xdsTls}`;
  splitHostPort(caAddress, 'caAddress');
  const int = (v: number | undefined, def: number, name: string, min: number, max: number): number => {
    const x = v ?? def;
    if (!Number.isInteger(x) || x < min || x > max) throw new ProxyOptionsError(`${name}: expected an integer in ${min}..${max}, got ${x}`);
    return x;
  };
  const trustDomain = o.trustDomain ?? PROXY_DEFAULTS.trustDomain;
  if (!/^[a-z0-9.-]+$/.test(trustDomain)) throw new ProxyOptionsError(`trustDomain: invalid "${trustDomain}"`);
  const logLevel = o.logLevel ?? PROXY_DEFAULTS.logLevel;
  if (!isLogLevel(logLevel)) throw new ProxyOptionsError(`logLevel: expected debug, info, warn or error, got "${String(logLevel)}"`);
  const xdsProtocol = o.xdsProtocol ?? PROXY_DEFAULTS.xdsProtocol;
  if (xdsProtocol !== 'delta' && xdsProtocol !== 'sotw') throw new ProxyOptionsError(`xdsProtocol: expected delta or sotw, got "${String(xdsProtocol)}"`);
  return {
    type,
    pod: o.pod,
    namespace,
    serviceAccount,
    ip: o.ip,
    listenAddress,
    labels: { ...(o.labels ?? {}) },
    trustDomain,
    identity: spiffeId(namespace, serviceAccount, trustDomain),
    xdsAddress,
    xdsProtocol,
    xdsTls,
    caAddress,
    caRootFile: o.caRootFile,
    tokenFile: o.tokenFile,
    controlServerName: o.controlServerName,
    adminPort: int(o.adminPort, PROXY_DEFAULTS.adminPort, 'adminPort', 0, 65535),
    drainSeconds: int(o.drainSeconds, PROXY_DEFAULTS.drainSeconds, 'drainSeconds', 0, 3600),
    logLevel,
    profileDir: o.profileDir ?? PROXY_DEFAULTS.profileDir,
    certValiditySeconds: int(o.certValiditySeconds, PROXY_DEFAULTS.certValiditySeconds, 'certValiditySeconds', 1, 365 * 86_400),
    xdsBackoffMaxMs: int(o.xdsBackoffMaxMs, PROXY_DEFAULTS.xdsBackoffMaxMs, 'xdsBackoffMaxMs', 1, 600_000),
    caRetryInitialMs: int(o.caRetryInitialMs, PROXY_DEFAULTS.caRetryInitialMs, 'caRetryInitialMs', 1, 600_000),
    caRetryMaxMs: int(o.caRetryMaxMs, PROXY_DEFAULTS.caRetryMaxMs, 'caRetryMaxMs', 1, 3_600_000),
  };
}

/** Labels from "k=v,k2=v2" or a JSON object. */
export function parseLabels(text: string, what = 'WEFT_POD_LABELS'): Record<string, string> {
  const t = text.trim();
  if (!t) return {};
  if (t.startsWith('{')) {
    let v: unknown;
    try {
      v = JSON.parse(t);
    } catch (err) {
      throw new ProxyOptionsError(`${what}: invalid JSON: ${(err as Error).message}`);
    }
    if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new ProxyOptionsError(`${what}: expected a JSON object`);
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(v as Record<string, unknown>)) {
      if (typeof x !== 'string') throw new ProxyOptionsError(`${what}.${k}: expected a string`);
      out[k] = x;
    }
    return out;
  }
  const out: Record<string, string> = {};
  for (const pair of t.split(',')) {
    const i = pair.indexOf('=');
    if (i <= 0) throw new ProxyOptionsError(`${what}: expected k=v, got "${pair}"`);
    out[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
  }
  return out;
}

function intEnv(env: NodeJS.ProcessEnv, name: string): number | undefined {
  const v = env[name];
  if (v === undefined || v === '') return undefined;
  if (!/^\d+$/.test(v)) throw new ProxyOptionsError(`${name}: expected a non-negative integer, got "${v}"`);
  return Number(v);
}

/** Reads the WEFT_* variables listed at the top of this file. Throws ProxyOptionsError naming the variable. */
export function loadProxyOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): ProxyOptions {
  const s = (name: string): string | undefined => (env[name] === '' ? undefined : env[name]);
  const pod = s('WEFT_POD_NAME');
  if (!pod) throw new ProxyOptionsError('WEFT_POD_NAME: required');
  const ip = s('WEFT_POD_IP');
  if (!ip) throw new ProxyOptionsError('WEFT_POD_IP: required');
  const type = s('WEFT_PROXY_TYPE');
  if (type !== undefined && type !== 'sidecar' && type !== 'router') throw new ProxyOptionsError(`WEFT_PROXY_TYPE: expected sidecar or router, got "${type}"`);
  const logLevel = s('WEFT_LOG_LEVEL');
  if (logLevel !== undefined && !isLogLevel(logLevel)) throw new ProxyOptionsError(`WEFT_LOG_LEVEL: expected debug, info, warn or error, got "${logLevel}"`);
  const xdsProtocol = s('WEFT_XDS_PROTOCOL');
  if (xdsProtocol !== undefined && xdsProtocol !== 'delta' && xdsProtocol !== 'sotw') throw new ProxyOptionsError(`WEFT_XDS_PROTOCOL: expected delta or sotw, got "${xdsProtocol}"`);
  return {
    type,
    pod,
    namespace: s('WEFT_POD_NAMESPACE'),
    serviceAccount: s('WEFT_SERVICE_ACCOUNT'),
    ip,
    listenAddress: s('WEFT_LISTEN_ADDRESS'),
    labels: parseLabels(env['WEFT_POD_LABELS'] ?? ''),
    trustDomain: s('WEFT_TRUST_DOMAIN'),
    xdsAddress: s('WEFT_XDS_ADDRESS'),
    xdsProtocol,
    caAddress: s('WEFT_CA_ADDRESS'),
    caRootFile: s('WEFT_CA_ROOT_FILE'),
    tokenFile: s('WEFT_TOKEN_FILE'),
    controlServerName: s('WEFT_CONTROL_SERVER_NAME'),
    adminPort: intEnv(env, 'WEFT_ADMIN_PORT'),
    drainSeconds: intEnv(env, 'WEFT_DRAIN_SECONDS'),
    logLevel,
    profileDir: s('WEFT_PROFILE_DIR'),
  };
}
