/**
 * `npm run hash-password -- … --append FILE`: add one entry to a `USERS_FILE`, creating the file
 * when it does not exist. The file is checked with the server's own rules first (every entry
 * through `validateUser`, no duplicate id or email), so an append never turns a file the server
 * accepts into one it refuses, and a file the server would refuse is reported now, with how to fix
 * it, rather than at the next start.
 *
 * The rewrite is atomic and keeps the file's permissions: the new JSON goes to a temporary file in
 * the same directory, given the original's mode (a new file gets 0600: the hashes are not
 * passwords, but nobody else needs to read them) and fsync'ed, then renamed over the original — a
 * crash leaves the old file or the new one, never half of one.
 *
 * The server reads `USERS_FILE` at start-up: restart it to pick up the new user. Until then, a
 * running server that rewrites the file (a password change) writes the users it knows, without
 * the appended one.
 */
import { randomBytes } from 'node:crypto'
import { open, readFile, rename, rm, stat } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { ConfigError } from './config.js'
import { validateUser } from './users.js'

/** One users-file entry, as `validateUser` returns it. */
type Entry = ReturnType<typeof validateUser>

/** Mode of a users file this command creates. */
const NEW_FILE_MODE = 0o600

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
 * Append `entry` to the users file at `path` (created if missing; an empty file counts as no
 * users). Rejects with a `ConfigError` naming the file when it is not valid JSON, not an array,
 * has an entry the server would refuse, or already has the entry's id or email; with the file
 * system's error when it cannot be read or written.
 *
 * @returns the number of users in the file after the append.
 */
export async function appendUser(path: string, entry: Entry): Promise<number> {
  let text = ''
  let mode = NEW_FILE_MODE
  try {
    const [info, content] = await Promise.all([stat(path), readFile(path, 'utf8')])
    mode = info.mode & 0o7777
    text = content
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  let json: unknown = []
  if (text.trim() !== '') {
    try {
      json = JSON.parse(text)
    } catch (err) {
      throw new ConfigError(`${path}: not valid JSON (${(err as Error).message})`, { cause: err })
    }
  }
  const problem = usersArrayProblem(json)
  if (problem !== null) throw new ConfigError(`${path} ${problem}`)
  const users = (json as unknown[]).map((u, i) => validateUser(u, `${path}: entry ${i}`))
  if (users.some((u) => u.id === entry.id)) throw new ConfigError(`${path}: there is already a user with id "${entry.id}"`)
  if (users.some((u) => u.email === entry.email)) throw new ConfigError(`${path}: there is already a user with email "${entry.email}"`)
  users.push(entry)
  await writeKeepingMode(path, `${JSON.stringify(users, null, 2)}\n`, mode)
  return users.length
}

async function writeKeepingMode(path: string, text: string, mode: number): Promise<void> {
  const tmp = join(dirname(path), `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`)
  try {
    // 'wx': never follow or reuse an existing file at the temporary name. chmod after open,
    // because open's mode is filtered by the umask and would not keep a 0644 file 0644 under 077.
    const handle = await open(tmp, 'wx', NEW_FILE_MODE)
    try {
      await handle.chmod(mode)
      await handle.writeFile(text)
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
