/**
 * Server-assisted client-side caching (https://redis.io/docs/latest/develop/reference/client-side-caching/):
 * values read from Redis are kept in process memory, and Redis itself says when one of them changes,
 * so a read that hits memory costs no round trip and a change made anywhere (another process,
 * another instance, Redis expiring or evicting the key) still reaches this process.
 *
 * **Lanes: two connections per server, RESP2 with REDIRECT** (lib/stores/tracking-lane.ts). The
 * *reader* runs `CLIENT TRACKING ON REDIRECT <id>`: Redis remembers every key it reads, and when one
 * of them changes it tells the *subscriber* `<id>` (`protocol: 2`, subscribed to
 * `__redis__:invalidate`), which receives the names of changed keys as pub/sub messages (`null`
 * for FLUSHDB / FLUSHALL / a full resync). One node or Sentinel: one lane, duplicated from your
 * client. Redis Cluster: one lane per master, made from the Cluster's own node connections (same
 * auth and TLS), and each read goes to the lane of the master that owns its key's slot
 * (lib/stores/key-slot.ts, looked up in the Cluster client's slot map).
 *
 * Why not RESP3 on one connection (no redirect): ioredis 6 decodes RESP3 push frames but hands only
 * pub/sub pushes to the application; an `invalidate` push is dropped silently (DataHandler's
 * `returnPush`), so tracking on a RESP3 connection would never hear about a change. RESP2 pub/sub
 * messages are part of ioredis's public API (`messageBuffer`), and Redis sends invalidations to a
 * RESP2 client exactly when it is the REDIRECT target subscribed to that channel.
 *
 * **Never a stale read past the bound.** Four rules:
 * 1. *Fills race invalidations.* With two connections a read's reply and the invalidation of a
 *    later write can arrive in either order, so an invalidation (from Redis or {@link
 *    RedisTracking.invalidate}) also voids every read of that key still in flight: its answer is
 *    returned but not kept (the race described in the Redis docs, "the race condition" section).
 * 2. *A lost connection loses invalidations.* When a connection of a lane closes (dropped,
 *    `CLIENT KILL`, Redis restart, a Sentinel or Cluster failover), every entry read on that lane
 *    is flushed (on Cluster the other masters' entries stay: their tracking is intact, so a
 *    failover does not send every read of the healthy masters back to Redis), reads in flight are
 *    voided, and that lane's reads bypass memory (they still go to Redis) until it is set up again and proven. A
 *    read issued before that is never kept.
 * 3. *A silent connection is not trusted.* Every `leaseMs / 4` each lane's subscriber sends a PING,
 *    answered after every invalidation sent before it; memory is served only while such a proof is
 *    younger than `leaseMs` (nothing is flushed: the next answered PING makes the entries good).
 * 4. *Cluster: the owner, or nothing.* A read answered by a node is kept only if that node owned
 *    the key's slot when it answered (a node that does not answers MOVED or ASK; a replica without
 *    READONLY answers MOVED). A MOVED or ASK on a lane flushes everything, and the read is
 *    answered through the Cluster client (which follows the redirect) and not kept. A new slot
 *    map (the Cluster client's `refresh`, `+node`, `-node` after a failover or a resharding)
 *    flushes the entries of every master that lost a slot. A key migrated to another master is
 *    deleted on its old one, which invalidates it there.
 *
 * So a change is seen at the latest `leaseMs` after it was made, whatever fails, and in normal
 * operation as soon as its invalidation crosses the loopback or LAN (well under a millisecond on
 * an idle machine; test/stores/redis-cache.ts measures the worst case across two stores, on one
 * node and on Cluster). The one exception is split brain, as with Sentinel: a master cut off from
 * its Cluster but not from this process keeps answering PINGs until ioredis learns the new slot
 * map (a MOVED from the new master, or a refresh).
 *
 * **What may be cached under a key.** Only a value derived from that one Redis key, read on the
 * reader a {@link Loader} is given: Redis tracks the keys the reader reads (including keys read by
 * a Lua script, on Redis 7), and the invalidation names the key, not the entry. Define your Lua
 * commands with {@link RedisTracking.defineCommand}: a loader may be handed a lane's reader or
 * (bypassing memory on Cluster) the Cluster client, and both must know them.
 *
 * **Writes by this process** go through your own client, and their invalidation comes back through
 * Redis like anyone's, a moment after the write's reply. Call {@link RedisTracking.invalidate}
 * right after such a write (whatever its outcome) so that this process reads its own writes.
 */
import type { Cluster, Redis } from 'ioredis'
import { MAX_TIMER_MS } from '../limits.js'
import { integerOption, objectOption, optionError } from '../option-check.js'
import { keySlot } from './key-slot.js'
import { TrackingLane, type LaneOwner } from './tracking-lane.js'

