// The sidecar loads undici's Pool without undici's index (fetch, WebSocket, caches,
// mocks): see src/proxy/data/upstream/undici-pool.ts. Checked on the real module graph
// of the proxy command, in a fresh process.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const dist = fileURLToPath(new URL('../../src/', import.meta.url));

test("the proxy's modules load undici's Pool but not undici's index", () => {
  const script = `
    const { createRequire } = await import('node:module');
    await import(${JSON.stringify(`${dist}cli/proxy.js`)});
    await import(${JSON.stringify(`${dist}proxy/core/main.js`)});
    await import(${JSON.stringify(`${dist}proxy/data/index.js`)});
    await import(${JSON.stringify(`${dist}proxy/data/upstream/index.js`)}); // index.ts loads it on first use
    const loaded = Object.keys(createRequire(import.meta.url).cache).filter((f) => f.includes('/undici/'));
    console.log(JSON.stringify(loaded));`;
  const loaded = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as string[];
  assert.ok(loaded.some((f) => f.endsWith('/undici/lib/dispatcher/pool.js')), `Pool not loaded: ${loaded.length} undici files`);
  assert.ok(!loaded.some((f) => /\/undici\/index\.js$/.test(f)), "undici's index was loaded");
  assert.ok(!loaded.some((f) => f.includes('/undici/lib/web/')), 'fetch/WebSocket modules were loaded');
});
