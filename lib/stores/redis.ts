/**
 * A {@link Store} on Redis (one node or Redis Cluster) through ioredis, so sessions are shared by
 * every instance of the app and survive app restarts.
 *
 * Key layout (`prefix` defaults to `sk:`):
 *
 * | key                      | type   | holds                                                        |
 * |--------------------------|--------|--------------------------------------------------------------|
 * | `${prefix}s:${key}`      | hash   | one session: fields v d c l e a r u h ua ip cv at (redis-scripts.ts) |
 * | `${prefix}u:{${userId}}` | hash   | one user's index: handle → `"<added ms>:<storage key>"`       |
 * | `${prefix}h:${key}`      | string | a rate-limit counter ({@link RedisStore.consume}, `hit`)     |
 *
 * `key` is the storage key (SHA-256 of the session ID, lib/id.ts), never the ID itself. Every key
 * carries a TTL, so Redis deletes expired records on its own: nothing here ever enumerates keys
 * (no SCAN, no KEYS, which block a busy server and do not span a Cluster).
 *
 * **The user index on Cluster.** A session and its user's index hash to different slots, so no
 * script can update both at once. They are updated by separate commands, ordered so that a crash
 * between the two leaves at worst a stale index entry, never a session missing from its user's
 * index (which `destroyByUser`, "log out everywhere", would miss): the entry is added *before* the
 * session is created or bound to the user, and removed *after* the session is deleted or unbound.
 * Stale entries are pruned lazily by {@link RedisStore.listByUser}. The `{…}` hash tag pins
 * everything per user to one slot, should a user ever need more than one key. The index hash
 * lives as long as the longest `absoluteExpiresAt` among its sessions.
 *
 * **Nothing hangs.** ioredis queues commands while disconnected and by default retries them for a
 * long time; a session lookup must instead fail fast (503) and recover by itself. See
 * {@link RedisStoreOptions.commandTimeoutMs}.
 *
 * **Reads from memory.** With the client cache (on by default, on one node, Sentinel and Cluster,
 * {@link RedisStoreOptions.clientCache}), `get` answers from process memory what it read before,
 * and Redis itself reports every change of those keys (lib/stores/redis-tracking.ts; on Cluster,
 * each master reports the keys of its slots). What another process sees, and when: a write, touch
 * or destroy here drops the local entry as soon as it settles; in every other process Redis's
 * invalidation message drops it a moment later (well under 50 ms; test/stores/redis-cache.ts and
 * test/stores/redis-cluster.ts measure the worst case). Only `get` uses the cache: `listByUser`
 * and `destroyByUser` always read Redis.
 */
import { Cluster, Redis } from 'ioredis'
import { ErrorCodes, StoreError } from '../errors.js'
import { MAX_TIMER_MS } from '../limits.js'
import { functionOption, integerOption, objectOption, optionError } from '../option-check.js'
import { redactCredentials } from '../redact.js'
import type { ConsumeResult, CounterLimit, IndexedSession, SessionLimit, SessionRecord, SessionUpdate, Store, WriteResult } from '../store.js'
import { SCRIPTS, type ScriptCommands } from './redis-scripts.js'
import { RedisTracking, type Loader, type TrackingStats } from './redis-tracking.js'

/** A node to start Cluster discovery from. */
export interface ClusterNodeAddress {
  host: string
  port: number
}

/**
 * Redis Sentinel: where to ask for the current master of `name`. The names are ioredis's own
 * (`sentinels`, `name`, `sentinelUsername`, `sentinelPassword`, `username`, `password`, `db`).
 */
export interface RedisSentinelOptions {
  /** Some sentinels of the deployment (ioredis learns the others from them). */
  sentinels: readonly ClusterNodeAddress[]
  /** The master's name in the sentinels' configuration (`sentinel monitor <name> …`). */
  name: string
  /** ACL user and password for the sentinels themselves (`requirepass` in sentinel.conf). */
  sentinelUsername?: string
  sentinelPassword?: string
  /** ACL user and password for the master (and replicas). */
  username?: string
  password?: string
  /** Database number. Default: 0. */
  db?: number
}

/** Options of the store's client-side cache (see {@link RedisStoreOptions.clientCache}). */
export interface RedisClientCacheOptions {
  /** Most session records kept in memory (LRU). Default: `10_000`. */
  maxEntries?: number
  /** Staleness bound when a connection hangs instead of closing (RedisTracking's `leaseMs`). Default: `1000`. */
  leaseMs?: number
}

