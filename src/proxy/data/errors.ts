// Error classes of the downstream data path, each with a stable code.

export class BindError extends Error {
  readonly code = 'WEFT_ERR_LISTENER_BIND';
  constructor(
    readonly listener: string,
    readonly address: string,
    cause: Error,
  ) {
    super(`listener ${listener}: cannot bind ${address}: ${cause.message}`, { cause });
    this.name = 'BindError';
  }
}

export class TlsConfigError extends Error {
  readonly code = 'WEFT_ERR_DOWNSTREAM_TLS';
  constructor(message: string) {
    super(message);
    this.name = 'TlsConfigError';
  }
}
