/**
 * An in-process {@link Store}: one `Map` keyed by storage key, bounded in size, swept in slices.
 *
 * For one process only: sessions die with the process and are not shared between instances (use
 * the Redis store for that). Unlike express-session's MemoryStore, which grows without bound and
 * never deletes expired sessions on its own (expressjs/session#556), this one has a hard cap, an
 * eviction policy and a sweeper.
 */
import { ErrorCodes, StoreError, typeError } from '../errors.js'
import type { IndexedSession, SessionRecord, SessionUpdate, Store, WriteResult } from '../store.js'

/** Options of {@link MemoryStore}. All are optional. */
export interface MemoryStoreOptions {
  /**
   * Most sessions held at once. Creating one more evicts the least recently used session (see
   * {@link MemoryStore}). A small session takes about 0.55–0.65 KB (bench/memory-footprint.ts),
   * so the default costs about 60 MB when full, safe in a small container; more live sessions
   * than that usually means more than one process, i.e. the Redis store. It bounds the count, not
   * the bytes: cap the size of session data in the engine. Default: `100_000`.
   */
  maxSessions?: number
  /**
   * Most rate-limit counters ({@link MemoryStore.hit}) held at once; creating one more evicts the
   * counter whose window started first. Default: `100_000`.
   */
  maxCounters?: number
  /**
   * How often the sweeper deletes expired sessions and counters, in milliseconds. Expired records
   * are invisible at once whatever this is; the sweeper only frees their memory. Default: `60_000`.
   */
  sweepIntervalMs?: number
  /** The clock, in ms since the Unix epoch (inject one to test expiry). Default: `Date.now`. */
  now?: () => number
}

/** Sizes of the store's maps, for metrics and tests. */
export interface MemoryStoreStats {
  /** Records held, including expired ones the sweeper has not reached yet. */
  sessions: number
  /** Users with at least one indexed session. */
  users: number
  /** Rate-limit counters held. */
  counters: number
}

/** Entries the sweeper examines before yielding to the event loop (keeps each slice ~1 ms). */
const SWEEP_SLICE = 4096
/** setInterval's ceiling: longer delays overflow a 32-bit int and fire at once. */
const MAX_TIMER_MS = 2 ** 31 - 1
const MAX_SAFE = Number.MAX_SAFE_INTEGER

/**
 * A stored session. A class, not the caller's object: every entry gets the same hidden class and
 * only the contract's fields (no per-entry closures or timers), which keeps a small session near
 * 0.6 KB, and the caller keeps no reference into the store.
 */
class Entry {
  constructor(
    public version: number,
    public data: string,
    public readonly createdAt: number,
    public lastSeenAt: number,
    public expiresAt: number,
    public readonly absoluteExpiresAt: number,
    public remember: boolean,
    public userId: string | null,
    public readonly handle: string,
    public readonly userAgent: string,
    public readonly ip: string,
    public credentialVersion: number,
  ) {}
}

/** A fixed-window counter: `count` hits in the window that ends at `resetAt`. */
class Counter {
  constructor(
    public count: number,
    public readonly resetAt: number,
  ) {}
}

function positiveInteger(name: string, value: unknown, fallback: number, max: number): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    const msg = `option ${name} must be an integer in [1, ${max}]: ${String(value)}`
    throw typeError(ErrorCodes.OPTION_INVALID, msg)
  }
  return value
}

/**
 * In-memory store.
 *
 * - **Eviction (approximate LRU).** The map's insertion order is its recency order: every create,
 *   write and touch deletes and re-sets its key (O(1)), so the first key is the least recently
 *   *written*. Reads do not bump (that would cost two Map operations per request); since the
 *   session engine touches an active session at least once per `touchIntervalMs`, "least recently
 *   written" trails "least recently used" by at most that interval.
 *   When `maxSessions` is reached, `create` evicts that one (and its user-index entry). Idle
 *   sessions go first; the cap is a memory safeguard, so size it above your live sessions.
 * - **Expiry.** Every read compares `expiresAt` with `now()`, so an expired record is invisible
 *   immediately (and deleted on the spot). The sweeper frees the rest: every `sweepIntervalMs`
 *   it walks the whole map once, in slices of {@link SWEEP_SLICE} entries with a `setImmediate`
 *   between them, so even a million sessions never block the event loop for long. O(n) per
 *   interval, no per-entry timers, no expiry heap to keep in sync.
 * - **Atomicity.** Every method does all its work synchronously, with no `await` inside, so no
 *   other call can interleave: compare-and-set is atomic in a single-threaded process.
 * - **After `close()`** every method rejects with a `StoreError` (`ERR_STORE_UNAVAILABLE`): a
 *   closed store is a system failure (503), never "logged out".
 */
export class MemoryStore implements Store {
  readonly kind = 'memory'
  readonly local = true

