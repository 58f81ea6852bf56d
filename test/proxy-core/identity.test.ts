import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { WorkloadIdentity } from '../../src/proxy/core/identity.js';
import type { WorkloadCertificate } from '../../src/proxy/types.js';
import { TestCaServer } from './helpers/ca-server.js';
import { makeRoot, type TestRoot } from '../helpers/pki.js';
import { until } from './helpers/resources.js';

const ID = 'spiffe://cluster.local/ns/shop/sa/reviews';
let dir: string;
let root: TestRoot;
let rootFile: string;
let tokenFile: string;

before(async () => {
  dir = await fs.mkdtemp(path.join(os.tmpdir(), 'weft-p1-id-'));
  root = await makeRoot();
  rootFile = path.join(dir, 'root.pem');
  tokenFile = path.join(dir, 'token');
  await fs.writeFile(rootFile, root.pem);
  await fs.writeFile(tokenFile, 'tok-123\n');
});
after(async () => {
  await fs.rm(dir, { recursive: true, force: true });
});

function identityFor(ca: TestCaServer, extra: Partial<ConstructorParameters<typeof WorkloadIdentity>[0]> = {}): WorkloadIdentity {
  return new WorkloadIdentity({ identity: ID, caAddress: ca.address, caRootFile: rootFile, tokenFile, retryInitialMs: 50, retryMaxMs: 200, ...extra });
}

test('gets a certificate whose only SAN is its SPIFFE id, from a key it made', async () => {
  const ca = new TestCaServer({ root, token: 'tok-123' });
  await ca.start();
  const id = identityFor(ca);
  const rotated: WorkloadCertificate[] = [];
  id.onRotate((c) => rotated.push(c));
  try {
    id.start();
    const cert = await id.whenReady();
    assert.equal(cert.identity, ID);
    const leaf = new X509Certificate(cert.certChainPem);
    assert.equal(leaf.subjectAltName, `URI:${ID}`);
    assert.ok(leaf.checkPrivateKey(createPrivateKey(cert.keyPem)));
    assert.ok(leaf.verify(new X509Certificate(root.pem).publicKey));
    assert.deepEqual(ca.lastCsrUris, [ID]);
    assert.equal(id.current(), cert);
    assert.ok(id.notAfter && id.notAfter.getTime() > Date.now() + 3600_000);
    assert.equal(rotated.length, 1);
    assert.equal(id.rotations, 0);
    assert.equal(id.lastError, undefined);
    // Renewal is scheduled at half life (about 12 h away).
    const next = id.status().nextAttemptAt!.getTime() - Date.now();
    assert.ok(next > 11 * 3600_000 && next < 13 * 3600_000, `next renewal in ${next} ms`);
  } finally {
    await id.stop();
    ca.stop();
  }
});

test('renews at half life without blocking, keeps serving meanwhile', async () => {
  const ca = new TestCaServer({ root, token: 'tok-123', validitySeconds: 2 });
  await ca.start();
  const id = identityFor(ca);
  const serials: string[] = [];
  id.onRotate((c) => serials.push(new X509Certificate(c.certChainPem).serialNumber));
  try {
    id.start();
    await id.whenReady();
    // Certificates last 2 s: renewal at ~1 s each; the event loop stays free (a 10 ms ticker keeps running).
    const t0 = Date.now();
    let last = Date.now();
    let maxGap = 0;
    const ticker = setInterval(() => {
      maxGap = Math.max(maxGap, Date.now() - last);
      last = Date.now();
    }, 10);
    await until(() => id.rotations >= 2, 'two rotations', 8000);
    clearInterval(ticker);
    const took = Date.now() - t0;
    assert.ok(took >= 1000, `two rotations took ${took} ms: renewal is not at half life`);
    assert.ok(maxGap < 250, `event loop stalled for ${maxGap} ms`);
    assert.ok(new Set(serials).size >= 3, 'each rotation has a new certificate');
    assert.ok(id.current()!.notAfter.getTime() > Date.now(), 'current certificate still valid');
  } finally {
    await id.stop();
    ca.stop();
  }
});

