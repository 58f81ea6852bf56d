// One CreateCertificate call to the control plane's CA over TLS, with the
// bootstrap token as `authorization: Bearer <token>`.
import grpc from '@grpc/grpc-js';
import { CA_SERVICE, type CreateCertificateRequest, type CreateCertificateResponse } from '../../xds/ads-service.js';
import { controlClient, type ControlTarget } from './control-channel.js';
import { CertificateRequestError } from './errors.js';

export async function requestCertificate(
  target: ControlTarget & { rootPem: string },
  token: string,
  request: CreateCertificateRequest,
  timeoutMs = 10_000,
): Promise<CreateCertificateResponse> {
  const client = controlClient(target);
  const md = new grpc.Metadata();
  md.set('authorization', `Bearer ${token}`);
  const m = CA_SERVICE.createCertificate;
  try {
    return await new Promise<CreateCertificateResponse>((resolve, reject) => {
      client.makeUnaryRequest<CreateCertificateRequest, CreateCertificateResponse>(
        m.path,
        m.requestSerialize,
        m.responseDeserialize,
        request,
        md,
        { deadline: Date.now() + timeoutMs },
        (err, res) => {
          if (err) reject(new CertificateRequestError(`CreateCertificate at ${target.address}: ${grpc.status[err.code] ?? err.code}: ${err.details || err.message}`, { cause: err }));
          else if (!res) reject(new CertificateRequestError(`CreateCertificate at ${target.address}: empty response`));
          else resolve(res);
        },
      );
    });
  } finally {
    client.close();
  }
}
