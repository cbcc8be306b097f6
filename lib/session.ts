/**
 * The Session object a handler sees: its data, which keys changed, and what should happen to it
 * at commit (nothing, write, regenerate, destroy). It never talks to the store itself; the
 * manager (lib/manager.ts) loads and commits it, so a handler cannot forget an `await`.
 *
 * Data is a JSON object. `get` hands out the stored value; change it with `set` — mutating a
 * returned array in place is not tracked (the engine records *which keys* changed, so that two
 * concurrent requests changing different keys both survive; see `commitChanges` in the manager).
 */
import type { IncomingMessage } from 'node:http'
import { ErrorCodes, typeError } from './errors.js'
import type { SessionRecord } from './store.js'

/** Marks a key deleted in the change log. */
const DELETED: unique symbol = Symbol('deleted')

/** A change recorded by `update()`: re-run on the stored value if a concurrent write won. */
class Updater {
  constructor(readonly fn: (current: unknown) => unknown) {}
}

type Data = Record<string, unknown>

/** State the manager needs; not part of the public API (the symbol is not re-exported). */
export interface SessionState {
  /** The raw session ID, or null for a session that was never stored. */
  id: string | null
  /** The signed cookie value for `id` under the current secret, once known. */
  signed: string | null
  /** Storage key (SHA-256 of the ID), or null. */
  key: string | null
  /** The record as loaded (or last written), or null for a new session. */
  record: SessionRecord | null
  /** Parsed data; null until first needed (a request that never reads data never parses JSON). */
  data: Data | null
  /** Keys changed by this request: value, DELETED, or an Updater to re-run on conflict. */
  changes: Map<string, unknown> | null
  userId: string | null
  remember: boolean
  /** setUser() changed the binding (so a conflict retry keeps ours, not the reloaded one). */
  userChanged: boolean
  /** setRemember() changed the flag. */
  rememberChanged: boolean
  regenerate: boolean
  destroy: boolean
  /** The handler looked at or changed the session (→ Vary: Cookie, Cache-Control: no-store). */
  accessed: boolean
  /** The request carried a cookie signed with an older secret: re-issue it. */
  reissue: boolean
  /** The request carried a session cookie at all (valid or not). */
  hadCookie: boolean
  committed: boolean
  /** The request, for the User-Agent and client IP recorded when a record is created. */
  req: IncomingMessage
  /** The bound user's credential version (changes with the binding: see `setUser`). */
  credentialVersion: number
}

export const STATE: unique symbol = Symbol('sessionkit.session')

export function parseData(json: string): Data {
  // A null-prototype copy: `__proto__`, `constructor`, `toString` are ordinary keys, and
  // assigning `__proto__` can never reach Object.prototype (prototype pollution).
  const parsed = JSON.parse(json) as Data
  const data = Object.create(null) as Data
  for (const k of Object.keys(parsed)) data[k] = parsed[k]
  return data
}

/** Apply a change log to a data object (used on commit and when re-applying after a conflict). */
export function applyChanges(data: Data, changes: Map<string, unknown>): void {
  for (const [k, v] of changes) {
    if (v === DELETED) delete data[k]
    else if (v instanceof Updater) data[k] = v.fn(data[k])
    else data[k] = v
  }
}

/** Serialize session data; a value JSON cannot represent is a programmer error. */
export function serializeData(data: Data): string {
  try {
    return JSON.stringify(data)
  } catch (err) {
    throw typeError(ErrorCodes.SESSION_DATA_INVALID, `session data is not JSON-serializable: ${(err as Error).message}`)
  }
}

export class Session {
  readonly [STATE]: SessionState

  /** @internal Sessions are made by the manager's `load()`. */
  constructor(state: SessionState) {
    this[STATE] = state
  }