export { INVALIDATION_CHANNEL } from './tracking-lane.js'

/** A value to keep, and until when (ms since the epoch, by the cache's `now`; `Infinity`: no limit). */
export interface Tracked<V> {
  value: V
  expiresAt: number
}

/**
 * Reads `key` on `reader` and returns the value to keep, or `null` when there is nothing to keep
 * (a missing key is not cached). `reader` is a lane's tracking connection, or on Cluster, while the
 * key's lane is not active, the Cluster client. Rejections are passed to the caller.
 */
export type Loader<V> = (reader: Redis | Cluster, key: string) => Promise<Tracked<V> | null>

/** Options of {@link RedisTracking}. */
export interface RedisTrackingOptions {
  /**
   * An ioredis client: one node, Sentinel, or Cluster. It is only *duplicated* (one node, Sentinel:
   * same address, auth, TLS, Sentinel settings, `commandTimeout`) or its node connections are
   * (Cluster); the cache never closes it. On Cluster, reads that bypass memory are sent on it.
   */
  client: Redis | Cluster
  /** Most entries kept; the least recently used goes first. Default: `10_000`. */
  maxEntries?: number
  /**
   * Longest time memory is served without a fresh proof that no invalidation is missing (rule 3
   * in the module comment): the staleness bound when a connection hangs instead of closing. The
   * subscribers PING every `leaseMs / 4`. Default: `1000`.
   */
  leaseMs?: number
  /** Clock for `expiresAt` and the lease. Default: `Date.now`. */
  now?: () => number
  /** Told when a lane starts (`true`) or stops (`false`) serving memory, with why. For logs, metrics. */
  onStateChange?: (active: boolean, reason: string) => void
  /** Called with connection errors of every lane (they come back by themselves). Default: ignore. */
  onError?: (err: Error) => void
}

/** Counters since the cache was created. */
export interface TrackingStats {
  /** Reads answered from memory. */
  hits: number
  /** Reads that went to Redis while the cache was active (misses, expired entries). */
  misses: number
  /** Reads that went to Redis because the key's lane was not active (rule 2, 3 or 4). */
  bypassed: number
  /** Keys named by Redis invalidation messages, or by {@link RedisTracking.invalidate}. */
  invalidations: number
  /** Times entries were dropped at once: all (FLUSHDB, a Cluster topology change) or a lane's (its connection lost). */
  flushes: number
  /** Entries in memory now. */
  size: number
}

interface Entry<V> extends Tracked<V> {
  lane: TrackingLane
}

interface Fill {
  void: boolean
}

type Definition = { numberOfKeys?: number; lua: string }

/** ioredis's name of a node: `host:port`, as in the Cluster's slot map. */
const nodeKey = (node: Redis): string => `${node.options.host}:${node.options.port}`

/** Cluster events after which the slot map may name other masters. */
const TOPOLOGY_EVENTS = ['ready', 'refresh', '+node', '-node'] as const

/**
 * A bounded LRU of values read from Redis, kept coherent by Redis's invalidation messages. See the
 * module comment for the protocol and its guarantees.
 *
 * @typeParam V - what one key's entry holds: not `undefined` (peek's "no"); never mutate a value
 *   you got, it is shared with every later reader.
 */
export class RedisTracking<V> {
  readonly #client: Redis | Cluster
  readonly #cluster: Cluster | undefined
  readonly #maxEntries: number
  readonly #now: () => number
  readonly #owner: LaneOwner
  readonly #entries = new Map<string, Entry<V>>()
  readonly #fills = new Map<string, Set<Fill>>()
  readonly #heartbeat: NodeJS.Timeout
  readonly #commands = new Map<string, Definition>()
  /** One node / Sentinel: the only lane. Cluster: undefined. */
  readonly #single: TrackingLane | undefined
  /** Cluster: `host:port` of a master → its lane. */
  readonly #lanes = new Map<string, TrackingLane>()
  /** Cluster: the owner of every slot when the lanes were last matched to the slot map. */
  #owners: Array<string | undefined> = []
  readonly #onTopology = (): void => this.#reconcile()
  #retry: NodeJS.Timeout | undefined
  #retryMs = 50
  #stats = { hits: 0, misses: 0, bypassed: 0, invalidations: 0, flushes: 0 }
  /** Bumped by every flush: a fill started in an older epoch is never kept. */
  #epoch = 0
  #closed = false

