// How the proxy reaches the control plane over gRPC: target, credentials and
// channel options, in one place for the ADS client and the CA client.
import grpc from '@grpc/grpc-js';
import fs from 'node:fs/promises';
import { CredentialFileError, ProxyOptionsError } from './errors.js';

/** The DNS name in the control plane's serving certificate (besides its IP). */
export const CONTROL_SERVER_NAME = 'weft-control';

export interface ControlTarget {
  /** host:port (IPv6 as [::1]:port). */
  address: string;
  /** PEM of the root(s) that sign the control plane's serving certificate; absent = plaintext. */
  rootPem?: string;
  /** TLS name to verify and send as SNI (default CONTROL_SERVER_NAME). */
  serverName?: string;
}

export function splitHostPort(address: string, what: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new ProxyOptionsError(`${what}: expected host:port, got "${address}"`);
  return { host: (m[1] ?? m[2])!, port };
}

export async function readPemFile(file: string, what: string): Promise<string> {
  let text: string;
  try {
    text = await fs.readFile(file, 'utf8');
  } catch (err) {
    throw new CredentialFileError(`${what} ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (!text.includes('-----BEGIN CERTIFICATE-----')) throw new CredentialFileError(`${what} ${file}: no PEM certificate in file`);
  return text;
}

export async function readTokenFile(file: string): Promise<string> {
  let text: string;
  try {
    text = (await fs.readFile(file, 'utf8')).trim();
  } catch (err) {
    throw new CredentialFileError(`token file ${file}: ${(err as Error).message}`, { cause: err });
  }
  if (!text) throw new CredentialFileError(`token file ${file}: empty`);
  return text;
}

/**
 * The HTTP/2 flow-control window (stream and connection) the proxy grants the control
 * plane. HTTP/2's default 64 KiB makes a proxy's first config (~2 MB at 1,000 services)
 * wait for ~30 window updates; with 4 MiB it comes in one go (2,000 proxies syncing at
 * once: 12 s -> 7.5 s in bench/control-scale). Envoy grants 256 MiB by default.
 */
export const CONTROL_FLOW_WINDOW_BYTES = 4 * 1024 * 1024;

/** A fresh gRPC client for one target; the caller closes it. Each client gets its own subchannel pool. */
export function controlClient(target: ControlTarget): grpc.Client {
  splitHostPort(target.address, 'control address');
  const options: grpc.ChannelOptions = {
    'grpc.use_local_subchannel_pool': 1,
    'grpc.initial_reconnect_backoff_ms': 200,
    'grpc.max_reconnect_backoff_ms': 5000,
    'grpc.keepalive_time_ms': 30_000,
    'grpc.keepalive_timeout_ms': 10_000,
    'grpc.max_receive_message_length': 64 * 1024 * 1024,
    'grpc-node.flow_control_window': CONTROL_FLOW_WINDOW_BYTES,
  };
  let creds: grpc.ChannelCredentials;
  if (target.rootPem) {
    creds = grpc.credentials.createSsl(Buffer.from(target.rootPem));
    // The serving certificate has SAN IP <control address> and DNS weft-control. We dial the
    // address as given but always verify (and send SNI) as weft-control: Node refuses IP SNI
    // (DEP0123), and the DNS name is in every serving certificate the control plane makes.
    options['grpc.ssl_target_name_override'] = target.serverName ?? CONTROL_SERVER_NAME;
    options['grpc.default_authority'] = target.serverName ?? CONTROL_SERVER_NAME;
  } else {
    creds = grpc.credentials.createInsecure();
  }
  return new grpc.Client(target.address, creds, options);
}
