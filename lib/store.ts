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
  /**
   * When the user last proved their credentials (login or re-authentication), or `null` if never.
   * Apart from `createdAt`: a guard can ask for a recent proof before a sensitive action
   * (OWASP ASVS 5.0 7.5). Set when the record is created; a write never changes it.
   */
  authenticatedAt: number | null
}

/**
 * A cap on one user's live sessions, enforced by {@link Store.create} in one atomic step, so that
 * concurrent logins cannot overshoot it (OWASP ASVS 5.0 7.1.2).
 */
export interface SessionLimit {
  /** Most live sessions the user may hold, the new one included (≥ 1). */
  max: number
  /**
   * At the cap: `'evict-oldest'` ends the user's least recently used sessions (smallest
   * `lastSeenAt`) to make room; `'refuse'` creates nothing and answers `'refused'`.
   */
  policy: 'evict-oldest' | 'refuse'
  /**
   * Storage key of a session the new one replaces (a regeneration, which destroys it next): not
   * counted, so a user at the cap can still regenerate. Default: none.
   */
  replacing?: string
  /**
   * Told the handles of the sessions ended to make room (policy `'evict-oldest'`), before
   * `create` resolves, so the engine can report them (`session.revoked`, reason
   * `limit-evicted`). A store that never calls it ends them unreported. Default: none.
   */
  onEvicted?: (handles: string[]) => void
}

/** The fields a compare-and-set write replaces. `createdAt`, `handle`, `userAgent`, `ip` never change. */
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

/** One counter of a {@link Store.consume} call. */
export interface CounterLimit {
  key: string
  /** The attempt is refused when the counter already holds this many (≥ 1). */
  limit: number
  /** Window of a counter this call creates, in ms (it starts with the first counted attempt). */
  windowMs: number
}

/** Outcome of {@link Store.consume}. */
export type ConsumeResult =
  | { allowed: true }
  /** `blocked`: index of the refusing counter that resets last; `resetMs`: the ms until it does. */
  | { allowed: false; blocked: number; resetMs: number }

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
   *
   * With `limit` (and a `userId`), admission is atomic per user: N concurrent creates for a user
   * with `limit.max` M leave at most M live sessions, exactly M when N ≥ M. Under `'refuse'` a
   * create past the cap resolves `'refused'` and writes nothing; under `'evict-oldest'` it resolves
   * `true` and the evicted sessions are destroyed. A session evicted by a concurrent create before
   * its own create finished is destroyed too (it still resolves `true`: it was created, then ended).
   */
  create(key: string, record: SessionRecord, limit?: SessionLimit): Promise<boolean | 'refused'>

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
   * counter reads `{ count: 0, resetMs: 0 }`. A negative increment gives back units taken by
   * {@link Store.consume}: it never creates, never goes below 0, and deletes a counter it brings
   * to 0. Lives in the same backend as the sessions so limits hold across server instances.
   */
  hit(key: string, windowMs: number, increment?: number): Promise<{ count: number; resetMs: number }>

  /**
   * Atomic check-and-increment over fixed-window counters (login throttling, new anonymous
   * sessions): if every counter is below its `limit`, add 1 to each (creating a missing one with
   * its `windowMs`) and answer allowed; otherwise change nothing, create nothing, and answer the
   * longest wait among the counters at their limit. One step, so concurrent attempts can never
   * take a counter past its limit, and a refused attempt leaves no trace: a flood of refused
   * attempts costs the store no memory. A counter at its limit must survive any size bound (a
   * store may refuse with `ERR_STORE_FULL` rather than evict it). On Redis Cluster, where the
   * counters may live in different slots, the step is atomic per counter and an attempt refused
   * by a later counter gives back what it took from the earlier ones (so it never over-admits;
   * `blocked` is then the first refusing counter). Give back one unit with `hit(key, windowMs, -1)`.
   */
  consume(counters: readonly CounterLimit[]): Promise<ConsumeResult>

  /** Clear a counter set by {@link Store.hit} (e.g. after a successful login). */
  resetHits(key: string): Promise<void>

  /** Resolve if the backend answers (health check), else reject with a `StoreError`. */
  ping(): Promise<void>

  /** Release timers and connections the store owns. Idempotent. */
  close(): Promise<void>
}
