/**
 * An in-process {@link Store}: one `Map` keyed by storage key, bounded in size, swept in slices.
 *
 * For one process only: sessions die with the process and are not shared between instances (use
 * the Redis store for that). Unlike express-session's MemoryStore, which grows without bound and
 * never deletes expired sessions on its own (expressjs/session#556), this one has a hard cap, an
 * eviction policy and a sweeper.
 */
import { ErrorCodes, StoreError } from '../errors.js'
import { MAX_TIMER_MS } from '../limits.js'
import { functionOption, integerOption, objectOption } from '../option-check.js'
import type { ConsumeResult, CounterLimit, IndexedSession, SessionLimit, SessionRecord, SessionUpdate, Store, WriteResult } from '../store.js'

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
   * Most anonymous sessions (no `userId`) held at once, within `maxSessions`. Anonymous sessions
   * are created by anyone, without credentials, so they get their own budget and are evicted
   * first: a new anonymous session evicts the least recently written *anonymous* one, and a
   * session bound to a user makes room by evicting anonymous sessions before any logged-in one.
   * An anonymous flood therefore never logs anyone out; if the store is full of logged-in
   * sessions, a new anonymous one is refused with `ERR_STORE_FULL` (503). Default: half of
   * `maxSessions`.
   */
  maxAnonymousSessions?: number
  /**
   * Most rate-limit counters held at once (about 0.2 KB each, so 20 MB at the default). To make
   * room for a new counter the store drops expired ones, then evicts the oldest counter that is
   * *below* its limit; a counter at its limit ({@link MemoryStore.consume}) is never evicted, so
   * no flood can lift a lock. When every counter is at its limit, creating one more rejects with
   * `ERR_STORE_FULL` (the login answers 503) until windows end. Default: `100_000`.
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
    public readonly authenticatedAt: number | null,
  ) {}
}

/**
 * A fixed-window counter: `count` hits in the window that ends at `resetAt`; `limit` is the last
 * limit {@link MemoryStore.consume} checked it against (Infinity for plain {@link MemoryStore.hit}).
 */
class Counter {
  constructor(
    public count: number,
    public readonly resetAt: number,
    public limit: number,
  ) {}
}

