// Error classes of the proxy's control side, each with a stable `code`.

/** A setting (flag or WEFT_* variable) is missing or malformed; the message names it. */
export class ProxyOptionsError extends Error {
  readonly code = 'WEFT_ERR_PROXY_OPTIONS';
  constructor(message: string) {
    super(message);
    this.name = 'ProxyOptionsError';
  }
}

/** A credential file (CA root, bootstrap token) could not be read or is empty. */
export class CredentialFileError extends Error {
  readonly code = 'WEFT_ERR_CREDENTIAL_FILE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CredentialFileError';
  }
}

/** The CA call failed (transport, auth, or CA refusal). */
export class CertificateRequestError extends Error {
  readonly code = 'WEFT_ERR_CA_REQUEST';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'CertificateRequestError';
  }
}

/** The CA returned a certificate the proxy will not use (bad chain, wrong SAN, wrong key, expired). */
export class CertificateValidationError extends Error {
  readonly code = 'WEFT_ERR_CERT_INVALID';
  constructor(message: string) {
    super(message);
    this.name = 'CertificateValidationError';
  }
}

/** An xDS response could not be turned into a candidate snapshot (bad type, missing name, duplicate). */
export class XdsResponseError extends Error {
  readonly code = 'WEFT_ERR_XDS_RESPONSE';
  constructor(message: string) {
    super(message);
    this.name = 'XdsResponseError';
  }
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
