import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { ResourceStore } from '../../src/control/store.js';
import { WorkloadRegistry } from '../../src/control/registry.js';
import { isControlError } from '../../src/control/errors.js';
import { serviceResource, tmpStateDir, workload } from './helpers.js';

test('store: apply reports created, unchanged, configured; survives reopen; delete', async () => {
  const dir = await tmpStateDir();
  const store = await ResourceStore.open(dir);
  const events: string[][] = [];
  store.onChange((c) => events.push(c.changes.map((x) => `${x.action}:${x.name}`)));
  const a = serviceResource('default', 'a', 80);
  const b = serviceResource('default', 'b', 80);
  assert.deepEqual((await store.apply([a, b])).map((r) => r.action), ['created', 'created']);
  // Same content from another file is unchanged: where it came from does not matter.
  assert.deepEqual((await store.apply([{ ...a, origin: { file: 'x.yaml', line: 3 } }])).map((r) => r.action), ['unchanged']);
  assert.deepEqual((await store.apply([serviceResource('default', 'a', 81)])).map((r) => r.action), ['configured']);
  assert.deepEqual(events, [['created:a', 'created:b'], ['configured:a']]);

  const files = await fs.readdir(path.join(dir, 'store'));
  assert.equal(files.filter((f) => f.endsWith('.json')).length, 2);

  const reopened = await ResourceStore.open(dir);
  assert.equal(reopened.size, 2);
  assert.deepEqual((reopened.get('Service', 'default', 'a')?.spec as { ports: { port: number }[] }).ports[0]!.port, 81);
  assert.deepEqual(reopened.list({ kind: 'service', namespace: 'default' }).map((r) => r.metadata.name), ['a', 'b']);

  assert.equal((await reopened.delete('Service', 'default', 'a'))?.metadata.name, 'a');
  assert.equal(await reopened.delete('Service', 'default', 'a'), undefined);
  assert.equal((await ResourceStore.open(dir)).size, 1);
});

test('store: same kind in two API groups are two resources; bare kind delete is refused as ambiguous', async () => {
  const dir = await tmpStateDir();
  const store = await ResourceStore.open(dir);
  const meta = { name: 'gw', namespace: 'default', labels: {}, annotations: {} };
  await store.apply([
    { apiVersion: 'networking.istio.io/v1', kind: 'Gateway', metadata: meta, spec: { servers: [] } },
    { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway', metadata: meta, spec: { listeners: [] } },
  ]);
  assert.equal(store.list({ kind: 'Gateway' }).length, 2);
  await assert.rejects(store.delete('Gateway', 'default', 'gw'), (e) => isControlError(e, 'WEFT_ERR_AMBIGUOUS_KIND'));
  assert.ok(await store.delete('Gateway.networking.istio.io', 'default', 'gw'));
  assert.deepEqual(store.list().map((r) => r.apiVersion), ['gateway.networking.k8s.io/v1']);
});

test('store: a leftover temp file is removed, a corrupt file is reported and kept', async () => {
  const dir = await tmpStateDir();
  const store = await ResourceStore.open(dir);
  await store.apply([serviceResource('default', 'a', 80)]);
  await fs.writeFile(path.join(dir, 'store', '.x.json.123.abcd.tmp'), 'partial');
  await fs.writeFile(path.join(dir, 'store', 'broken.json'), '{not json');
  const again = await ResourceStore.open(dir);
  assert.equal(again.size, 1);
  assert.equal(again.loadProblems.length, 1);
  const files = await fs.readdir(path.join(dir, 'store'));
  assert.ok(files.includes('broken.json'));
  assert.ok(!files.some((f) => f.endsWith('.tmp')));
});

test('registry: put validates and persists, delete', async () => {
  const dir = await tmpStateDir();
  const reg = await WorkloadRegistry.open(dir);
  const seen: string[] = [];
  reg.onChange((c) => seen.push(`${c.action}:${c.name}`));
  const w = workload('default', 'p1', '127.0.0.2');
  assert.equal(await reg.put(w), 'created');
  assert.equal(await reg.put(w), 'unchanged');
  assert.equal(await reg.put({ ...w, ready: false }), 'configured');
  await assert.rejects(reg.put({ ...w, ports: [{ containerPort: 70000 }] }), (e) => isControlError(e, 'WEFT_ERR_BAD_WORKLOAD') && /ports\[0\]\.containerPort/.test(e.message));
  const reopened = await WorkloadRegistry.open(dir);
  assert.equal(reopened.get('default', 'p1')?.ready, false);
  assert.equal(await reopened.delete('default', 'p1'), true);
  assert.equal((await WorkloadRegistry.open(dir)).list().length, 0);
  assert.deepEqual(seen, ['created:p1', 'configured:p1']);
});
