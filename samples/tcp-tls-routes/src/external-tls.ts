// TLS servers standing in for services outside the mesh (the ServiceEntries of
// external/external-tls.yaml point at them on loopback). Each presents one self-signed
// certificate for *.external.test, greets a finished handshake with
// "<name> sni=<server name the client sent>\n", then echoes.
//   node dist/samples/tcp-tls-routes/src/external-tls.js [portA=9443] [portB=9444]
// starts "api" on portA and "mirror" on portB, on 127.0.0.1.
import tls from 'node:tls';
import { webcrypto } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { x509 } from '../../../src/pki/x509.js';

const ALG = { name: 'ECDSA', namedCurve: 'P-256', hash: 'SHA-256' } as const;

/** A self-signed ECDSA P-256 certificate for the DNS names given. */
export async function selfSigned(dnsNames: string[]): Promise<{ certPem: string; keyPem: string }> {
  const keys = (await webcrypto.subtle.generateKey(ALG, true, ['sign', 'verify'])) as CryptoKeyPair;
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: `CN=${dnsNames[0]}`,
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 7 * 86_400_000),
    keys,
    signingAlgorithm: ALG,
    extensions: [new x509.SubjectAlternativeNameExtension(dnsNames.map((value) => ({ type: 'dns' as const, value })))],
  });
  const der = Buffer.from(await webcrypto.subtle.exportKey('pkcs8', keys.privateKey)).toString('base64');
  const keyPem = `-----BEGIN PRIVATE KEY-----\n${der.replace(/(.{64})/g, '$1\n')}\n-----END PRIVATE KEY-----\n`;
  return { certPem: cert.toString('pem'), keyPem };
}

export interface ExternalTls {
  name: string;
  port: number;
  /** Handshakes completed, by the SNI the client sent. */
  seen: Map<string, number>;
  close(): Promise<void>;
}

/** One TLS greeter per spec (port 0 picks a free one), all with one certificate. */
export async function startExternalTls(specs: { name: string; port: number }[], host = '127.0.0.1'): Promise<ExternalTls[]> {
  const { certPem, keyPem } = await selfSigned(['external.test', '*.external.test', '*.api.external.test']);
  return Promise.all(
    specs.map(
      (spec) =>
        new Promise<ExternalTls>((resolve, reject) => {
          const seen = new Map<string, number>();
          const server = tls.createServer({ cert: certPem, key: keyPem }, (socket) => {
            socket.on('error', () => socket.destroy());
            const sni = socket.servername || '-';
            seen.set(sni, (seen.get(sni) ?? 0) + 1);
            socket.write(`${spec.name} sni=${sni}\n`);
            socket.pipe(socket);
          });
          server.on('tlsClientError', () => {});
          server.once('error', reject);
          server.listen(spec.port, host, () => {
            const port = (server.address() as { port: number }).port;
            resolve({ name: spec.name, port, seen, close: () => new Promise<void>((ok) => server.close(() => ok())) });
          });
        }),
    ),
  );
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [a, b] = await startExternalTls([
    { name: 'api', port: Number(process.argv[2] ?? 9443) },
    { name: 'mirror', port: Number(process.argv[3] ?? 9444) },
  ]);
  console.log(`external TLS: api on 127.0.0.1:${a!.port}, mirror on 127.0.0.1:${b!.port} (Ctrl-C to stop)`);
}
