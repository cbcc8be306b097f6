/**
 * Where the auth server's users come from, and the one place that opens their store:
 *
 * - **Memory store** (no Redis): the demo users (development), or `USERS_FILE` — then the file is
 *   the source, and every change is written back to it atomically (lib/users/memory.ts).
 * - **Redis / Cluster**: users live in Redis (lib/users/redis.ts), one truth for every process
 *   and instance. `USERS_FILE` (or the demo users) is *imported*: users that are not there yet
 *   are created; a user that exists is never overwritten, so a password changed at run time
 *   survives restarts. The log says how many were imported and kept.
 *
 * Either way the routes see a {@link UserCache}: users answered from process memory where the
 * store keeps them coherently (with Redis: under client tracking, lib/users/redis.ts).
 */
import { readFile } from 'node:fs/promises'
import type { Cluster, Redis } from 'ioredis'
import { hashPassword, isBcryptHash } from '../auth/password.js'
import { ERROR_LOG_INTERVAL_MS, throttledErrorLog } from '../stores/redis.js'
import { UserCache } from '../users/cache.js'
import { MemoryUserStore } from '../users/memory.js'
import { RedisUserStore } from '../users/redis.js'
import { normalizeEmail, type Role, type User, type UserStore } from '../users/store.js'
import { emailProblem, idProblem, nameProblem, roleProblem } from '../users/validate.js'
import { ConfigError, type ServerConfig } from './config.js'

export { normalizeEmail }

/** One entry of a `USERS_FILE` (what `npm run hash-password` prints). */
export interface UserEntry {
  id: string
  email: string
  name: string
  role: Role
  passwordHash: string
  /** Written only when true. */
  disabled?: boolean
}

const FIELDS = ['id', 'email', 'name', 'role', 'passwordHash', 'disabled']

/**
 * Check one user entry strictly and return it normalised (email trimmed and lower-cased, name
 * trimmed). Throws a {@link ConfigError} whose message starts with `where` and names the field.
 * Unknown fields are refused too, so a typo such as `passwordhash` is reported instead of ignored.
 */
export function validateUser(entry: unknown, where: string): UserEntry {
  const fail = (problem: string | null): void => {
    if (problem !== null) throw new ConfigError(`${where}: ${problem}`)
  }
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) fail('must be an object')
  const e = entry as Record<string, unknown>
  const unknown = Object.keys(e).filter((k) => !FIELDS.includes(k))
  if (unknown.length > 0) fail(`unknown field ${unknown.map((k) => JSON.stringify(k)).join(', ')}`)
  fail(idProblem(e.id))
  fail(emailProblem(e.email))
  fail(nameProblem(e.name))
  fail(roleProblem(e.role))
  if (!isBcryptHash(e.passwordHash)) fail('passwordHash must be a bcrypt hash ($2b$10$…); make one with npm run hash-password')
  if (e.disabled !== undefined && typeof e.disabled !== 'boolean') fail('disabled must be true or false')
  const out: UserEntry = {
    id: e.id as string,
    email: normalizeEmail(e.email as string),
    name: (e.name as string).trim(),
    role: e.role as Role,
    passwordHash: e.passwordHash as string,
  }
  if (e.disabled === true) out.disabled = true
  return Object.freeze(out)
}

/**
 * Why `json` (a parsed users file) is not the array of users the server wants, as a message that
 * says how to fix it, or `null` when it is an array. A single object — one entry printed by
 * `hash-password` and saved as the whole file — is the common mistake.
 */
export function usersArrayProblem(json: unknown): string | null {
  if (Array.isArray(json)) return null
  if (typeof json === 'object' && json !== null && ('email' in json || 'passwordHash' in json)) {
    return 'holds one user object, but must be an array of users: put the object in square brackets, [ {…} ], and separate further entries with commas'
  }
  return 'must be a JSON array of users, like [ {"id": …, "email": …, "name": …, "role": …, "passwordHash": …} ]'
}

/**
 * Read a JSON array of users. Any problem (unreadable file, bad JSON, a bad field, a duplicate id
 * or email) throws a {@link ConfigError} naming the file and the entry: the server must not start
 * with half its users.
 */
