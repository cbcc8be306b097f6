/**
 * The store contract. Every store (memory, Redis, Redis Cluster, your own) implements
 * {@link Store}; one conformance suite (`test/fixtures/store-conformance.ts`) holds them all to it.
 *
 * Ground rules, in the style of scs's store.go:
 * - Keys are *storage keys*: the SHA-256 of a session ID (see `lib/id.ts`), never the ID itself,
 *   so a dump of the store cannot be replayed as cookies (OWASP Session Management Cheat Sheet).
 * - `null` / `false` / `'missing'` mean "no such live session": the record never existed, expired,
 *   or was destroyed. That is a normal answer, never a rejection.
 * - A promise rejects only for a system failure (connection refused, timeout, script error), and
 *   then always with a `StoreError` (lib/errors.ts) whose `cause` is the underlying error. The
 *   engine turns that into 503, never into "logged out".
 * - All times are milliseconds since the Unix epoch; all durations are milliseconds.
 * - A store must not return a record whose `expiresAt` is in the past by its own clock; the engine
 *   checks again with its clock, so a store may rely on its native TTL (Redis `PX`).
 * - Stores never interpret `data`: it is the JSON text the engine wrote.
 */

/** One session as stored. */
export interface SessionRecord {
  /** Compare-and-set version: 1 on create, +1 on every successful {@link Store.write}. */
  version: number
  /** JSON text of the session's data object (the engine serializes and parses it). */
  data: string
  /** When the session was created (the absolute timeout counts from here). */
  createdAt: number
  /** Last time the session's idle clock was refreshed (throttled; see `touchIntervalMs`). */
  lastSeenAt: number
  /** When the record stops existing: min(idle deadline, absolute deadline). */
  expiresAt: number
  /** createdAt + absolute timeout. Nothing extends it. */
  absoluteExpiresAt: number
  /** "Remember me": the longer idle timeout and persistent cookie apply. */
  remember: boolean
  /** The user this session is bound to, for the per-user index; `null` if anonymous. */
  userId: string | null
  /** Public, non-secret identifier of this session for listing / revoking. Not the ID. */
  handle: string
  /** User-Agent of the request that created (or last regenerated) the session, truncated. */
  userAgent: string
  /** Client IP of the request that created (or last regenerated) the session. */
  ip: string
  /**
   * The bound user's credential version when the session was bound to them (0 if anonymous, or
   * bound without one). The auth server compares it with the user's current version on every
   * request, so a password change or a disable ends sessions bound before it (ASVS 5.0 7.4.1).
   */
  credentialVersion: number
}

/** The fields a compare-and-set write replaces. `createdAt`, `handle`, `ua`, `ip` never change. */
export interface SessionUpdate {
  data: string
  lastSeenAt: number
  expiresAt: number
  remember: boolean
  userId: string | null
  credentialVersion: number
}

/** Outcome of {@link Store.write}. */
export type WriteResult =
  /** Written; the stored version is now `expectedVersion + 1`. */
  | 'ok'
  /** The stored version differs from `expectedVersion`: reload, re-apply, retry. */
  | 'conflict'
  /** No live record (expired or destroyed): the write is dropped — never resurrect. */
  | 'missing'

/** A session in a user's index, as listed by {@link Store.listByUser}. */
export interface IndexedSession {
  key: string
  record: SessionRecord
}

export interface Store {
  /** Short name for health checks and logs, e.g. `'memory'` or `'redis'`. */
  readonly kind: string
  /**
   * True if every operation settles promptly by construction (in-process stores). The engine then
   * skips its own timeout race around each call. Network stores leave it false/undefined.
   */
  readonly local?: boolean
  /**
   * True if every operation settles within a deadline the store enforces itself, rejecting with a
   * `StoreError` (`ERR_STORE_TIMEOUT`) past it — RedisStore does, with `commandTimeoutMs`. The
   * engine then skips its own race too: one timer per call, not two.
   */
  readonly selfTimed?: boolean

  /** The live record under `key`, or `null` when missing/expired. */
  get(key: string): Promise<SessionRecord | null>

  /**
   * Store a new record with TTL `record.expiresAt - now`. Returns `false` and writes nothing if
   * `key` already holds a live record (IDs are 256-bit random, so this only guards bugs).
   * If `record.userId` is set, the session is added to that user's index.
   */
  create(key: string, record: SessionRecord): Promise<boolean>

  /**
   * Atomic compare-and-set: if the live record under `key` has version `expectedVersion`, replace
   * the fields of `update`, bump the version, and reset the TTL to `update.expiresAt`.
   * Maintains the user index when `userId` changes. Never creates a record.
   */
  write(key: string, expectedVersion: number, update: SessionUpdate): Promise<WriteResult>

  /**
   * Refresh the idle clock without rewriting data: set `lastSeenAt` and the TTL (`expiresAt`).
   * Returns `false` if there is no live record (nothing is created). Does not change `version`.
   */
  touch(key: string, lastSeenAt: number, expiresAt: number): Promise<boolean>

  /**
   * Delete the record and its index entry. Resolves `true` if a live record was deleted, `false`
   * if there was none (deleting a missing key is not an error). The engine uses the answer to
   * stop a `regenerate()` from resurrecting a session that a concurrent logout destroyed.
   */
  destroy(key: string): Promise<boolean>

  /**
   * Live sessions bound to `userId`, oldest first by `createdAt`. Index entries whose record is
   * gone are pruned as a side effect (lazy cleanup; no SCAN/KEYS anywhere).
   */
  listByUser(userId: string): Promise<IndexedSession[]>

  /**
   * Destroy every session of `userId` except `exceptKey` (if given). Resolves to how many were
   * destroyed.
   */
  destroyByUser(userId: string, exceptKey?: string): Promise<number>

  /**
   * Fixed-window counter for rate limiting (login throttling): adds `increment` (default 1) to
   * `key` and returns the new count and the ms left in the window; the window (TTL `windowMs`)
   * starts with the first hit. `increment = 0` only reads: it creates nothing, and a missing
   * counter reads `{ count: 0, resetMs: 0 }`. Lives in the same backend as the sessions so limits
   * hold across server instances.
   */
  hit(key: string, windowMs: number, increment?: number): Promise<{ count: number; resetMs: number }>

  /** Clear a counter set by {@link Store.hit} (e.g. after a successful login). */
  resetHits(key: string): Promise<void>

  /** Resolve if the backend answers (health check), else reject with a `StoreError`. */
  ping(): Promise<void>

  /** Release timers and connections the store owns. Idempotent. */
  close(): Promise<void>
}
