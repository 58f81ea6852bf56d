// The mesh hop end to end on real sockets, without the control plane: client sidecar
// (outbound HCM) -> one pooled HTTP/2 session over mTLS (or h2c) -> server sidecar
// (inbound listener, TLS chain, HCM) -> a node:http app. Under steady concurrent load
// every request must succeed and the pooled session must never be replaced.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import { ProxyAgent, request as undiciRequest } from 'undici';
import { createDataPlane } from '../../src/proxy/data/index.js';
import type { DataPlane, EnvoyObject } from '../../src/proxy/types.js';
import { info, hcm, listener, snapshot, listen, portOf } from './helpers.js';
import { inboundTlsChain, meshCluster, rootSecret, routes } from '../helpers/envoy.js';
import { makeCa, type TestCa, TestIdentity } from '../helpers/pki.js';

const SERVER_ID = 'spiffe://cluster.local/ns/default/sa/ratings';
const CLIENT_ID = 'spiffe://cluster.local/ns/default/sa/productpage';
const FQDN = 'ratings.default.svc.cluster.local';
const OUT = `outbound|9080||${FQDN}`;
const OUT_H2C = `outbound|9081||${FQDN}`;
const IN = 'inbound|9080||';
const TOTAL = 3000;
const CONCURRENCY = 6;

/** A STATIC cluster with one endpoint, mTLS to it when `mesh` (SNI and SAN of ratings), else plaintext (h2c with `h2`). */
function staticCluster(name: string, address: string, port: number, opts: { mesh?: boolean; h2?: boolean } = {}): EnvoyObject {
  return meshCluster(name, {
    type: 'STATIC',
    endpoints: [{ address, port, mesh: opts.mesh }],
    sans: [SERVER_ID],
    sni: `outbound_.9080_._.${FQDN}`,
    ...(opts.h2 ? { protocol: 'h2' } : {}),
  });
}

let ca: TestCa;
let app: http.Server;
let server: DataPlane;
let client: DataPlane;
let outbound: string;
let appRequests = 0;

before(async () => {
  ca = await makeCa('weft root');
  const roots = rootSecret(ca.certPem);
  app = http.createServer((req, res) => {
    appRequests++;
    req.resume();
    req.on('end', () => {
      const body = JSON.stringify({ id: 0, ratings: { Reviewer1: 5, Reviewer2: 4 }, url: req.url });
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    });
  });
  app.keepAliveTimeout = 60_000;
  const appAddr = await listen(app);

  // Server sidecar: inbound listener, TLS chain (mTLS, ALPN h2) and a plaintext chain (h2c), both to the app.
  server = createDataPlane(info('127.0.0.1', SERVER_ID), new TestIdentity(await ca.issue(SERVER_ID)));
  const inboundRoutes = routes('inbound|9080', [{ domains: ['*'], cluster: IN }]);
  const tlsChain = inboundTlsChain([hcm(inboundRoutes, { statPrefix: 'inbound_0.0.0.0_9080' })]);
  const plainChain = { filterChainMatch: { transportProtocol: 'raw_buffer' }, filters: [hcm(inboundRoutes, { statPrefix: 'inbound_0.0.0.0_9080' })] };
  const serverSnap = snapshot([listener('virtualInbound', '127.0.0.1', 0, [tlsChain, plainChain])], [], [roots]);
  serverSnap.clusters.set(IN, staticCluster(IN, '127.0.0.1', portOf(appAddr)));
  await server.apply(serverSnap);
  const inbound = server.boundListeners()['virtualInbound']!;

  // Client sidecar: outbound listener, ratings:9080 over mTLS (pooled h2), ratings-h2c:9081 over plaintext h2c.
  client = createDataPlane(info('127.0.0.1', CLIENT_ID), new TestIdentity(await ca.issue(CLIENT_ID)));
  const clientSnap = snapshot(
    [listener('virtualOutbound', '127.0.0.1', 0, [{ filters: [hcm({ rds: '9080' }, { statPrefix: 'outbound_0.0.0.0_9080' })] }])],
    [
      routes('9080', [
        { domains: ['ratings', 'ratings:9080', FQDN, `${FQDN}:9080`], cluster: OUT },
        { domains: ['ratings-h2c', 'ratings-h2c:9081'], cluster: OUT_H2C },
      ]),
    ],
    [roots],
  );
  clientSnap.clusters.set(OUT, staticCluster(OUT, '127.0.0.1', portOf(inbound), { mesh: true }));
  clientSnap.clusters.set(OUT_H2C, staticCluster(OUT_H2C, '127.0.0.1', portOf(inbound), { h2: true }));
  await client.apply(clientSnap);
  outbound = client.boundListeners()['virtualOutbound']!;
});

