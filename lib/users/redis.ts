/**
 * A {@link UserStore} on Redis (one node or Cluster): one truth about users for every process and
 * instance that shares the Redis.
 *
 * Key layout (`prefix` defaults to `sk:`; `D` = `${prefix}users:{${prefix}}`):
 *
 * | key          | type   | holds                                                             |
 * |--------------|--------|-------------------------------------------------------------------|
 * | `D:u:${id}`  | hash   | one user: id email name role disabled hash cv (redis-scripts.ts)  |
 * | `D:email`    | hash   | normalised email → id (unique emails)                             |
 * | `D:ids`      | zset   | every id, score 0, so ZRANGEBYLEX pages through them in id order  |
 * | `D:admins`   | set    | ids of the enabled admins (the "last admin" rule)                 |
 *
 * **One hash tag for the whole directory.** Unique emails and "the last enabled admin stays" are
 * rules across users, and only a script over keys of one slot is atomic on Cluster. So every user
 * key carries the tag `{${prefix}}`: the directory lives on one master (and its replicas). The
 * trade-off: user reads and writes do not spread over the Cluster. They are rare — every process
 * keeps users in memory and reads Redis only after a change — and a user is a few hundred bytes,
 * so even a million users fit one node. Sessions, the heavy traffic, still spread over every slot
 * (lib/stores/redis.ts).
 *
 * **Users in memory** ({@link RedisUserStore.peek}): every `byId` reads the user's hash on a
 * tracking connection (lib/stores/redis-tracking.ts, the mechanism the session cache uses: `CLIENT
 * TRACKING` with one reader and one invalidation subscriber per node, per master on Cluster) and
 * keeps the answer, a missing user included. What another process sees, and when: a change made
 * anywhere writes the user's hash, and Redis tells every process that read it, which drops it
 * (test/users/redis.ts measures how soon: a few milliseconds, bound 50 ms); a change made here is
 * dropped here before the call resolves. While a tracking connection is lost, nothing is served
 * from memory and the cache is flushed; a connection that hangs stops being trusted after
 * `leaseMs` (1 s). A read in flight when its user changes is returned but not kept.
 *
 * Users have no TTL and nothing here enumerates keys (no SCAN, no KEYS): listing pages through
 * `D:ids`.
 */
import { randomBytes } from 'node:crypto'
import type { Cluster, Redis } from 'ioredis'
import { ErrorCodes, StoreError } from '../errors.js'
import { MAX_TIMER_MS } from '../limits.js'
import { integerOption, optionError } from '../option-check.js'
import { RedisTracking, type Loader } from '../stores/redis-tracking.js'
import { USER_SCRIPTS, type ScriptReply, type UserScriptCommands } from './redis-scripts.js'
import {
  DEFAULT_PAGE, MAX_PAGE, normalizeEmail,
  type ChangeResult, type CreateResult, type DeleteResult, type NewUser, type Role,
  type User, type UserPage, type UserPatch, type UserStore,
} from './store.js'
import { checkHash, checkNewUser, checkPatch, newUserId } from './validate.js'

export interface RedisUserStoreOptions {
  /** An ioredis client (e.g. `RedisStore.client`); the store defines its scripts on it, never closes it. */
  client: Redis | Cluster
  /**
   * Keep users read by `byId` in memory, coherent through Redis's client tracking (see the module
   * comment): two more connections per node (per master on Cluster). `false`: never (the CLI, which
   * reads each user once). Default: `{ maxEntries: 10_000, leaseMs: 1000 }`.
   */
  cache?: false | { maxEntries?: number; leaseMs?: number }
  /** Told about the cache's connection errors (they come back by themselves). Default: ignore. */
  onError?: (err: Error) => void
  /** Key prefix, as RedisStore's (no `{` or `}`). Default `'sk:'`. */
  prefix?: string
  /** Longest wait for one operation (ms), then `ERR_STORE_TIMEOUT`. Default 1000. */
  commandTimeoutMs?: number
}

type Client = (Redis | Cluster) & UserScriptCommands

export class RedisUserStore implements UserStore {
  readonly kind = 'redis'
  readonly #client: Client
  readonly #dir: string
  readonly #timeoutMs: number
  /** Users read, kept under client tracking; undefined when the cache is off. */
  readonly #cache: RedisTracking<User | null> | undefined
  #closed = false

  constructor(options: RedisUserStoreOptions) {
    const prefix = options.prefix ?? 'sk:'
    if (typeof prefix !== 'string' || /[{}]/.test(prefix) || prefix === '') throw optionError('prefix', 'must be a non-empty string without { or }')
    this.#client = options.client as Client
    this.#dir = `${prefix}users:{${prefix}}`
    this.#timeoutMs = integerOption('commandTimeoutMs', options.commandTimeoutMs, 1000, 1, MAX_TIMER_MS)
    for (const [name, definition] of Object.entries(USER_SCRIPTS)) this.#client.defineCommand(name, definition)
    if (options.cache !== false) {
      this.#cache = new RedisTracking<User | null>({ client: options.client, ...options.cache, ...(options.onError ? { onError: options.onError } : {}) })
      this.#cache.defineCommand('sessionkitUserGet', USER_SCRIPTS.sessionkitUserGet)
    }
  }

  /** The user from memory, if the cache holds it and its tracking is in force (see the module comment). */
  peek(id: string): User | null | undefined {
    return this.#closed ? undefined : this.#cache?.peek(this.#user(id))
  }

