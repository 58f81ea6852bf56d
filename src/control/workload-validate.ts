// Checks a Workload sent by a platform (HTTP body or a stored file), naming the bad field.
import type { PortProtocol, Workload } from '../model/types.js';
import { ControlError } from './errors.js';

const PROTOCOLS: readonly PortProtocol[] = ['http', 'http2', 'grpc', 'tcp', 'tls', 'https'];

function fail(field: string, want: string): never {
  throw new ControlError('WEFT_ERR_BAD_WORKLOAD', `workload.${field}: expected ${want}`);
}

function str(o: Record<string, unknown>, field: string, allowEmpty = false): string {
  const v = o[field];
  if (typeof v !== 'string' || (!allowEmpty && v === '')) fail(field, 'a non-empty string');
  return v;
}

function bool(o: Record<string, unknown>, field: string): boolean {
  const v = o[field];
  if (typeof v !== 'boolean') fail(field, 'a boolean');
  return v;
}

function stringMap(o: Record<string, unknown>, field: string): Record<string, string> {
  const v = o[field] ?? {};
  if (typeof v !== 'object' || v === null || Array.isArray(v)) fail(field, 'an object of strings');
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') fail(`${field}.${k}`, 'a string');
    out[k] = val;
  }
  return out;
}

export function validateWorkload(raw: unknown): Workload {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ControlError('WEFT_ERR_BAD_WORKLOAD', 'workload: expected an object');
  const o = raw as Record<string, unknown>;
  const portsRaw = o['ports'] ?? [];
  if (!Array.isArray(portsRaw)) fail('ports', 'an array');
  const ports = portsRaw.map((p: unknown, i: number) => {
    if (typeof p !== 'object' || p === null) fail(`ports[${i}]`, 'an object');
    const po = p as Record<string, unknown>;
    const cp = po['containerPort'];
    if (typeof cp !== 'number' || !Number.isInteger(cp) || cp < 1 || cp > 65535) fail(`ports[${i}].containerPort`, 'an integer 1-65535');
    const out: Workload['ports'][number] = { containerPort: cp };
    if (po['name'] !== undefined) out.name = str(po, 'name');
    if (po['protocol'] !== undefined) {
      if (!PROTOCOLS.includes(po['protocol'] as PortProtocol)) fail(`ports[${i}].protocol`, `one of ${PROTOCOLS.join(', ')}`);
      out.protocol = po['protocol'] as PortProtocol;
    }
    return out;
  });
  const proxyType = o['proxyType'];
  if (proxyType !== 'sidecar' && proxyType !== 'router') fail('proxyType', '"sidecar" or "router"');
  return {
    name: str(o, 'name'),
    namespace: str(o, 'namespace'),
    labels: stringMap(o, 'labels'),
    serviceAccount: str(o, 'serviceAccount'),
    identity: str(o, 'identity'),
    address: str(o, 'address'),
    appAddress: str(o, 'appAddress'),
    ports,
    ready: bool(o, 'ready'),
    meshed: bool(o, 'meshed'),
    owner: str(o, 'owner', true),
    proxyType,
  };
}