/**
 * In-memory store.
 *
 * - **Eviction (approximate LRU).** The map's insertion order is its recency order: every create,
 *   write and touch deletes and re-sets its key (O(1)), so the first key is the least recently
 *   *written*. Reads do not bump (that would cost two Map operations per request); since the
 *   session engine touches an active session at least once per `touchIntervalMs`, "least recently
 *   written" trails "least recently used" by at most that interval.
 *   When `maxSessions` is reached, `create` evicts that one (and its user-index entry), taking
 *   anonymous sessions before logged-in ones (see `maxAnonymousSessions`). Idle sessions go
 *   first; the cap is a memory safeguard, so size it above your live sessions.
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
  readonly #maxAnonymous: number
  readonly #maxCounters: number
  readonly #now: () => number
  readonly #sessions = new Map<string, Entry>()
  /** Keys of the anonymous sessions (userId null), in the same recency order as #sessions. */
  readonly #anonymous = new Set<string>()
  /** userId → storage keys. Kept exact on every removal, so it can never leak. */
  readonly #users = new Map<string, Set<string>>()
  /** Counters below their limit, in order of creation: the first is evicted for room. */
  readonly #counters = new Map<string, Counter>()
  /** Counters at their limit (a lock in force): never evicted, only expired or given back. */
  readonly #locked = new Map<string, Counter>()
  /** When #makeRoom last scanned #locked for expired counters. */
  #lockScanAt = -Infinity
  #timer: NodeJS.Timeout | undefined
  #sweeping: Promise<number> | undefined
  #closed = false

  constructor(options: MemoryStoreOptions = {}) {
    objectOption('options', options)
    const o = options
    this.#maxSessions = integerOption('maxSessions', o.maxSessions, 100_000, 1, MAX_SAFE)
    const halfSessions = Math.max(1, Math.floor(this.#maxSessions / 2))
    this.#maxAnonymous = integerOption('maxAnonymousSessions', o.maxAnonymousSessions, halfSessions, 1, MAX_SAFE)
    this.#maxCounters = integerOption('maxCounters', o.maxCounters, 100_000, 1, MAX_SAFE)
    const intervalMs = integerOption('sweepIntervalMs', o.sweepIntervalMs, 60_000, 1, MAX_TIMER_MS)
    this.#now = functionOption('now', o.now, Date.now)
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

  async create(key: string, record: SessionRecord, limit?: SessionLimit): Promise<boolean | 'refused'> {
    this.#open()
    if (this.#live(key) !== undefined) return false
    // Already expired: storing it would only take a slot (and maybe evict a live session).
    if (record.expiresAt <= this.#now()) return true
    // The per-user cap is checked and applied in the same synchronous stretch as the insert below:
    // the event loop is this store's lock, so concurrent creates for one user cannot overshoot.
    if (limit !== undefined && record.userId !== null && !this.#admit(record.userId, limit)) return 'refused'
    const anonymous = record.userId === null
    if (anonymous && this.#anonymous.size >= this.#maxAnonymous) this.#evictFirst(this.#anonymous)
    if (this.#sessions.size >= this.#maxSessions) {
      // Anonymous sessions go first; an anonymous one never makes room by logging someone out.
      if (this.#anonymous.size > 0) this.#evictFirst(this.#anonymous)
      else if (anonymous) throw new StoreError(ErrorCodes.STORE_FULL, `MemoryStore holds maxSessions (${this.#maxSessions}) logged-in sessions`)
      else this.#evictFirst(this.#sessions.keys())
    }
    const r = record
    const entry = new Entry(r.version, r.data, r.createdAt, r.lastSeenAt, r.expiresAt,
      r.absoluteExpiresAt, r.remember, r.userId, r.handle, r.userAgent, r.ip, r.credentialVersion, r.authenticatedAt)
    this.#sessions.set(key, entry)
    if (entry.userId !== null) this.#index(entry.userId, key)
    else this.#anonymous.add(key)
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
      if (update.userId === null) this.#anonymous.add(key)
      else this.#anonymous.delete(key)
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
    const counter = this.#counter(key, now)
    if (counter !== undefined) {
      counter.count = Math.max(0, counter.count + increment)
      if (counter.count === 0) {
        // Given back to nothing: the counter goes, so successful logins leave no trace.
        this.#dropCounter(key)
        return { count: 0, resetMs: 0 }
      }
      this.#file(key, counter)
      return { count: counter.count, resetMs: counter.resetAt - now }
    }
    // A read-only peek (or a give-back) never opens a window.
    if (increment <= 0) return { count: 0, resetMs: 0 }
    this.#makeRoom(1, now, [])
    this.#counters.set(key, new Counter(increment, now + windowMs, Infinity))
    return { count: increment, resetMs: windowMs }
  }

  async consume(counters: readonly CounterLimit[]): Promise<ConsumeResult> {
    this.#open()
    const now = this.#now()
    // Check every counter first, change nothing until all agree: one synchronous stretch (no
    // await), so no other call interleaves and the check and the increments are one step.
    const found = counters.map((c) => this.#counter(c.key, now))
    let blocked = -1
    let waitMs = -1
    found.forEach((counter, i) => {
      if (counter !== undefined && counter.count >= (counters[i] as CounterLimit).limit && counter.resetAt - now > waitMs) {
        blocked = i
        waitMs = counter.resetAt - now
      }
    })
    if (blocked !== -1) return { allowed: false, blocked, resetMs: waitMs }
    const missing = found.filter((c) => c === undefined).length
    if (missing > 0) this.#makeRoom(missing, now, counters.map((c) => c.key))
    counters.forEach(({ key, limit, windowMs }, i) => {
      const counter = found[i] ?? new Counter(0, now + windowMs, limit)
      counter.count++
      counter.limit = limit
      this.#file(key, counter)
    })
    return { allowed: true }
  }

  async resetHits(key: string): Promise<void> {
    this.#open()
    this.#dropCounter(key)
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
    this.#anonymous.clear()
    this.#users.clear()
    this.#counters.clear()
    this.#locked.clear()
  }

  /** Sizes of the internal maps (expired-but-unswept records included). */
  stats(): MemoryStoreStats {
    return { sessions: this.#sessions.size, users: this.#users.size, counters: this.#counters.size + this.#locked.size }
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
    for (const map of [this.#counters, this.#locked]) {
      for (const [key, counter] of map) {
        if (counter.resetAt <= now) {
          map.delete(key)
          deleted++
        }
        await slice()
      }
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

  /** The live counter under `key` (in either map); an expired one is deleted on the spot. */
  #counter(key: string, now: number): Counter | undefined {
    const counter = this.#counters.get(key) ?? this.#locked.get(key)
    if (counter === undefined || counter.resetAt > now) return counter
    this.#dropCounter(key)
    return undefined
  }

  #dropCounter(key: string): void {
    if (!this.#counters.delete(key)) this.#locked.delete(key)
  }

  /** Put `counter` in the map its count says: locked at its limit, else evictable. */
  #file(key: string, counter: Counter): void {
    const locked = counter.count >= counter.limit
    const [to, from] = locked ? [this.#locked, this.#counters] : [this.#counters, this.#locked]
    // Moving only: a counter staying in its map keeps its place (order of creation).
    if (from.delete(key) || !to.has(key)) to.set(key, counter)
  }

  /**
   * Room for `needed` new counters within maxCounters: evict the oldest counters below their
   * limit (never one of `keep`, the keys being counted now); if that is not enough, drop expired
   * locks. Counters at their limit are never evicted: if only live locks remain, reject with
   * `ERR_STORE_FULL` and change nothing.
   */
  #makeRoom(needed: number, now: number, keep: readonly string[]): void {
    const excess = this.#counters.size + this.#locked.size + needed - this.#maxCounters
    if (excess <= 0) return
    const victims: string[] = []
    for (const key of this.#counters.keys()) {
      if (victims.length === excess) break
      if (!keep.includes(key)) victims.push(key)
    }
    // Expired locks: a full scan, at most once a second, so a flood that keeps hitting this
    // path cannot make every request pay O(maxCounters).
    if (victims.length < excess && now - this.#lockScanAt >= 1000) {
      this.#lockScanAt = now
      for (const [key, counter] of this.#locked) if (counter.resetAt <= now) this.#locked.delete(key)
    }
    const stillExcess = this.#counters.size + this.#locked.size + needed - this.#maxCounters
    if (victims.length < stillExcess) {
      throw new StoreError(ErrorCodes.STORE_FULL, `MemoryStore holds maxCounters (${this.#maxCounters}) counters at their limit`)
    }
    for (const key of victims.slice(0, Math.max(0, stillExcess))) this.#counters.delete(key)
  }

  /** Mark `key` most recently used: move it to the end of the map's order. */
  #bump(key: string, entry: Entry): void {
    this.#sessions.delete(key)
    this.#sessions.set(key, entry)
    if (entry.userId === null) {
      this.#anonymous.delete(key)
      this.#anonymous.add(key)
    }
  }

  /** Evict the first (least recently written) session among `keys`, which is never empty. */
  #evictFirst(keys: Iterable<string>): void {
    const key = keys[Symbol.iterator]().next().value as string
    this.#remove(key, this.#sessions.get(key) as Entry)
  }

  /**
   * Make room for one more session of `userId` under `limit`: false if the policy refuses, else
   * true after ending the least recently used sessions beyond `max - 1`. Synchronous (atomic).
   */
  #admit(userId: string, limit: SessionLimit): boolean {
    const live: Array<[string, Entry]> = []
    for (const key of this.#users.get(userId) ?? []) {
      const entry = key === limit.replacing ? undefined : this.#live(key)
      if (entry !== undefined) live.push([key, entry])
    }
    const excess = live.length - limit.max + 1
    if (excess <= 0) return true
    if (limit.policy === 'refuse') return false
    live.sort(([, a], [, b]) => a.lastSeenAt - b.lastSeenAt)
    const evicted = live.slice(0, excess)
    for (const [key, entry] of evicted) this.#remove(key, entry)
    limit.onEvicted?.(evicted.map(([, entry]) => entry.handle))
    return true
  }

  #remove(key: string, entry: Entry): void {
    this.#sessions.delete(key)
    if (entry.userId !== null) this.#unindex(entry.userId, key)
    else this.#anonymous.delete(key)
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
    authenticatedAt: e.authenticatedAt,
  }
}
