// A test double of the control plane's CA: a real grpc-js server over TLS
// implementing CA_SERVICE, signing CSRs with @peculiar/x509. (In e2e runs the
// control plane's own CA is used.)
import grpc from '@grpc/grpc-js';
import { CA_SERVICE, type CreateCertificateRequest, type CreateCertificateResponse } from '../../../src/xds/ads-service.js';
import { makeServerCert, signCsr, type TestRoot } from '../../helpers/pki.js';

export interface TestCaOptions {
  root: TestRoot;
  host?: string;
  token: string;
  /** Sign workload certificates with this root instead of `root` (which serves TLS). */
  signingRoot?: TestRoot;
  /** Lifetime of issued certificates (overrides the request). */
  validitySeconds?: number;
}

export class TestCaServer {
  readonly server = new grpc.Server();
  port = 0;
  calls = 0;
  issued = 0;
  /** Fail the next N calls with UNAVAILABLE. */
  failNext = 0;
  /** Put this URI in certificates instead of the requested one. */
  sanOverride: string | undefined;
  lastCsrUris: string[] = [];
  validitySeconds: number | undefined;

  constructor(private readonly opts: TestCaOptions) {
    this.validitySeconds = opts.validitySeconds;
    this.server.addService(CA_SERVICE, {
      createCertificate: (call: grpc.ServerUnaryCall<CreateCertificateRequest, CreateCertificateResponse>, cb: grpc.sendUnaryData<CreateCertificateResponse>) => {
        this.calls++;
        if (this.failNext > 0) {
          this.failNext--;
          return cb({ code: grpc.status.UNAVAILABLE, details: 'test CA: told to fail' });
        }
        const auth = call.metadata.get('authorization')[0];
        if (auth !== `Bearer ${opts.token}`) return cb({ code: grpc.status.UNAUTHENTICATED, details: 'test CA: bad token' });
        const validity = this.validitySeconds ?? Number(call.request.validitySeconds ?? 86_400);
        signCsr(opts.signingRoot ?? opts.root, call.request.csr, validity, this.sanOverride).then(
          ({ pem, uris }) => {
            this.lastCsrUris = uris;
            this.issued++;
            cb(null, { certChain: [pem], rootCerts: [opts.root.pem] });
          },
          (err: Error) => cb({ code: grpc.status.INVALID_ARGUMENT, details: err.message }),
        );
      },
    });
  }

  async start(): Promise<number> {
    const host = this.opts.host ?? '127.0.0.1';
    const { certPem, keyPem } = await makeServerCert(this.opts.root, host);
    const creds = grpc.ServerCredentials.createSsl(null, [{ private_key: Buffer.from(keyPem), cert_chain: Buffer.from(certPem) }], false);
    this.port = await new Promise<number>((resolve, reject) =>
      this.server.bindAsync(`${host}:0`, creds, (err, port) => (err ? reject(err) : resolve(port))),
    );
    return this.port;
  }

  get address(): string {
    return `${this.opts.host ?? '127.0.0.1'}:${this.port}`;
  }

  stop(): void {
    this.server.forceShutdown();
  }
}