  /** From Redis, always; kept in memory for {@link RedisUserStore.peek}. */
  byId(id: string): Promise<User | null> {
    const cache = this.#cache
    const key = this.#user(id)
    return this.#run('byId', async () =>
      cache === undefined ? parse(await this.#client.sessionkitUserGet(key)) : cache.fetch(key, this.#load))
  }

  /** Reads the user's hash on the tracking connection it is given; a missing user is kept too. */
  readonly #load: Loader<User | null> = async (reader, key) =>
    ({ value: parse(await (reader as unknown as UserScriptCommands).sessionkitUserGet(key)), expiresAt: Infinity })

  byEmail(email: string): Promise<User | null> {
    return this.#run('byEmail', async () => {
      const e = normalizeEmail(email)
      const id = await this.#client.hget(`${this.#dir}:email`, e)
      if (id === null) return null
      const user = parse(await this.#client.sessionkitUserGet(this.#user(id)))
      // Deleted (and the email maybe reused) between the two reads: as if not found.
      return user !== null && user.email === e ? user : null
    })
  }

  count(): Promise<number> {
    return this.#run('count', () => this.#client.zcard(`${this.#dir}:ids`))
  }

  list({ after = null, limit = DEFAULT_PAGE }: { after?: string | null; limit?: number } = {}): Promise<UserPage> {
    return this.#run('list', async () => {
      const n = Math.min(Math.max(1, Math.floor(limit)), MAX_PAGE)
      const from = after === null ? '-' : `(${after}`
      const ids = await this.#client.zrangebylex(`${this.#dir}:ids`, from, '+', 'LIMIT', 0, n + 1)
      const page = ids.slice(0, n)
      const users = await Promise.all(page.map(async (id) => parse(await this.#client.sessionkitUserGet(this.#user(id)))))
      // A user deleted between the two reads is left out.
      return { users: users.filter((u): u is User => u !== null), next: ids.length > n ? (page.at(-1) as string) : null }
    })
  }

  async create(input: NewUser): Promise<CreateResult> {
    const u = checkNewUser(input)
    const id = u.id ?? newUserId(randomBytes)
    return this.#run('create', async () => {
      const reply = await this.#changing(id, () => this.#client.sessionkitUserCreate(this.#user(id), `${this.#dir}:email`,
        `${this.#dir}:ids`, `${this.#dir}:admins`, id, u.email, u.name, u.role, u.disabled ? '1' : '0', u.passwordHash))
      return answer(reply) as CreateResult
    })
  }

  async update(id: string, input: UserPatch): Promise<ChangeResult> {
    const p = checkPatch(input)
    return this.#run('update', async () => {
      const disabled = p.disabled === undefined ? '' : p.disabled ? '1' : '0'
      const reply = await this.#changing(id, () => this.#client.sessionkitUserUpdate(this.#user(id), `${this.#dir}:admins`,
        p.name ?? '', p.role ?? '', disabled))
      return answer(reply) as ChangeResult
    })
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<ChangeResult> {
    checkHash(passwordHash)
    return this.#run('setPasswordHash', async () => {
      return answer(await this.#changing(id, () => this.#client.sessionkitUserSetPassword(this.#user(id), passwordHash))) as ChangeResult
    })
  }

  delete(id: string): Promise<DeleteResult> {
    return this.#run('delete', async () => {
      const reply = await this.#changing(id, () => this.#client.sessionkitUserDelete(this.#user(id), `${this.#dir}:email`,
        `${this.#dir}:ids`, `${this.#dir}:admins`))
      return reply[0] === 'ok' ? { ok: true } : { ok: false, reason: reply[0] as 'missing' | 'last-admin' }
    })
  }

  /** Close the cache's connections; the client is the caller's. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    await this.#cache?.close()
  }

  /** Every key of the directory (tests clean up with it). */
  async keys(): Promise<string[]> {
    const ids = await this.#client.zrange(`${this.#dir}:ids`, '0', '-1')
    return [...ids.map((id) => this.#user(id)), `${this.#dir}:email`, `${this.#dir}:ids`, `${this.#dir}:admins`]
  }

  #user(id: string): string {
    return `${this.#dir}:u:${id}`
  }

  /**
   * Run a change of user `id`, dropping the user from memory before and after it (whatever the
   * outcome): this process reads its own change at once, and a read that ran alongside the change
   * is not kept. Other processes hear of it from Redis.
   */
  async #changing<T>(id: string, send: () => Promise<T>): Promise<T> {
    const key = this.#user(id)
    this.#cache?.invalidate(key)
    try {
      return await send()
    } finally {
      this.#cache?.invalidate(key)
    }
  }

  /** One operation under the store's deadline; every failure becomes a StoreError. */
  async #run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.#closed) throw new StoreError(ErrorCodes.STORE_UNAVAILABLE, `RedisUserStore is closed (${op})`)
    const ms = this.#timeoutMs
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new StoreError(ErrorCodes.STORE_TIMEOUT, `redis users ${op} timed out after ${ms} ms`)), ms)
      timer.unref()
    })
    let result: T
    try {
      result = await Promise.race([fn(), deadline])
    } catch (err) {
      clearTimeout(timer)
      if (err instanceof StoreError) throw err
      throw new StoreError(ErrorCodes.STORE_UNAVAILABLE, `redis users ${op} failed: ${String(err)}`, { cause: err })
    }
    clearTimeout(timer)
    return result
  }
}

function answer(reply: ScriptReply): CreateResult | ChangeResult {
  if (reply[0] !== 'ok') return { ok: false, reason: reply[0] } as CreateResult | ChangeResult
  return { ok: true, user: parse(reply[1] as string) as User }
}

type Row = [string, string, string, Role, string, string, string]

function parse(json: string | null): User | null {
  if (json === null) return null
  const [id, email, name, role, disabled, passwordHash, cv] = JSON.parse(json) as Row
  return Object.freeze({ id, email, name, role, disabled: disabled === '1', passwordHash, credentialVersion: Number(cv) })
}
