/**
 * Session manager options: defaults, validation, and the frozen resolved form.
 *
 * Every option is checked once, at construction, and a bad one throws a `TypeError` whose `code`
 * is `ERR_OPTION_INVALID` and whose message names the option: a programmer error fails loudly
 * and at start-up, never on the first request that happens to use the option.
 */
import type { IncomingMessage } from 'node:http'
import type { CookieSameSite } from './cookie/keywords.js'
import { serializeCookie, type CookieSerializeOptions } from './cookie/serialize.js'
import { ErrorCodes, typeError } from './errors.js'
import type { Secret } from './signature.js'
import type { SecurityEvents } from './events.js'
import type { Store } from './store.js'

const SECOND = 1000
const MINUTE = 60 * SECOND
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR
/** RFC 6265bis §5.6.1: user agents cap a cookie's lifetime at 400 days. */
const MAX_COOKIE_LIFETIME_MS = 400 * DAY

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

function invalid(name: string, why: string): TypeError {
  return typeError(ErrorCodes.OPTION_INVALID, `option ${name} ${why}`)
}

function duration(name: string, value: unknown, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw invalid(name, `must be an integer between ${min} and ${max}, got ${String(value)}`)
  }
  return value
}

function flag(name: string, value: unknown, fallback: boolean): boolean {
  if (value === undefined) return fallback
  if (typeof value !== 'boolean') throw invalid(name, `must be a boolean, got ${typeof value}`)
  return value
}

function isStore(value: unknown): value is Store {
  if (typeof value !== 'object' || value === null) return false
  const s = value as Record<string, unknown>
  return ['get', 'create', 'write', 'touch', 'destroy', 'listByUser', 'destroyByUser', 'hit',
    'resetHits', 'ping', 'close'].every((m) => typeof s[m] === 'function')
}

function resolveCookie(input: unknown): ResolvedCookieOptions {
  if (input !== undefined && (typeof input !== 'object' || input === null)) {
    throw invalid('cookie', 'must be an object')
  }
  const c = (input ?? {}) as SessionCookieOptions
  const sameSite = c.sameSite ?? 'Lax'
  if (sameSite !== 'Strict' && sameSite !== 'Lax' && sameSite !== 'None') {
    throw invalid('cookie.sameSite', `must be 'Strict', 'Lax' or 'None', got ${String(sameSite)}`)
  }
  const cookie: ResolvedCookieOptions = {
    name: c.name ?? 'sid',
    path: c.path ?? '/',
    domain: c.domain,
    secure: flag('cookie.secure', c.secure, false),
    httpOnly: flag('cookie.httpOnly', c.httpOnly, true),
    sameSite,
    partitioned: flag('cookie.partitioned', c.partitioned, false),
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
    throw invalid('cookie', `is not a valid cookie: ${(err as Error).message}`)
  }
  return Object.freeze(cookie)
}

/** Validate `input`, fill in defaults, and return a frozen copy. */
export function resolveOptions(input: SessionManagerOptions): ResolvedOptions {
  if (typeof input !== 'object' || input === null) throw invalid('options', 'must be an object')
  if (!Array.isArray(input.secrets) || input.secrets.length === 0) {
    throw invalid('secrets', 'must be a non-empty array')
  }
  if (!isStore(input.store)) throw invalid('store', 'must implement the Store interface')
  const idleTimeoutMs = duration('idleTimeoutMs', input.idleTimeoutMs, DAY, SECOND, MAX_COOKIE_LIFETIME_MS)
  const rememberIdleTimeoutMs = duration('rememberIdleTimeoutMs', input.rememberIdleTimeoutMs,
    30 * DAY, idleTimeoutMs, MAX_COOKIE_LIFETIME_MS)
  const absoluteTimeoutMs = duration('absoluteTimeoutMs', input.absoluteTimeoutMs, 30 * DAY,
    SECOND, MAX_COOKIE_LIFETIME_MS)
  const touchIntervalMs = duration('touchIntervalMs', input.touchIntervalMs,
    Math.min(5 * MINUTE, Math.floor(idleTimeoutMs / 2)), 0, idleTimeoutMs - 1)
  const now = input.now ?? Date.now
  if (typeof now !== 'function') throw invalid('now', 'must be a function')
  const clientIp = input.clientIp ?? socketAddress
  if (typeof clientIp !== 'function') throw invalid('clientIp', 'must be a function')
  const admitAnonymous = input.admitAnonymous
  if (admitAnonymous !== undefined && typeof admitAnonymous !== 'function') throw invalid('admitAnonymous', 'must be a function')
  const sessionLimitPolicy = input.sessionLimitPolicy ?? 'evict-oldest'
  if (sessionLimitPolicy !== 'evict-oldest' && sessionLimitPolicy !== 'refuse') {
    throw invalid('sessionLimitPolicy', `must be 'evict-oldest' or 'refuse', got ${String(sessionLimitPolicy)}`)
  }
  return Object.freeze({
    secrets: Object.freeze([...input.secrets]),
    store: input.store,
    cookie: resolveCookie(input.cookie),
    idleTimeoutMs,
    rememberIdleTimeoutMs,
    absoluteTimeoutMs,
    touchIntervalMs,
    storeTimeoutMs: duration('storeTimeoutMs', input.storeTimeoutMs, SECOND, 1, 60 * SECOND),
    retryAfterSeconds: duration('retryAfterSeconds', input.retryAfterSeconds, 1, 0, 3600),
    maxWriteRetries: duration('maxWriteRetries', input.maxWriteRetries, 16, 0, 100),
    verifiedCacheSize: duration('verifiedCacheSize', input.verifiedCacheSize, 10_000, 0, 10_000_000),
    now,
    clientIp,
    admitAnonymous,
    maxSessionsPerUser: duration('maxSessionsPerUser', input.maxSessionsPerUser, 0, 0, 1_000_000),
    sessionLimitPolicy,
  })
}