test('retries with backoff when the CA fails, recording the last error', async () => {
  const ca = new TestCaServer({ root, token: 'tok-123' });
  await ca.start();
  ca.failNext = 3;
  const id = identityFor(ca);
  try {
    id.start();
    await until(() => id.lastError, 'an error');
    assert.equal(id.lastError!.code, 'WEFT_ERR_CA_REQUEST');
    assert.match(id.lastError!.message, /UNAVAILABLE/);
    await id.whenReady();
    assert.equal(ca.calls, 4);
    assert.equal(id.status().failures, 3);
    assert.equal(id.lastError, undefined);
  } finally {
    await id.stop();
    ca.stop();
  }
});

test('keeps the current certificate when a renewal fails', async () => {
  const ca = new TestCaServer({ root, token: 'tok-123' });
  await ca.start();
  const id = identityFor(ca, { retryInitialMs: 10_000, retryMaxMs: 10_000 });
  try {
    id.start();
    const first = await id.whenReady();
    ca.failNext = 1;
    await id.renewNow();
    assert.equal(id.current(), first);
    assert.equal(id.lastError?.code, 'WEFT_ERR_CA_REQUEST');
    await id.renewNow();
    assert.notEqual(id.current(), first);
    assert.equal(id.rotations, 1);
  } finally {
    await id.stop();
    ca.stop();
  }
});

test('refuses a certificate for another identity', async () => {
  const ca = new TestCaServer({ root, token: 'tok-123' });
  await ca.start();
  ca.sanOverride = 'spiffe://cluster.local/ns/shop/sa/admin';
  const id = identityFor(ca, { retryInitialMs: 10_000, retryMaxMs: 10_000 });
  try {
    await id.renewNow();
    assert.equal(id.current(), undefined);
    assert.equal(id.lastError?.code, 'WEFT_ERR_CERT_INVALID');
    assert.match(id.lastError!.message, /subjectAltName/);
  } finally {
    await id.stop();
    ca.stop();
  }
});

test('refuses a certificate that does not chain to the configured root', async () => {
  const other = await makeRoot('another root');
  // TLS to the CA verifies with `root`, but workload certificates come signed by `other`.
  const ca = new TestCaServer({ root, signingRoot: other, token: 'tok-123' });
  await ca.start();
  const id = identityFor(ca, { retryInitialMs: 10_000, retryMaxMs: 10_000 });
  try {
    await id.renewNow();
    assert.equal(id.current(), undefined);
    assert.equal(id.lastError?.code, 'WEFT_ERR_CERT_INVALID');
    assert.match(id.lastError!.message, /trusted root/);
  } finally {
    await id.stop();
    ca.stop();
  }
});

test('a bad token is an error from the CA; the token file is re-read on retry', async () => {
  const ca = new TestCaServer({ root, token: 'tok-123' });
  await ca.start();
  const badTokenFile = path.join(dir, 'token-bad');
  await fs.writeFile(badTokenFile, 'wrong');
  const id = identityFor(ca, { tokenFile: badTokenFile, retryInitialMs: 10_000, retryMaxMs: 10_000 });
  try {
    await id.renewNow();
    assert.equal(id.current(), undefined);
    assert.match(id.lastError!.message, /UNAUTHENTICATED/);
    await fs.writeFile(badTokenFile, 'tok-123');
    await id.renewNow();
    assert.ok(id.current());
  } finally {
    await id.stop();
    ca.stop();
  }
});

test('dials the CA by name, verifying it as weft-control', async () => {
  const ca = new TestCaServer({ root, token: 'tok-123' });
  await ca.start();
  const id = identityFor(ca, { caAddress: `localhost:${ca.port}` });
  try {
    await id.renewNow();
    assert.ok(id.current(), `no cert: ${id.lastError?.message}`);
  } finally {
    await id.stop();
    ca.stop();
  }
});

test('a missing token file is a credential error', async () => {
  const ca = new TestCaServer({ root, token: 'tok-123' });
  await ca.start();
  const id = identityFor(ca, { tokenFile: path.join(dir, 'nope'), retryInitialMs: 10_000, retryMaxMs: 10_000 });
  try {
    await id.renewNow();
    assert.equal(id.lastError?.code, 'WEFT_ERR_CREDENTIAL_FILE');
    assert.equal(ca.calls, 0);
  } finally {
    await id.stop();
    ca.stop();
  }
});
