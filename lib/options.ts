/**
 * Session manager options: defaults, validation, and the frozen resolved form.
 *
 * Every option is checked once, at construction, with the checkers of lib/option-check.ts: a bad
 * one throws a `TypeError` whose `code` is `ERR_OPTION_INVALID` and whose message names the
 * option, at start-up, never on the first request that happens to use the option.
 */
import type { IncomingMessage } from 'node:http'
import type { CookieSameSite } from './cookie/keywords.js'
import { serializeCookie, type CookieSerializeOptions } from './cookie/serialize.js'
import { MAX_COOKIE_LIFETIME_MS } from './limits.js'
import { flagOption, functionOption, integerOption, objectOption, oneOfOption, optionError } from './option-check.js'
import type { Secret } from './signature.js'
import type { SecurityEvents } from './events.js'
import type { Store } from './store.js'

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** Attributes of the session cookie. */
export interface SessionCookieOptions {
  /** Cookie name. Use a `__Host-` prefix in production (RFC 6265bis §4.1.3.2). Default `'sid'`. */
  name?: string
  /** Path attribute. Default `'/'`. */
  path?: string
  /** Domain attribute; leave unset for a host-only cookie (safer). Default unset. */
  domain?: string
  /** Secure attribute: send only over HTTPS. Default `false` (set it in production). */
  secure?: boolean
  /** HttpOnly: invisible to `document.cookie`, so XSS cannot read it (OWASP). Default `true`. */
  httpOnly?: boolean
  /** SameSite attribute; `Lax` blocks cross-site POSTs (RFC 6265bis §8.8). Default `'Lax'`. */
  sameSite?: CookieSameSite
  /** Partitioned (CHIPS); requires `secure`. Default `false`. */
  partitioned?: boolean
}

export interface SessionManagerOptions {
  /**
   * HMAC secrets, each at least 32 bytes. The first signs new cookies; the others still verify,
   * so a secret can be rotated without logging everyone out. Required.
   */
  secrets: readonly Secret[]
  /** Where sessions live. Required. */
  store: Store
  /** Session cookie attributes. */
  cookie?: SessionCookieOptions
  /** Sliding idle timeout for ordinary sessions. Default 24 hours (86 400 000 ms). */
  idleTimeoutMs?: number
  /** Sliding idle timeout for "remember me" sessions. Default 30 days (2 592 000 000 ms). */
  rememberIdleTimeoutMs?: number
  /**
   * Absolute lifetime counted from creation (or regeneration); nothing extends it (OWASP Session
   * Management Cheat Sheet, "Absolute Timeout"; express-session #557). Default 30 days.
   */
  absoluteTimeoutMs?: number
  /**
   * The idle clock is refreshed at most once per this interval, by a TTL refresh rather than a
   * data rewrite (express-session #891). Must be below `idleTimeoutMs`. Default 5 minutes.
   */
  touchIntervalMs?: number
  /**
   * A store call that has not settled after this long fails with 503. Applies to stores that do
   * not enforce their own deadline (RedisStore does: its `commandTimeoutMs`). Default 1000 ms.
   */
  storeTimeoutMs?: number
  /** `Retry-After` seconds sent with a 503 caused by the store. Default 1. */
  retryAfterSeconds?: number
  /** Compare-and-set retries (jittered) before a write gives up with a 503. Default 16. */
  maxWriteRetries?: number
  /**
   * How many verified cookie values to remember, so a repeat request skips the HMAC and SHA-256
   * (the cache key is the whole signed value, so it can never admit a forgery). 0 disables.
   * Default 10 000.
   */
  verifiedCacheSize?: number
  /** Clock, for tests. Default `Date.now`. */
  now?: () => number
  /**
   * The client address recorded with a new session (shown in session lists). Behind a proxy, pass
   * one that reads the proxy's header (see `clientIp` in lib/http.ts). Default: the socket's
   * remote address.
   */
  clientIp?: (req: IncomingMessage) => string
  /**
   * Called before a new *anonymous* session (no user bound) is stored, i.e. whenever a visitor
   * without a session makes the server store one (a cart). Throw or reject to refuse it; the
   * error propagates from `commit`/`save` (the auth server throws a 429 from a per-client limit:
   * anyone can create anonymous sessions without credentials, so they are the store's flood
   * vector). Not called for sessions bound to a user, nor for existing sessions. Default: none.
   */
  admitAnonymous?: (req: IncomingMessage) => void | Promise<void>
  /**
   * Most live sessions one user may hold (OWASP ASVS 5.0 7.1.2), enforced atomically by the store
   * whenever a session bound to a user is created — `regenerate()` at login does that. A session
   * bound to a user later by `setUser()` without `regenerate()` is not counted at that moment.
   * `0` turns the limit off. Default `0`.
   */
  maxSessionsPerUser?: number
  /**
   * What a login at the limit does: `'evict-oldest'` ends that user's least recently used session
   * and succeeds; `'refuse'` fails the commit with a `SessionLimitError` (`ERR_SESSION_LIMIT`, answer
   * 429). Default `'evict-oldest'`.
   */
  sessionLimitPolicy?: SessionLimitPolicy
  /**
   * Where the manager emits its security events (session created, revoked, expired, store
   * failure…; see lib/events.ts). Pass one to share a stream with other emitters. Default: a new
   * one, as `manager.events`.
   */
  events?: SecurityEvents
}

export type SessionLimitPolicy = 'evict-oldest' | 'refuse'
const SESSION_LIMIT_POLICIES: readonly SessionLimitPolicy[] = ['evict-oldest', 'refuse']
const SAME_SITE: readonly CookieSameSite[] = ['Strict', 'Lax', 'None']