  #data(): Data {
    const s = this[STATE]
    s.accessed = true
    if (s.data === null) s.data = s.record === null ? (Object.create(null) as Data) : parseData(s.record.data)
    return s.data
  }

  #writable(): SessionState {
    const s = this[STATE]
    if (s.committed) throw typeError(ErrorCodes.SESSION_STATE, 'session was already committed')
    if (s.destroy) throw typeError(ErrorCodes.SESSION_STATE, 'session was destroyed')
    s.accessed = true
    return s
  }

  /** The value stored under `key`, or `undefined`. */
  get<T = unknown>(key: string): T | undefined {
    return this.#data()[key] as T | undefined
  }

  /** Whether `key` holds a value. */
  has(key: string): boolean {
    return Object.hasOwn(this.#data(), key)
  }

  /**
   * Store a JSON-serializable value under `key` (`undefined` deletes it). The change is written
   * at commit; a new session is stored (and its cookie sent) only once something is set.
   */
  set(key: string, value: unknown): this {
    if (value === undefined) return this.delete(key)
    const s = this.#writable()
    this.#data()[key] = value
    ;(s.changes ??= new Map()).set(key, value)
    return this
  }

  /**
   * Set `key` to `fn(current value)`. Unlike `get` + `set`, the function is re-run on the stored
   * value if a concurrent request changed the session first, so two requests that append to the
   * same cart both land. `fn` must be pure (it may run more than once) and return JSON. Returns
   * the new value.
   */
  update<T>(key: string, fn: (current: T | undefined) => T): T {
    const s = this.#writable()
    const data = this.#data()
    const next = fn(data[key] as T | undefined)
    data[key] = next
    ;(s.changes ??= new Map()).set(key, new Updater(fn as (current: unknown) => unknown))
    return next
  }

  /** Remove `key`. */
  delete(key: string): this {
    const s = this.#writable()
    const data = this.#data()
    if (Object.hasOwn(data, key)) {
      delete data[key]
      ;(s.changes ??= new Map()).set(key, DELETED)
    }
    return this
  }

  /** A plain copy of all data. */
  toJSON(): Data {
    return { ...this.#data() }
  }

  /** True until the session has been stored (no cookie was issued for it yet). */
  get isNew(): boolean {
    return this[STATE].record === null
  }

  /** The user this session is bound to (for the per-user index), or null. Does not parse data. */
  get userId(): string | null {
    this[STATE].accessed = true
    return this[STATE].userId
  }

  /**
   * Bind the session to a user (or unbind with `null`); listed and revoked per user.
   * `credentialVersion` records which version of the user's credentials the binding was made
   * with (read *before* the password was checked), so that an application can refuse the session
   * once the user's credentials change (see {@link Session.credentialVersion}). Default 0.
   */
  setUser(userId: string | null, credentialVersion = 0): this {
    if (userId !== null && (typeof userId !== 'string' || userId.length === 0)) {
      throw typeError(ErrorCodes.SESSION_DATA_INVALID, 'userId must be a non-empty string or null')
    }
    if (!Number.isSafeInteger(credentialVersion) || credentialVersion < 0) {
      throw typeError(ErrorCodes.SESSION_DATA_INVALID, 'credentialVersion must be a non-negative integer')
    }
    const s = this.#writable()
    if (userId === null) credentialVersion = 0
    if (s.userId !== userId || s.credentialVersion !== credentialVersion) {
      s.userId = userId
      s.credentialVersion = credentialVersion
      s.userChanged = true
    }
    return this
  }

  /** The credential version the session was bound with ({@link Session.setUser}); 0 if none. */
  get credentialVersion(): number {
    return this[STATE].credentialVersion
  }

  /** "Remember me": the longer idle timeout and a persistent cookie, never past the absolute limit. */
  get remember(): boolean {
    return this[STATE].remember
  }

  setRemember(remember: boolean): this {
    if (typeof remember !== 'boolean') throw typeError(ErrorCodes.SESSION_DATA_INVALID, 'remember must be a boolean')
    const s = this.#writable()
    if (s.remember !== remember) {
      s.remember = remember
      s.rememberChanged = true
    }
    return this
  }

  /**
   * Give the session a new ID at commit, keeping its data (a cart survives login; express-session
   * #425 drops it). Call it whenever the privilege level changes — login, logout of a role,
   * password change — so an ID planted before authentication is worthless after it (session
   * fixation, OWASP Session Management Cheat Sheet "Renew the Session ID After Any Privilege
   * Level Change"). The regenerated session starts a new absolute clock: it is a new session
   * born of a fresh authentication.
   */
  regenerate(): this {
    this.#writable().regenerate = true
    return this
  }

  /** Delete the session at commit and send a clearing cookie. Idempotent. */
  destroy(): this {
    const s = this[STATE]
    if (s.committed) throw typeError(ErrorCodes.SESSION_STATE, 'session was already committed')
    s.accessed = true
    s.destroy = true
    return this
  }

  /** Public handle of this session (as listed per user), or null before it is stored. */
  get handle(): string | null {
    return this[STATE].record?.handle ?? null
  }

  /** Creation time (ms since epoch), or null before it is stored. */
  get createdAt(): number | null {
    return this[STATE].record?.createdAt ?? null
  }
}
