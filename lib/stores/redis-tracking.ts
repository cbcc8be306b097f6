/**
 * Server-assisted client-side caching (https://redis.io/docs/latest/develop/reference/client-side-caching/):
 * values read from Redis are kept in process memory, and Redis itself says when one of them changes,
 * so a read that hits memory costs no round trip and a change made anywhere (another process,
 * another instance, Redis expiring or evicting the key) still reaches this process.
 *
 * **Two connections, RESP2 with REDIRECT.** The cache duplicates the client it is given twice:
 * - the *reader* runs `CLIENT TRACKING ON REDIRECT <id>`: Redis remembers every key it reads, and
 *   when one of them changes it tells the connection `<id>`;
 * - the *subscriber* (`protocol: 2`) is that connection: it is subscribed to
 *   `__redis__:invalidate` and receives the names of changed keys as pub/sub messages (`null` for
 *   FLUSHDB / FLUSHALL / a full resync).
 *
 * Why not RESP3 on one connection (no redirect): ioredis 6 decodes RESP3 push frames but hands only
 * pub/sub pushes to the application; an `invalidate` push is dropped silently (DataHandler's
 * `returnPush`), so tracking on a RESP3 connection would never hear about a change. RESP2 pub/sub
 * messages are part of ioredis's public API (`messageBuffer`), and Redis sends invalidations to a
 * RESP2 client exactly when it is the REDIRECT target subscribed to that channel.
 *
 * **Never a stale read past the bound.** Three rules:
 * 1. *Fills race invalidations.* With two connections a read's reply and the invalidation of a
 *    later write can arrive in either order, so an invalidation (from Redis or {@link
 *    RedisTracking.invalidate}) also voids every read of that key still in flight: its answer is
 *    returned but not kept (the race described in the Redis docs, "the race condition" section).
 * 2. *A lost connection loses invalidations.* When either connection closes (dropped, `CLIENT
 *    KILL`, Redis restart, a Sentinel failover), everything is flushed and reads bypass the cache
 *    (they still go to Redis) until a fresh subscriber is subscribed, the reader's tracking points
 *    at it, and both are shown to be on the same server (`run_id`, since client IDs repeat across
 *    servers). A read issued before that is never kept.
 * 3. *A silent connection is not trusted.* A connection can also die without closing (a network
 *    partition) while others keep writing. Every `leaseMs / 4` the subscriber sends a PING; Redis
 *    answers on the same connection, after every invalidation it produced before the PING, so its
 *    reply proves this process has heard of every change made before the PING was sent. Memory is
 *    served only while such a proof is younger than `leaseMs`; otherwise reads go to Redis (nothing
 *    is flushed: the next answered PING makes the entries good again).
 *
 * So a change is seen at the latest `leaseMs` after it was made, whatever fails, and in normal
 * operation as soon as its invalidation crosses the loopback or LAN (well under a millisecond on
 * an idle machine; test/stores/redis-cache.ts measures the worst case across two stores).
 *
 * **What may be cached under a key.** Only a value derived from that one Redis key, read on
 * {@link RedisTracking.reader}: Redis tracks the keys the reader reads (including keys read by a
 * Lua script, on Redis 7), and the invalidation names the key, not the entry.
 *
 * **Writes by this process** go through your own client, and their invalidation comes back through
 * Redis like anyone's, a moment after the write's reply. Call {@link RedisTracking.invalidate}
 * right after such a write (whatever its outcome) so that this process reads its own writes.
 *
 * **Not for Redis Cluster.** Tracking is per node: a Cluster client would need one reader and one
 * subscriber per master, re-pointed on every slot migration. The constructor refuses a `Cluster`.
 */
import type { Redis } from 'ioredis'
import { MAX_TIMER_MS } from '../limits.js'
import { integerOption, objectOption, optionError } from '../option-check.js'

/** A value to keep, and until when (ms since the epoch, by the cache's `now`; `Infinity`: no limit). */
export interface Tracked<V> {
  value: V
  expiresAt: number
}

/**
 * Reads `key` on `reader` (the tracking connection) and returns the value to keep, or `null` when
 * there is nothing to keep (a missing key is not cached). Rejections are passed to the caller.
 */
export type Loader<V> = (reader: Redis, key: string) => Promise<Tracked<V> | null>

