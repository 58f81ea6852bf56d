// Where the reference proxies' binaries are. Debian puts haproxy and nginx in /usr/sbin,
// which is not on every user's PATH (bench/setup.sh accepts them there too).
import fs from 'node:fs';
import path from 'node:path';

/** The first executable `name` on PATH, then in the sbin directories and `extraDirs`. */
export function findProgram(name: string, extraDirs: readonly string[] = []): string | undefined {
  const dirs = [...(process.env['PATH'] ?? '').split(':').filter(Boolean), '/usr/sbin', '/usr/local/sbin', ...extraDirs];
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // not here
    }
  }
  return undefined;
}

/** haproxy's path; the bare name when missing, so spawning it fails with ENOENT and a clear reason. */
export function haproxyBin(): string {
  return findProgram('haproxy') ?? 'haproxy';
}
