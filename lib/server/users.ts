/**
 * The auth server's users: the two demo users (development), or a JSON file (`USERS_FILE`) of
 * entries made with `npm run hash-password`. Read once at start-up into two Maps; only password
 * hashes change at run time, and they are written back to the file.
 */
import { randomBytes } from 'node:crypto'
import { open, readFile, rename, rm } from 'node:fs/promises'
import { hashPassword, isBcryptHash } from '../auth/password.js'
import { ErrorCodes, typeError } from '../errors.js'
import { ConfigError } from './config.js'

export type Role = 'admin' | 'user'

export interface User {
  /** Stable identifier, bound to sessions (1–64 of `A-Z a-z 0-9 _ -`). */
  id: string
  /** Login name, stored trimmed and lower-cased (OWASP Authentication Cheat Sheet: case-insensitive). */
  email: string
  /** Display name. */
  name: string
  role: Role
  /** bcrypt hash made by `hashPassword` (lib/auth/password.ts). */
  passwordHash: string
}

/** What may leave the server: everything but the hash. */
export type PublicUser = Omit<User, 'passwordHash'>

const FIELDS = ['id', 'email', 'name', 'role', 'passwordHash']
const ID = /^[\w-]{1,64}$/
// Deliberately loose (one @, no spaces, a dot-free local part allowed): the address is a login
// name here, never mailed, so RFC 5321 validation would only refuse real addresses.
const EMAIL = /^[^\s@]+@[^\s@]+$/
// Control characters (newlines, escapes) in a display name only ever serve log or HTML injection.
const CONTROL = /[\u0000-\u001f\u007f]/

/** Trim and lower-case, the one normalization of emails for lookups and keys. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase()
}

/**
 * Check one user entry strictly and return it normalized (email trimmed and lower-cased). Throws
 * a {@link ConfigError} whose message starts with `where` and names the field. Unknown fields
 * are refused too, so a typo such as `passwordhash` is reported instead of ignored.
 */