/** Options of {@link RedisTracking}. */
export interface RedisTrackingOptions {
  /**
   * A single-node or Sentinel ioredis client. It is only *duplicated* (same address, auth, TLS,
   * Sentinel settings, `commandTimeout`): the cache never sends a command on it nor closes it.
   */
  client: Redis
  /** Most entries kept; the least recently used goes first. Default: `10_000`. */
  maxEntries?: number
  /**
   * Longest time memory is served without a fresh proof that no invalidation is missing (rule 3
   * in the module comment): the staleness bound when a connection hangs instead of closing. The
   * subscriber PINGs every `leaseMs / 4`. Default: `1000`.
   */
  leaseMs?: number
  /** Clock for `expiresAt` and the lease. Default: `Date.now`. */
  now?: () => number
  /** Told when serving from memory starts (`true`) or stops (`false`), with why. For logs, metrics. */
  onStateChange?: (active: boolean, reason: string) => void
  /** Called with connection errors of both connections (they reconnect by themselves). Default: ignore. */
  onError?: (err: Error) => void
}

/** Counters since the cache was created. */
export interface TrackingStats {
  /** Reads answered from memory. */
  hits: number
  /** Reads that went to Redis while the cache was active (misses, expired entries). */
  misses: number
  /** Reads that went to Redis because the cache was not active (rule 2 or 3). */
  bypassed: number
  /** Keys named by Redis invalidation messages, or by {@link RedisTracking.invalidate}. */
  invalidations: number
  /** Times all entries were dropped at once (a connection lost, FLUSHDB). */
  flushes: number
  /** Entries in memory now. */
  size: number
}

/** The channel Redis publishes invalidations on for RESP2 REDIRECT targets. */
export const INVALIDATION_CHANNEL = '__redis__:invalidate'
const MAX_OUTSTANDING_PINGS = 4
const RETRY_MIN_MS = 50
const RETRY_MAX_MS = 1000

interface Fill {
  void: boolean
}

/**
 * A bounded LRU of values read from Redis, kept coherent by Redis's invalidation messages. See the
 * module comment for the protocol and its guarantees.
 *
 * @typeParam V - what one key's entry holds: not `undefined` (peek's "no"); never mutate a value
 *   you got, it is shared with every later reader.
 */
export class RedisTracking<V> {
  readonly #template: Redis
  readonly #reader: Redis
  readonly #maxEntries: number
  readonly #leaseMs: number
  readonly #now: () => number
  readonly #onState: (active: boolean, reason: string) => void
  readonly #onError: (err: Error) => void
  readonly #entries = new Map<string, Tracked<V>>()
  readonly #fills = new Map<string, Set<Fill>>()
  readonly #heartbeat: NodeJS.Timeout
  #stats = { hits: 0, misses: 0, bypassed: 0, invalidations: 0, flushes: 0 }
  /** The subscriber of the tracking in force; undefined while not active. */
  #subscriber: Redis | undefined
  #active = false
  /** Bumped by every flush: a fill started in an older epoch is never kept. */
  #epoch = 0
  /** Bumped by every setup attempt and every loss: an older attempt gives up. */
  #attempt = 0
  /** Send time of the newest answered PING (rule 3). */
  #provenAt = -Infinity
  #outstandingPings = 0
  #retryMs = RETRY_MIN_MS
  #retry: NodeJS.Timeout | undefined
  /** The subscriber of the setup attempt in progress, cut by close(). */
  #settingUp: Redis | undefined
  #closed = false

  constructor(options: RedisTrackingOptions) {
    const o = resolve(options)
    this.#template = o.client
    this.#maxEntries = o.maxEntries
    this.#leaseMs = o.leaseMs
    this.#now = o.now
    this.#onState = o.onStateChange
    this.#onError = o.onError
    this.#reader = o.client.duplicate({ lazyConnect: false })
    this.#reader.on('error', this.#onError)
    this.#reader.on('close', () => this.#lose('reader connection closed'))
    this.#reader.on('ready', () => this.#setup())
    this.#heartbeat = setInterval(() => this.#ping(), Math.max(1, Math.floor(this.#leaseMs / 4))).unref()
  }

  /** The tracking connection. Define your Lua commands on it; use it only inside a {@link Loader}. */
  get reader(): Redis {
    return this.#reader
  }

  /** True while reads may be answered from memory (tracking in force and its lease fresh). */
  get active(): boolean {
    return this.#active && this.#now() - this.#provenAt <= this.#leaseMs
  }

