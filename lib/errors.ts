/**
 * Every error code sessionkit can produce, in one table.
 *
 * Three kinds of failure are kept apart (see the README's "Failure model"):
 * - programmer error (a bad option, an unserializable cookie) → thrown synchronously as a
 *   `TypeError` or `RangeError` carrying one of the `ERR_*` codes below;
 * - a bad, tampered or expired cookie → not an error at all: the request simply has no session;
 * - a store or system failure → a rejected promise with a {@link StoreError} (`cause` set),
 *   turned into `503 Service Unavailable` at the edge.
 *
 * Tests assert on `code`, never on message text, so messages may be reworded freely.
 */
export const ErrorCodes = {
  // --- cookie serialization (lib/cookie/serialize.ts) ---------------------------------------
  /** Cookie name is not an RFC 9110 token. */
  COOKIE_NAME_INVALID: 'ERR_COOKIE_NAME_INVALID',
  /** Cookie value contains characters outside RFC 6265bis `cookie-octet`. */
  COOKIE_VALUE_INVALID: 'ERR_COOKIE_VALUE_INVALID',
  /** `path` attribute contains `;` or a control character (CVE-2024-47764). */
  COOKIE_PATH_INVALID: 'ERR_COOKIE_PATH_INVALID',
  /** `domain` attribute is not a valid domain (CVE-2024-47764). */
  COOKIE_DOMAIN_INVALID: 'ERR_COOKIE_DOMAIN_INVALID',
  /** `maxAge` is not a finite number, or exceeds the 400-day cap. */
  COOKIE_MAX_AGE_INVALID: 'ERR_COOKIE_MAX_AGE_INVALID',
  /** `expires` is not a valid `Date`. */
  COOKIE_EXPIRES_INVALID: 'ERR_COOKIE_EXPIRES_INVALID',
  /** `sameSite` is not Strict, Lax or None. */
  COOKIE_SAMESITE_INVALID: 'ERR_COOKIE_SAMESITE_INVALID',
  /** `SameSite=None` or `Partitioned` without `Secure`. */
  COOKIE_INSECURE: 'ERR_COOKIE_INSECURE',
  /** `priority` is not Low, Medium or High. */
  COOKIE_PRIORITY_INVALID: 'ERR_COOKIE_PRIORITY_INVALID',
  /** `__Secure-` / `__Host-` prefix rules violated (RFC 6265bis §4.1.3). */
  COOKIE_PREFIX_VIOLATION: 'ERR_COOKIE_PREFIX_VIOLATION',
  /** name + value longer than 4096 bytes (RFC 6265bis §5.6). */
  COOKIE_TOO_LARGE: 'ERR_COOKIE_TOO_LARGE',

  // --- signatures and IDs (lib/signature.ts, lib/id.ts) --------------------------------------
  /** A secret is missing, not a string/Buffer, or shorter than 32 bytes. */
  SECRET_INVALID: 'ERR_SECRET_INVALID',
  /** The value given to `sign` is not a string, or not well-formed UTF-16 (a lone surrogate). */
  SIGN_VALUE_INVALID: 'ERR_SIGN_VALUE_INVALID',

  // --- options (lib/option-check.ts, used by the manager, stores, throttle) -------------------
  /** An option has the wrong type or an out-of-range value. The message names the option. */
  OPTION_INVALID: 'ERR_OPTION_INVALID',

  // --- sessions (lib/session.ts, lib/manager.ts) ---------------------------------------------
  /** Session data is not JSON-serializable, or a reserved key was used. */
  SESSION_DATA_INVALID: 'ERR_SESSION_DATA_INVALID',
  /** The session was used after it was committed or destroyed. */
  SESSION_STATE: 'ERR_SESSION_STATE',
  /** A new session for a user was refused: they hold `maxSessionsPerUser` already (→ 429). */
  SESSION_LIMIT: 'ERR_SESSION_LIMIT',

  // --- store failures (rejections, → 503) ----------------------------------------------------
  /** The store failed (connection refused, command error, script error). */
  STORE_UNAVAILABLE: 'ERR_STORE_UNAVAILABLE',
  /** The store did not answer within the configured timeout. */
  STORE_TIMEOUT: 'ERR_STORE_TIMEOUT',
  /** A compare-and-set write kept conflicting past the retry budget. */
  STORE_CONFLICT: 'ERR_STORE_CONFLICT',
  /**
   * The store is at its size bound and may not make room by evicting what must survive (counters
   * at their limit, logged-in sessions for an anonymous one): MemoryStore `maxCounters`,
   * `maxAnonymousSessions`.
   */
  STORE_FULL: 'ERR_STORE_FULL',

  // --- routing (lib/router.ts) ---------------------------------------------------------------
  /** A route path is malformed (no leading `/`, bad `:param` name) or registered twice. */
  ROUTE_INVALID: 'ERR_ROUTE_INVALID',

  // --- passwords (lib/auth/password.ts, lib/server/users.ts) ---------------------------------
  /** A password to hash breaks the policy (see `passwordProblem`), or a hash is not bcrypt. */
  PASSWORD_INVALID: 'ERR_PASSWORD_INVALID',

  // --- users (lib/users/*) ---------------------------------------------------------------------
  /** A user field given to a user store breaks its rule (id, email, name, role, disabled). */
  USER_INVALID: 'ERR_USER_INVALID',
} as const

export type ErrorCode = (typeof ErrorCodes)[keyof typeof ErrorCodes]

/** An error object with a machine-readable `code`. */
export interface CodedError extends Error {
  code: ErrorCode
}

/** Build a `TypeError` with a `code` (programmer error: bad argument or option). */
export function typeError(code: ErrorCode, message: string): TypeError & CodedError {
  const err = new TypeError(message) as TypeError & CodedError
  err.code = code
  return err
}

/** Build a `RangeError` with a `code` (a number or size out of its allowed range). */
export function rangeError(code: ErrorCode, message: string): RangeError & CodedError {
  const err = new RangeError(message) as RangeError & CodedError
  err.code = code
  return err
}

/**
 * A store or system failure. The session engine never turns this into "no session" (that would
 * log users out whenever Redis blinks); the HTTP edge answers 503 with `Retry-After` instead.
 */
export class StoreError extends Error {
  readonly code: ErrorCode
  constructor(code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'StoreError'
    this.code = code
  }
}

/**
 * True when `err` is a {@link StoreError} or a subclass: an `instanceof` check, so a store must
 * reject with this module's class (a look-alike error from another copy of sessionkit is not one).
 */
export function isStoreError(err: unknown): err is StoreError {
  return err instanceof StoreError
}

/**
 * A commit that would create a session for a user who already holds `maxSessionsPerUser` live
 * sessions, under the `'refuse'` policy. Nothing was written: the request's old session (if any)
 * is untouched. Not a failure of the system: answer 429 (the auth server says
 * `{"error":"Too many active sessions"}`).
 */
export class SessionLimitError extends Error {
  readonly code = ErrorCodes.SESSION_LIMIT
  constructor(readonly userId: string, readonly max: number) {
    super(`user already holds the maximum of ${max} live sessions`)
    this.name = 'SessionLimitError'
  }
}