export function validateUser(entry: unknown, where: string): User {
  const fail = (problem: string): never => {
    throw new ConfigError(`${where}: ${problem}`)
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail('must be an object')
  const e = entry as Record<string, unknown>
  const unknown = Object.keys(e).filter((k) => !FIELDS.includes(k))
  if (unknown.length > 0) fail(`unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}`)
  if (typeof e.id !== 'string' || !ID.test(e.id)) fail('id must be 1–64 characters of A-Z a-z 0-9 _ -')
  const email = typeof e.email === 'string' ? normalizeEmail(e.email) : ''
  if (!EMAIL.test(email) || email.length > 254) fail('email must be an address like name@example.com')
  const name = typeof e.name === 'string' ? e.name.trim() : ''
  if (name === '' || name.length > 100 || CONTROL.test(name)) fail('name must be 1–100 printable characters')
  if (e.role !== 'admin' && e.role !== 'user') fail('role must be "admin" or "user"')
  if (!isBcryptHash(e.passwordHash)) fail('passwordHash must be a bcrypt hash ($2b$10$…); make one with npm run hash-password')
  return Object.freeze({ id: e.id as string, email, name, role: e.role as Role, passwordHash: e.passwordHash as string })
}

/** The users, looked up by id or email in O(1). Entries are frozen; build one with a static method. */
export class UserDirectory {
  readonly #byId = new Map<string, User>()
  readonly #byEmail = new Map<string, User>()
  readonly #file: string | null
  /** Serializes file rewrites, so two concurrent password changes cannot drop each other. */
  #writing: Promise<unknown> = Promise.resolve()

  private constructor(users: User[], file: string | null, source: string) {
    this.#file = file
    users.forEach((user, i) => {
      if (this.#byId.has(user.id)) throw new ConfigError(`${source}: entry ${i}: duplicate id "${user.id}"`)
      if (this.#byEmail.has(user.email)) throw new ConfigError(`${source}: entry ${i}: duplicate email "${user.email}"`)
      this.#byId.set(user.id, user)
      this.#byEmail.set(user.email, user)
    })
  }

  /** No users at all (production without `USERS_FILE`: nobody can log in). */
  static empty(): UserDirectory {
    return new UserDirectory([], null, 'empty')
  }

  /**
   * The two demo users, their passwords hashed now (never a hash committed to the repository):
   * `admin@example.com` / `admin-password-1` (admin) and `john@example.com` / `john-password-1`.
   * For development only; held in memory, so password changes last until the process exits.
   */
  static async demo(cost = 10): Promise<UserDirectory> {
    const [admin, john] = await Promise.all([hashPassword('admin-password-1', cost), hashPassword('john-password-1', cost)])
    const users: User[] = [
      { id: '1', email: 'admin@example.com', name: 'Ada Admin', role: 'admin', passwordHash: admin },
      { id: '2', email: 'john@example.com', name: 'John', role: 'user', passwordHash: john },
    ]
    return new UserDirectory(users.map((u) => Object.freeze(u)), null, 'demo')
  }

  /**
   * Load a JSON array of users from `path`. Any problem (unreadable file, bad JSON, a bad field,
   * a duplicate id or email) throws a {@link ConfigError} naming the file and the entry: the
   * server must not start with half its users.
   */
  static async fromFile(path: string): Promise<UserDirectory> {
    let text: string
    try {
      text = await readFile(path, 'utf8')
    } catch (err) {
      throw new ConfigError(`USERS_FILE ${path}: cannot read it (${(err as NodeJS.ErrnoException).code})`, { cause: err })
    }
    let json: unknown
    try {
      json = JSON.parse(text)
    } catch (err) {
      throw new ConfigError(`USERS_FILE ${path}: not valid JSON (${(err as Error).message})`, { cause: err })
    }
    if (!Array.isArray(json)) throw new ConfigError(`USERS_FILE ${path}: must be a JSON array of users`)
    const users = json.map((entry, i) => validateUser(entry, `USERS_FILE ${path}: entry ${i}`))
    return new UserDirectory(users, path, `USERS_FILE ${path}`)
  }

  /** The user with this email (trimmed, case-insensitive), or `undefined`. */
  byEmail(email: string): User | undefined {
    return this.#byEmail.get(normalizeEmail(email))
  }

  /** The user with this id, or `undefined` (the `UserLookup` contract of lib/auth/guards.ts). */
  byId(id: string): User | undefined {
    return this.#byId.get(id)
  }

  /** Every user without the hash, in file order. */
  list(): PublicUser[] {
    return [...this.#byId.values()].map((u) => this.toPublic(u))
  }

  /** A copy of `user` without `passwordHash`: the only shape routes should send. */
  toPublic(user: User): PublicUser {
    return { id: user.id, email: user.email, name: user.name, role: user.role }
  }

  /**
   * Replace a user's password hash. If the directory came from a file, the file is rewritten
   * first, atomically: the whole JSON goes to a temporary file in the same directory (mode 0600,
   * fsync'ed), which is then renamed over the original, so a crash leaves the old file or the new
   * one, never half of one. Memory changes only once the file is written; if writing fails, the
   * promise rejects and nothing changed.
   *
   * @returns `false` if there is no user with this id.
   * Rejects with `TypeError` `ERR_PASSWORD_INVALID` if `hash` is not a bcrypt hash, and with the
   * file system's error if the file cannot be written.
   */
  async setPasswordHash(id: string, hash: string): Promise<boolean> {
    if (!isBcryptHash(hash)) throw typeError(ErrorCodes.PASSWORD_INVALID, 'hash must be a bcrypt hash')
    const run = this.#writing.then(async () => {
      const old = this.#byId.get(id)
      if (old === undefined) return false
      const updated = Object.freeze({ ...old, passwordHash: hash })
      if (this.#file !== null) {
        await writeAtomically(this.#file, [...this.#byId.values()].map((u) => (u.id === id ? updated : u)))
      }
      this.#byId.set(id, updated)
      this.#byEmail.set(updated.email, updated)
      return true
    })
    this.#writing = run.catch(() => {})
    return run
  }
}

async function writeAtomically(path: string, users: User[]): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`
  try {
    // 'wx': never follow or reuse an existing file at the temporary name.
    const handle = await open(tmp, 'wx', 0o600)
    try {
      await handle.writeFile(`${JSON.stringify(users, null, 2)}\n`)
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