/**
 * Options of {@link RedisStore}. Give exactly one of `client`, `url`, `clusterNodes`, `sentinel`.
 * Anything more specific (TLS settings, Cluster passwords) → build the ioredis client yourself
 * and pass it as `client`.
 */
export interface RedisStoreOptions {
  /**
   * An ioredis `Redis` or `Cluster` you created. The store uses it as configured (give it a
   * `commandTimeout`; the store's own deadline applies anyway), defines its Lua scripts on it as
   * `sessionkit*` commands, attaches an `error` listener, and never closes it:
   * {@link RedisStore.close} leaves it open. Default: none.
   */
  client?: Redis | Cluster
  /**
   * `redis://[[user]:password@]host[:port][/db]` or `rediss://…` (TLS). The store creates the
   * client (auto-pipelining on), owns it, and quits it on close(). Default: none.
   */
  url?: string
  /**
   * Some nodes of a Redis Cluster (the rest are discovered). The store creates and owns a
   * `Cluster` client (auto-pipelining off, see makeClient). Default: none.
   */
  clusterNodes?: readonly ClusterNodeAddress[]
  /**
   * Redis Sentinel (high availability without Cluster): the store creates and owns a client that
   * asks the sentinels for the master, follows failovers (ioredis's `failoverDetector`) and
   * reconnects on a READONLY reply from a demoted master. During a failover every operation
   * fails fast (503) until the new master answers. What a failover can lose: Redis replicates
   * asynchronously, so a write the old master acknowledged but had not yet sent to the promoted
   * replica is gone (a login, logout or cart change of the last moments before the crash; a lost
   * logout means the session is still valid). `WAIT 1 <ms>` after each write would close that
   * window at the price of a replica round trip per write; the store does not issue it. Default: none.
   */
  sentinel?: RedisSentinelOptions
  /**
   * Keep session records read in memory, kept coherent by Redis itself (`CLIENT TRACKING`, see
   * lib/stores/redis-tracking.ts): a read served from memory costs no round trip, and a change
   * made by any process (logout, revocation, write, touch, expiry) reaches every other process
   * in well under 50 ms (test/stores/redis-cache.ts measures it). Writes still go to Redis with
   * compare-and-set; every read still checks the idle and absolute clocks; an entry never
   * outlives its record's `expiresAt`. Costs two more connections per store (on Cluster, two per
   * master: each read goes to the master owning its slot; a failover, a slot migration or a MOVED
   * flushes the cache). `false` turns it off. On by default on one node, Sentinel and Cluster.
   * Default: `{ maxEntries: 10_000 }`.
   */
  clientCache?: false | RedisClientCacheOptions
  /**
   * Prefix of every key the store writes, so several apps can share one Redis. No `{` or `}`: they
   * would change which Cluster slot keys hash to. Default: `'sk:'`.
   */
  prefix?: string
  /**
   * Longest wait for one store operation, in ms; past it the operation rejects with
   * `ERR_STORE_TIMEOUT` (the engine answers 503) instead of hanging the request. Also the
   * `commandTimeout` of a client the store creates. Default: `1000`.
   */
  commandTimeoutMs?: number
  /**
   * Called with every `error` event of the client (connection refused, reset…), which ioredis
   * emits on each reconnect attempt while Redis is down. Default: one line to stderr at most every
   * 30 s, with the count of errors not printed.
   */
  onClientError?: (err: Error) => void
}

type Client = (Redis | Cluster) & ScriptCommands

/** The session hash's fields (v d c l e a r u h ua ip cv at), as the get script answers them. */
type Row = [string, string, string, string, string, string, string, string, string, string, string, string, string]

/**
 * listByUser never prunes an index entry younger than this (by Redis's clock). `create` and a
 * write that binds a user add the entry *before* the session exists or is bound; a listByUser
 * running in between would see it dead, and pruning it would leave that session out of the index
 * for good. The gap is one command, normally well under `commandTimeoutMs`; a minute also covers a
 * command that timed out here but still runs when a stalled server resumes.
 */
export const INDEX_PRUNE_GRACE_MS = 60_000
/**
 * For this long after a change by this process, a session is read from Redis, not memory (see
 * RedisStore's #changing): concurrent writers on one session retry within milliseconds.
 */
export const RECENT_CHANGE_MS = 100
/** How long close() lets QUIT drain in-flight replies before it cuts the connection. */
const QUIT_WAIT_MS = 1000

/** Reconnect forever, backing off exponentially up to 1 s (ioredis's default caps at 5 s). */
const retryStrategy = (times: number): number => Math.min(50 * 2 ** times, 1000)

