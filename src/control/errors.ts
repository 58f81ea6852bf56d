// Error classes of the control plane. Each carries a stable `code` (WEFT_ERR_*)
// so callers (API, CLI, tests) branch on the code, never on the message.

export type ControlErrorCode =
  | 'WEFT_ERR_STORE_IO'
  | 'WEFT_ERR_STORE_CORRUPT'
  | 'WEFT_ERR_NOT_FOUND'
  | 'WEFT_ERR_AMBIGUOUS_KIND'
  | 'WEFT_ERR_BAD_WORKLOAD'
  | 'WEFT_ERR_CA_LOAD'
  | 'WEFT_ERR_CSR_INVALID'
  | 'WEFT_ERR_CSR_IDENTITY'
  | 'WEFT_ERR_TOKEN_MISSING'
  | 'WEFT_ERR_TOKEN_INVALID'
  | 'WEFT_ERR_TOKEN_EXPIRED'
  | 'WEFT_ERR_BAD_REQUEST'
  | 'WEFT_ERR_UNAUTHORIZED'
  | 'WEFT_ERR_CONFIG';

export class ControlError extends Error {
  constructor(
    readonly code: ControlErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ControlError';
  }
}

export function isControlError(e: unknown, code?: ControlErrorCode): e is ControlError {
  return e instanceof ControlError && (code === undefined || e.code === code);
}

export function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
