/**
 * A {@link UserStore} in process memory, for one process: the demo users, or the users of a JSON
 * file (`USERS_FILE`) that stays their source — every change is written back to it atomically
 * before it takes effect in memory.
 *
 * What another process sees: nothing. Two processes on one file would each hold their own copy
 * and overwrite each other's changes, which is why the server refuses `WORKERS > 1` without Redis
 * and why, with Redis, users live in Redis (lib/users/redis.ts) and the file is only imported.
 */
import { randomBytes } from 'node:crypto'
import { open, rename, rm, stat } from 'node:fs/promises'
import { checkHash, checkNewUser, checkPatch, newUserId } from './validate.js'
import {
  DEFAULT_PAGE, isEnabledAdmin, MAX_PAGE, normalizeEmail,
  type ChangeResult, type CreateResult, type DeleteResult, type NewUser, type User,
  type UserPage, type UserPatch, type UserStore,
} from './store.js'

export interface MemoryUserStoreOptions {
  /** Rewrite this JSON file (atomically, keeping its mode) on every change. Default: none. */
  file?: string
}

export class MemoryUserStore implements UserStore {
  readonly kind = 'memory'
  readonly #byId = new Map<string, User>()
  readonly #byEmail = new Map<string, User>()
  readonly #file: string | undefined
  /** Changes run one at a time: check, write the file, apply — no interleaving across awaits. */
  #queue: Promise<unknown> = Promise.resolve()

  /**
   * `users` must already be valid and unique (lib/server/users.ts checks files and says where a
   * problem is); a duplicate here is a programmer error.
   */
  constructor(users: readonly User[] = [], options: MemoryUserStoreOptions = {}) {
    this.#file = options.file
    for (const user of users) {
      if (this.#byId.has(user.id) || this.#byEmail.has(user.email)) throw new TypeError(`duplicate user ${user.id}`)
      this.#set(Object.freeze({ ...user }))
    }
  }

  /** Always an answer: this map is the store, so it is never stale. */
  peek(id: string): User | null {
    return this.#byId.get(id) ?? null
  }

  async byId(id: string): Promise<User | null> {
    return this.#byId.get(id) ?? null
  }

  async byEmail(email: string): Promise<User | null> {
    return this.#byEmail.get(normalizeEmail(email)) ?? null
  }

  async count(): Promise<number> {
    return this.#byId.size
  }

  async list({ after = null, limit = DEFAULT_PAGE }: { after?: string | null; limit?: number } = {}): Promise<UserPage> {
    const n = Math.min(Math.max(1, Math.floor(limit)), MAX_PAGE)
    // Ids are ASCII ([A-Za-z0-9_-]), so the default (UTF-16 code unit) order is byte order.
    const ids = [...this.#byId.keys()].filter((id) => after === null || id > after).sort()
    const page = ids.slice(0, n)
    return { users: page.map((id) => this.#byId.get(id) as User), next: ids.length > n ? (page.at(-1) as string) : null }
  }

  async create(input: NewUser): Promise<CreateResult> {
    const u = checkNewUser(input)
    return this.#change(async (): Promise<CreateResult> => {
      if (u.id !== undefined && this.#byId.has(u.id)) return { ok: false, reason: 'exists' }
      if (this.#byEmail.has(u.email)) return { ok: false, reason: 'taken' }
      const user: User = Object.freeze({ ...u, id: u.id ?? newUserId(randomBytes), credentialVersion: 1 })
      await this.#commit(user.id, user)
      return { ok: true, user }
    })
  }

  async update(id: string, input: UserPatch): Promise<ChangeResult> {
    const patch = checkPatch(input)
    return this.#change(async (): Promise<ChangeResult> => {
      const old = this.#byId.get(id)
      if (old === undefined) return { ok: false, reason: 'missing' }
      const next = { ...old, ...patch }
      if (isEnabledAdmin(old) && !isEnabledAdmin(next) && this.#admins() <= 1) return { ok: false, reason: 'last-admin' }
      const bump = next.role !== old.role || next.disabled !== old.disabled
      const user: User = Object.freeze({ ...next, credentialVersion: old.credentialVersion + (bump ? 1 : 0) })
      await this.#commit(id, user)
      return { ok: true, user }
    })
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<ChangeResult> {
    checkHash(passwordHash)
    return this.#change(async (): Promise<ChangeResult> => {
      const old = this.#byId.get(id)
      if (old === undefined) return { ok: false, reason: 'missing' }
      const user: User = Object.freeze({ ...old, passwordHash, credentialVersion: old.credentialVersion + 1 })
      await this.#commit(id, user)
      return { ok: true, user }
    })
  }

  async delete(id: string): Promise<DeleteResult> {
    return this.#change(async (): Promise<DeleteResult> => {
      const old = this.#byId.get(id)
      if (old === undefined) return { ok: false, reason: 'missing' }
      if (isEnabledAdmin(old) && this.#admins() <= 1) return { ok: false, reason: 'last-admin' }
      await this.#commit(id, null)
      return { ok: true }
    })
  }

  async close(): Promise<void> {}

  #admins(): number {
    let n = 0
    for (const user of this.#byId.values()) if (isEnabledAdmin(user)) n++
    return n
  }

  #change<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.#queue.then(fn)
    this.#queue = run.catch(() => {})
    return run
  }

  /**
   * Make `id` become `user` (or disappear): the file first, so a failed write changes nothing,
   * then memory.
   */
  async #commit(id: string, user: User | null): Promise<void> {
    if (this.#file !== undefined) {
      const all = [...this.#byId.values()].filter((u) => u.id !== id)
      if (user !== null) all.push(user)
      await writeUsersFile(this.#file, all)
    }
    const old = this.#byId.get(id)
    if (old !== undefined) {
      this.#byId.delete(id)
      this.#byEmail.delete(old.email)
    }
    if (user !== null) this.#set(user)
  }

  #set(user: User): void {
    this.#byId.set(user.id, user)
    this.#byEmail.set(user.email, user)
  }
}

/**
 * Rewrite the users file atomically: the whole JSON goes to a temporary file in the same
 * directory (created exclusively, given the original's mode — 0600 if there is none — and
 * fsync'ed), which is then renamed over the original, so a crash leaves the old file or the new
 * one, never half of one. The credential version is not written: it only has to outlive the
 * sessions, and memory sessions die with the process.
 */
export async function writeUsersFile(path: string, users: readonly User[]): Promise<void> {
  const mode = await stat(path).then((s) => s.mode & 0o777, () => 0o600)
  const entries = users.map((u) => ({
    id: u.id,
    email: u.email,
    name: u.name,
    role: u.role,
    passwordHash: u.passwordHash,
    ...(u.disabled ? { disabled: true } : {}),
  }))
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  try {
    // 'wx': never follow or reuse an existing file at the temporary name.
    const handle = await open(tmp, 'wx', mode)
    try {
      // open()'s mode passes through the umask; chmod does not.
      await handle.chmod(mode)
      await handle.writeFile(`${JSON.stringify(entries, null, 2)}\n`)
      await handle.sync()
    } finally {
      await handle.close()
    }
    await rename(tmp, path)
  } catch (err) {
    await rm(tmp, { force: true })
    throw err
  }
}