/**
 * The Redis store. See the module comment for the key layout and the failure model; every
 * rejection is a {@link StoreError} with the ioredis error as `cause`.
 */
export class RedisStore implements Store {
  readonly kind = 'redis'
  /** Every operation runs under {@link RedisStore.#run}'s deadline (`commandTimeoutMs`). */
  readonly selfTimed = true

  readonly #client: Client
  readonly #owned: boolean
  /** A Cluster client: multi-key scripts must stay within one slot. */
  readonly #cluster: boolean
  readonly #prefix: string
  readonly #timeoutMs: number
  readonly #onError: (err: Error) => void
  /** The client-side cache of session records (undefined: off). */
  readonly #cache: RedisTracking<SessionRecord> | undefined
  /** Session keys with a change of this process in flight → how many (see #changing). */
  readonly #changes = new Map<string, number>()
  /** Session keys this process changed lately → until when they are read from Redis (#changing). */
  readonly #recent = new Map<string, number>()
  #closed = false
  #closing: Promise<void> | undefined

  constructor(options: RedisStoreOptions) {
    const o = resolveOptions(options)
    this.#prefix = o.prefix
    this.#timeoutMs = o.commandTimeoutMs
    this.#owned = o.client === undefined
    this.#client = (o.client ?? makeClient(o, o.commandTimeoutMs)) as Client
    this.#cluster = (this.#client as { isCluster?: boolean }).isCluster === true
    for (const [name, definition] of Object.entries(SCRIPTS)) this.#client.defineCommand(name, definition)
    // An EventEmitter throws on an 'error' event nobody listens to; a blip of the connection must
    // not crash the process, on our client or on yours.
    this.#onError = (err: Error) => o.onClientError(err)
    this.#client.on('error', this.#onError)
    if (o.clientCache !== false) {
      this.#cache = new RedisTracking<SessionRecord>({ client: this.#client, ...o.clientCache, onError: this.#onError })
      for (const [name, definition] of Object.entries(SCRIPTS)) this.#cache.defineCommand(name, definition)
    }
  }

  /**
   * The client-side cache's counters (hits, misses, bypassed reads, invalidations, flushes,
   * size), or `null` when it is off. For metrics and the benchmark's hit rate.
   */
  clientCacheStats(): TrackingStats | null {
    return this.#cache === undefined ? null : this.#cache.stats()
  }

  /**
   * The ioredis client in use: yours, or the one the store created (then leave closing it to
   * {@link RedisStore.close}). For health checks and tests; the store's keys are its own business.
   */
  get client(): Redis | Cluster {
    return this.#client
  }

  /** The key prefix (the user store shares it: lib/users/redis.ts). */
  get prefix(): string {
    return this.#prefix
  }

  get(key: string): Promise<SessionRecord | null> {
    const cache = this.#cache
    const sk = this.#sessionKey(key)
    if (cache === undefined || this.#changedLately(sk)) return this.#run('get', () => this.#read(key))
    // A hit costs no timer and no round trip; the engine still checks both clocks on the record.
    // A copy, as from every store: the caller may do what it likes with its object.
    const hit = this.#closed ? undefined : cache.peek(sk)
    if (hit !== undefined) return Promise.resolve({ ...hit })
    return this.#run('get', async () => {
      const record = await cache.get(sk, this.#load)
      return record === null ? null : { ...record }
    })
  }

