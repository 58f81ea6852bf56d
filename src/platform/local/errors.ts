// Errors of the local platform (`weft up` and friends). Each has a stable code.

export type LocalErrorCode =
  | 'WEFT_ERR_INVALID_NETWORK'
  | 'WEFT_ERR_INVALID_INPUT'
  | 'WEFT_ERR_PORT_IN_USE'
  | 'WEFT_ERR_MESH_RUNNING'
  | 'WEFT_ERR_NO_MESH'
  | 'WEFT_ERR_CONTROL_START'
  | 'WEFT_ERR_PROXY_START'
  | 'WEFT_ERR_API'
  | 'WEFT_ERR_API_UNREACHABLE'
  | 'WEFT_ERR_NOT_FOUND'
  | 'WEFT_ERR_POD_NOT_FOUND'
  | 'WEFT_ERR_SPAWN'
  | 'WEFT_ERR_TIMEOUT'
  | 'WEFT_ERR_INTERRUPTED';

export class LocalPlatformError extends Error {
  constructor(
    readonly code: LocalErrorCode,
    message: string,
    /** Extra lines for the user (findings, a log tail). */
    readonly details: string[] = [],
  ) {
    super(message);
    this.name = 'LocalPlatformError';
  }
}

export function isLocalPlatformError(e: unknown): e is LocalPlatformError {
  return e instanceof LocalPlatformError;
}
