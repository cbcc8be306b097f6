/**
 * `npm run hash-password -- --email ada@example.com --name "Ada" --role admin [--id 3] [--cost 10]
 *  [--append users.json]`
 *
 * Makes one user entry for `USERS_FILE`, with the password hashed by `hashPassword`, and prints
 * it as an element of the users array — or, with `--append FILE`, adds it to that file
 * (lib/server/append-user.ts). The password is never an argument: arguments end up in shell
 * history and in `ps` output for every local user to read. On a terminal it is asked for twice,
 * without echo; otherwise it is the first line of standard input:
 *
 *     printf '%s\n' "$PASSWORD" | npm run -s hash-password -- --email … --append users.json
 *
 * `npm run hash-password` builds dist/ first when lib/ changed (scripts/build.mjs).
 */
import { randomUUID } from 'node:crypto'
import { createInterface } from 'node:readline'
import { StringDecoder } from 'node:string_decoder'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { MIN_BCRYPT_COST, hashPassword, passwordProblem } from '../auth/password.js'
import { appendUser } from './append-user.js'
import { ConfigError, MAX_BCRYPT_COST_SETTING } from './config.js'
import { type UserEntry as User, validateUser } from './users.js'

export const USAGE = `usage: npm run hash-password -- --email <email> --name <name> --role admin|user [--id <id>] [--cost <${MIN_BCRYPT_COST}-${MAX_BCRYPT_COST_SETTING}>] [--append <users file>]
Asks for the password (on a terminal) or reads the first line of standard input, then prints a
USERS_FILE entry, or adds it to the file named by --append (created if missing).`

/** A mistake in the command line or the password; `main` prints it with the usage. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/** What the command line asks for: the entry without its hash, the bcrypt cost, where to put it. */
export interface EntryRequest {
  draft: Omit<User, 'passwordHash'>
  cost: number
  append: string | null
}

/**
 * Parse and check the arguments, before any password is asked for. Throws a {@link UsageError}
 * for a bad argument and a `ConfigError` (from `validateUser`) for a field `USERS_FILE` would
 * refuse. `--cost` takes what the server's `BCRYPT_COST` takes.
 *
 * @param args command-line arguments without `node` and the script.
 */
export function parseEntryArgs(args: string[]): EntryRequest {
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
        append: { type: 'string' },
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
  if (!/^\d+$/.test(costText) || cost < MIN_BCRYPT_COST || cost > MAX_BCRYPT_COST_SETTING) {
    throw new UsageError(`--cost must be an integer from ${MIN_BCRYPT_COST} to ${MAX_BCRYPT_COST_SETTING}, got "${costText}"`)
  }
  if (values.append === '') throw new UsageError('--append needs a file name')
  const { passwordHash: _, ...draft } = validateUser(
    { id: values.id ?? randomUUID(), email: values.email, name: values.name, role: values.role, passwordHash: `$2b$04$${'.'.repeat(53)}` },
    'entry',
  )
  return { draft, cost, append: values.append ?? null }
}

/**
 * Hash `password` into the entry. Rejects with a {@link UsageError} for a password that breaks
 * the policy for new passwords.
 */
export async function buildEntry(request: EntryRequest, password: string): Promise<User> {
  const problem = passwordProblem(password, { forNew: true })
  if (problem !== null) throw new UsageError(problem)
  return validateUser({ ...request.draft, passwordHash: await hashPassword(password, request.cost) }, 'entry')
}

/** {@link parseEntryArgs} then {@link buildEntry}: the entry for these arguments and password. */
export async function createUserEntry(args: string[], password: string): Promise<User> {
  return buildEntry(parseEntryArgs(args), password)
}

/**
 * `entry` as it appears inside the users array, JSON indented one level, ready to paste between
 * the brackets (with a comma after the entry before it).
 */
export function formatEntry(entry: User): string {
  return JSON.stringify([entry], null, 2).split('\n').slice(1, -1).join('\n')
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

/** A terminal: what {@link readHidden} needs of `process.stdin`. */
export interface TtyInput extends NodeJS.ReadableStream {
  isTTY: true
  setRawMode(raw: boolean): unknown
}

/**
 * Ask for a password on a terminal without echoing it: raw mode, so the terminal shows nothing
 * and the keys arrive one by one. Enter (or Ctrl-D) ends it, Backspace deletes the last
 * character, Ctrl-C cancels (rejects). What arrived after Enter (typed or pasted ahead) is put
 * back into the stream for the next prompt.
 */
export function readHidden(input: TtyInput, output: { write(text: string): unknown }, prompt: string): Promise<string> {
  output.write(prompt)
  input.setRawMode(true)
  input.resume()
  const decoder = new StringDecoder('utf8')
  let text = ''
  return new Promise((resolve, reject) => {
    const finish = (err: Error | null, rest: string) => {
      input.off('data', onData)
      input.setRawMode(false)
      input.pause()
      if (rest !== '') input.unshift(Buffer.from(rest, 'utf8'))
      output.write('\n')
      if (err === null) resolve(text)
      else reject(err)
    }
    const onData = (chunk: Buffer | string) => {
      const chars = Array.from(typeof chunk === 'string' ? chunk : decoder.write(chunk))
      for (const [i, ch] of chars.entries()) {
        const rest = () => chars.slice(i + 1).join('')
        if (ch === '\r' || ch === '\n' || ch === '\u0004') return finish(null, rest())
        if (ch === '\u0003') return finish(new Error('cancelled'), '')
        if (ch === '\u007f' || ch === '\b') text = Array.from(text).slice(0, -1).join('')
        else text += ch
      }
    }
    input.on('data', onData)
  })
}

export interface Io {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean; setRawMode?(raw: boolean): unknown }
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
}

/** The password: asked for twice on a terminal, else the first line of standard input. */
async function readPassword(io: Io): Promise<string> {
  if (io.stdin.isTTY !== true || io.stdin.setRawMode === undefined) return readFirstLine(io.stdin)
  const tty = io.stdin as TtyInput
  const password = await readHidden(tty, io.stderr, 'Password: ')
  if ((await readHidden(tty, io.stderr, 'Repeat it: ')) !== password) throw new UsageError('the two passwords differ')
  return password
}

/**
 * Run the command; resolves to the exit code: 0 done, 2 bad arguments or password (the usage is
 * printed), 1 anything else (standard input failed, the users file cannot be appended to).
 */
export async function main(args: string[], io: Io): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(`${USAGE}\n`)
    return 0
  }
  let entry: User
  let request: EntryRequest
  try {
    request = parseEntryArgs(args)
    entry = await buildEntry(request, await readPassword(io))
  } catch (err) {
    io.stderr.write(`hash-password: ${(err as Error).message}\n`)
    if (err instanceof UsageError || err instanceof ConfigError) {
      io.stderr.write(`${USAGE}\n`)
      return 2
    }
    return 1
  }
  if (request.append === null) {
    io.stdout.write(`${formatEntry(entry)}\n`)
    io.stderr.write('hash-password: add this entry to the array in your USERS_FILE, or use --append <file>\n')
    return 0
  }
  try {
    const count = await appendUser(request.append, entry)
    io.stderr.write(`hash-password: added ${entry.email} (id ${entry.id}) to ${request.append} (users in the file: ${count}); restart the server to load it\n`)
    return 0
  } catch (err) {
    io.stderr.write(`hash-password: ${(err as Error).message}\n`)
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