  /** Fills the cache: the same script, on the tracking connection, so Redis tracks the key. */
  readonly #load: Loader<SessionRecord> = async (reader, sk) => {
    const record = parseRecord(await (reader as unknown as ScriptCommands).sessionkitGet(sk))
    // Frozen: one object is handed to every request that reads this session until it changes.
    return record === null ? null : { value: Object.freeze(record), expiresAt: record.expiresAt }
  }

  create(key: string, record: SessionRecord, limit?: SessionLimit): Promise<boolean | 'refused'> {
    return this.#run('create', async () => {
      const r = record
      if (limit !== undefined && r.userId !== null) return this.#createLimited(key, r, r.userId, limit)
      // Index first (see the module comment): a crash now leaves only a stale entry.
      if (r.userId !== null) await this.#index(r.userId, r.handle, key, r.absoluteExpiresAt)
      return this.#createRecord(key, r)
    })
  }

  async #createRecord(key: string, r: SessionRecord): Promise<boolean> {
    const sk = this.#sessionKey(key)
    const created = await this.#changing(sk, () => this.#client.sessionkitCreate(sk, ttlMs(r.expiresAt),
      String(r.version), r.data, String(r.createdAt), String(r.lastSeenAt), String(r.expiresAt),
      String(r.absoluteExpiresAt), r.remember ? '1' : '0', r.userId ?? '', r.handle, r.userAgent, r.ip,
      String(r.credentialVersion), r.authenticatedAt === null ? '' : String(r.authenticatedAt)))
    return Number(created) === 1
  }

  /**
   * Create under a per-user cap: read the user's sessions (to tell the script which index entries
   * are dead and how recently each live one was used), admit atomically on the index's slot
   * (INDEX_ADMIT in redis-scripts.ts), create the session, then destroy the evicted ones. The
   * admission is the index entry, added before the session exists, as every index add is. A
   * concurrent admit may evict this new entry before the session is created; checking the entry
   * afterwards and destroying the session if it is gone keeps "every live session is in its
   * user's index", hence at most `max` live sessions.
   */
  async #createLimited(key: string, r: SessionRecord, userId: string, limit: SessionLimit): Promise<boolean | 'refused'> {
    const indexKey = this.#userKey(userId)
    const { live, dead } = await this.#scan(userId)
    const seen: string[] = [...dead.flatMap(([handle, value]) => [handle, value, ''])]
    for (const s of live) seen.push(s.handle, s.value, String(s.record.lastSeenAt))
    const reply = await this.#client.sessionkitIndexAdmit(indexKey, r.handle, key,
      Math.max(1, ttlMs(r.absoluteExpiresAt)), limit.max, limit.policy, limit.replacing ?? '',
      INDEX_PRUNE_GRACE_MS, ...seen)
    if (reply[0] === 'refused') return 'refused'
    const [, value, ...pairs] = reply as [string, string, ...string[]]
    const evicted = pairs.filter((_, i) => i % 2 === 0)
    const [created] = await Promise.all([this.#createRecord(key, r), ...evicted.map((k) => this.#destroy(k))])
    if (evicted.length > 0) limit.onEvicted?.(pairs.filter((_, i) => i % 2 === 1))
    if (created && (await this.#client.hget(indexKey, r.handle)) !== value) await this.#destroy(key)
    return created
  }

  write(key: string, expectedVersion: number, update: SessionUpdate): Promise<WriteResult> {
    return this.#run('write', async () => {
      const u = update
      const args = [String(expectedVersion), ttlMs(u.expiresAt), u.data, String(u.lastSeenAt),
        String(u.expiresAt), u.remember ? '1' : '0', u.userId ?? '', String(u.credentialVersion)] as const
      const [version, ttl, ...rest] = args
      const sk = this.#sessionKey(key)
      let reply = await this.#changing(sk, () => this.#client.sessionkitWrite(sk, version, '0', ttl, ...rest))
      if (reply[0] === 'rebind') {
        // Binding to a new user: index the session under that user first, then write. The first
        // call changed nothing, so the compare-and-set still decides everything.
        await this.#index(u.userId as string, reply[1], key, Number(reply[2]))
        reply = await this.#changing(sk, () => this.#client.sessionkitWrite(sk, version, '1', ttl, ...rest))
      }
      if (reply[0] !== 'ok') return reply[0] as 'conflict' | 'missing'
      const [, oldUserId, handle] = reply
      // Unindex the previous user only after the session stopped being theirs.
      if (oldUserId !== '' && oldUserId !== (u.userId ?? '')) await this.#client.hdel(this.#userKey(oldUserId), handle)
      return 'ok'
    })
  }

  touch(key: string, lastSeenAt: number, expiresAt: number): Promise<boolean> {
    return this.#run('touch', async () => {
      const sk = this.#sessionKey(key)
      return Number(await this.#changing(sk, () => this.#client.sessionkitTouch(sk, ttlMs(expiresAt), String(lastSeenAt), String(expiresAt)))) === 1
    })
  }

  destroy(key: string): Promise<boolean> {
    return this.#run('destroy', () => this.#destroy(key))
  }

  listByUser(userId: string): Promise<IndexedSession[]> {
    return this.#run('listByUser', () => this.#list(userId))
  }

  destroyByUser(userId: string, exceptKey?: string): Promise<number> {
    return this.#run('destroyByUser', async () => {
      const doomed = (await this.#list(userId)).filter((s) => s.key !== exceptKey)
      const destroyed = await Promise.all(doomed.map((s) => this.#destroy(s.key)))
      return destroyed.filter(Boolean).length
    })
  }

  hit(key: string, windowMs: number, increment = 1): Promise<{ count: number; resetMs: number }> {
    return this.#run('hit', async () => {
      const window = Math.max(1, Math.ceil(windowMs))
      const [count, resetMs] = await this.#client.sessionkitHit(this.#hitKey(key), window, increment)
      // Number(): a client you pass may have `stringNumbers: true`.
      return { count: Number(count), resetMs: Number(resetMs) }
    })
  }

  consume(counters: readonly CounterLimit[]): Promise<ConsumeResult> {
    return this.#run('consume', async () => {
      const args = counters.map((c) => [c.limit, Math.max(1, Math.ceil(c.windowMs))])
      const keys = counters.map((c) => this.#hitKey(c.key))
      if (!this.#cluster) {
        // One script over every key: a single node has no slots to respect.
        const [blocked, resetMs] = await this.#client.sessionkitConsume(keys.length, ...keys, ...args.flat())
        return Number(blocked) === 0 ? { allowed: true } : { allowed: false, blocked: Number(blocked) - 1, resetMs: Number(resetMs) }
      }
      // Cluster: the counters hash to different slots, so one script per counter, in order; a
      // refusal gives back what the earlier ones took (which deletes any it created), so the
      // attempt never over-admits and, but for a racing attempt, leaves nothing behind. `blocked`
      // is then the first refusing counter, not the one that resets last.
      for (let i = 0; i < keys.length; i++) {
        const [blocked, resetMs] = await this.#client.sessionkitConsume(1, keys[i] as string, ...(args[i] as number[]))
        if (Number(blocked) !== 0) {
          await Promise.all(keys.slice(0, i).map((key, j) => this.#client.sessionkitHit(key, (args[j] as number[])[1] as number, -1)))
          return { allowed: false, blocked: i, resetMs: Number(resetMs) }
        }
      }
      return { allowed: true }
    })
  }

  resetHits(key: string): Promise<void> {
    return this.#run('resetHits', async () => {
      await this.#client.del(this.#hitKey(key))
    })
  }

  ping(): Promise<void> {
    return this.#run('ping', async () => {
      await this.#client.ping()
    })
  }

  /**
   * Close a client the store created (QUIT, cut after {@link QUIT_WAIT_MS} if Redis does not
   * answer; resolves once the connection is gone or that time is up); a client you passed stays
   * open, only the store's error listener is removed.
   * Idempotent; afterwards every method rejects with `ERR_STORE_UNAVAILABLE`.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  async #shutdown(): Promise<void> {
    this.#closed = true
    await this.#cache?.close()
    const client = this.#client
    if (!this.#owned) {
      client.off('error', this.#onError)
      return
    }
    let timer: NodeJS.Timeout | undefined
    // Not unref'd: a pending close() must keep the process alive until it settles (bounded by
    // QUIT_WAIT_MS), or a Cluster that never connected would leave close() forever unresolved.
    const late = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, QUIT_WAIT_MS)
    })
    // Our retryStrategy never gives up, so 'end' comes only from this close.
    const ended = new Promise<void>((resolve) => client.once('end', resolve as () => void))
    // allSettled: QUIT on a dead connection rejects; we disconnect either way (a no-op after a
    // clean QUIT). The error listener stays: a closing socket may still emit.
    await Promise.race([Promise.allSettled([client.quit()]), late])
    client.disconnect()
    await Promise.race([ended, late])
    clearTimeout(timer)
  }

  /**
   * Run one operation under the store's own deadline. A client you pass may have no
   * `commandTimeout`, and a Cluster queues commands without a timer while it (re)discovers slots;
   * this race bounds every operation, whatever the client. One timer per call, unref'd, cleared
   * when the operation settles.
   */
  async #run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreError(ErrorCodes.STORE_UNAVAILABLE, `RedisStore is closed (${op})`)
    const ms = this.#timeoutMs
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const cause = new Error(`no reply within ${ms} ms`)
        reject(new StoreError(ErrorCodes.STORE_TIMEOUT, `redis ${op} timed out after ${ms} ms`, { cause }))
      }, ms).unref()
    })
    let result: T
    try {
      result = await Promise.race([fn(), deadline])
    } catch (err) {
      clearTimeout(timer)
      throw toStoreError(op, err)
    }
    clearTimeout(timer)
    return result
  }

  /** One round trip: a script answers the whole record as one JSON array (see redis-scripts.ts). */
  async #read(key: string): Promise<SessionRecord | null> {
    return parseRecord(await this.#client.sessionkitGet(this.#sessionKey(key)))
  }

  /**
   * Send the command `send` makes, which changes the session key `sk`. Once it settles, whatever
   * the outcome (a timed-out command may still run), the cached record is dropped, with whatever
   * a read racing the change brought in; Redis's invalidation tells the other processes.
   *
   * While the change is on its way, and for {@link RECENT_CHANGE_MS} after, `get` of `sk` reads
   * Redis on the connection the changes use, never memory or the cache's own connection: a
   * record read there could be older than a change already sent (two connections are not
   * ordered), and a write with its version is a needless conflict. Eight concurrent writers on
   * one session showed it as a retry budget used up. Nothing is lost: right after a change the
   * record is not in memory anyway.
   */
  #changing<T>(sk: string, send: () => Promise<T>): Promise<T> {
    const cache = this.#cache
    if (cache === undefined) return send()
    cache.invalidate(sk)
    this.#changes.set(sk, (this.#changes.get(sk) ?? 0) + 1)
    return send().finally(() => {
      const left = (this.#changes.get(sk) as number) - 1
      if (left > 0) this.#changes.set(sk, left)
      else this.#changes.delete(sk)
      cache.invalidate(sk)
      const now = Date.now()
      // Re-inserted last: the map stays in the order of these deadlines, so the expired ones are
      // always at the front and pruning stops at the first live one.
      this.#recent.delete(sk)
      this.#recent.set(sk, now + RECENT_CHANGE_MS)
      for (const [key, until] of this.#recent) {
        if (until > now) break
        this.#recent.delete(key)
      }
    })
  }

  /** True while `sk` has a change of this process on its way or just made (see #changing). */
  #changedLately(sk: string): boolean {
    if (this.#changes.has(sk)) return true
    const until = this.#recent.get(sk)
    return until !== undefined && until > Date.now()
  }

  async #destroy(key: string): Promise<boolean> {
    const sk = this.#sessionKey(key)
    const gone = await this.#changing(sk, () => this.#client.sessionkitDestroy(sk))
    if (gone === null) return false
    const [userId, handle] = gone
    // After the DEL (see the module comment).
    if (userId !== '') await this.#client.hdel(this.#userKey(userId), handle)
    return true
  }

  /**
   * HGETALL the index, read every session it names (one round trip with auto-pipelining; one per
   * node on Cluster), keep those still live and still this user's under that handle, and prune the
   * rest (if older than {@link INDEX_PRUNE_GRACE_MS}).
   */
  async #list(userId: string): Promise<IndexedSession[]> {
    const { live, dead } = await this.#scan(userId)
    if (dead.length > 0) await this.#client.sessionkitIndexPrune(this.#userKey(userId), INDEX_PRUNE_GRACE_MS, ...dead.flat())
    return live.map(({ key, record }) => ({ key, record })).sort((x, y) => x.record.createdAt - y.record.createdAt)
  }

  /** The user's index entries, split into live sessions (still this user's, same handle) and dead entries. */
  async #scan(userId: string): Promise<{ live: Array<IndexedSession & { handle: string; value: string }>; dead: Array<[string, string]> }> {
    const entries = Object.entries(await this.#client.hgetall(this.#userKey(userId)))
    const records = await Promise.all(entries.map(([, value]) => this.#read(storageKeyOf(value))))
    const live: Array<IndexedSession & { handle: string; value: string }> = []
    const dead: Array<[string, string]> = []
    entries.forEach(([handle, value], i) => {
      const record = records[i]
      if (record != null && record.userId === userId && record.handle === handle) {
        live.push({ key: storageKeyOf(value), record, handle, value })
      } else {
        dead.push([handle, value])
      }
    })
    return { live, dead }
  }

  #index(userId: string, handle: string, key: string, absoluteExpiresAt: number): Promise<number> {
    const ttl = Math.max(1, ttlMs(absoluteExpiresAt))
    return this.#client.sessionkitIndexAdd(this.#userKey(userId), handle, key, ttl)
  }

  #sessionKey(key: string): string {
    return `${this.#prefix}s:${key}`
  }

  #userKey(userId: string): string {
    return `${this.#prefix}u:{${userId}}`
  }

  #hitKey(key: string): string {
    return `${this.#prefix}h:${key}`
  }
}

