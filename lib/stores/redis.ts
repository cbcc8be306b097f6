/**
 * A {@link Store} on Redis (one node or Redis Cluster) through ioredis, so sessions are shared by
 * every instance of the app and survive app restarts.
 *
 * Key layout (`prefix` defaults to `sk:`):
 *
 * | key                      | type   | holds                                                        |
 * |--------------------------|--------|--------------------------------------------------------------|
 * | `${prefix}s:${key}`      | hash   | one session: fields v d c l e a r u h ua ip cv (redis-scripts.ts) |
 * | `${prefix}u:{${userId}}` | hash   | one user's index: handle → `"<added ms>:<storage key>"`       |
 * | `${prefix}h:${key}`      | string | a rate-limit counter ({@link RedisStore.hit})                 |
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
 */
import { Cluster, Redis } from 'ioredis'
import { ErrorCodes, StoreError, typeError } from '../errors.js'
import type { IndexedSession, SessionRecord, SessionUpdate, Store, WriteResult } from '../store.js'
import { SCRIPTS, type ScriptCommands } from './redis-scripts.js'

/** A node to start Cluster discovery from. */
export interface ClusterNodeAddress {
  host: string
  port: number
}

/**
 * Options of {@link RedisStore}. Give exactly one of `client`, `url`, `clusterNodes`.
 * Anything more specific (TLS settings, Cluster passwords, Sentinel) → build the ioredis client
 * yourself and pass it as `client`.
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

/** The session hash's fields (v d c l e a r u h ua ip cv), as the get script answers them. */
type Row = [string, string, string, string, string, string, string, string, string, string, string, string]

/**
 * listByUser never prunes an index entry younger than this (by Redis's clock). `create` and a
 * write that binds a user add the entry *before* the session exists or is bound; a listByUser
 * running in between would see it dead, and pruning it would leave that session out of the index
 * for good. The gap is one command, normally well under `commandTimeoutMs`; a minute also covers a
 * command that timed out here but still runs when a stalled server resumes.
 */
