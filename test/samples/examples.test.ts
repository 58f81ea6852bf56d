// Every ready-made example of the samples loads cleanly on top of its sample, as `weft
// apply -f <example>` would see it in the running mesh (with the gateways' Services that
// `weft up` adds): no finding at all, not even a warning (an unknown host, subset or
// gateway would be one), and each file holds what its README line promises.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadPath, parseYaml } from '../../src/resources/index.js';
import type { Resource } from '../../src/resources/types.js';
import { buildModel } from '../../src/model/index.js';
import { egressServiceYaml } from '../../src/platform/local/egress.js';
import { ingressServiceYaml } from '../../src/platform/local/ingress.js';

const SAMPLES = fileURLToPath(new URL('../../../samples/', import.meta.url));

/** The files in order; like the store, a later resource replaces one of the same kind, namespace and name. */
function load(...files: string[]): Resource[] {
  const byKey = new Map<string, Resource>();
  const gateways = parseYaml(`${ingressServiceYaml(8080, 8443)}---\n${egressServiceYaml()}`, 'weft:gateways');
  for (const f of files) {
    const r = loadPath(f);
    assert.deepEqual(r.findings, [], f);
    for (const res of [...r.resources, ...gateways.resources]) byKey.set(`${res.apiVersion}/${res.kind}/${res.metadata.namespace}/${res.metadata.name}`, res);
  }
  return [...byKey.values()];
}

function examples(sample: string): string[] {
  const dir = path.join(SAMPLES, sample, 'examples');
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.yaml'))
    .sort()
    .map((f) => path.join(dir, f));
}

for (const [sample, base] of [
  ['bookinfo', ['bookinfo.yaml', 'gateway.yaml', 'examples/destination-rules.yaml']],
  ['resilience', ['resilience.yaml']],
] as const) {
  for (const example of examples(sample)) {
    test(`${sample}: ${path.basename(example)} loads on the sample with no finding`, () => {
      const resources = load(...base.map((b) => path.join(SAMPLES, sample, b)), example);
      assert.deepEqual(buildModel(resources, []).findings, []);
    });
  }
}

test('every example has a line in its README', () => {
  for (const sample of ['bookinfo', 'resilience']) {
    const readme = fs.readFileSync(path.join(SAMPLES, sample, sample === 'bookinfo' ? 'examples/README.md' : 'README.md'), 'utf8');
    for (const example of examples(sample)) assert.ok(readme.includes(`examples/${path.basename(example)}`), `${sample} README names ${path.basename(example)}`);
  }
});
