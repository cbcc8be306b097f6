/**
 * The session engine: load a session for a request, commit it to the store and the response.
 *
 *     const session = await sessions.load(req)      // lazy: no cookie → no store call
 *     session.set('cart', [...])
 *     await sessions.commit(session, res)           // before res.writeHead / res.end
 *
 * Promises only, no callbacks, no patching of `res.end` (express-session's approach, which makes
 * the order of writes invisible). Store failures reject with a `StoreError`; the HTTP edge turns
 * them into 503 + Retry-After. A bad, tampered or expired cookie is not an error: the request
 * simply gets a new, empty session, and the presented ID is never adopted (OWASP "strict" mode).
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import { readCookie } from './cookie/parse.js'
import { serializeCookie, type CookieSerializeOptions } from './cookie/serialize.js'
import { withDeadline } from './deadline.js'
import { ErrorCodes, SessionLimitError, StoreError, typeError } from './errors.js'
import { SecurityEvents, type EventContext, type RevokeReason } from './events.js'
import { generateSessionId, hashSessionId, isWellFormedSessionId, sessionHandle } from './id.js'
import { resolveOptions, type ResolvedOptions, type SessionManagerOptions } from './options.js'
import { Session, STATE, applyChanges, parseData, serializeData, type SessionState } from './session.js'
import { createSigner, type Signer } from './signature.js'
import type { SessionLimit, SessionRecord, SessionUpdate, Store } from './store.js'

/** A verified cookie: the ID it carries and its storage key. */
interface Verified {
  id: string
  /** The cookie value as presented (already signed with the current secret unless `reissue`). */
  signed: string
  key: string
  /** Signed with an older secret: re-issue with the current one. */
  reissue: boolean
}

/** What a commit decided: the headers to send with the response. */
export interface CommitResult {
  /** A `Set-Cookie` value to send, or null. */
  setCookie: string | null
  /** The response depends on the session: send `Vary: Cookie` and `Cache-Control: no-store`. */
  private: boolean
}

/** One of a user's sessions, as listed to that user (never the ID or its storage key). */
export interface SessionInfo {
  handle: string
  createdAt: number
  lastSeenAt: number
  expiresAt: number
  userAgent: string
  ip: string
  /** True for the session making the request. */
  current: boolean
}

/**
 * What {@link SessionManager.peek} reports about a request's session: its clocks, read without
 * refreshing any of them.
 */
export interface SessionStatus {
  /** The user the session is bound to, or null. */
  userId: string | null
  createdAt: number
  lastSeenAt: number
  /** When the session ends if no request refreshes it: min(idle deadline, absolute deadline). */
  idleExpiresAt: number
  /** When the session ends whatever happens. */
  absoluteExpiresAt: number
  remember: boolean
  /** When the user last proved their credentials, or null. */
  authenticatedAt: number | null
  /** The credential version the session was bound with (see `Session.credentialVersion`). */
  credentialVersion: number
}

const MAX_USER_AGENT = 256

export class SessionManager {
  readonly options: ResolvedOptions
  /** Security events (lib/events.ts). Emit points check `events.active` first: free when unused. */
  readonly events: SecurityEvents
  readonly #store: Store
  readonly #signer: Signer
  readonly #now: () => number
  /** Signed cookie value → verified ID and key. Insertion-ordered Map: oldest evicted first. */
  readonly #verified = new Map<string, Verified>()
  /** `; Path=/; HttpOnly; SameSite=Lax` etc., built once: every response reuses it. */
  readonly #attributes: string
  readonly #clearCookie: string
  /** The store bounds its own calls (in-process, or its own deadline): no race needed here. */
  readonly #unraced: boolean

