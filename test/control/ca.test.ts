import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs/promises';
import path from 'node:path';
import { X509Certificate as NodeX509 } from 'node:crypto';
import { x509 } from '../../src/pki/x509.js';
import { CertificateAuthority } from '../../src/control/ca.js';
import { TokenIssuer } from '../../src/control/tokens.js';
import { isControlError } from '../../src/control/errors.js';
import { spiffeId } from '../../src/xds/names.js';
import { makeCsr, tmpStateDir } from './helpers.js';

const ID = spiffeId('default', 'reviews');

test('ca: root made once (P-256, 10 y, CN/O), key 0600, reloaded identically', async () => {
  const dir = await tmpStateDir();
  const ca = await CertificateAuthority.open({ stateDir: dir, trustDomain: 'example.org' });
  const root = new NodeX509(ca.rootCertPem);
  assert.match(root.subject, /CN=weft root CA/);
  assert.match(root.subject, /O=example.org/);
  assert.equal(root.ca, true);
  assert.equal(root.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  const years = (Date.parse(root.validTo) - Date.now()) / (365 * 24 * 3600e3);
  assert.ok(years > 9.9 && years < 10.1, `root validity ${years} y`);
  const st = await fs.stat(path.join(dir, 'ca', 'root-key.pem'));
  assert.equal(st.mode & 0o777, 0o600);
  const again = await CertificateAuthority.open({ stateDir: dir, trustDomain: 'example.org' });
  assert.equal(again.rootCertPem, ca.rootCertPem);
});

test('ca: signs a CSR for its identity: P-256 leaf, 24 h, SPIFFE SAN, usages, chains to root', async () => {
  const ca = await CertificateAuthority.open({ stateDir: await tmpStateDir(), trustDomain: 'cluster.local' });
  const issued = await ca.sign(await makeCsr([ID]), ID);
  assert.equal(issued.certChain.length, 1);
  const leaf = new NodeX509(issued.certChain[0]!);
  const root = new NodeX509(issued.rootCerts[0]!);
  assert.ok(leaf.checkIssued(root) && leaf.verify(root.publicKey), 'leaf chains to the root');
  assert.equal(leaf.subjectAltName, `URI:${ID}`);
  assert.equal(leaf.publicKey.asymmetricKeyDetails?.namedCurve, 'prime256v1');
  assert.equal(leaf.ca, false);
  const hours = (Date.parse(leaf.validTo) - Date.now()) / 3600e3;
  assert.ok(hours > 23.9 && hours <= 24.01, `leaf validity ${hours} h`);
  const p = new x509.X509Certificate(issued.certChain[0]!);
  const ku = p.getExtension(x509.KeyUsagesExtension)!;
  assert.equal(ku.usages, x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment);
  assert.deepEqual([...p.getExtension(x509.ExtendedKeyUsageExtension)!.usages].sort(), [x509.ExtendedKeyUsage.serverAuth, x509.ExtendedKeyUsage.clientAuth].sort());
  // A longer request is capped at the maximum.
  const long = new NodeX509((await ca.sign(await makeCsr([ID]), ID, 7 * 24 * 3600)).certChain[0]!);
  assert.ok(Date.parse(long.validTo) - Date.now() <= 24 * 3600e3 + 1000);
  // Serials are random.
  assert.notEqual(issued.serialNumber, (await ca.sign(await makeCsr([ID]), ID)).serialNumber);
});

test('ca: refuses another identity, several URI SANs, a non-P-256 key, garbage', async () => {
  const ca = await CertificateAuthority.open({ stateDir: await tmpStateDir(), trustDomain: 'cluster.local' });
  await assert.rejects(ca.sign(await makeCsr([spiffeId('default', 'ratings')]), ID), (e) => isControlError(e, 'WEFT_ERR_CSR_IDENTITY'));
  await assert.rejects(ca.sign(await makeCsr([ID, spiffeId('x', 'y')]), ID), (e) => isControlError(e, 'WEFT_ERR_CSR_IDENTITY'));
  await assert.rejects(ca.sign(await makeCsr([ID], 'P-384'), ID), (e) => isControlError(e, 'WEFT_ERR_CSR_INVALID'));
  await assert.rejects(ca.sign('-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n', ID), (e) => isControlError(e, 'WEFT_ERR_CSR_INVALID'));
});

test('ca: loads a user-given CA from files', async () => {
  const dir = await tmpStateDir();
  const made = await CertificateAuthority.open({ stateDir: dir, trustDomain: 'cluster.local' });
  const other = await tmpStateDir();
  const ca = await CertificateAuthority.open({
    stateDir: other,
    trustDomain: 'cluster.local',
    caCertFile: path.join(dir, 'ca', 'root-cert.pem'),
    caKeyFile: path.join(dir, 'ca', 'root-key.pem'),
  });
  assert.equal(ca.rootCertPem, made.rootCertPem);
  await assert.rejects(fs.stat(path.join(other, 'ca', 'root-key.pem')));
  await assert.rejects(
    CertificateAuthority.open({ stateDir: other, trustDomain: 'cluster.local', caCertFile: path.join(dir, 'ca', 'root-cert.pem') }),
    (e) => isControlError(e, 'WEFT_ERR_CA_LOAD'),
  );
});

test('tokens: mint and verify; tampered, foreign and expired tokens are refused', async () => {
  const dir = await tmpStateDir();
  const issuer = await TokenIssuer.open(dir, 'cluster.local');
  const token = issuer.mint({ namespace: 'default', serviceAccount: 'reviews', pod: 'reviews-1' });
  const claims = issuer.verify(token);
  assert.equal(claims.sub, ID);
  assert.equal(claims.pod, 'reviews-1');
  assert.ok(claims.exp - claims.iat >= 365 * 24 * 3600);
  assert.equal((await fs.stat(path.join(dir, 'ca', 'token-key.pem'))).mode & 0o777, 0o600);
  // Same key after reopen.
  assert.equal((await TokenIssuer.open(dir, 'cluster.local')).verify(token).sub, ID);

  const [h, p, s] = token.split('.') as [string, string, string];
  const forged = JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>;
  forged['sub'] = spiffeId('default', 'admin');
  forged['sa'] = 'admin';
  assert.throws(() => issuer.verify(`${h}.${Buffer.from(JSON.stringify(forged)).toString('base64url')}.${s}`), (e) => isControlError(e, 'WEFT_ERR_TOKEN_INVALID'));
  const none = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${p}.`;
  assert.throws(() => issuer.verify(none), (e) => isControlError(e, 'WEFT_ERR_TOKEN_INVALID'));
  const foreign = (await TokenIssuer.open(await tmpStateDir(), 'cluster.local')).mint({ namespace: 'default', serviceAccount: 'reviews', pod: 'r' });
  assert.throws(() => issuer.verify(foreign), (e) => isControlError(e, 'WEFT_ERR_TOKEN_INVALID'));
  const short = issuer.mint({ namespace: 'default', serviceAccount: 'reviews', pod: 'r', ttlSeconds: 10 }, Date.now() - 3600e3);
  assert.throws(() => issuer.verify(short), (e) => isControlError(e, 'WEFT_ERR_TOKEN_EXPIRED'));
  assert.throws(() => issuer.mint({ namespace: 'Bad_NS', serviceAccount: 'a', pod: 'b' }), (e) => isControlError(e, 'WEFT_ERR_BAD_REQUEST'));
});
