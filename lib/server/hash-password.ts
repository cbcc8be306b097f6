/**
 * `npm run hash-password -- --email ada@example.com --name "Ada" --role admin [--id 3] [--cost 10]`
 *
 * Prints one user entry (JSON) for `USERS_FILE`, with the password hashed by `hashPassword`. The
 * password is read from the first line of standard input, never from an argument: arguments end
 * up in shell history and in `ps` output for every local user to read. To type it without echo:
 *
 *     read -rs PW && printf '%s\n' "$PW" | npm run -s hash-password -- --email … ; unset PW
 *
 * Needs a build first (`npm run build`): the script runs `dist/server/hash-password.js`.
 */
import { randomUUID } from 'node:crypto'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { MAX_BCRYPT_COST, MIN_BCRYPT_COST, hashPassword, passwordProblem } from '../auth/password.js'
import { ConfigError } from './config.js'
import { type UserEntry as User, validateUser } from './users.js'

export const USAGE = `usage: npm run hash-password -- --email <email> --name <name> --role admin|user [--id <id>] [--cost <${MIN_BCRYPT_COST}-${MAX_BCRYPT_COST}>]
Reads the password from the first line of standard input and prints a USERS_FILE entry.`

/** A mistake in the command line or the password; `main` prints it with the usage. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/**
 * Validate the arguments and the password and build the entry. Rejects with a {@link UsageError}
 * for a bad argument or a password that breaks the policy for new passwords, and with a
 * `ConfigError` (from `validateUser`) for a field that `USERS_FILE` would refuse.
 *
 * @param args command-line arguments without `node` and the script.
 * @param password the password, without its line ending.
 */
export async function createUserEntry(args: string[], password: string): Promise<User> {
  let values
  try {
    values = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        email: { type: 'string' },
        name: { type: 'string' },
        role: { type: 'string' },
        id: { type: 'string' },
        cost: { type: 'string' },
      },
    }).values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  for (const required of ['email', 'name', 'role'] as const) {
    if (values[required] === undefined) throw new UsageError(`--${required} is required`)
  }
  const costText = values.cost ?? '10'
  const cost = Number(costText)
  if (!/^\d{1,2}$/.test(costText) || cost < MIN_BCRYPT_COST || cost > MAX_BCRYPT_COST) {
    throw new UsageError(`--cost must be an integer from ${MIN_BCRYPT_COST} to ${MAX_BCRYPT_COST}, got "${costText}"`)
  }
  const problem = passwordProblem(password, { forNew: true })
  if (problem !== null) throw new UsageError(problem)
  // Validate everything but the hash before spending up to seconds on bcrypt.
  const draft = { id: values.id ?? randomUUID(), email: values.email, name: values.name, role: values.role }
  validateUser({ ...draft, passwordHash: `$2b$04$${'.'.repeat(53)}` }, 'entry')
  return validateUser({ ...draft, passwordHash: await hashPassword(password, cost) }, 'entry')
}

/** The first line of `input` without its line ending (`\n` or `\r\n`); `''` if there is none. */
export async function readFirstLine(input: NodeJS.ReadableStream): Promise<string> {
  const lines = createInterface({ input, crlfDelay: Infinity, terminal: false })
  for await (const line of lines) {
    lines.close()
    return line
  }
  return ''
}

export interface Io {
  stdin: NodeJS.ReadableStream
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
}

/**
 * Run the command; resolves to the exit code: 0 done, 2 bad arguments or password (the usage is
 * printed), 1 anything else (standard input failed).
 */
export async function main(args: string[], io: Io): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(`${USAGE}\n`)
    return 0
  }
  try {
    const password = await readFirstLine(io.stdin)
    const entry = await createUserEntry(args, password)
    io.stdout.write(`${JSON.stringify(entry, null, 2)}\n`)
    return 0
  } catch (err) {
    io.stderr.write(`hash-password: ${(err as Error).message}\n`)
    if (err instanceof UsageError || err instanceof ConfigError) {
      io.stderr.write(`${USAGE}\n`)
      return 2
    }
    return 1
  }
}

// Run only when executed as a script, not when a test imports this module. Tests call `main`
// with fake streams; these lines only bind it to the real process, which tap's in-process
// coverage cannot see without spawning a build of the file.
/* c8 ignore next 3 */
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2), process)
}
