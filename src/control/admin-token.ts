// The admin bearer token for mutating API calls: <stateDir>/admin-token, mode
// 0600, made on first start. Compared in constant time.
import fs from 'node:fs/promises';
import path from 'node:path';
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileIfExists, writeFileAtomic } from './atomic-file.js';

export function adminTokenPath(stateDir: string): string {
  return path.join(stateDir, 'admin-token');
}

export async function loadOrCreateAdminToken(stateDir: string): Promise<string> {
  const file = adminTokenPath(stateDir);
  const existing = await readFileIfExists(file);
  if (existing && existing.toString('utf8').trim() !== '') {
    await fs.chmod(file, 0o600);
    return existing.toString('utf8').trim();
  }
  const token = randomBytes(32).toString('base64url');
  await fs.mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(file, `${token}\n`, 0o600);
  return token;
}

/** Constant-time comparison of a presented token with the admin token. */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}