export async function readUsersFile(path: string): Promise<UserEntry[]> {
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
  const notArray = usersArrayProblem(json)
  if (notArray !== null) throw new ConfigError(`USERS_FILE ${path}: ${notArray}`)
  const users = (json as unknown[]).map((entry, i) => validateUser(entry, `USERS_FILE ${path}: entry ${i}`))
  const ids = new Set<string>()
  const emails = new Set<string>()
  users.forEach((u, i) => {
    if (ids.has(u.id)) throw new ConfigError(`USERS_FILE ${path}: entry ${i}: duplicate id "${u.id}"`)
    if (emails.has(u.email)) throw new ConfigError(`USERS_FILE ${path}: entry ${i}: duplicate email "${u.email}"`)
    ids.add(u.id)
    emails.add(u.email)
  })
  return users
}

/**
 * The two demo users, their passwords hashed now (never a hash committed to the repository):
 * `admin@example.com` / `admin-password-1` (admin) and `john@example.com` / `john-password-1`.
 * For development only.
 */
export async function demoUsers(cost = 10): Promise<UserEntry[]> {
  const [admin, john] = await Promise.all([hashPassword('admin-password-1', cost), hashPassword('john-password-1', cost)])
  return [
    { id: '1', email: 'admin@example.com', name: 'Ada Admin', role: 'admin', passwordHash: admin },
    { id: '2', email: 'john@example.com', name: 'John', role: 'user', passwordHash: john },
  ]
}

/** A file entry as a stored user (version 1). */
export function toUser(entry: UserEntry): User {
  return Object.freeze({ ...entry, disabled: entry.disabled === true, credentialVersion: 1 })
}

/** The users the configuration names: the file, the demo users (development), or none. */
export async function configuredUsers(config: ServerConfig): Promise<{ users: UserEntry[]; source: string }> {
  if (config.usersFile !== null) return { users: await readUsersFile(config.usersFile), source: `USERS_FILE ${config.usersFile}` }
  // Demo users are for development only; production needs USERS_FILE.
  if (config.production) return { users: [], source: 'none' }
  return { users: await demoUsers(config.bcryptCost), source: 'the demo users' }
}

/**
 * Create every entry that is not there yet (by id, or by email); never overwrite one that is.
 * Returns the counts; an entry whose email belongs to another id is reported in `conflicts`.
 */
export async function importUsers(store: UserStore, entries: readonly UserEntry[]): Promise<{ imported: number; kept: number; conflicts: string[] }> {
  let imported = 0
  let kept = 0
  const conflicts: string[] = []
  for (const entry of entries) {
    const result = await store.create(entry)
    if (result.ok) imported++
    else if (result.reason === 'exists') kept++
    else conflicts.push(entry.id)
  }
  return { imported, kept, conflicts }
}

export interface OpenUsersOptions {
  /** The session store's ioredis client, when sessions are on Redis: users then live there too. */
  redisClient?: Redis | Cluster
  /** One line for the operator's log. Default: console.log. */
  log?: (line: string) => void
}

/** Open the configured user store, import what must be imported, and put a cache in front. */
export async function openUsers(config: ServerConfig, options: OpenUsersOptions = {}): Promise<UserCache> {
  const log = options.log ?? console.log
  const { users, source } = await configuredUsers(config)
  if (options.redisClient === undefined || config.store.kind === 'memory') {
    const file = config.usersFile ?? undefined
    return new UserCache(new MemoryUserStore(users.map(toUser), file === undefined ? {} : { file }))
  }
  const prefix = config.redisPrefix
  // The user cache's tracking connections copy the session client's options (password, TLS, db;
  // on Cluster, its node connections'), whether or not the session cache is on.
  // Their errors (a dropped connection; tracking comes back by itself, reads go to Redis meanwhile)
  // are printed like the session client's: the first, then one line per interval.
  const onError = throttledErrorLog(ERROR_LOG_INTERVAL_MS, (line) => process.stderr.write(line), Date.now, 'user cache: tracking connection')
  const store = new RedisUserStore({ client: options.redisClient, prefix, onError })
  try {
    const counts = await importUsers(store, users)
    if (users.length > 0) {
      log(`sessionkit: users in Redis: imported ${counts.imported} from ${source}, kept ${counts.kept} that exist (never overwritten), ` +
        `skipped ${counts.conflicts.length} whose email another user has [${counts.conflicts.join(', ')}]`)
    }
  } catch (err) {
    await store.close()
    throw err
  }
  return new UserCache(store)
}