  readonly #maxSessions: number
  readonly #maxCounters: number
  readonly #now: () => number
  readonly #sessions = new Map<string, Entry>()
  /** userId → storage keys. Kept exact on every removal, so it can never leak. */
  readonly #users = new Map<string, Set<string>>()
  readonly #counters = new Map<string, Counter>()
  #timer: NodeJS.Timeout | undefined
  #sweeping: Promise<number> | undefined
  #closed = false

  constructor(options: MemoryStoreOptions = {}) {
    if (typeof options !== 'object' || options === null) {
      throw typeError(ErrorCodes.OPTION_INVALID, 'options must be an object')
    }
    const o = options
    this.#maxSessions = positiveInteger('maxSessions', o.maxSessions, 100_000, MAX_SAFE)
    this.#maxCounters = positiveInteger('maxCounters', o.maxCounters, 100_000, MAX_SAFE)
    const intervalMs = positiveInteger('sweepIntervalMs', o.sweepIntervalMs, 60_000, MAX_TIMER_MS)
    if (o.now !== undefined && typeof o.now !== 'function') {
      throw typeError(ErrorCodes.OPTION_INVALID, 'option now must be a function returning ms')
    }
    this.#now = o.now ?? Date.now
    // unref(): a store must never keep the process alive on its own.
    this.#timer = setInterval(() => void this.sweep(), intervalMs).unref()
  }

  async get(key: string): Promise<SessionRecord | null> {
    this.#open()
    const entry = this.#live(key)
    if (entry === undefined) return null
    // No LRU bump on reads: it would cost a Map delete + set on every request. An active session
    // is touched or written at least once per touch interval, which bumps it (see the class doc).
    return copy(entry)
  }

