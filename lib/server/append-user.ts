/**
 * `npm run hash-password -- … --append FILE`: add one entry to a `USERS_FILE`, creating the file
 * when it does not exist. The file is read with the server's own loader (`readUsersFile`: every
 * entry checked, no duplicate id or email), so an append never turns a file the server accepts
 * into one it refuses, and a file the server would refuse is reported now, with how to fix it,
 * rather than at the next start. It is written back the way the server writes it
 * (`writeUsersFile`: atomic, keeping the file's mode; 0600 for a new file).
 *
 * The server reads `USERS_FILE` at start-up: append while it is stopped. On the memory store a
 * running server rewrites the file from the users it holds, without the appended one; `npm run
 * users -- add` is the command for a running server.
 */
import { writeUsersFile } from '../users/memory.js'
import { ConfigError } from './config.js'
import { readUsersFile, toUser, type UserEntry } from './users.js'

/**
 * Append `entry` to the users file at `path` (created if missing). Rejects with the loader's
 * `ConfigError` when the file cannot be read, is not valid JSON, not an array, or has an entry
 * the server would refuse; with a `ConfigError` when the file already has the entry's id or
 * email; with the file system's error when it cannot be written.
 *
 * @returns the number of users in the file after the append.
 */
export async function appendUser(path: string, entry: UserEntry): Promise<number> {
  let users: UserEntry[] = []
  try {
    users = await readUsersFile(path)
  } catch (err) {
    if (((err as Error).cause as NodeJS.ErrnoException | undefined)?.code !== 'ENOENT') throw err
  }
  if (users.some((u) => u.id === entry.id)) throw new ConfigError(`${path}: there is already a user with id "${entry.id}"`)
  if (users.some((u) => u.email === entry.email)) throw new ConfigError(`${path}: there is already a user with email "${entry.email}"`)
  const all = [...users, entry]
  await writeUsersFile(path, all.map(toUser))
  return all.length
}
