// Test helpers for the control plane: a temp state dir, a hand-written
// pipeline (a named test double for model/ and xds/), and a raw ADS client.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { webcrypto } from 'node:crypto';
import { x509 } from '../../src/pki/x509.js';
import { ADS_SERVICE, type DeltaDiscoveryRequest, type DeltaDiscoveryResponse, type DiscoveryRequest, type DiscoveryResponse } from '../../src/xds/ads-service.js';
import { TYPE } from '../../src/xds/codec.js';
import { nodeId, outboundClusterName, serviceFqdn } from '../../src/xds/names.js';
import type { MeshModel, Service, Workload } from '../../src/model/types.js';
import type { Resource } from '../../src/resources/types.js';
import type { ServiceSpec } from '../../src/resources/kubernetes-types.js';
import type { BuildModelFn, GenerateFn } from '../../src/control/pipeline.js';
import { testWorkload } from '../helpers/workloads.js';

export async function tmpStateDir(prefix = 'weft-c3-'): Promise<string> {
  return fs.mkdtemp(path.join(os.tmpdir(), prefix));
}

export function workload(namespace: string, name: string, address: string, labels: Record<string, string> = { app: name }): Workload {
  return testWorkload({ name, namespace, labels, address, ports: [{ containerPort: 8080, protocol: 'http' }] });
}

export function serviceResource(namespace: string, name: string, port: number, selector: Record<string, string> = { app: name }): Resource<ServiceSpec> {
  return {
    apiVersion: 'v1',
    kind: 'Service',
    metadata: { name, namespace, labels: {}, annotations: {} },
    spec: { selector, ports: [{ port, targetPort: 8080 }] },
  };
}

/** Test double for model/buildModel: Services only. */
export const fakeBuildModel: BuildModelFn = (resources, workloads, opts) => {
  const services: Service[] = resources
    .filter((r) => r.kind === 'Service')
    .map((r) => {
      const spec = r.spec as ServiceSpec;
      return {
        name: r.metadata.name,
        namespace: r.metadata.namespace,
        hostname: serviceFqdn(r.metadata.name, r.metadata.namespace),
        ports: spec.ports.map((p) => ({ port: p.port, targetPort: p.targetPort ?? p.port, protocol: 'http' as const })),
        selector: spec.selector ?? {},
        labels: r.metadata.labels,
        source: { kind: r.kind, namespace: r.metadata.namespace, name: r.metadata.name },
      };
    });
  return { model: { trustDomain: opts?.trustDomain ?? 'cluster.local', services, workloads, routes: [], gatewayServers: [] }, findings: [] };
};

const selects = (sel: Record<string, string>, labels: Record<string, string>) => Object.keys(sel).length > 0 && Object.entries(sel).every(([k, v]) => labels[k] === v);

/** Test double for xds/generateForProxy: a proxy sees the services of its own namespace. */
export const fakeGenerate: GenerateFn = (model: MeshModel, proxy, ctx) => {
  const visible = model.services.filter((s) => s.namespace === proxy.namespace);
  const clusters: object[] = [];
  const endpoints: object[] = [];
  const vhosts: object[] = [];
  for (const s of visible)
    for (const p of s.ports) {
      const name = outboundClusterName(p.port, s.hostname);
      clusters.push({ name, type: 'EDS', edsClusterConfig: { edsConfig: { ads: {} } }, connectTimeout: { seconds: 1 } });
      endpoints.push({
        clusterName: name,
        endpoints: [
          {
            lbEndpoints: model.workloads
              .filter((w) => w.namespace === s.namespace && selects(s.selector, w.labels))
              .map((w) => ({ endpoint: { address: { socketAddress: { address: w.address, portValue: Number(p.targetPort) } } }, healthStatus: w.ready ? 'HEALTHY' : 'UNHEALTHY' })),
          },
        ],
      });
      vhosts.push({ name: `${s.hostname}:${p.port}`, domains: [s.name, `${s.hostname}:${p.port}`], routes: [{ match: { prefix: '/' }, route: { cluster: name } }] });
    }
  return {
    listeners: [
      {
        name: 'virtualOutbound',
        address: { socketAddress: { address: '0.0.0.0', portValue: 15001 } },
        filterChains: [
          {
            filters: [
              {
                name: 'envoy.filters.network.http_connection_manager',
                typedConfig: {
                  '@type': 'type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager',
                  statPrefix: 'outbound',
                  rds: { routeConfigName: 'http_proxy', configSource: { ads: {} } },
                },
              },
            ],
          },
        ],
      },
    ],
    routes: [{ name: 'http_proxy', virtualHosts: vhosts }],
    clusters,
    endpoints,
    secrets: [{ name: 'ROOTCA', validationContext: { trustedCa: { inlineString: ctx.rootCertsPem.join('') } } }],
  };
};

export const fakePipeline = { buildModel: fakeBuildModel, generate: fakeGenerate };

/** Responses received on a test stream, taken in order (of a type, when given), waiting for them when needed. */
class ResponseQueue<R extends { typeUrl?: string }> {
  readonly received: R[] = [];
  #waiters: (() => void)[] = [];

  push(r: R): void {
    this.received.push(r);
    this.wake();
  }

  wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  /** The next response (of a type, when given) not yet taken; fails after timeoutMs. */
  async next(typeUrl: string | undefined, timeoutMs: number): Promise<R> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.received.findIndex((r) => !typeUrl || r.typeUrl === typeUrl);
      if (i >= 0) return this.received.splice(i, 1)[0]!;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no ${typeUrl ?? 'response'} within ${timeoutMs} ms`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Waits `ms` and returns whatever arrived meanwhile (taking it). */
  async drain(ms: number): Promise<R[]> {
    await new Promise((r) => setTimeout(r, ms));
    return this.received.splice(0);
  }
}

/** A raw ADS client stream with a queue of received responses. */
export class AdsTestClient {
  readonly client: grpc.Client;
  readonly stream: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse>;
  readonly #queue = new ResponseQueue<DiscoveryResponse>();
  status: grpc.StatusObject | undefined;
  readonly node: { id: string; clientFeatures?: string[] };

  constructor(
    target: string,
    node: { namespace: string; pod: string; ip: string; type?: 'sidecar' | 'router'; clientFeatures?: string[] },
    creds: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
    options: grpc.ChannelOptions = {},
    metadata: grpc.Metadata = new grpc.Metadata(),
  ) {
    this.node = { id: nodeId(node.type ?? 'sidecar', node.ip, node.pod, node.namespace), ...(node.clientFeatures ? { clientFeatures: node.clientFeatures } : {}) };
    this.client = new grpc.Client(target, creds, options);
    const m = ADS_SERVICE.streamAggregatedResources;
    this.stream = this.client.makeBidiStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, metadata);
    this.stream.on('data', (r: DiscoveryResponse) => this.#queue.push(r));
    this.stream.on('status', (s: grpc.StatusObject) => {
      this.status = s;
      this.#queue.wake();
    });
    this.stream.on('error', () => this.#queue.wake());
  }

  get received(): DiscoveryResponse[] {
    return this.#queue.received;
  }

  request(typeUrl: string, opts: { resourceNames?: string[]; versionInfo?: string; responseNonce?: string; errorDetail?: { code: number; message: string } } = {}): void {
    this.stream.write({ node: this.node, typeUrl, ...opts });
  }

  ack(res: DiscoveryResponse, resourceNames?: string[]): void {
    this.request(res.typeUrl, { versionInfo: res.versionInfo, responseNonce: res.nonce, ...(resourceNames ? { resourceNames } : {}) });
  }

  /** The next response (of a type, when given) not yet taken; fails after timeoutMs. */
  next(typeUrl?: string, timeoutMs = 3000): Promise<DiscoveryResponse> {
    return this.#queue.next(typeUrl, timeoutMs);
  }

  /** Waits `ms` and returns whatever arrived meanwhile (taking it). */
  drain(ms: number): Promise<DiscoveryResponse[]> {
    return this.#queue.drain(ms);
  }

  close(): void {
    this.stream.end();
    this.client.close();
  }
}

export const T = TYPE;

export async function waitFor(cond: () => boolean, timeoutMs = 3000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A PEM CSR with these URI SANs, from a fresh key (as a proxy makes it). */
export async function makeCsr(uris: string[], curve: 'P-256' | 'P-384' = 'P-256'): Promise<string> {
  const keys = (await webcrypto.subtle.generateKey({ name: 'ECDSA', namedCurve: curve }, true, ['sign', 'verify'])) as CryptoKeyPair;
  const csr = await x509.Pkcs10CertificateRequestGenerator.create({
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' } as EcdsaParams,
    extensions: [new x509.SubjectAlternativeNameExtension(uris.map((value) => ({ type: 'url' as const, value })))],
  });
  return csr.toString('pem');
}


/** A raw delta ADS client stream (DeltaAggregatedResources) with a queue of received responses. */
export class DeltaTestClient {
  readonly client: grpc.Client;
  readonly stream: grpc.ClientDuplexStream<DeltaDiscoveryRequest, DeltaDiscoveryResponse>;
  readonly node: { id: string; clientFeatures?: string[] };
  readonly #queue = new ResponseQueue<DeltaDiscoveryResponse>();
  #first = true;

  constructor(target: string, node: { namespace: string; pod: string; ip: string; clientFeatures?: string[] }) {
    this.node = { id: nodeId('sidecar', node.ip, node.pod, node.namespace), ...(node.clientFeatures ? { clientFeatures: node.clientFeatures } : {}) };
    this.client = new grpc.Client(target, grpc.credentials.createInsecure());
    const m = ADS_SERVICE.deltaAggregatedResources;
    this.stream = this.client.makeBidiStreamRequest(m.path, m.requestSerialize, m.responseDeserialize, new grpc.Metadata());
    this.stream.on('data', (r: DeltaDiscoveryResponse) => this.#queue.push(r));
    this.stream.on('error', () => this.#queue.wake());
  }

  /** Sends a request; the node goes in the stream's first one only. */
  request(typeUrl: string, opts: Omit<DeltaDiscoveryRequest, 'typeUrl' | 'node'> = {}): void {
    this.stream.write({ ...(this.#first ? { node: this.node } : {}), typeUrl, ...opts });
    this.#first = false;
  }

  ack(res: DeltaDiscoveryResponse): void {
    this.request(res.typeUrl!, { responseNonce: res.nonce! });
  }

  /** The next response of a type not yet taken; fails after timeoutMs. */
  next(typeUrl: string, timeoutMs = 3000): Promise<DeltaDiscoveryResponse> {
    return this.#queue.next(typeUrl, timeoutMs);
  }

  /** Waits `ms` and returns whatever arrived meanwhile (taking it). */
  drain(ms: number): Promise<DeltaDiscoveryResponse[]> {
    return this.#queue.drain(ms);
  }

  close(): void {
    this.stream.end();
    this.client.close();
  }
}