/** The get script's answer (one JSON array, or null) as a record; null if missing or expired. */
function parseRecord(packed: string | null): SessionRecord | null {
  if (packed === null) return null
  const [v, d, c, l, e, a, r, u, h, ua, ip, cv, at] = JSON.parse(packed) as Row
  // PEXPIRE is set from our clock a moment before Redis runs it, so the key can outlive
  // expiresAt by that moment; the contract wants nothing past expiresAt by our clock.
  if (Number(e) <= Date.now()) return null
  return {
    version: Number(v),
    data: d,
    createdAt: Number(c),
    lastSeenAt: Number(l),
    expiresAt: Number(e),
    absoluteExpiresAt: Number(a),
    remember: r === '1',
    userId: u === '' ? null : u,
    handle: h,
    userAgent: ua,
    ip,
    credentialVersion: Number(cv),
    authenticatedAt: at === '' ? null : Number(at),
  }
}

/** Milliseconds from now until `at` (may be ≤ 0: the scripts then store nothing / delete). */
function ttlMs(at: number): number {
  return Math.ceil(at - Date.now())
}

/** Index values are `"<added ms>:<storage key>"` (redis-scripts.ts, INDEX_ADD). */
function storageKeyOf(value: string): string {
  return value.slice(value.indexOf(':') + 1)
}

