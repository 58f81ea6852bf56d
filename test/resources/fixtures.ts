// Locates test/resources/fixtures in the source tree from the compiled test (any outDir).

import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

function findRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'test', 'resources', 'fixtures'))) return dir;
    if (dirname(dir) === dir) throw new Error('test/resources/fixtures not found above the compiled test');
  }
}

const root = findRoot();

/** Path of a fixture relative to the repo root (as users would name files). */
export function fixture(name: string): string {
  return relative(process.cwd(), join(root, 'test', 'resources', 'fixtures', name)) || '.';
}

export function readFixture(name: string): string {
  return readFileSync(join(root, 'test', 'resources', 'fixtures', name), 'utf8');
}
