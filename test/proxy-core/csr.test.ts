// The proxy's hand-encoded PKCS#10 request, read back by two independent parsers
// (@peculiar/x509, as the CA does, and OpenSSL when installed).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';
import { x509 } from '../../src/pki/x509.js';
import { makeKeyAndCsr } from '../../src/proxy/core/csr.js';

const ID = 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-reviews-with-a-rather-long-service-account-name';

test('the CSR verifies, carries only the SPIFFE URI SAN (critical), and matches the private key', async () => {
  const { keyPem, csrPem } = await makeKeyAndCsr(ID);
  const csr = new x509.Pkcs10CertificateRequest(csrPem);
  assert.equal(await csr.verify(), true);
  assert.equal(csr.subject, '');
  assert.deepEqual([...csr.extensions].map((e) => e.type), ['2.5.29.17'], 'one extension: subjectAltName');
  const san = new x509.SubjectAlternativeNameExtension(csr.extensions[0]!.rawData);
  assert.equal(san.critical, true);
  assert.deepEqual(san.names.toJSON(), [{ type: 'url', value: ID }]);
  assert.equal(csr.signatureAlgorithm.name, 'ECDSA');
  // The request's public key is the key's public half.
  const pub = createPublicKey({ key: Buffer.from(csr.publicKey.rawData), format: 'der', type: 'spki' });
  const data = Buffer.from('proof of possession');
  assert.ok(verify('sha256', data, pub, sign('sha256', data, createPrivateKey(keyPem))));
  assert.equal(pub.asymmetricKeyDetails?.namedCurve, 'prime256v1');
});

test('every request gets a fresh key', async () => {
  const a = await makeKeyAndCsr(ID);
  const b = await makeKeyAndCsr(ID);
  assert.notEqual(a.keyPem, b.keyPem);
});

test('OpenSSL accepts the CSR and its signature', async (t) => {
  if (spawnSync('openssl', ['version']).status !== 0) return t.skip('openssl not installed');
  const { csrPem } = await makeKeyAndCsr(ID);
  const r = spawnSync('openssl', ['req', '-verify', '-noout', '-text'], { input: csrPem, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout + r.stderr, /verify OK/i);
  assert.match(r.stdout, new RegExp(`URI:${ID.replace(/[/.]/g, '\\$&')}`));
});

test('an identity that is not a printable ASCII URI is refused', async () => {
  await assert.rejects(makeKeyAndCsr('spiffe://cluster.local/ns/ü/sa/x'), /not a printable ASCII URI/);
});
