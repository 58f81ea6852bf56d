// weft up --detach / status / exec / down with the real control plane and proxies:
// pods become ready, a crashed app is restarted and counted, down leaves no process behind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { weft } from './helpers.js';
import { freeIngressPort } from '../helpers/mesh.js';
import type { MeshFile } from '../../src/platform/local/mesh-file.js';
import { PROXY_NODE_FLAGS } from '../../src/platform/local/mesh.js';

const groupAlive = (g: number) => {
  try {
    process.kill(-g, 0);
    return true;
  } catch {
    return false;
  }
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** A process's argv (Linux /proc). */
const cmdline = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
/** Harmless flags for WEFT_NODE_FLAGS, given with extra blanks between them. */
const NODE_FLAGS = ['--max-old-space-size=700', '--no-deprecation'];

/**
 * A node --import module that logs every module each process resolves to
 * <dir>/modules-<pid>.log (a resolve hook: ESM has no module list to ask for).
 */
function moduleLogger(dir: string): string {
  const hooks = join(dir, 'log-hooks.mjs');
  writeFileSync(
    hooks,
    `import { appendFileSync } from 'node:fs';\nexport async function resolve(specifier, context, next) {\n  const r = await next(specifier, context);\n  appendFileSync(${JSON.stringify(dir)} + '/modules-' + process.pid + '.log', r.url + '\\n');\n  return r;\n}\n`,
  );
  const register = join(dir, 'log-modules.mjs');
  writeFileSync(register, `import { register } from 'node:module';\nregister(${JSON.stringify(`file://${hooks}`)});\n`);
  return `--import=${register}`;
}

const modulesOf = (dir: string, pid: number) => readFileSync(join(dir, `modules-${pid}.log`), 'utf8').split('\n').filter(Boolean);


const APP = `apiVersion: v1
kind: Service
metadata:
  name: hello
spec:
  selector:
    app: hello
  ports:
  - name: http
    port: 9080
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: hello-v1
spec:
  replicas: 1
  selector:
    matchLabels:
      app: hello
  template:
    metadata:
      labels:
        app: hello
    spec:
      containers:
      - name: hello
        command: ["node", "-e"]
        args:
        - "require('http').createServer((q, s) => s.end('hello from ' + process.env.ME)).listen(9080, process.env.POD_IP)"
        env:
        - name: ME
          valueFrom:
            fieldRef:
              fieldPath: metadata.name
        ports:
        - containerPort: 9080
        readinessProbe:
          httpGet:
            path: /
            port: 9080
          periodSeconds: 1
`;

// Through the pod's sidecar, as HTTP_PROXY says (node's fetch ignores HTTP_PROXY, so by hand).
const CLIENT = `const u = new URL(process.env.HTTP_PROXY);
require('http').get({ host: u.hostname, port: u.port, path: 'http://hello:9080/' }, (r) => { r.pipe(process.stdout); r.on('end', () => process.exit(r.statusCode === 200 ? 0 : 1)); }).on('error', (e) => { console.error(e.message); process.exit(1); });`;

test('up --detach, status, exec, crash restart, down', { timeout: 55_000 }, async () => {
  const home = mkdtempSync(join(tmpdir(), 'weft-up-'));
  const dir = join(home, 'app');
  mkdirSync(dir);
  writeFileSync(join(dir, 'hello.yaml'), APP);
  const network = 60 + (process.pid % 40);
  const ingress = await freeIngressPort(); // its HTTPS companion (+363) must be free too
  let mesh: MeshFile | undefined;
  const firstGroups: number[] = [];
  try {
    const logDir = join(home, 'modules');
    mkdirSync(logDir);
    const nodeFlags = [...NODE_FLAGS, moduleLogger(logDir)];
    const up = await weft(['up', dir, '--detach', '--network', String(network), '--ingress-port', String(ingress)], home, 40_000, process.cwd(), { WEFT_NODE_FLAGS: nodeFlags.join('  ') });
    assert.equal(up.code, 0, up.stderr);
    assert.match(up.stdout, /weft mesh is up on network/);
    assert.match(up.stdout, new RegExp(`hello-v1-[0-9a-f]{10}-[a-z0-9]{5}\\s+default\\s+2/2\\s+127\\.${network}\\.1\\.1\\s+127\\.${network}\\.101\\.1`));
    mesh = JSON.parse(readFileSync(join(home, 'mesh.json'), 'utf8')) as MeshFile;
    assert.equal(mesh.apiUrl, `http://127.${network}.0.1:15080`);

    // Node flags: the proxy gets PROXY_NODE_FLAGS and WEFT_NODE_FLAGS (before the script), the
    // control plane WEFT_NODE_FLAGS only, the app neither.
    const started = mesh.pods.find((p) => p.deployment === 'hello-v1')!;
    const proxyArgv = cmdline(started.pgids[0]!);
    const script = proxyArgv.findIndex((a) => a.endsWith('main.js'));
    assert.equal(proxyArgv[script + 1], 'proxy', proxyArgv.join(' '));
    for (const f of [...PROXY_NODE_FLAGS, ...nodeFlags]) assert.ok(proxyArgv.slice(0, script).includes(f), `proxy has ${f}: ${proxyArgv.join(' ')}`);
    const controlArgv = cmdline(mesh.controlPgid!);
    for (const f of nodeFlags) assert.ok(controlArgv.includes(f), `control plane has ${f}: ${controlArgv.join(' ')}`);
    assert.ok(!controlArgv.includes(PROXY_NODE_FLAGS[0]), controlArgv.join(' '));
    const appArgv = cmdline(started.pgids[1]!);
    for (const f of [...PROXY_NODE_FLAGS, ...nodeFlags]) assert.ok(!appArgv.includes(f), `the app has no ${f}: ${appArgv.join(' ')}`);

    const st = await weft(['status'], home);
    assert.equal(st.code, 0, st.stderr);
    assert.match(st.stdout, /^NAME\s+NAMESPACE\s+READY\s+ADDRESS\s+RESTARTS\s+AGE$/m);
    assert.match(st.stdout, /control plane\s+127\.\d+\.0\.1\s+ready/);

    const ex = await weft(['exec', 'hello-v1', '--', process.execPath, '-e', CLIENT], home);
    assert.equal(ex.code, 0, ex.stderr);
    assert.match(ex.stdout, /^hello from hello-v1-/);

    // `weft proxy` loads only the proxy's modules (src/cli/main.ts), even after serving
    // config; the control plane, by contrast, has YAML and the resource schemas loaded.
    const proxyModules = modulesOf(logDir, started.pgids[0]!);
    assert.ok(proxyModules.some((u) => u.endsWith('/src/proxy/data/upstream/index.js')), 'the log covers the proxy after its config arrived');
    const heavy = [/\/node_modules\/yaml\//, /\/src\/resources\//, /\/src\/cli\/program\.js$/, /\/src\/control\//];
    for (const re of heavy) assert.deepEqual(proxyModules.filter((u) => re.test(u)), [], `the proxy loaded ${re}`);
    const controlModules = modulesOf(logDir, mesh.controlPgid!);
    assert.ok(controlModules.some((u) => /\/node_modules\/yaml\//.test(u)) && controlModules.some((u) => u.includes('/src/resources/')), 'the control plane loads YAML (the check can see it)');

    // Crash the app: restarted, counted in status.
    const pod = mesh.pods.find((p) => p.deployment === 'hello-v1')!;
    const appGroup = pod.pgids[1]!;
    process.kill(-appGroup, 'SIGKILL');
    let restarts = 0;
    let ready = true;
    for (let i = 0; i < 80 && (restarts < 1 || !ready); i++) {
      await sleep(250);
      const s = JSON.parse((await weft(['status', '-o', 'json'], home)).stdout) as { pods: { name: string; restarts: number; ready: boolean }[] };
      ({ restarts, ready } = s.pods.find((p) => p.name === pod.name)!);
    }
    assert.equal(restarts, 1);
    assert.equal(ready, true, 'ready again after the restart');
    firstGroups.push(appGroup);
    mesh = JSON.parse(readFileSync(join(home, 'mesh.json'), 'utf8')) as MeshFile;
  } finally {
    // When `up` itself failed there is nothing to stop: only check `down` when a mesh ran,
    // so its "no mesh is running" never hides the real error.
    const down = await weft(['down'], home, 40_000);
    if (mesh) {
      assert.equal(down.code, 0, down.stderr);
      assert.match(down.stdout, /stopped the mesh/);
      const groups = [mesh.controlPgid, ...firstGroups, ...mesh.pods.flatMap((p) => p.pgids)].filter((g): g is number => typeof g === 'number');
      assert.ok(new Set(groups).size >= 4 + firstGroups.length, `groups: ${groups.join(' ')}`);
      for (const g of groups) assert.ok(!groupAlive(g), `process group ${g} is gone`);
      assert.throws(() => process.kill(mesh!.supervisorPid, 0));
    }
    assert.ok(!existsSync(join(home, 'mesh.json')));
    rmSync(home, { recursive: true, force: true });
  }
});