  /**
   * The value under `key` if memory may answer right now (the cache is active and holds a live
   * entry), else `undefined`; never goes to Redis. Synchronous, for a caller that wants to skip
   * its own timers and promises on a hit; {@link RedisTracking.get} does the same and loads on a miss.
   */
  peek(key: string): V | undefined {
    const now = this.#now()
    if (!this.#active || now - this.#provenAt > this.#leaseMs) return undefined
    const entry = this.#entries.get(key)
    if (entry === undefined) return undefined
    if (entry.expiresAt <= now) {
      this.#entries.delete(key)
      return undefined
    }
    this.#stats.hits++
    // Most recently used goes last: Map keeps insertion order, so eviction takes the first.
    this.#entries.delete(key)
    this.#entries.set(key, entry)
    return entry.value
  }

  /**
   * The value under `key`: from memory if {@link RedisTracking.peek} has it, else from `load`
   * (whose answer is kept if nothing invalidated `key` or flushed the cache meanwhile). Resolves
   * `null` when `load` does. Rejects with `load`'s rejection, or if the cache is closed.
   */
  async get(key: string, load: Loader<V>): Promise<V | null> {
    if (this.#closed) throw new Error('RedisTracking is closed')
    const hit = this.peek(key)
    if (hit !== undefined) return hit
    const active = this.active
    if (active) this.#stats.misses++
    else this.#stats.bypassed++
    const fill: Fill = { void: !active }
    const epoch = this.#epoch
    let fills = this.#fills.get(key)
    if (fills === undefined) this.#fills.set(key, (fills = new Set()))
    fills.add(fill)
    try {
      const loaded = await load(this.#reader, key)
      if (loaded !== null && !fill.void && epoch === this.#epoch && this.#active && loaded.expiresAt > this.#now()) {
        this.#entries.delete(key)
        this.#entries.set(key, loaded)
        if (this.#entries.size > this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value as string)
      }
      return loaded === null ? null : loaded.value
    } finally {
      fills.delete(fill)
      if (fills.size === 0 && this.#fills.get(key) === fills) this.#fills.delete(key)
    }
  }

  /**
   * "This key changed": drop its entry and void reads of it in flight. Call it after every write
   * of `key` by this process (Redis's own message arrives a moment later). Cheap; never throws.
   */
  invalidate(key: string): void {
    this.#stats.invalidations++
    this.#entries.delete(key)
    const fills = this.#fills.get(key)
    if (fills !== undefined) for (const fill of fills) fill.void = true
  }

  /** Drop every entry and void every read in flight. */
  clear(): void {
    this.#epoch++
    if (this.#entries.size === 0) return
    this.#stats.flushes++
    this.#entries.clear()
  }

  stats(): TrackingStats {
    return { ...this.#stats, size: this.#entries.size }
  }

  /** Stop tracking and close both connections (the client you gave stays open). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#heartbeat)
    clearTimeout(this.#retry)
    this.#lose('closed')
    this.#settingUp?.disconnect()
    this.#reader.disconnect()
  }

  /** Rule 2: a connection is gone (or the cache closes): flush, stop serving memory, set up again. */
  #lose(reason: string): void {
    this.#attempt++
    this.#deactivate(reason)
    if (!this.#closed && this.#reader.status === 'ready') this.#scheduleSetup()
  }

  /** Drop the subscriber in force (if any), stop serving memory and flush. */
  #deactivate(reason: string): void {
    const subscriber = this.#subscriber
    this.#subscriber = undefined
    subscriber?.disconnect()
    if (this.#active) {
      this.#active = false
      this.#onState(false, reason)
    }
    this.clear()
  }

  #scheduleSetup(): void {
    clearTimeout(this.#retry)
    this.#retry = setTimeout(() => this.#setup(), this.#retryMs).unref()
    this.#retryMs = Math.min(this.#retryMs * 2, RETRY_MAX_MS)
  }

  /** Rule 2's way back: a fresh subscriber, tracking redirected to it, both on one server. */
  async #setup(): Promise<void> {
    clearTimeout(this.#retry)
    const attempt = ++this.#attempt
    this.#deactivate('tracking set up again')
    const current = (): boolean => attempt === this.#attempt && !this.#closed
    // Single use: if it drops, a new one is made (it must be re-subscribed and the reader
    // re-pointed at its new client ID anyway), so ioredis must not reconnect or replay it. On
    // Sentinel, the reader's own failover detection is enough: its reconnection drops this one.
    const subscriber = this.#template.duplicate({
      protocol: 2, lazyConnect: true, autoResubscribe: false, enableOfflineQueue: false,
      enableAutoPipelining: false, retryStrategy: () => null, maxRetriesPerRequest: 0, failoverDetector: false,
    })
    this.#settingUp = subscriber
    subscriber.on('error', this.#onError)
    subscriber.on('messageBuffer', (_channel: Buffer, message: unknown) => {
      if (subscriber === this.#subscriber) this.#message(message)
    })
    subscriber.on('close', () => {
      if (subscriber === this.#subscriber) this.#lose('subscriber connection closed')
    })
    try {
      await subscriber.connect()
      const id = await subscriber.client('ID')
      const subscriberRun = runId(await subscriber.info('server'))
      await subscriber.subscribe(INVALIDATION_CHANNEL)
      if (!current()) throw new Error('superseded')
      // One pipeline: both run on the same reader connection (a reconnect in between would
      // supersede this attempt through the reader's 'close').
      const replies = (await this.#reader.pipeline()
        .client('TRACKING', 'ON', 'REDIRECT', String(id)).info('server').exec()) as Array<[Error | null, unknown]>
      for (const [err] of replies) if (err !== null) throw err
      if (runId(replies[1]?.[1] as string) !== subscriberRun) throw new Error('reader and subscriber reached different servers')
      const sentAt = this.#now()
      await subscriber.ping()
      // A close of the subscriber from here on finds it in force (#lose): its 'close' event
      // cannot run between the PING's reply and this line.
      if (!current()) throw new Error('superseded')
      this.#subscriber = subscriber
      this.#settingUp = undefined
      this.#provenAt = sentAt
      this.#active = true
      this.#retryMs = RETRY_MIN_MS
      this.#onState(true, `tracking on (client ${String(id)})`)
    } catch (err) {
      subscriber.disconnect()
      if (this.#settingUp === subscriber) this.#settingUp = undefined
      if (!current()) return
      this.#onError(err as Error)
      if (this.#reader.status === 'ready') this.#scheduleSetup()
    }
  }

  /**
   * An invalidation message: an array of key names (Buffers), or null for "everything" (FLUSHDB,
   * FLUSHALL, a replica's full resync). Anything else (no Redis version sends it) also drops
   * everything: when unsure, forget.
   */
  #message(message: unknown): void {
    if (!Array.isArray(message)) {
      this.clear()
      return
    }
    for (const key of message) this.invalidate(String(key))
  }

  /** Rule 3's proof: a PING answered on the subscriber, after every invalidation sent before it. */
  #ping(): void {
    const subscriber = this.#subscriber
    if (subscriber === undefined || this.#outstandingPings >= MAX_OUTSTANDING_PINGS) return
    const sentAt = this.#now()
    this.#outstandingPings++
    subscriber.ping().then(
      () => {
        if (subscriber === this.#subscriber) this.#provenAt = Math.max(this.#provenAt, sentAt)
      },
      () => {},
    ).finally(() => this.#outstandingPings--)
  }
}

/** The `run_id` line of `INFO server`: unique per server process. */
function runId(info: string): string {
  const match = /^run_id:(\w+)/m.exec(info)
  if (match === null) throw new Error('INFO server has no run_id')
  return match[1] as string
}

const noop = (): void => {}

function resolve(options: RedisTrackingOptions): Required<RedisTrackingOptions> {
  objectOption('options', options)
  const { client, now = Date.now, onStateChange = noop, onError = noop } = options
  const c = client as unknown as Record<string, unknown> | null
  if (typeof c !== 'object' || c === null || typeof c.duplicate !== 'function' || c.isCluster === true) {
    throw optionError('client', 'must be a single-node or Sentinel ioredis Redis (not a Cluster)')
  }
  const maxEntries = integerOption('maxEntries', options.maxEntries, 10_000, 1, Number.MAX_SAFE_INTEGER)
  const leaseMs = integerOption('leaseMs', options.leaseMs, 1000, 4, MAX_TIMER_MS)
  for (const [name, fn] of Object.entries({ now, onStateChange, onError })) {
    if (typeof fn !== 'function') throw optionError(name, 'must be a function')
  }
  return { client, maxEntries, leaseMs, now, onStateChange, onError }
}