export const INDEX_PRUNE_GRACE_MS = 60_000
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
  readonly #prefix: string
  readonly #timeoutMs: number
  readonly #onError: (err: Error) => void
  #closed = false
  #closing: Promise<void> | undefined

  constructor(options: RedisStoreOptions) {
    const o = resolveOptions(options)
    this.#prefix = o.prefix
    this.#timeoutMs = o.commandTimeoutMs
    this.#owned = o.client === undefined
    this.#client = (o.client ?? makeClient(o.url, o.clusterNodes, o.commandTimeoutMs)) as Client
    for (const [name, definition] of Object.entries(SCRIPTS)) this.#client.defineCommand(name, definition)
    // An EventEmitter throws on an 'error' event nobody listens to; a blip of the connection must
    // not crash the process, on our client or on yours.
    this.#onError = (err: Error) => o.onClientError(err)
    this.#client.on('error', this.#onError)
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
    return this.#run('get', () => this.#read(key))
  }

  create(key: string, record: SessionRecord): Promise<boolean> {
    return this.#run('create', async () => {
      const r = record
      // Index first (see the module comment): a crash now leaves only a stale entry.
      if (r.userId !== null) await this.#index(r.userId, r.handle, key, r.absoluteExpiresAt)
      const created = await this.#client.sessionkitCreate(this.#sessionKey(key), ttlMs(r.expiresAt),
        String(r.version), r.data, String(r.createdAt), String(r.lastSeenAt), String(r.expiresAt),
        String(r.absoluteExpiresAt), r.remember ? '1' : '0', r.userId ?? '', r.handle, r.userAgent, r.ip,
        String(r.credentialVersion))
      return Number(created) === 1
    })
  }

  write(key: string, expectedVersion: number, update: SessionUpdate): Promise<WriteResult> {
    return this.#run('write', async () => {
      const u = update
      const args = [String(expectedVersion), ttlMs(u.expiresAt), u.data, String(u.lastSeenAt),
        String(u.expiresAt), u.remember ? '1' : '0', u.userId ?? '', String(u.credentialVersion)] as const
      const [version, ttl, ...rest] = args
      const sk = this.#sessionKey(key)
      let reply = await this.#client.sessionkitWrite(sk, version, '0', ttl, ...rest)
      if (reply[0] === 'rebind') {
        // Binding to a new user: index the session under that user first, then write. The first
        // call changed nothing, so the compare-and-set still decides everything.
        await this.#index(u.userId as string, reply[1], key, Number(reply[2]))
        reply = await this.#client.sessionkitWrite(sk, version, '1', ttl, ...rest)
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
      return Number(await this.#client.sessionkitTouch(sk, ttlMs(expiresAt), String(lastSeenAt), String(expiresAt))) === 1
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
    const packed = await this.#client.sessionkitGet(this.#sessionKey(key))
    if (packed === null) return null
    const [v, d, c, l, e, a, r, u, h, ua, ip, cv] = JSON.parse(packed) as Row
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
    }
  }

  async #destroy(key: string): Promise<boolean> {
    const gone = await this.#client.sessionkitDestroy(this.#sessionKey(key))
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
    const indexKey = this.#userKey(userId)
    const entries = Object.entries(await this.#client.hgetall(indexKey))
    const records = await Promise.all(entries.map(([, value]) => this.#read(storageKeyOf(value))))
    const live: IndexedSession[] = []
    const dead: string[] = []
    entries.forEach(([handle, value], i) => {
      const record = records[i]
      if (record != null && record.userId === userId && record.handle === handle) {
        live.push({ key: storageKeyOf(value), record })
      } else {
        dead.push(handle, value)
      }
    })
    if (dead.length > 0) await this.#client.sessionkitIndexPrune(indexKey, INDEX_PRUNE_GRACE_MS, ...dead)
    return live.sort((x, y) => x.record.createdAt - y.record.createdAt)
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
  return new StoreError(code, `redis ${op} failed: ${String(err)}`, { cause: err })
}

/**
 * The client the store owns. Both kinds fail fast: `commandTimeout` rejects a command Redis does
 * not answer (a stopped or overloaded server), `maxRetriesPerRequest: 1` flushes the offline queue
 * after one reconnect attempt instead of 20 (ioredis's default, ~10 s or more), and the offline
 * queue stays on so commands issued during a reconnect still go out once it succeeds.
 */
function makeClient(url: string | undefined, nodes: readonly ClusterNodeAddress[] | undefined, timeoutMs: number): Redis | Cluster {
  const common = { commandTimeout: timeoutMs, maxRetriesPerRequest: 1 }
  if (nodes !== undefined) {
    // No enableAutoPipelining on Cluster: ioredis groups auto-pipelines by slot owner and has had
    // bugs there for years ("All keys in the pipeline should belong to the same slots allocation
    // group", redis/ioredis#1248, #2109 for EVALSHA); a failed pipeline fails every command in it.
    return new Cluster([...nodes], {
      clusterRetryStrategy: retryStrategy,
      slotsRefreshTimeout: timeoutMs,
      redisOptions: common,
    })
  }
  // Auto-pipelining sends all commands issued in one event-loop tick as one write, which is what
  // makes listByUser's N reads one round trip.
  return new Redis(url as string, { ...common, retryStrategy, enableAutoPipelining: true })
}

/** How often the default `onClientError` prints (a down Redis errors on every reconnect). */
const ERROR_LOG_INTERVAL_MS = 30_000
const MAX_TIMER_MS = 2 ** 31 - 1

interface Resolved {
  client: Redis | Cluster | undefined
  url: string | undefined
  clusterNodes: readonly ClusterNodeAddress[] | undefined
  prefix: string
  commandTimeoutMs: number
  onClientError: (err: Error) => void
}

function invalid(name: string, why: string): never {
  throw typeError(ErrorCodes.OPTION_INVALID, `option ${name} ${why}`)
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null

/** Validate every option, naming it in the TypeError (values are not echoed: a URL may hold a password). */
function resolveOptions(options: RedisStoreOptions): Resolved {
  if (typeof options !== 'object' || options === null) invalid('options', 'must be an object')
  const { client, url, clusterNodes, prefix = 'sk:', commandTimeoutMs = 1000, onClientError } = options
  const given = [client, url, clusterNodes].filter((x) => x !== undefined).length
  if (given !== 1) invalid('client/url/clusterNodes', `must be exactly one, got ${given}`)
  if (client !== undefined && !isClient(client)) invalid('client', 'must be an ioredis Redis or Cluster')
  if (url !== undefined && !isRedisUrl(url)) invalid('url', 'must be a redis:// or rediss:// URL')
  if (clusterNodes !== undefined && !(Array.isArray(clusterNodes) && clusterNodes.length > 0 && clusterNodes.every(isNode))) {
    invalid('clusterNodes', 'must be a non-empty array of { host: string, port: 1..65535 }')
  }
  if (typeof prefix !== 'string' || prefix === '' || /[{}]/.test(prefix)) {
    invalid('prefix', 'must be a non-empty string without { or }')
  }
  const ms: unknown = commandTimeoutMs
  if (typeof ms !== 'number' || !Number.isInteger(ms) || ms < 1 || ms > MAX_TIMER_MS) {
    invalid('commandTimeoutMs', `must be an integer in [1, ${MAX_TIMER_MS}]`)
  }
  if (onClientError !== undefined && typeof onClientError !== 'function') invalid('onClientError', 'must be a function')
  const log = onClientError ?? throttledErrorLog(ERROR_LOG_INTERVAL_MS, process.stderr.write.bind(process.stderr), Date.now)
  return { client, url, clusterNodes, prefix, commandTimeoutMs: ms, onClientError: log }
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
 * per reconnect attempt). Exported for tests.
 */
export function throttledErrorLog(intervalMs: number, write: (line: string) => unknown, now: () => number): (err: Error) => void {
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
    write(`sessionkit RedisStore: redis client error: ${err.message}${more}\n`)
  }
}
