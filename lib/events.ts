/**
 * The security event stream: what the session engine and the auth server did, as typed events a
 * program can subscribe to (for an audit log, metrics, alerting).
 *
 *     sessions.events.on('login.failed', (e) => alert(e.reason, e.ip))
 *     sessions.events.onAny((e) => auditLog.write(e))
 *
 * What an event never carries (OWASP ASVS 5.0 16.2.5, "sensitive data is not logged"): the session
 * ID, its storage key, a cookie value or a password. A session is named by its `handle`, the public
 * identifier the session list shows, which cannot be turned back into the ID (lib/id.ts).
 *
 * Cost: emitters check {@link SecurityEvents.active} before they build an event, so with nobody
 * listening an emit point is one field read and a branch — no object, no clock read, no call.
 *
 * Scope: events are delivered in the process that emitted them, synchronously, in order. With
 * several processes (node:cluster, several instances) every process has its own stream: an
 * aggregate is the sum of the processes' streams (the metrics endpoint sums them in the primary).
 */

/** Why a session was ended before its time. */
export type RevokeReason =
  /** The user ended one of their sessions from the session list, or "log out everywhere else". */
  | 'user-revoked'
  /** An administrator ended the user's sessions. */
  | 'admin-revoked'
  /** The user's password changed: every other session ends (OWASP Session Management). */
  | 'password-changed'
  /** The user went over the concurrent-session limit; the oldest session made room. */
  | 'limit-evicted'
  /**
   * The user changed since the session was bound (password reset, role change, disabled, deleted,
   * possibly on another instance): the session met a newer credential version and was ended.
   */
  | 'credential-version'

/** Why a login was refused. Kept apart here; the client gets one answer for all of them. */
export type LoginFailureReason = 'unknown-user' | 'bad-password' | 'disabled' | 'throttled'

/** Who and where, as far as known. Never the session ID, the cookie or a password. */
export interface EventContext {
  /** The session's public handle (not its ID), or null when no session is involved. */
  handle?: string | null
  /** The user concerned, or null when unknown or anonymous. */
  userId?: string | null
  /** The client's IP, as the server resolves it (TRUST_PROXY aware). */
  ip?: string
  /** The client's User-Agent, truncated. */
  userAgent?: string
}

/** Every event type with the fields it carries besides {@link EventContext}. */
export interface SecurityEventMap {
  /** A new session record was created (first write of an anonymous visitor, or a login). */
  'session.created': object
  /** The session's ID was renewed (login, password change); `previousHandle` was the old one. */
  'session.regenerated': { previousHandle: string }
  /** The session was ended by its own request (logout). */
  'session.destroyed': object
  /** Sessions were ended from elsewhere; `count` of them (one handle when a single one was named). */
  'session.revoked': { reason: RevokeReason; count: number }
  /** A cookie named a session found expired on read: the request got a fresh one. */
  'session.expired': object
  /** A compare-and-set write lost to a concurrent one and was retried (`attempt` from 1). */
  'session.write-conflict': { attempt: number }
  /** A cookie signed with an older secret was accepted (and will be re-signed with the current). */
  'session.old-secret': object
  /** A store call failed or timed out; `code` is the StoreError code. */
  'store.failure': { code: string }
  'login.succeeded': { remember: boolean }
  'login.failed': { reason: LoginFailureReason }
  'logout': object
  /** `by`: the id of who changed it (the user themselves, or an admin resetting it). */
  'password.changed': { by: string }
  /** `by`: the admin's user id. */
  'user.created': { by: string }
  'user.updated': { by: string }
  'user.disabled': { by: string }
  'user.deleted': { by: string }
}

export type SecurityEventType = keyof SecurityEventMap

/** One event as delivered: its type, when (ms since the epoch), context and own fields. */
export type SecurityEvent<T extends SecurityEventType = SecurityEventType> = T extends SecurityEventType
  ? { type: T; time: number } & EventContext & SecurityEventMap[T]
  : never

/** Every event type, for documentation, metrics (a zero series per type) and tests. */
export const SECURITY_EVENT_TYPES: readonly SecurityEventType[] = Object.freeze([
  'session.created',
  'session.regenerated',
  'session.destroyed',
  'session.revoked',
  'session.expired',
  'session.write-conflict',
  'session.old-secret',
  'store.failure',
  'login.succeeded',
  'login.failed',
  'logout',
  'password.changed',
  'user.created',
  'user.updated',
  'user.disabled',
  'user.deleted',
])

type Listener<T extends SecurityEventType> = (event: SecurityEvent<T>) => void
type AnyListener = (event: SecurityEvent) => void

/**
 * A small typed emitter (no dependency, no `node:events`: its `'error'` semantics and per-name
 * lookups are not wanted here). A listener that throws is isolated: the error goes to the
 * `onListenerError` hook (default: console.error) and the other listeners still run — an audit
 * sink failing must never fail the request that caused the event.
 */
export class SecurityEvents {
  /** True while at least one listener is attached: emitters test it before building an event. */
  active = false
  readonly #byType = new Map<SecurityEventType, Set<Listener<never>>>()
  readonly #any = new Set<AnyListener>()
  readonly #clock: () => number
  readonly #onListenerError: (err: unknown, event: SecurityEvent) => void

  constructor(options: { now?: () => number; onListenerError?: (err: unknown, event: SecurityEvent) => void } = {}) {
    this.#clock = options.now ?? Date.now
    this.#onListenerError = options.onListenerError ?? ((err, event) => console.error(`sessionkit: a ${event.type} listener failed:`, err))
  }

  /** Call `listener` for every event of `type`. Returns a function that removes it. */
  on<T extends SecurityEventType>(type: T, listener: Listener<T>): () => void {
    let set = this.#byType.get(type)
    if (set === undefined) this.#byType.set(type, (set = new Set()))
    set.add(listener as Listener<never>)
    this.active = true
    return () => {
      set.delete(listener as Listener<never>)
      this.#refresh()
    }
  }

  /** Call `listener` for every event. Returns a function that removes it. */
  onAny(listener: AnyListener): () => void {
    this.#any.add(listener)
    this.active = true
    return () => {
      this.#any.delete(listener)
      this.#refresh()
    }
  }

  /**
   * Deliver an event. Callers check {@link active} first (`if (events.active) events.emit(…)`),
   * so nothing is built when nobody listens; emitting with no listener is still harmless.
   */
  emit<T extends SecurityEventType>(type: T, fields: EventContext & SecurityEventMap[T]): void {
    if (!this.active) return
    const event = { type, time: this.#clock(), ...fields } as unknown as SecurityEvent<T>
    const typed = this.#byType.get(type)
    if (typed !== undefined) for (const listener of typed) this.#call(listener as Listener<T>, event)
    for (const listener of this.#any) this.#call(listener as Listener<T>, event)
  }

  #call<T extends SecurityEventType>(listener: Listener<T>, event: SecurityEvent<T>): void {
    try {
      listener(event)
    } catch (err) {
      this.#onListenerError(err, event as SecurityEvent)
    }
  }

  #refresh(): void {
    let any = this.#any.size > 0
    for (const set of this.#byType.values()) any ||= set.size > 0
    this.active = any
  }
}
