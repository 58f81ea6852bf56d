import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { weft, weftBin } from './helpers.js';

const home = mkdtempSync(join(tmpdir(), 'weft-cli-'));
test.after(() => rmSync(home, { recursive: true, force: true }));

test('the bin starts with a node shebang', () => {
  assert.match(readFileSync(weftBin, 'utf8'), /^#!\/usr\/bin\/env node\n/);
});

test('weft --help lists every command', async () => {
  const r = await weft(['--help'], home);
  assert.equal(r.code, 0);
  for (const c of ['up', 'down', 'status', 'apply', 'get', 'delete', 'proxy-status', 'proxy-config', 'exec', 'version', 'control', 'proxy']) {
    assert.match(r.stdout, new RegExp(`^  ${c} `, 'm'), c);
  }
  assert.match(r.stdout, /--home <dir>/);
});

test('an unknown command is one clear error, exit 1', async () => {
  const r = await weft(['frobnicate'], home);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: unknown command 'frobnicate'/);
  assert.doesNotMatch(r.stderr, /    at /);
});

test('commands that need a mesh say so without a stack trace', async () => {
  for (const args of [['status'], ['proxy-status'], ['get', 'vs'], ['exec', 'x', '--', 'true'], ['down']]) {
    const r = await weft(args, home);
    assert.equal(r.code, 1, args.join(' '));
    assert.match(r.stderr, /^error: no mesh is running/, args.join(' '));
    assert.doesNotMatch(r.stderr, /    at /);
  }
});

test('weft version works without a mesh; -o json too', async () => {
  const r = await weft(['version', '-o', 'json'], home);
  assert.equal(r.code, 0);
  const v = JSON.parse(r.stdout) as { client: string; controlPlane: string | null };
  assert.match(v.client, /^\d+\.\d+\.\d+/);
  assert.equal(v.controlPlane, null);
});

test('weft up on a folder with malformed YAML: exit 1, file:line, nothing started', async () => {
  const dir = join(home, 'bad');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'ok.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\nspec:\n  ports:\n  - port: 80\n');
  writeFileSync(join(dir, 'broken.yaml'), 'apiVersion: v1\nkind: Service\nmetadata:\n  name: b\n   bad: [indent\n');
  const r = await weft(['up', dir, '--network', '251', '--ingress-port', '1'], home);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /^error: .*nothing was started/m);
  assert.match(r.stderr, /broken\.yaml:\d+/);
  assert.doesNotMatch(r.stderr, /    at /);
  assert.ok(!existsSync(join(home, 'mesh.json')), 'no mesh.json');
  assert.ok(!existsSync(join(home, 'logs', 'control.log')), 'no control plane started');
});

test('weft up on a Deployment without a command explains why it cannot run locally', async () => {
  const dir = join(home, 'nocmd');
  mkdirSync(dir, { recursive: true });
  writeFileSync(
    join(dir, 'd.yaml'),
    'apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n',
  );
  const r = await weft(['up', dir, '--network', '251'], home);
  assert.equal(r.code, 1);
  // Caught by the resource validator (or, failing that, by the local planner): file:line, the field, why.
  assert.match(r.stderr, /d\.yaml:\d+: .*Deployment default\/web: .*command.*(run locally|not pulled)/);
  assert.ok(!existsSync(join(home, 'logs', 'control.log')));
});

test('bad flag values are refused', async () => {
  const r = await weft(['up', home, '--network', 'x'], home);
  assert.equal(r.code, 1);
  assert.match(r.stderr, /--network must be a whole number/);
  assert.doesNotMatch(r.stderr, /    at /);
  const r2 = await weft(['up', home, '--network', '300'], home);
  assert.equal(r2.code, 1);
  assert.match(r2.stderr, /^error: network must be an integer 1\.\.254/m);
});
