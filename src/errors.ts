/**
 * The one error type of jointban. Every failure a caller can act on is an AppError with a code
 * from a closed set; the HTTP layer maps codes to statuses in one place (api/errors.ts) and the
 * CLI prints the message on one line. Messages never contain raw identifiers, secrets or keys.
 */
export const ERROR_STATUS = {
  invalid_input: 400,
  invalid_identifier: 400,
  /** A body that is not valid UTF-8: refused, not repaired, so two byte strings never read as one. */
  invalid_encoding: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  rate_limited: 429,
  internal: 500,
  unavailable: 503,
  /** A just-started node still comparing its own log with its peers' copies (own-log-recovery.ts). */
  recovering: 503,
  /** Written to the local log, but the witness did not cosign it in time (durability.mode witnessed). */
  not_witnessed: 503,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export class AppError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
  }

  get status(): (typeof ERROR_STATUS)[ErrorCode] {
    return ERROR_STATUS[this.code];
  }
}
