// The local address plan (docs/architecture.md, "Local platform"). Pure.
//
//   control plane        127.N.0.1
//   pod k (sidecar, P)   127.N.<1 + (k-1)/250>.<1 + (k-1)%250>
//   pod k's app (A)      127.N.<101 + (k-1)/250>.<1 + (k-1)%250>

import { LocalPlatformError } from './errors.js';

export const DEFAULT_NETWORK = 10;
/** Pods per third octet, and how many third octets pods may use (1..100 for P, 101..200 for A). */
const PER_BLOCK = 250;
const BLOCKS = 100;
export const MAX_PODS = PER_BLOCK * BLOCKS;

/** Validates a network octet: 1..254 (0 would be 127.0.x.x, shared with the host's own services). */
export function checkNetwork(n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > 254) {
    throw new LocalPlatformError('WEFT_ERR_INVALID_NETWORK', `network must be an integer 1..254, got ${String(n)}`);
  }
  return n;
}

export function controlAddress(network: number): string {
  return `127.${checkNetwork(network)}.0.1`;
}

function checkIndex(k: number): number {
  if (!Number.isInteger(k) || k < 1 || k > MAX_PODS) {
    throw new LocalPlatformError('WEFT_ERR_INVALID_INPUT', `pod index must be an integer 1..${MAX_PODS}, got ${String(k)}`);
  }
  return k;
}

/** P: the pod address, owned by the sidecar (1-based pod index k). */
export function podAddress(network: number, k: number): string {
  const i = checkIndex(k) - 1;
  return `127.${checkNetwork(network)}.${1 + Math.floor(i / PER_BLOCK)}.${1 + (i % PER_BLOCK)}`;
}

/** A: where pod k's application listens. */
export function appAddress(network: number, k: number): string {
  const i = checkIndex(k) - 1;
  return `127.${checkNetwork(network)}.${101 + Math.floor(i / PER_BLOCK)}.${1 + (i % PER_BLOCK)}`;
}

export interface PodAddresses {
  index: number;
  address: string;
  appAddress: string;
}

export function podAddresses(network: number, k: number): PodAddresses {
  return { index: k, address: podAddress(network, k), appAddress: appAddress(network, k) };
}
