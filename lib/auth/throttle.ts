/**
 * Login throttling: limit failed password attempts per account and per client, so that online
 * guessing is slow (OWASP Authentication Cheat Sheet, "Protect Against Automated Attacks";
 * OWASP Credential Stuffing Prevention Cheat Sheet).
 *
 * Two fixed-window counters per attempt:
 * - **per account** (default 5 attempts / 15 min, cleared by a correct password): stops guessing one user's password. It also
 *   lets anyone lock a known account out for a window by failing on purpose; the window is short
 *   and the lock expires by itself, the usual trade-off (OWASP: "Account Lockout").
 * - **per client** (default 50 failures / 15 min): stops one client spraying a few guesses over
 *   many accounts, which the per-account limit never sees.
 *
 * Counters live in the session {@link Store} (`hit` / `resetHits`), so with Redis every server
 * instance shares them: a limit that each process counted on its own would multiply by the
 * number of processes.
 *
 * **Keys.** The account (an email: trimmed and lower-cased, as `UserDirectory.byEmail` does, so
 * "Ada@Example.com " and "ada@example.com" share one counter) and the client are hashed with
 * SHA-256 (base64url) into `<prefix>a:<hash>` and `<prefix>c:<hash>`. Store dumps and key listings
 * then show no raw emails or IPs, and a key has a fixed length whatever the request sent. This is
 * pseudonymization, not anonymization: an IPv4 address or a known email can be re-hashed and
 * matched.
 *
 * **What the client is** is the caller's choice: the remote IP (the proxy-reported one only behind
 * a trusted proxy), and for IPv6 better its /64 prefix, since one host usually owns a whole /64.
 */
import { createHash } from 'node:crypto'
import { ErrorCodes, typeError } from '../errors.js'
import type { Store } from '../store.js'

/** Options of {@link LoginThrottle}. All are optional. */
export interface LoginThrottleOptions {
  /** Attempts per account within a window (a correct password clears them) before its logins are refused. Default: `5`. */
  maxFailuresPerAccount?: number
  /** Failures per client (across all accounts) within a window before it is refused. Default: `50`. */
  maxFailuresPerClient?: number
  /**
   * Length of the counting window in ms; it starts with the first counted event (an attempt for
   * the account counter, a failure for the client counter). Default: `900_000` (15 min).
   */
  windowMs?: number
  /** Prefix of the counter keys in the store, to share a store with other counters. Default: `'login:'`. */
  prefix?: string
}

/** The answer of {@link LoginThrottle.check}. */
export type ThrottleDecision =
  | { allowed: true }
  /** Refused; retry after this many whole seconds (for a `Retry-After` header), at least 1. */
  | { allowed: false; retryAfterSeconds: number }

/** The part of the {@link Store} contract the throttle uses. */
export type CounterStore = Pick<Store, 'hit' | 'resetHits'>

function limit(name: string, value: unknown, fallback: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 1) {
    throw typeError(ErrorCodes.OPTION_INVALID, `option ${name} must be a positive integer: ${String(value)}`)
  }
  return value
}

function digest(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('base64url')
}

/**
 * Counts failed logins and says whether the next attempt may go ahead.
 *
 * Use: `check` before verifying the password (refuse with 429 and `Retry-After` if not allowed,
 * without running bcrypt); `recordFailure` after a wrong password *or an unknown email* (both must
 * count, or the limit would reveal which accounts exist); `recordSuccess` after a correct one.
 *
 * Store failures are not swallowed: every method rejects with the store's `StoreError`, which the
 * app answers with 503. Failing open would turn a Redis outage into unlimited guessing.
 *
 * The per-account counter counts *attempts*, in `check`, before bcrypt runs: a burst of 100
 * parallel guesses at one account gets 5 tries, not 100 (counting only finished failures would
 * let every request of the burst pass `check` first). A correct password clears it. The
 * per-client counter counts failures only, so a crowd of legitimate users behind one NAT (or a
 * login benchmark) is never refused for logging in successfully.
 */
export class LoginThrottle {
  readonly #store: CounterStore
  readonly #maxAccount: number
  readonly #maxClient: number
  readonly #windowMs: number
  readonly #prefix: string

  constructor(store: CounterStore, options: LoginThrottleOptions = {}) {
    if (typeof store !== 'object' || store === null || typeof store.hit !== 'function' || typeof store.resetHits !== 'function') {
      throw typeError(ErrorCodes.OPTION_INVALID, 'store must implement hit() and resetHits()')
    }
    if (typeof options !== 'object' || options === null) {
      throw typeError(ErrorCodes.OPTION_INVALID, 'options must be an object')
    }
    this.#store = store
    this.#maxAccount = limit('maxFailuresPerAccount', options.maxFailuresPerAccount, 5)
    this.#maxClient = limit('maxFailuresPerClient', options.maxFailuresPerClient, 50)
    this.#windowMs = limit('windowMs', options.windowMs, 15 * 60_000)
    if (options.prefix !== undefined && typeof options.prefix !== 'string') {
      throw typeError(ErrorCodes.OPTION_INVALID, `option prefix must be a string: ${String(options.prefix)}`)
    }
    this.#prefix = options.prefix ?? 'login:'
  }

  /**
   * May a login for `account` from `client` be tried now? Counts this attempt against the account
   * and peeks at the client's failures (`hit(key, windowMs, 0)`: never counts, never creates).
   */
  async check(account: string, client: string): Promise<ThrottleDecision> {
    const [perAccount, perClient] = await Promise.all([
      this.#store.hit(this.#accountKey(account), this.#windowMs),
      this.#store.hit(this.#clientKey(client), this.#windowMs, 0),
    ])
    let waitMs = -1
    if (perAccount.count > this.#maxAccount) waitMs = perAccount.resetMs
    if (perClient.count >= this.#maxClient) waitMs = Math.max(waitMs, perClient.resetMs)
    if (waitMs < 0) return { allowed: true }
    // Whole seconds, rounded up so a client that waits as told is let in; at least 1 in case a
    // store reports 0 ms left on a counter that is about to expire.
    return { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) }
  }

  /**
   * Count one failed attempt against the client (the account counted it already in `check`).
   * `account` is accepted for symmetry and future per-pair limits.
   */
  async recordFailure(_account: string, client: string): Promise<void> {
    await this.#store.hit(this.#clientKey(client), this.#windowMs)
  }

  /**
   * Clear the account's counter after a correct password. The client's counter stays: otherwise
   * an attacker holding one valid account could log into it between guesses at other accounts
   * and reset their own client limit forever.
   */
  async recordSuccess(account: string): Promise<void> {
    await this.#store.resetHits(this.#accountKey(account))
  }

  #accountKey(account: string): string {
    return `${this.#prefix}a:${digest(account.trim().toLowerCase())}`
  }

  #clientKey(client: string): string {
    return `${this.#prefix}c:${digest(client)}`
  }
}