after(async () => {
  await client?.close();
  await server?.close();
  app?.closeAllConnections();
  app?.close();
});

/** TOTAL GET requests, CONCURRENCY at a time, through an HTTP proxy agent to the client sidecar. */
async function load(origin: string): Promise<{ ok: number; failures: string[] }> {
  const agent = new ProxyAgent({ uri: `http://${outbound}`, proxyTunnel: false, connections: CONCURRENCY, keepAliveTimeout: 30_000 });
  let next = 0;
  let ok = 0;
  const failures: string[] = [];
  const worker = async (): Promise<void> => {
    while (next < TOTAL) {
      const i = next++;
      try {
        const res = await undiciRequest(`${origin}/ratings/${i}`, { dispatcher: agent });
        const body = await res.body.text();
        if (res.statusCode === 200 && body.includes(`"url":"/ratings/${i}"`)) ok++;
        else failures.push(`#${i}: ${res.statusCode} ${String(res.headers['x-weft-flags'] ?? '')} ${body.trim()}`);
      } catch (err) {
        failures.push(`#${i}: ${(err as Error).message} ${String((err as { cause?: Error }).cause?.message ?? '')}`);
      }
    }
  };
  try {
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  } finally {
    await agent.close();
  }
  return { ok, failures };
}

test('mTLS hop: 3000 requests, 6 concurrent, all succeed on one pooled HTTP/2 connection', { timeout: 15_000 }, async () => {
  const beforeApp = appRequests;
  const { ok, failures } = await load('http://ratings:9080');
  const cs = client.stats();
  const ss = server.stats();
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${TOTAL} failed`);
  assert.equal(ok, TOTAL);
  assert.equal(appRequests - beforeApp, TOTAL);
  assert.equal(cs[`cluster.${OUT}.upstream_rq_total`], TOTAL);
  assert.equal(cs[`cluster.${OUT}.upstream_rq_2xx`], TOTAL);
  assert.equal(cs[`cluster.${OUT}.upstream_cx_total`], 1, 'the pooled h2 session was replaced');
  assert.equal(cs[`cluster.${OUT}.ssl.handshake`], 1);
  assert.equal(cs[`cluster.${OUT}.upstream_cx_active`], 1);
  assert.equal(ss['listener.virtualInbound.ssl.handshake'], 1);
  assert.equal(ss[`cluster.${IN}.upstream_rq_2xx`], TOTAL);
});

test('h2c hop: 3000 requests, 6 concurrent, all succeed on one pooled HTTP/2 connection', { timeout: 15_000 }, async () => {
  const { ok, failures } = await load('http://ratings-h2c:9081');
  const cs = client.stats();
  assert.deepEqual(failures.slice(0, 5), [], `${failures.length} of ${TOTAL} failed`);
  assert.equal(ok, TOTAL);
  assert.equal(cs[`cluster.${OUT_H2C}.upstream_rq_2xx`], TOTAL);
  assert.equal(cs[`cluster.${OUT_H2C}.upstream_cx_total`], 1, 'the pooled h2c session was replaced');
  assert.equal(cs[`cluster.${OUT_H2C}.upstream_cx_active`], 1);
});