  constructor(options: RedisTrackingOptions) {
    const o = resolve(options)
    this.#client = o.client
    this.#maxEntries = o.maxEntries
    this.#now = o.now
    this.#owner = {
      message: (_lane, message) => this.#message(message),
      lost: (lane) => this.#flushLane(lane),
      ended: (lane) => this.#ended(lane),
      onState: o.onStateChange,
      onError: o.onError,
      now: o.now,
      leaseMs: o.leaseMs,
    }
    if ((o.client as { isCluster?: boolean }).isCluster === true) {
      this.#cluster = o.client as Cluster
      for (const event of TOPOLOGY_EVENTS) this.#cluster.on(event, this.#onTopology)
      this.#reconcile()
    } else {
      const client = o.client as Redis
      this.#single = new TrackingLane(client, client.duplicate({ lazyConnect: false }), this.#owner)
    }
    this.#heartbeat = setInterval(() => {
      for (const lane of this.#allLanes()) lane.ping()
    }, Math.max(1, Math.floor(o.leaseMs / 4))).unref()
  }

  /**
   * One node / Sentinel: the tracking connection (for tests and diagnostics; load through
   * {@link RedisTracking.get}). Throws on Cluster, which has one per master.
   */
  get reader(): Redis {
    if (this.#single === undefined) throw new TypeError('a Cluster has one reader per master')
    return this.#single.reader
  }

  /** Define a Lua command on every connection a {@link Loader} may be handed, now and later. */
  defineCommand(name: string, definition: Definition): void {
    this.#commands.set(name, definition)
    for (const lane of this.#allLanes()) lane.reader.defineCommand(name, definition)
    // The Cluster client is yours: define it there only if you have not (same name, same script).
    const client = this.#client as unknown as Record<string, unknown>
    if (this.#cluster !== undefined && typeof client[name] !== 'function') this.#cluster.defineCommand(name, definition)
  }

  /**
   * True while every read may be answered from memory: the lane active (Cluster: every master of
   * the slot map has an active lane). For tests and health checks; a read looks at its own lane.
   */
  get active(): boolean {
    if (this.#single !== undefined) return this.#single.active
    const masters = new Set(this.#owners)
    return !masters.has(undefined) && [...masters].every((key) => this.#lanes.get(key as string)?.active === true) && this.#covered()
  }

  /**
   * The value under `key` if memory may answer right now (its lane is active and it holds a live
   * entry), else `undefined`; never goes to Redis. Synchronous, for a caller that wants to skip
   * its own timers and promises on a hit; {@link RedisTracking.get} does the same and loads on a miss.
   */
  peek(key: string): V | undefined {
    const entry = this.#entries.get(key)
    if (entry === undefined || !entry.lane.active) return undefined
    if (entry.expiresAt <= this.#now()) {
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
    return hit !== undefined ? hit : this.fetch(key, load)
  }

  /**
   * The value under `key` from Redis, never from memory, kept as {@link RedisTracking.get} keeps
   * it: for a caller that must see what Redis holds now (a check before a change).
   */
  async fetch(key: string, load: Loader<V>): Promise<V | null> {
    if (this.#closed) throw new Error('RedisTracking is closed')
    const lane = this.#laneOf(key)
    const active = lane !== undefined && lane.active
    if (active) this.#stats.misses++
    else this.#stats.bypassed++
    const fill: Fill = { void: !active }
    const epoch = this.#epoch
    let fills = this.#fills.get(key)
    if (fills === undefined) this.#fills.set(key, (fills = new Set()))
    fills.add(fill)
    try {
      let loaded: Tracked<V> | null
      try {
        loaded = await load(active || this.#cluster === undefined ? (lane as TrackingLane).reader : this.#cluster, key)
      } catch (err) {
        if (!(active && this.#cluster !== undefined && isRedirect(err))) throw err
        // Rule 4: the lane's node does not own the key (any more). Forget, re-read the slot map,
        // and answer through the Cluster client, which follows the redirect.
        this.clear()
        this.#cluster.refreshSlotsCache()
        fill.void = true
        loaded = await load(this.#cluster, key)
      }
      if (loaded !== null && !fill.void && epoch === this.#epoch && lane?.active === true && loaded.expiresAt > this.#now()) {
        this.#entries.delete(key)
        this.#entries.set(key, { ...loaded, lane })
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

  /** Rule 2: drop every entry read on `lane` and void every read in flight. */
  #flushLane(lane: TrackingLane): void {
    if (this.#single !== undefined) return this.clear()
    this.#epoch++
    let dropped = false
    for (const [key, entry] of this.#entries) {
      if (entry.lane !== lane) continue
      this.#entries.delete(key)
      dropped = true
    }
    if (dropped) this.#stats.flushes++
  }

  stats(): TrackingStats {
    return { ...this.#stats, size: this.#entries.size }
  }

  /** Stop tracking and close every lane (the client you gave stays open). Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    clearInterval(this.#heartbeat)
    clearTimeout(this.#retry)
    if (this.#cluster !== undefined) for (const event of TOPOLOGY_EVENTS) this.#cluster.off(event, this.#onTopology)
    for (const lane of this.#allLanes()) lane.close()
    this.#lanes.clear()
    this.clear()
  }

  #allLanes(): TrackingLane[] {
    return this.#single !== undefined ? [this.#single] : [...this.#lanes.values()]
  }

  /** The lane of the key's master (Cluster: by the client's slot map; none while unknown). */
  #laneOf(key: string): TrackingLane | undefined {
    if (this.#single !== undefined) return this.#single
    const owner = (this.#cluster as Cluster).slots[keySlot(key)]?.[0]
    return owner === undefined ? undefined : this.#lanes.get(owner)
  }

  /** Cluster: every slot's owner has a lane (the slot map has not moved since the last match). */
  #covered(): boolean {
    const slots = (this.#cluster as Cluster).slots
    for (let slot = 0; slot < 16384; slot++) if (slots[slot]?.[0] !== this.#owners[slot]) return false
    return true
  }

  /**
   * Cluster: match the lanes to the slot map. A master that lost a slot loses its entries (rule 4:
   * those of the others are still tracked by their owner); a lane whose node owns no slot any more
   * is closed; a master without a lane gets one.
   */
  #reconcile(): void {
    // Never after close(): it stops listening and cancels the timer of #ended.
    const cluster = this.#cluster as Cluster
    const slots = cluster.slots
    const owners: Array<string | undefined> = []
    const losers = new Set<string | undefined>()
    for (let slot = 0; slot < 16384; slot++) {
      owners[slot] = slots[slot]?.[0]
      if (owners[slot] !== this.#owners[slot]) losers.add(this.#owners[slot])
    }
    this.#owners = owners
    for (const key of losers) {
      const lane = key === undefined ? undefined : this.#lanes.get(key)
      if (lane !== undefined) this.#flushLane(lane)
    }
    const masters = new Set(owners.filter((o): o is string => o !== undefined))
    for (const [key, lane] of this.#lanes) {
      if (masters.has(key)) continue
      this.#lanes.delete(key)
      lane.close()
    }
    const nodes = new Map(cluster.nodes('all').map((node) => [nodeKey(node), node]))
    for (const key of masters) {
      const node = nodes.get(key)
      if (this.#lanes.has(key) || node === undefined) continue
      // The Cluster's own node connection is the template: its options carry the Cluster's
      // redisOptions (auth, TLS) and, like it, never reconnect (a lost lane ends; see #ended). Never
      // READONLY: a replica must answer MOVED (rule 4), not serve a read it would not track for us.
      const reader = node.duplicate({ lazyConnect: false, enableOfflineQueue: false, readOnly: false })
      const lane = new TrackingLane(node, reader, this.#owner, key)
      for (const [name, definition] of this.#commands) lane.reader.defineCommand(name, definition)
      this.#lanes.set(key, lane)
    }
    if (this.#lanes.size === masters.size && masters.size > 0) this.#retryMs = 50
  }

  /** A lane's reader is gone for good. One node: nothing to do. Cluster: a new one, soon. */
  #ended(lane: TrackingLane): void {
    // (A closed lane never says it ended, and close() closes every lane.)
    if (this.#cluster === undefined) return
    for (const [key, l] of this.#lanes) if (l === lane) this.#lanes.delete(key)
    lane.close()
    // The node may have failed over: re-read the slot map, and match the lanes to it shortly (if
    // the refresh brings no change, no event would).
    this.#cluster.refreshSlotsCache()
    clearTimeout(this.#retry)
    this.#retry = setTimeout(() => this.#reconcile(), this.#retryMs).unref()
    this.#retryMs = Math.min(this.#retryMs * 2, 1000)
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
}

/** A Cluster redirection: the node that answered does not own the key's slot (now). */
function isRedirect(err: unknown): boolean {
  return err instanceof Error && /^(MOVED|ASK) /.test(err.message)
}

const noop = (): void => {}

function resolve(options: RedisTrackingOptions): Required<RedisTrackingOptions> {
  objectOption('options', options)
  const { client, now = Date.now, onStateChange = noop, onError = noop } = options
  const c = client as unknown as Record<string, unknown> | null
  if (typeof c !== 'object' || c === null || (c.isCluster === true ? typeof c.nodes !== 'function' : typeof c.duplicate !== 'function')) {
    throw optionError('client', 'must be an ioredis Redis or Cluster')
  }
  const maxEntries = integerOption('maxEntries', options.maxEntries, 10_000, 1, Number.MAX_SAFE_INTEGER)
  const leaseMs = integerOption('leaseMs', options.leaseMs, 1000, 4, MAX_TIMER_MS)
  for (const [name, fn] of Object.entries({ now, onStateChange, onError })) {
    if (typeof fn !== 'function') throw optionError(name, 'must be a function')
  }
  return { client, maxEntries, leaseMs, now, onStateChange, onError }
}
