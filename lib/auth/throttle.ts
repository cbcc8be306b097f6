/**
 * Login throttling: limit password attempts per account and per client, so that online guessing
 * is slow, without handing anyone who knows an email a way to lock its owner out (OWASP
 * Authentication Cheat Sheet, "Account Lockout"; NIST SP 800-63B §5.2.2 "Rate Limiting";
 * OWASP Credential Stuffing Prevention Cheat Sheet).
 *
 * Three fixed-window counters, all checked and counted in one atomic store step
 * ({@link Store.consume}) before bcrypt runs:
 * - **per account and client** (default 5 / 15 min, cleared by a correct password): one client
 *   guessing one account's password. Locks that client out of that account only: the owner on
 *   another network (another client) is not affected.
 * - **per client** (default 50 / 15 min): one client spraying a few guesses over many accounts
 *   (credential stuffing), which the per-account limits never see.
 * - **per account, from every client** (default 100 / 1 h): a guessing attack on one account
 *   spread over many clients. NIST 800-63B §5.2.2 caps consecutive failures at 100. High on
 *   purpose: reaching it takes at least 20 clients (100 / 5) within the hour, so one person who
 *   knows only an email cannot lock its owner out; a botnet can, for the window (the trade-off
 *   of any account-wide limit, documented in SECURITY.md).
 *
 * **Attempts, given back on success.** Every counter counts the attempt in `check` (so a burst of
 * 64 parallel requests gets exactly the limit, not 64: the check and the count are one step), and
 * `recordSuccess` gives the client and account units back (and clears the pair), so a crowd of
 * users behind one NAT logging in successfully is never refused. A refused attempt counts nowhere
 * and creates no counter, so a flood of refused requests costs the store nothing, and no flood
 * lifts a lock: stores never evict a counter at its limit.
 *
 * Counters live in the session {@link Store}, so with Redis every server instance shares them: a
 * limit that each process counted on its own would multiply by the number of processes.
 *
 * **Keys.** The account (an email: trimmed and lower-cased, as `UserDirectory.byEmail` does, so
 * "Ada@Example.com " and "ada@example.com" share one counter) and the client are hashed with
 * SHA-256 (base64url) into `<prefix>a:`, `<prefix>c:` and `<prefix>p:` keys. Store dumps then show
 * no raw emails or IPs, and a key has a fixed length whatever the request sent. This is
 * pseudonymization, not anonymization: an IPv4 address or a known email can be re-hashed.
 *
 * **The client** is the caller's IP text (the proxy-reported one only behind a trusted proxy),
 * canonicalised by {@link clientKey}: one key per IPv4 address, one per IPv6 /64, whatever the
 * spelling.
 */
import { clientKey } from '../ip.js'
import { integerOption, objectOption, optionError } from '../option-check.js'
import { sha256Base64url } from '../sha256.js'
import type { CounterLimit, Store } from '../store.js'
import { normalizeEmail } from '../users/store.js'

/** Options of {@link LoginThrottle}. All are optional. */
export interface LoginThrottleOptions {
  /** Attempts at one account from one client within `windowMs` (a correct password clears them). Default: `5`. */
  maxFailuresPerPair?: number
  /** Failed attempts from one client, across accounts, within `windowMs`. Default: `50`. */
  maxFailuresPerClient?: number
  /** Failed attempts at one account from all clients within `accountWindowMs`. Default: `100`. */
  maxFailuresPerAccount?: number
  /** Window of the pair and client counters in ms, from their first attempt. Default: `900_000` (15 min). */
  windowMs?: number
  /** Window of the account-wide counter in ms. Default: `3_600_000` (1 h). */
  accountWindowMs?: number
  /** Prefix of the counter keys in the store, to share a store with other counters. Default: `'login:'`. */
  prefix?: string
}

/** The answer of {@link LoginThrottle.check}. */
export type ThrottleDecision =
  | { allowed: true }
  /**
   * Refused; retry after this many whole seconds (for a `Retry-After` header), at least 1.
   * `limit` names the counter that refused (for logs and metrics, never for the client).
   */
  | { allowed: false; retryAfterSeconds: number; limit: 'client' | 'account' | 'pair' }

/** The part of the {@link Store} contract the throttle uses. */
export type CounterStore = Pick<Store, 'consume' | 'hit' | 'resetHits'>

function limit(name: string, value: unknown, fallback: number): number {
  return integerOption(name, value, fallback, 1, Number.MAX_SAFE_INTEGER)
}