export interface ResolvedCookieOptions {
  readonly name: string
  readonly path: string
  readonly domain: string | undefined
  readonly secure: boolean
  readonly httpOnly: boolean
  readonly sameSite: CookieSameSite
  readonly partitioned: boolean
}

export interface ResolvedOptions {
  readonly secrets: readonly Secret[]
  readonly store: Store
  readonly cookie: ResolvedCookieOptions
  readonly idleTimeoutMs: number
  readonly rememberIdleTimeoutMs: number
  readonly absoluteTimeoutMs: number
  readonly touchIntervalMs: number
  readonly storeTimeoutMs: number
  readonly retryAfterSeconds: number
  readonly maxWriteRetries: number
  readonly verifiedCacheSize: number
  readonly now: () => number
  readonly clientIp: (req: IncomingMessage) => string
  readonly admitAnonymous: ((req: IncomingMessage) => void | Promise<void>) | undefined
  readonly maxSessionsPerUser: number
  readonly sessionLimitPolicy: SessionLimitPolicy
}

function socketAddress(req: IncomingMessage): string {
  return req.socket.remoteAddress ?? ''
}

function isStore(value: unknown): value is Store {
  if (typeof value !== 'object' || value === null) return false
  const s = value as Record<string, unknown>
  return ['get', 'create', 'write', 'touch', 'destroy', 'listByUser', 'destroyByUser', 'hit',
    'resetHits', 'ping', 'close'].every((m) => typeof s[m] === 'function')
}

function resolveCookie(input: unknown): ResolvedCookieOptions {
  if (input !== undefined) objectOption('cookie', input)
  const c = (input ?? {}) as SessionCookieOptions
  const sameSite = oneOfOption('cookie.sameSite', c.sameSite, 'Lax', SAME_SITE)
  const cookie: ResolvedCookieOptions = {
    name: c.name ?? 'sid',
    path: c.path ?? '/',
    domain: c.domain,
    secure: flagOption('cookie.secure', c.secure, false),
    httpOnly: flagOption('cookie.httpOnly', c.httpOnly, true),
    sameSite,
    partitioned: flagOption('cookie.partitioned', c.partitioned, false),
  }
  // Let the strict serializer judge name, path, domain, prefixes and Secure requirements once,
  // now, instead of on the first response (a bad option must never become a 500 later).
  const probe: CookieSerializeOptions = {
    path: cookie.path,
    secure: cookie.secure,
    httpOnly: cookie.httpOnly,
    sameSite: cookie.sameSite,
    partitioned: cookie.partitioned,
  }
  if (cookie.domain !== undefined) probe.domain = cookie.domain
  try {
    serializeCookie(cookie.name, 'x', probe)
  } catch (err) {
    throw optionError('cookie', `is not a valid cookie: ${(err as Error).message}`)
  }
  return Object.freeze(cookie)
}

/** Validate `input`, fill in defaults, and return a frozen copy. */
export function resolveOptions(input: SessionManagerOptions): ResolvedOptions {
  objectOption('options', input)
  if (!Array.isArray(input.secrets) || input.secrets.length === 0) {
    throw optionError('secrets', 'must be a non-empty array')
  }
  if (!isStore(input.store)) throw optionError('store', 'must implement the Store interface')
  const idleTimeoutMs = integerOption('idleTimeoutMs', input.idleTimeoutMs, DAY, SECOND, MAX_COOKIE_LIFETIME_MS)
  const rememberIdleTimeoutMs = integerOption('rememberIdleTimeoutMs', input.rememberIdleTimeoutMs,
    30 * DAY, idleTimeoutMs, MAX_COOKIE_LIFETIME_MS)
  const absoluteTimeoutMs = integerOption('absoluteTimeoutMs', input.absoluteTimeoutMs, 30 * DAY,
    SECOND, MAX_COOKIE_LIFETIME_MS)
  const touchIntervalMs = integerOption('touchIntervalMs', input.touchIntervalMs,
    Math.min(5 * MINUTE, Math.floor(idleTimeoutMs / 2)), 0, idleTimeoutMs - 1)
  const now = functionOption('now', input.now, Date.now)
  const clientIp = functionOption('clientIp', input.clientIp, socketAddress)
  const admitAnonymous = functionOption<ResolvedOptions['admitAnonymous']>('admitAnonymous', input.admitAnonymous, undefined)
  const sessionLimitPolicy = oneOfOption('sessionLimitPolicy', input.sessionLimitPolicy, 'evict-oldest', SESSION_LIMIT_POLICIES)
  return Object.freeze({
    secrets: Object.freeze([...input.secrets]),
    store: input.store,
    cookie: resolveCookie(input.cookie),
    idleTimeoutMs,
    rememberIdleTimeoutMs,
    absoluteTimeoutMs,
    touchIntervalMs,
    storeTimeoutMs: integerOption('storeTimeoutMs', input.storeTimeoutMs, SECOND, 1, 60 * SECOND),
    retryAfterSeconds: integerOption('retryAfterSeconds', input.retryAfterSeconds, 1, 0, 3600),
    maxWriteRetries: integerOption('maxWriteRetries', input.maxWriteRetries, 16, 0, 100),
    verifiedCacheSize: integerOption('verifiedCacheSize', input.verifiedCacheSize, 10_000, 0, 10_000_000),
    now,
    clientIp,
    admitAnonymous,
    maxSessionsPerUser: integerOption('maxSessionsPerUser', input.maxSessionsPerUser, 0, 0, 1_000_000),
    sessionLimitPolicy,
  })
}