  constructor(options: SessionManagerOptions) {
    this.options = resolveOptions(options)
    this.#store = this.options.store
    this.#signer = createSigner(this.options.secrets)
    this.#unraced = this.#store.local === true || this.#store.selfTimed === true
    this.#now = this.options.now
    const events = options.events
    if (events !== undefined && !(events instanceof SecurityEvents)) {
      throw typeError(ErrorCodes.OPTION_INVALID, 'events must be a SecurityEvents instance')
    }
    this.events = events ?? new SecurityEvents({ now: this.#now })
    const c = this.options.cookie
    const attrs: CookieSerializeOptions = {
      path: c.path,
      httpOnly: c.httpOnly,
      secure: c.secure,
      sameSite: c.sameSite,
      partitioned: c.partitioned,
    }
    if (c.domain !== undefined) attrs.domain = c.domain
    // Serialize once through the strict serializer and keep everything after `name=x`.
    this.#attributes = serializeCookie(c.name, 'x', attrs).slice(c.name.length + 2)
    // RFC 6265bis §5.6.2: Max-Age=0 expires the cookie at once; same Path/Domain, or the browser
    // keeps the original (express-session #241).
    this.#clearCookie = `${c.name}=; Max-Age=0${this.#attributes}`
  }

  /** The store sessions live in. */
  get store(): Store {
    return this.#store
  }

  /**
   * The session for `req`. Resolves to a new, empty session when the request has no cookie, a
   * cookie that fails verification, or one whose session is gone — in those cases without
   * touching the store for the first two. Rejects with a `StoreError` if the store fails.
   */
  load(req: IncomingMessage): Promise<Session> {
    const header = req.headers.cookie
    const raw = header === undefined ? undefined : readCookie(header, this.options.cookie.name)
    if (raw === undefined) return Promise.resolve(this.#fresh(req, false))
    const verified = this.#verify(raw)
    if (verified === null) return Promise.resolve(this.#fresh(req, true))
    // The hot path: the failure report rides on this `.then` instead of a `.catch` of its own in
    // `#call` (one promise and one tick less per request while events are observed).
    return this.#raced(this.#store.get(verified.key)).then((record) => {
      if (record === null) return this.#fresh(req, true)
      if (this.#expired(record, this.#now())) {
        if (this.events.active) this.events.emit('session.expired', this.#context(req, record))
        return this.#fresh(req, true)
      }
      if (verified.reissue && this.events.active) this.events.emit('session.old-secret', this.#context(req, record))
      return new Session(this.#state(req, verified, record))
    }, this.events.active ? this.#onStoreFailure : undefined)
  }

  /**
   * Write what the handler changed to the store, then set `Set-Cookie`, `Vary: Cookie` and
   * `Cache-Control: no-store` on `res`. Must run before the response head is written.
   */
  async commit(session: Session, res: ServerResponse): Promise<void> {
    if (res.headersSent && !session[STATE].committed) {
      throw typeError(ErrorCodes.SESSION_STATE, 'commit() must run before the response head is written')
    }
    const { setCookie, private: isPrivate } = await this.save(session)
    if (setCookie !== null) appendHeader(res, 'Set-Cookie', setCookie)
    if (isPrivate) {
      // The response depends on the cookie: shared caches must not serve it to anyone else.
      appendVary(res)
      if (!res.hasHeader('cache-control')) res.setHeader('Cache-Control', 'no-store')
    }
  }

  /**
   * What {@link commit} does, without touching a response: store the changes and say which
   * headers to send, for callers that write the whole head in one call (the auth server does).
   * Answers synchronously when the store has nothing to do — the common read-only request — so
   * that path costs no promise at all. Throws `ERR_SESSION_STATE` if the session was committed.
   */
  save(session: Session): CommitResult | Promise<CommitResult> {
    const s = session[STATE]
    if (s.committed) throw typeError(ErrorCodes.SESSION_STATE, 'session was already committed')
    s.committed = true
    const cookie = this.#persist(s, this.#now())
    return typeof cookie === 'string' || cookie === null
      ? this.#result(s, cookie)
      : cookie.then((c) => this.#result(s, c))
  }

  #result(s: SessionState, setCookie: string | null): CommitResult {
    return { setCookie, private: s.accessed || s.hadCookie || setCookie !== null }
  }

  /**
   * The request's session status without touching it: no idle-clock refresh, no store write, no
   * cookie to send — so a page can poll how long it has left without keeping itself alive. Resolves
   * null when the request has no live session. Rejects with a `StoreError` if the store fails.
   */
  async peek(req: IncomingMessage): Promise<SessionStatus | null> {
    const header = req.headers.cookie
    const raw = header === undefined ? undefined : readCookie(header, this.options.cookie.name)
    const verified = raw === undefined ? null : this.#verify(raw)
    if (verified === null) return null
    const r = await this.#call(this.#store.get(verified.key))
    if (r === null || this.#expired(r, this.#now())) return null
    return {
      userId: r.userId,
      createdAt: r.createdAt,
      lastSeenAt: r.lastSeenAt,
      idleExpiresAt: r.expiresAt,
      absoluteExpiresAt: r.absoluteExpiresAt,
      remember: r.remember,
      authenticatedAt: r.authenticatedAt,
      credentialVersion: r.credentialVersion,
    }
  }

  /** The live sessions of `userId`, oldest first; `current` marks `session` among them. */
  async listSessions(userId: string, current?: Session): Promise<SessionInfo[]> {
    const currentKey = current?.[STATE].key ?? null
    const now = this.#now()
    const list = await this.#call(this.#store.listByUser(userId))
    return list
      .filter(({ record }) => !this.#expired(record, now))
      .map(({ key, record }) => ({
        handle: record.handle,
        createdAt: record.createdAt,
        lastSeenAt: record.lastSeenAt,
        expiresAt: record.expiresAt,
        userAgent: record.userAgent,
        ip: record.ip,
        current: key === currentKey,
      }))
  }

  /** End the session of `userId` with this handle. Resolves false if there is none. */
  async revokeSession(userId: string, handle: string): Promise<boolean> {
    const list = await this.#call(this.#store.listByUser(userId))
    const found = list.find(({ record }) => record.handle === handle)
    if (found === undefined) return false
    const ended = await this.#call(this.#store.destroy(found.key))
    if (ended && this.events.active) this.events.emit('session.revoked', { handle, userId, reason: 'user-revoked', count: 1 })
    return ended
  }

  /**
   * End every session of `userId` but `keep` (if given). Resolves to how many ended. `reason` is
   * what the `session.revoked` event reports.
   */
  revokeUserSessions(userId: string, keep?: Session, reason: RevokeReason = 'user-revoked'): Promise<number> {
    const key = keep?.[STATE].key ?? undefined
    const ended = this.#call(this.#store.destroyByUser(userId, key ?? undefined))
    if (!this.events.active) return ended
    return ended.then((count) => {
      if (count > 0) this.events.emit('session.revoked', { userId, reason, count })
      return count
    })
  }

  /** Resolve if the store answers in time (health checks). */
  ping(): Promise<void> {
    return this.#call(this.#store.ping())
  }

  /** Close the store. */
  close(): Promise<void> {
    this.#verified.clear()
    return this.#store.close()
  }

  #verify(raw: string): Verified | null {
    const cached = this.#verified.get(raw)
    if (cached !== undefined) return cached
    const result = this.#signer.unsign(raw)
    // Only IDs this server could have issued are looked up (never adopt a chosen ID).
    if (result === null || !isWellFormedSessionId(result.value)) return null
    const verified = { id: result.value, signed: raw, key: hashSessionId(result.value), reissue: result.secretIndex > 0 }
    const size = this.options.verifiedCacheSize
    if (size > 0) {
      if (this.#verified.size >= size) this.#verified.delete(this.#verified.keys().next().value as string)
      this.#verified.set(raw, verified)
    }
    return verified
  }

  /** Who and where, for an event about `record`: its handle and user, never its ID or key. */
  /** Report the sessions a login ended to stay within `maxSessionsPerUser`, one event each. */
  #evicted(userId: string, handles: string[]): void {
    for (const handle of handles) this.events.emit('session.revoked', { handle, userId, reason: 'limit-evicted', count: 1 })
  }

  #context(req: IncomingMessage, record: SessionRecord): EventContext {
    return {
      handle: record.handle,
      userId: record.userId,
      ip: this.options.clientIp(req),
      userAgent: (req.headers['user-agent'] ?? '').slice(0, MAX_USER_AGENT),
    }
  }

  #expired(record: SessionRecord, now: number): boolean {
    return now >= record.expiresAt || now >= record.absoluteExpiresAt
  }

  #fresh(req: IncomingMessage, hadCookie: boolean): Session {
    return new Session(this.#state(req, null, null, hadCookie))
  }

  #state(req: IncomingMessage, v: Verified | null, record: SessionRecord | null, hadCookie = true): SessionState {
    return {
      id: v === null ? null : v.id,
      signed: v === null || v.reissue ? null : v.signed,
      key: v === null ? null : v.key,
      record,
      data: null,
      changes: null,
      userId: record === null ? null : record.userId,
      remember: record === null ? false : record.remember,
      userChanged: false,
      rememberChanged: false,
      regenerate: false,
      destroy: false,
      accessed: false,
      reissue: v !== null && v.reissue,
      hadCookie,
      committed: false,
      req,
      credentialVersion: record === null ? 0 : record.credentialVersion,
      authenticated: false,
      touch: false,
    }
  }

  /**
   * Store the session's changes; returns the Set-Cookie value to send, or null — synchronously
   * when no store call is needed.
   */
  #persist(s: SessionState, now: number): string | null | Promise<string | null> {
    if (s.destroy) {
      const cookie = s.hadCookie ? this.#clearCookie : null
      if (s.key === null) return cookie
      // A key is only ever set together with its record (load, create).
      if (this.events.active) this.events.emit('session.destroyed', this.#context(s.req, s.record as SessionRecord))
      return this.#call(this.#store.destroy(s.key)).then(() => cookie)
    }
    const changed = s.changes !== null || s.userChanged || s.rememberChanged
    if (s.record === null) {
      // saveUninitialized = false: an untouched new session costs nothing and sends nothing.
      if (!changed && !s.regenerate) return null
      const admit = s.userId === null ? this.options.admitAnonymous : undefined
      if (admit === undefined) return this.#create(s, now, null)
      // The hook runs before anything is stored; its refusal (an HttpError 429) propagates.
      return (async () => {
        await admit(s.req)
        return this.#create(s, now, null)
      })()
    }
    if (s.regenerate) return this.#regenerate(s, now)
    if (changed) return this.#write(s, now)
    if (s.touch || now - s.record.lastSeenAt >= this.options.touchIntervalMs) return this.#touch(s, now)
    return s.reissue ? this.#cookie(s, s.record.expiresAt, now) : null
  }

  #expiresAt(remember: boolean, absoluteExpiresAt: number, now: number): number {
    const idle = remember ? this.options.rememberIdleTimeoutMs : this.options.idleTimeoutMs
    return Math.min(now + idle, absoluteExpiresAt)
  }

  /** A Set-Cookie value for the session's current ID, living until `expiresAt`. */
  #cookie(s: SessionState, expiresAt: number, now: number): string {
    const maxAge = Math.max(0, Math.floor((expiresAt - now) / 1000))
    const signed = (s.signed ??= this.#signer.sign(s.id as string))
    return `${this.options.cookie.name}=${signed}; Max-Age=${maxAge}${this.#attributes}`
  }

  /**
   * Create a brand-new record under a new ID (new session, or regenerate, which passes the key it
   * replaces). Under `maxSessionsPerUser` the store admits it atomically; a refusal throws
   * {@link SessionLimitError} before anything was written.
   */
  async #create(s: SessionState, now: number, data: string | null, replacing?: string): Promise<string> {
    const id = generateSessionId()
    const key = hashSessionId(id)
    const absoluteExpiresAt = now + this.options.absoluteTimeoutMs
    const record: SessionRecord = {
      version: 1,
      data: data ?? serializeData(s.data ?? {}),
      createdAt: now,
      lastSeenAt: now,
      expiresAt: this.#expiresAt(s.remember, absoluteExpiresAt, now),
      absoluteExpiresAt,
      remember: s.remember,
      userId: s.userId,
      handle: sessionHandle(key),
      // Read only here, when a record is made: most requests never need them.
      userAgent: (s.req.headers['user-agent'] ?? '').slice(0, MAX_USER_AGENT),
      ip: this.options.clientIp(s.req),
      credentialVersion: s.credentialVersion,
      // A fresh proof now, or the proof the regenerated session carried.
      authenticatedAt: s.authenticated ? now : (s.record?.authenticatedAt ?? null),
    }
    const max = this.options.maxSessionsPerUser
    let limit: SessionLimit | undefined
    if (max > 0 && record.userId !== null) {
      limit = { max, policy: this.options.sessionLimitPolicy }
      if (replacing !== undefined) limit.replacing = replacing
      if (this.events.active) limit.onEvicted = (handles) => this.#evicted(record.userId as string, handles)
    }
    const created = await this.#call(this.#store.create(key, record, limit))
    if (created === 'refused') throw new SessionLimitError(record.userId as string, max)
    /* c8 ignore next 3 -- a 256-bit random ID colliding with a live one: guards bugs, not luck */
    if (!created) {
      throw new StoreError(ErrorCodes.STORE_CONFLICT, 'a new session ID collided with a live one')
    }
    s.id = id
    s.signed = null
    s.key = key
    s.record = record
    // `data` is null only for a brand-new session; a regenerate reports itself once it is done.
    if (data === null && this.events.active) this.events.emit('session.created', this.#context(s.req, record))
    return this.#cookie(s, record.expiresAt, now)
  }

  /**
   * New ID, same data. The new record is written before the old one is deleted, so a crash in
   * between loses nothing. If the old record is already gone (a concurrent logout), the new one is
   * deleted again: regenerate must never resurrect a destroyed session.
   */
  async #regenerate(s: SessionState, now: number): Promise<string> {
    const oldKey = s.key as string
    const current = await this.#call(this.#store.get(oldKey))
    if (current === null) return this.#clearCookie
    const data = this.#merged(s, current)
    const cookie = await this.#create(s, now, data, oldKey)
    if (!(await this.#call(this.#store.destroy(oldKey)))) {
      await this.#call(this.#store.destroy(s.key as string))
      return this.#clearCookie
    }
    if (this.events.active) {
      this.events.emit('session.regenerated', { ...this.#context(s.req, s.record as SessionRecord), previousHandle: current.handle })
    }
    return cookie
  }

  /** The data to write on top of `base`: ours if we have nothing newer, else base + our changes. */
  #merged(s: SessionState, base: SessionRecord): string {
    if (s.changes === null) return base.data
    if (base === s.record && s.data !== null) return serializeData(s.data)
    const data = parseData(base.data)
    applyChanges(data, s.changes)
    return serializeData(data)
  }

  /**
   * Compare-and-set write. On a version conflict, reload and re-apply only the keys this request
   * changed, so two concurrent requests that change different keys both survive (connect-redis
   * tried a non-atomic merge and reverted it for data loss, #346/#347; the CAS here is atomic in
   * the store). If the record is gone, the write is dropped: no resurrection after logout.
   */
  async #write(s: SessionState, now: number): Promise<string | null> {
    let base = s.record as SessionRecord
    for (let attempt = 0; attempt <= this.options.maxWriteRetries; attempt++) {
      // Only what this request changed overrides the stored record; the rest is taken as stored.
      const remember = s.rememberChanged ? s.remember : base.remember
      const update: SessionUpdate = {
        data: this.#merged(s, base),
        lastSeenAt: now,
        expiresAt: this.#expiresAt(remember, base.absoluteExpiresAt, now),
        remember,
        userId: s.userChanged ? s.userId : base.userId,
        credentialVersion: s.userChanged ? s.credentialVersion : base.credentialVersion,
      }
      const result = await this.#call(this.#store.write(s.key as string, base.version, update))
      if (result === 'ok') {
        s.record = { ...base, ...update, version: base.version + 1 }
        // Re-send the cookie when its lifetime moved materially (remember changed, or the idle
        // clock slid by a touch interval) or its signature is old; not on every write.
        const resend = s.rememberChanged || s.reissue || s.touch || now - base.lastSeenAt >= this.options.touchIntervalMs
        return resend ? this.#cookie(s, update.expiresAt, now) : null
      }
      if (result === 'missing') return this.#clearCookie
      if (this.events.active) this.events.emit('session.write-conflict', { ...this.#context(s.req, base), attempt: attempt + 1 })
      // Back off a random 0–2^attempt ms (capped at 32) before reloading, so writers that keep
      // colliding on one session spread out instead of retrying in lock-step.
      await sleep(Math.random() * Math.min(2 ** attempt, 32))
      const reloaded = await this.#call(this.#store.get(s.key as string))
      if (reloaded === null) return this.#clearCookie
      base = reloaded
    }
    throw new StoreError(ErrorCodes.STORE_CONFLICT, 'session write kept conflicting; giving up')
  }

  /** Slide the idle clock by a TTL refresh: no data rewrite, no version bump. */
  async #touch(s: SessionState, now: number): Promise<string | null> {
    const record = s.record as SessionRecord
    const expiresAt = this.#expiresAt(record.remember, record.absoluteExpiresAt, now)
    if (!(await this.#call(this.#store.touch(s.key as string, now, expiresAt)))) return this.#clearCookie
    s.record = { ...record, lastSeenAt: now, expiresAt }
    return this.#cookie(s, expiresAt, now)
  }

  /**
   * Bound every store call by `storeTimeoutMs`: a store that does not answer must give a fast 503,
   * never a hung request (ioredis' defaults would wait 10–75 s). Local stores, and stores that
   * enforce their own deadline (`selfTimed`, e.g. RedisStore), skip this second timer.
   */
  #call<T>(promise: Promise<T>): Promise<T> {
    const raced = this.#raced(promise)
    return this.events.active ? raced.catch(this.#onStoreFailure) : raced
  }

  /** `promise` bounded by the deadline when the store needs one (see {@link #call}). */
  #raced<T>(promise: Promise<T>): Promise<T> {
    return this.#unraced ? promise : this.#race(promise)
  }

  #race<T>(promise: Promise<T>): Promise<T> {
    const ms = this.options.storeTimeoutMs
    return withDeadline(promise, ms, () => new StoreError(ErrorCodes.STORE_TIMEOUT, `store did not answer within ${ms} ms`),
      (err) => (err instanceof StoreError ? err : new StoreError(ErrorCodes.STORE_UNAVAILABLE, 'store failed', { cause: err })))
  }

  /** Report a failed store call (always a StoreError by now), then pass it on unchanged. */
  readonly #onStoreFailure = (err: unknown): never => {
    // A self-timed store (RedisStore) rejects with StoreErrors of its own; anything else is a bug
    // in a custom store, reported as unavailable.
    this.events.emit('store.failure', { code: err instanceof StoreError ? err.code : ErrorCodes.STORE_UNAVAILABLE })
    throw err
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

/** Add a Set-Cookie line, keeping any the handler set. */
function appendHeader(res: ServerResponse, name: string, value: string): void {
  const prev = res.getHeader(name)
  if (prev === undefined) res.setHeader(name, value)
  else res.setHeader(name, Array.isArray(prev) ? [...prev, value] : [String(prev), value])
}

/** `Vary: Cookie`, merged into whatever Vary the handler set. */
function appendVary(res: ServerResponse): void {
  const prev = res.getHeader('vary')
  if (prev === undefined) {
    res.setHeader('Vary', 'Cookie')
    return
  }
  const text = Array.isArray(prev) ? prev.join(', ') : String(prev)
  if (!/(^|,)\s*(cookie|\*)\s*(,|$)/i.test(text)) res.setHeader('Vary', `${text}, Cookie`)
}

/** Build a session manager from options (validated and frozen at construction). */
export function createSessionManager(options: SessionManagerOptions): SessionManager {
  return new SessionManager(options)
}
