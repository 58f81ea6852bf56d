import { test } from 'node:test';
import assert from 'node:assert/strict';
import http from 'node:http';
import net from 'node:net';
import { createDataPlane } from '../../src/proxy/data/index.js';
import { ConfigRejectedError } from '../../src/proxy/types.js';
import { TestClusterManager, info, hcm, listener, snapshot, catchAllRoutes, listen, testApp, portOf } from './helpers.js';
import { TestIdentity } from '../helpers/pki.js';

test('listener diff: config swapped in place, removed closed, bind failure rejected naming the listener', async () => {
  const app = testApp();
  const cm = new TestClusterManager();
  cm.targets.set('a', await listen(app));
  const dp = createDataPlane(info(), new TestIdentity(), { clusterManager: cm });
  await dp.apply(snapshot([listener('one', '0.0.0.0', 0, [{ filters: [hcm(catchAllRoutes('a'))] }]), listener('two', '127.0.0.1', 0, [{ filters: [hcm(catchAllRoutes('a'))] }])]));
  const one = dp.boundListeners().one!;
  const two = dp.boundListeners().two!;
  assert.match(one, /^127\.0\.0\.1:\d+$/);
  // keep a connection open across the swap
  const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
  const get = (addr: string): Promise<number> => new Promise((resolve, reject) => http.get({ host: '127.0.0.1', port: portOf(addr), path: '/', agent }, (r) => { r.resume(); r.on('end', () => resolve(r.statusCode!)); }).on('error', reject));
  assert.equal(await get(one), 200);
  await dp.apply(snapshot([listener('one', '0.0.0.0', 0, [{ filters: [hcm({ name: 'r', virtualHosts: [{ name: 'v', domains: ['*'], routes: [{ match: { prefix: '/' }, directResponse: { status: 204 } }] }] })] }])]));
  assert.equal(dp.boundListeners().one, one);
  assert.equal(dp.boundListeners().two, undefined);
  assert.equal(await get(one), 200, 'the open connection keeps its chain');
  const fresh = await new Promise<number>((resolve) => http.get({ host: '127.0.0.1', port: portOf(one), path: '/', agent: false }, (r) => { r.resume(); resolve(r.statusCode!); }));
  assert.equal(fresh, 204);
  await assert.rejects(new Promise((resolve, reject) => net.connect(portOf(two), '127.0.0.1').on('connect', resolve).on('error', reject)));
  // bind failure: port in use
  const blocker = net.createServer();
  const taken = await listen(blocker);
  await assert.rejects(
    dp.apply(snapshot([listener('one', '0.0.0.0', 0, [{ filters: [hcm(catchAllRoutes('a'))] }]), listener('clash', '127.0.0.1', portOf(taken), [{ filters: [hcm(catchAllRoutes('a'))] }])])),
    (err: unknown) => err instanceof ConfigRejectedError && err.message.includes('clash') && err.message.includes(taken),
  );
  assert.deepEqual(Object.keys(dp.boundListeners()), ['one']);
  blocker.close();
  agent.destroy();
  await dp.close();
  app.close();
});

test('drain lets an in-flight slow request finish while new connections are refused', async () => {
  const app = testApp();
  const cm = new TestClusterManager();
  cm.targets.set('a', await listen(app));
  const dp = createDataPlane(info(), new TestIdentity(), { clusterManager: cm });
  await dp.apply(snapshot([listener('l', '127.0.0.1', 0, [{ filters: [hcm(catchAllRoutes('a'))] }])]));
  const addr = dp.boundListeners().l!;
  const slow = new Promise<{ status: number; body: string; connection: string | undefined }>((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: portOf(addr), path: '/slow?ms=400', agent: new http.Agent({ keepAlive: true }) }, (r) => {
      let body = '';
      r.on('data', (c: Buffer) => (body += String(c)));
      r.on('end', () => resolve({ status: r.statusCode!, body, connection: r.headers.connection }));
    }).on('error', reject);
  });
  await new Promise((r) => setTimeout(r, 100));
  const t0 = Date.now();
  const drained = dp.drain(5000);
  await new Promise((r) => setTimeout(r, 20));
  await assert.rejects(new Promise((resolve, reject) => net.connect(portOf(addr), '127.0.0.1').on('connect', resolve).on('error', reject)), /ECONNREFUSED/);
  const res = await slow;
  assert.deepEqual([res.status, res.body, res.connection], [200, 'slow done', 'close']);
  await drained;
  assert.ok(Date.now() - t0 < 2000);
  await dp.close();
  await cm.close();
  app.closeAllConnections();
  app.close();
});