/**
 * Decides whether a login attempt may go ahead, and counts it.
 *
 * Use: `check` before verifying the password (refuse with 429 and `Retry-After` if not allowed,
 * without running bcrypt); `recordSuccess` after a correct password; `recordFailure` after a wrong
 * password *or an unknown email* (the attempt is already counted; the call marks the outcome).
 *
 * Store failures are not swallowed: every method rejects with the store's `StoreError`, which the
 * app answers with 503. Failing open would turn a Redis outage into unlimited guessing.
 */
export class LoginThrottle {
  readonly #store: CounterStore
  readonly #maxPair: number
  readonly #maxClient: number
  readonly #maxAccount: number
  readonly #windowMs: number
  readonly #accountWindowMs: number
  readonly #prefix: string

  constructor(store: CounterStore, options: LoginThrottleOptions = {}) {
    if (typeof store !== 'object' || store === null || typeof store.consume !== 'function' ||
      typeof store.hit !== 'function' || typeof store.resetHits !== 'function') {
      throw optionError('store', 'must implement consume(), hit() and resetHits()')
    }
    objectOption('options', options)
    this.#store = store
    this.#maxPair = limit('maxFailuresPerPair', options.maxFailuresPerPair, 5)
    this.#maxClient = limit('maxFailuresPerClient', options.maxFailuresPerClient, 50)
    this.#maxAccount = limit('maxFailuresPerAccount', options.maxFailuresPerAccount, 100)
    this.#windowMs = limit('windowMs', options.windowMs, 15 * 60_000)
    this.#accountWindowMs = limit('accountWindowMs', options.accountWindowMs, 60 * 60_000)
    if (options.prefix !== undefined && typeof options.prefix !== 'string') {
      throw optionError('prefix', 'must be a string')
    }
    this.#prefix = options.prefix ?? 'login:'
  }

  /**
   * May a login for `account` from `client` be tried now? If so the attempt is counted against
   * all three limits, in one atomic store step; if not, nothing is counted or created.
   */
  async check(account: string, client: string): Promise<ThrottleDecision> {
    const verdict = await this.#store.consume(this.#counters(account, client))
    if (verdict.allowed) return { allowed: true }
    // Whole seconds, rounded up so a client that waits as told is let in; at least 1 in case a
    // store reports 0 ms left on a counter that is about to expire.
    const retryAfterSeconds = Math.max(1, Math.ceil(verdict.resetMs / 1000))
    return { allowed: false, retryAfterSeconds, limit: LIMIT_NAMES[verdict.blocked] as (typeof LIMIT_NAMES)[number] }
  }

  /**
   * A wrong password or an unknown email. The attempt was counted by `check` and stays counted
   * (a request that never finishes counts too); nothing more to store.
   */
  async recordFailure(_account: string, _client: string): Promise<void> {}

  /**
   * A correct password: clear the account+client pair and give back the unit `check` took from
   * the client and the account, so successful logins never use up a limit. A unit given back to
   * 0 deletes its counter. The client keeps its failures: an attacker holding one valid account
   * cannot reset their client limit by logging into it between guesses at others.
   */
  async recordSuccess(account: string, client: string): Promise<void> {
    const [clientLimit, accountLimit, pair] = this.#counters(account, client)
    await Promise.all([
      this.#store.hit(clientLimit.key, clientLimit.windowMs, -1),
      this.#store.hit(accountLimit.key, accountLimit.windowMs, -1),
      this.#store.resetHits(pair.key),
    ])
  }

  /** The three counters of an attempt, in {@link LIMIT_NAMES} order. */
  #counters(account: string, client: string): [CounterLimit, CounterLimit, CounterLimit] {
    // The user store's normalisation, so a counter follows the account the login looks up.
    const a = normalizeEmail(account)
    const c = clientKey(client)
    return [
      { key: `${this.#prefix}c:${sha256Base64url(c)}`, limit: this.#maxClient, windowMs: this.#windowMs },
      { key: `${this.#prefix}a:${sha256Base64url(a)}`, limit: this.#maxAccount, windowMs: this.#accountWindowMs },
      // A newline cannot end an IP key, so "a\nb" + "c" and "a" + "b\nc" never collide.
      { key: `${this.#prefix}p:${sha256Base64url(`${c}\n${a}`)}`, limit: this.#maxPair, windowMs: this.#windowMs },
    ]
  }
}

const LIMIT_NAMES = ['client', 'account', 'pair'] as const