  async create(key: string, record: SessionRecord): Promise<boolean> {
    this.#open()
    if (this.#live(key) !== undefined) return false
    // Already expired: storing it would only take a slot (and maybe evict a live session).
    if (record.expiresAt <= this.#now()) return true
    if (this.#sessions.size >= this.#maxSessions) this.#evictOldest()
    const r = record
    const entry = new Entry(r.version, r.data, r.createdAt, r.lastSeenAt, r.expiresAt,
      r.absoluteExpiresAt, r.remember, r.userId, r.handle, r.userAgent, r.ip, r.credentialVersion)
    this.#sessions.set(key, entry)
    if (entry.userId !== null) this.#index(entry.userId, key)
    return true
  }

  async write(key: string, expectedVersion: number, update: SessionUpdate): Promise<WriteResult> {
    this.#open()
    // Check and set run in one synchronous stretch (no await), hence atomic.
    const entry = this.#live(key)
    if (entry === undefined) return 'missing'
    if (entry.version !== expectedVersion) return 'conflict'
    if (entry.userId !== update.userId) {
      if (entry.userId !== null) this.#unindex(entry.userId, key)
      if (update.userId !== null) this.#index(update.userId, key)
    }
    entry.version = expectedVersion + 1
    entry.data = update.data
    entry.lastSeenAt = update.lastSeenAt
    entry.expiresAt = update.expiresAt
    entry.remember = update.remember
    entry.userId = update.userId
    entry.credentialVersion = update.credentialVersion
    this.#bump(key, entry)
    return 'ok'
  }

  async touch(key: string, lastSeenAt: number, expiresAt: number): Promise<boolean> {
    this.#open()
    const entry = this.#live(key)
    if (entry === undefined) return false
    entry.lastSeenAt = lastSeenAt
    entry.expiresAt = expiresAt
    this.#bump(key, entry)
    return true
  }

  async destroy(key: string): Promise<boolean> {
    this.#open()
    // #live removes an expired record too, but only a live one counts as destroyed.
    const entry = this.#live(key)
    if (entry === undefined) return false
    this.#remove(key, entry)
    return true
  }

  async listByUser(userId: string): Promise<IndexedSession[]> {
    this.#open()
    const keys = this.#users.get(userId)
    if (keys === undefined) return []
    const out: IndexedSession[] = []
    // #live deletes expired records (and their index entries) as it meets them: the lazy prune.
    for (const key of [...keys]) {
      const entry = this.#live(key)
      if (entry !== undefined) out.push({ key, record: copy(entry) })
    }
    return out.sort((a, b) => a.record.createdAt - b.record.createdAt)
  }

  async destroyByUser(userId: string, exceptKey?: string): Promise<number> {
    this.#open()
    const keys = this.#users.get(userId)
    if (keys === undefined) return 0
    let destroyed = 0
    for (const key of [...keys]) {
      // Expired sessions are removed too, but only live ones count as destroyed.
      const entry = key === exceptKey ? undefined : this.#live(key)
      if (entry !== undefined) {
        this.#remove(key, entry)
        destroyed++
      }
    }
    return destroyed
  }

  async hit(key: string, windowMs: number, increment = 1): Promise<{ count: number; resetMs: number }> {
    this.#open()
    const now = this.#now()
    const counter = this.#counters.get(key)
    if (counter !== undefined && counter.resetAt > now) {
      counter.count += increment
      return { count: counter.count, resetMs: counter.resetAt - now }
    }
    // A read-only peek never opens a window.
    if (increment === 0) return { count: 0, resetMs: 0 }
    // A new window. Delete first so the key moves to the end: the map stays ordered by window
    // start, and the first counter is the one evicted when full. With equal windows that is also
    // the one that resets soonest, so eviction only brings its reset forward a little; an attacker
    // must create maxCounters fresh keys within one window to reset a victim's counter early.
    this.#counters.delete(key)
    if (this.#counters.size >= this.#maxCounters) {
      const first = this.#counters.keys().next()
      /* c8 ignore next -- size >= maxCounters >= 1, so the map has a first key */
      if (first.done !== true) this.#counters.delete(first.value)
    }
    this.#counters.set(key, new Counter(increment, now + windowMs))
    return { count: increment, resetMs: windowMs }
  }

  async resetHits(key: string): Promise<void> {
    this.#open()
    this.#counters.delete(key)
  }

  async ping(): Promise<void> {
    this.#open()
  }

  /** Stop the sweeper and drop every record. Idempotent; later calls to other methods reject. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#sessions.clear()
    this.#users.clear()
    this.#counters.clear()
  }

  /** Sizes of the internal maps (expired-but-unswept records included). */
  stats(): MemoryStoreStats {
    return { sessions: this.#sessions.size, users: this.#users.size, counters: this.#counters.size }
  }

  /**
   * Delete every expired session and counter now; resolves to how many entries were deleted. The
   * interval calls this; tests call it directly. A call during a running sweep joins that sweep.
   */
  sweep(): Promise<number> {
    this.#sweeping ??= this.#sweepAll().finally(() => (this.#sweeping = undefined))
    return this.#sweeping
  }

  async #sweepAll(): Promise<number> {
    let deleted = 0
    let seen = 0
    let now = this.#now()
    const slice = async (): Promise<void> => {
      if (++seen % SWEEP_SLICE !== 0) return
      await new Promise((resolve) => setImmediate(resolve))
      now = this.#now()
    }
    // Map iterators stay valid while the map changes between slices: deleted keys are skipped,
    // keys re-set by a get/write/touch are visited again at the end (harmless), and close()
    // (which clears the maps) ends the loops.
    for (const [key, entry] of this.#sessions) {
      if (entry.expiresAt <= now) {
        this.#remove(key, entry)
        deleted++
      }
      await slice()
    }
    for (const [key, counter] of this.#counters) {
      if (counter.resetAt <= now) {
        this.#counters.delete(key)
        deleted++
      }
      await slice()
    }
    return deleted
  }

  #open(): void {
    if (this.#closed) throw new StoreError(ErrorCodes.STORE_UNAVAILABLE, 'MemoryStore is closed')
  }

  /** The entry under `key` if live; an expired one is deleted on the spot. */
  #live(key: string): Entry | undefined {
    const entry = this.#sessions.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt > this.#now()) return entry
    this.#remove(key, entry)
    return undefined
  }

  /** Mark `key` most recently used: move it to the end of the map's order. */
  #bump(key: string, entry: Entry): void {
    this.#sessions.delete(key)
    this.#sessions.set(key, entry)
  }

  #evictOldest(): void {
    const first = this.#sessions.entries().next()
    /* c8 ignore next -- only called when size >= maxSessions >= 1, so there is a first entry */
    if (first.done !== true) this.#remove(...first.value)
  }

  #remove(key: string, entry: Entry): void {
    this.#sessions.delete(key)
    if (entry.userId !== null) this.#unindex(entry.userId, key)
  }

  #index(userId: string, key: string): void {
    const keys = this.#users.get(userId)
    if (keys === undefined) this.#users.set(userId, new Set([key]))
    else keys.add(key)
  }

  #unindex(userId: string, key: string): void {
    const keys = this.#users.get(userId)
    /* c8 ignore next -- every indexed entry's userId has a set; the guard only satisfies types */
    if (keys === undefined) return
    keys.delete(key)
    if (keys.size === 0) this.#users.delete(userId)
  }
}

/** A fresh plain object, so a caller can never mutate the stored entry. */
function copy(e: Entry): SessionRecord {
  return {
    version: e.version,
    data: e.data,
    createdAt: e.createdAt,
    lastSeenAt: e.lastSeenAt,
    expiresAt: e.expiresAt,
    absoluteExpiresAt: e.absoluteExpiresAt,
    remember: e.remember,
    userId: e.userId,
    handle: e.handle,
    userAgent: e.userAgent,
    ip: e.ip,
    credentialVersion: e.credentialVersion,
  }
}
