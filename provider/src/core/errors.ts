/**
 * Errors the product raises on purpose. `message` is one sentence a user can act on; it never
 * contains a password (URLs are always rendered through `redactUrl`).
 */
export const ERROR_CODES = [
  "BAD_INPUT",          // malformed URL, pattern, name, option
  "UNREACHABLE",        // cannot connect to a server
  "ACCESS_DENIED",      // wrong password or missing privilege
  "PRECONDITION",       // server settings that make replication impossible or unsafe
  "CONFLICT",           // link exists already, lock held by another daemon
  "NOT_FOUND",          // unknown link
  "UNAUTHORIZED",       // control API token missing or wrong
  "DAEMON_UNREACHABLE", // the CLI cannot reach the daemon
  "APPLY_FAILED",       // the applier hit an error that retrying will not fix
  "DATA_DIFFERS",       // a check found the DR copy different from its master (DataCheck with failOnDifference)
  "INTERNAL",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export class DrError extends Error {
  readonly code: ErrorCode;
  /** MySQL error number when the error came from a server. */
  readonly errno?: number;

  constructor(code: ErrorCode, message: string, options?: { cause?: unknown; errno?: number }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.name = "DrError";
    this.code = code;
    this.errno = options?.errno;
  }
}

/** HTTP status for each code, used by the control API and reversed by its client. */
export const HTTP_STATUS: Record<ErrorCode, number> = {
  BAD_INPUT: 400,
  UNREACHABLE: 422,
  ACCESS_DENIED: 422,
  PRECONDITION: 422,
  CONFLICT: 409,
  NOT_FOUND: 404,
  UNAUTHORIZED: 401,
  DAEMON_UNREACHABLE: 503,
  APPLY_FAILED: 500,
  DATA_DIFFERS: 409,
  INTERNAL: 500,
};

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