function toStoreError(op: string, err: unknown): StoreError {
  if (err instanceof StoreError) return err
  // ioredis's own commandTimeout rejects with this message (Command.ts); it has no error class.
  const timedOut = err instanceof Error && err.message === 'Command timed out'
  const code = timedOut ? ErrorCodes.STORE_TIMEOUT : ErrorCodes.STORE_UNAVAILABLE
  return new StoreError(code, `redis ${op} failed: ${redactCredentials(String(err))}`, { cause: err })
}

/**
 * The client the store owns. Both kinds fail fast: `commandTimeout` rejects a command Redis does
 * not answer (a stopped or overloaded server), `maxRetriesPerRequest: 1` flushes the offline queue
 * after one reconnect attempt instead of 20 (ioredis's default, ~10 s or more), and the offline
 * queue stays on so commands issued during a reconnect still go out once it succeeds.
 */
function makeClient(o: Resolved, timeoutMs: number): Redis | Cluster {
  const common = { commandTimeout: timeoutMs, maxRetriesPerRequest: 1 }
  if (o.clusterNodes !== undefined) {
    // No enableAutoPipelining on Cluster: ioredis groups auto-pipelines by slot owner and has had
    // bugs there for years ("All keys in the pipeline should belong to the same slots allocation
    // group", redis/ioredis#1248, #2109 for EVALSHA); a failed pipeline fails every command in it.
    return new Cluster([...o.clusterNodes], {
      clusterRetryStrategy: retryStrategy,
      slotsRefreshTimeout: timeoutMs,
      redisOptions: common,
    })
  }
  // Auto-pipelining sends all commands issued in one event-loop tick as one write, which is what
  // makes listByUser's N reads one round trip.
  const fast = { ...common, retryStrategy, enableAutoPipelining: true }
  if (o.sentinel !== undefined) {
    const { sentinels, ...rest } = o.sentinel
    return new Redis({
      ...fast,
      ...rest,
      sentinels: sentinels.map(({ host, port }) => ({ host, port })),
      sentinelRetryStrategy: retryStrategy,
      // Told by the sentinels (+switch-master) instead of waiting for the old master to fail.
      failoverDetector: true,
      reconnectOnError: reconnectOnReadonly,
    })
  }
  return new Redis(o.url as string, fast)
}

