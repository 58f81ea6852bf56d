// The gRPC handler of weft.ca.v1.CertificateService (CA_SERVICE): authenticates
// the caller by its bootstrap token and issues a certificate for that identity only.
import * as grpc from '@grpc/grpc-js';
import type { CreateCertificateRequest, CreateCertificateResponse } from '../xds/ads-service.js';
import type { CertificateAuthority } from './ca.js';
import type { TokenIssuer } from './tokens.js';
import type { ControlMetrics } from './metrics.js';
import type { Logger } from './log.js';
import { ControlError, errorMessage, isControlError } from './errors.js';

export interface CaServiceDeps {
  ca: CertificateAuthority;
  tokens: TokenIssuer;
  metrics: ControlMetrics;
  log: Logger;
}

/** The bootstrap token of a call's `authorization: Bearer <token>` metadata; WEFT_ERR_TOKEN_MISSING when absent or malformed. */
export function bearer(metadata: grpc.Metadata): string {
  const values = metadata.get('authorization');
  const v = values.length === 1 && typeof values[0] === 'string' ? values[0] : undefined;
  if (!v) throw new ControlError('WEFT_ERR_TOKEN_MISSING', 'missing "authorization: Bearer <bootstrap token>" metadata');
  const m = /^Bearer\s+(\S+)$/i.exec(v.trim());
  if (!m) throw new ControlError('WEFT_ERR_TOKEN_MISSING', 'the authorization metadata must be "Bearer <bootstrap token>"');
  return m[1]!;
}

function grpcStatusFor(e: unknown): grpc.status {
  if (!isControlError(e)) return grpc.status.INTERNAL;
  switch (e.code) {
    case 'WEFT_ERR_TOKEN_MISSING':
    case 'WEFT_ERR_TOKEN_INVALID':
    case 'WEFT_ERR_TOKEN_EXPIRED':
      return grpc.status.UNAUTHENTICATED;
    case 'WEFT_ERR_CSR_IDENTITY':
      return grpc.status.PERMISSION_DENIED;
    case 'WEFT_ERR_CSR_INVALID':
      return grpc.status.INVALID_ARGUMENT;
    default:
      return grpc.status.INTERNAL;
  }
}

export async function createCertificate(deps: CaServiceDeps, metadata: grpc.Metadata, req: CreateCertificateRequest): Promise<CreateCertificateResponse> {
  const claims = deps.tokens.verify(bearer(metadata));
  if (typeof req.csr !== 'string' || req.csr === '') throw new ControlError('WEFT_ERR_CSR_INVALID', 'csr: a PEM certificate request is required');
  const issued = await deps.ca.sign(req.csr, claims.sub, Number(req.validitySeconds ?? 0));
  return { certChain: issued.certChain, rootCerts: issued.rootCerts };
}

/** Implementation object for `server.addService(CA_SERVICE, ...)`. */
export function caServiceHandlers(deps: CaServiceDeps): grpc.UntypedServiceImplementation {
  const handler: grpc.handleUnaryCall<CreateCertificateRequest, CreateCertificateResponse> = (call, callback) => {
    createCertificate(deps, call.metadata, call.request).then(
      (res) => {
        deps.metrics.certsIssued.inc();
        callback(null, res);
      },
      (e: unknown) => {
        const code = isControlError(e) ? e.code : 'WEFT_ERR_INTERNAL';
        deps.metrics.certsRejected.inc({ reason: code });
        if (!isControlError(e)) deps.log('error', `CreateCertificate from ${call.getPeer()}: ${errorMessage(e)}`);
        callback({ code: grpcStatusFor(e), details: `${errorMessage(e)} [${code}]` });
      },
    );
  };
  return { createCertificate: handler };
}