/**
 * A demoted master (Sentinel) answers writes with READONLY: reconnect, which asks the sentinels
 * for the master again (ioredis `reconnectOnError`). Exported for tests.
 */
export function reconnectOnReadonly(err: Error): boolean {
  return err.message.startsWith('READONLY')
}

/** How often the default `onClientError` prints (a down Redis errors on every reconnect). */
export const ERROR_LOG_INTERVAL_MS = 30_000

interface Resolved {
  client: Redis | Cluster | undefined
  url: string | undefined
  clusterNodes: readonly ClusterNodeAddress[] | undefined
  sentinel: RedisSentinelOptions | undefined
  clientCache: false | RedisClientCacheOptions
  prefix: string
  commandTimeoutMs: number
  onClientError: (err: Error) => void
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null

/**
 * Validate every option, naming it in the TypeError. The connection options' values are not
 * echoed: a URL, or a node list, may hold a password.
 */
function resolveOptions(options: RedisStoreOptions): Resolved {
  objectOption('options', options)
  const { client, url, clusterNodes, sentinel, clientCache, prefix = 'sk:' } = options
  const given = [client, url, clusterNodes, sentinel].filter((x) => x !== undefined).length
  if (given !== 1) throw optionError('client/url/clusterNodes/sentinel', `must be exactly one, got ${given}`)
  if (client !== undefined && !isClient(client)) throw optionError('client', 'must be an ioredis Redis or Cluster')
  if (url !== undefined && !isRedisUrl(url)) throw optionError('url', 'must be a redis:// or rediss:// URL')
  if (clusterNodes !== undefined && !(Array.isArray(clusterNodes) && clusterNodes.length > 0 && clusterNodes.every(isNode))) {
    throw optionError('clusterNodes', 'must be a non-empty array of { host: string, port: 1..65535 }')
  }
  if (typeof prefix !== 'string' || prefix === '' || /[{}]/.test(prefix)) {
    throw optionError('prefix', 'must be a non-empty string without { or }')
  }
  const ms = integerOption('commandTimeoutMs', options.commandTimeoutMs, 1000, 1, MAX_TIMER_MS)
  if (sentinel !== undefined) checkSentinel(sentinel)
  const log = functionOption('onClientError', options.onClientError,
    throttledErrorLog(ERROR_LOG_INTERVAL_MS, process.stderr.write.bind(process.stderr), Date.now))
  const cache = resolveCache(clientCache)
  return { client, url, clusterNodes, sentinel, clientCache: cache, prefix, commandTimeoutMs: ms, onClientError: log }
}

function checkSentinel(sentinel: unknown): void {
  objectOption('sentinel', sentinel)
  const { sentinels, name, db } = sentinel as Record<string, unknown>
  if (!(Array.isArray(sentinels) && sentinels.length > 0 && sentinels.every(isNode))) {
    throw optionError('sentinel.sentinels', 'must be a non-empty array of { host: string, port: 1..65535 }')
  }
  if (typeof name !== 'string' || name === '') throw optionError('sentinel.name', 'must be a non-empty string')
  for (const key of ['sentinelUsername', 'sentinelPassword', 'username', 'password'] as const) {
    // Not echoed: a password.
    const value = (sentinel as Record<string, unknown>)[key]
    if (value !== undefined && typeof value !== 'string') throw optionError(`sentinel.${key}`, 'must be a string')
  }
  integerOption('sentinel.db', db, 0, 0, Number.MAX_SAFE_INTEGER)
}

/** `clientCache`: off when asked, else on with these bounds (one node, Sentinel and Cluster alike). */
function resolveCache(clientCache: unknown): false | RedisClientCacheOptions {
  if (clientCache === false) return false
  if (clientCache !== undefined && !isObject(clientCache)) throw optionError('clientCache', 'must be false or an object')
  const given = (clientCache ?? {}) as RedisClientCacheOptions
  // Checked here, before any connection exists (RedisTracking checks them again, the same way).
  const maxEntries = integerOption('clientCache.maxEntries', given.maxEntries, 10_000, 1, Number.MAX_SAFE_INTEGER)
  const leaseMs = integerOption('clientCache.leaseMs', given.leaseMs, 1000, 4, MAX_TIMER_MS)
  return { maxEntries, leaseMs }
}

function isClient(client: unknown): boolean {
  return isObject(client) && typeof client.defineCommand === 'function' && typeof client.on === 'function'
}

function isRedisUrl(url: unknown): boolean {
  if (typeof url !== 'string' || !URL.canParse(url)) return false
  const { protocol } = new URL(url)
  return protocol === 'redis:' || protocol === 'rediss:'
}

function isNode(node: unknown): boolean {
  if (!isObject(node)) return false
  const { host, port } = node
  return typeof host === 'string' && host !== '' && Number.isInteger(port) && (port as number) >= 1 && (port as number) <= 65535
}

/**
 * The default `onClientError`: print the first error, then at most one line per `intervalMs` with
 * how many were swallowed since, so a Redis outage does not flood the logs (ioredis emits one error
 * per reconnect attempt). `source` names the connection in the line. Exported for tests and for the
 * server's user cache.
 */
export function throttledErrorLog(intervalMs: number, write: (line: string) => unknown, now: () => number,
  source = 'RedisStore: redis client'): (err: Error) => void {
  let last = -Infinity
  let skipped = 0
  return (err) => {
    const at = now()
    if (at - last < intervalMs) {
      skipped++
      return
    }
    last = at
    const more = skipped > 0 ? ` (+${skipped} more since the last report)` : ''
    skipped = 0
    // Redacted: a client error may quote the URL it was given, password included.
    write(`sessionkit ${source} error: ${redactCredentials(err.message)}${more}\n`)
  }
}
