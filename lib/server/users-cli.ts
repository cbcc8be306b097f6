/**
 * `npm run users -- <command>`: user administration for operators, against the store the server
 * is configured with (the same environment: REDIS_URL / REDIS_CLUSTER_NODES / REDIS_PREFIX, or
 * USERS_FILE for the memory store). A change made here is in force on every running server at
 * once: on Redis their caches hear of it from Redis (client tracking), and the credential version
 * it bumps ends the user's sessions (lib/auth/guards.ts). With the memory store the file is rewritten; servers
 * read it at start.
 *
 *     npm run users -- list
 *     npm run users -- add --email ada@example.com --name "Ada" [--role admin]   (password on stdin)
 *     npm run users -- set-password <id|email>                                    (password on stdin)
 *     npm run users -- disable <id|email> | enable <id|email> | delete <id|email>
 *     npm run users -- import users.json
 *
 * Passwords come from standard input, never from an argument (shell history, `ps`); on a terminal
 * the prompt does not echo. Exit codes: 0 done, 1 refused or failed (not found, taken, last admin,
 * store down), 2 bad usage.
 */
import { createInterface } from 'node:readline'
import { Writable } from 'node:stream'
import { pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { hashPassword, passwordProblem } from '../auth/password.js'
import type { RedisStore } from '../stores/redis.js'
import { createStore } from './app.js'
import { MemoryUserStore } from '../users/memory.js'
import { RedisUserStore } from '../users/redis.js'
import { type ChangeResult, type DeleteResult, type User, type UserStore } from '../users/store.js'
import { emailProblem, nameProblem, roleProblem } from '../users/validate.js'
import { loadConfig, type ServerConfig } from './config.js'
import { importUsers, readUsersFile, toUser } from './users.js'

export const USAGE = `usage: npm run users -- <command>
  list
  add --email <email> --name <name> [--role user|admin]   password on stdin
  set-password <id|email>                                 password on stdin
  disable <id|email>
  enable <id|email>
  delete <id|email>
  import <file>                                           create the users not there yet
The store is the server's: REDIS_URL / REDIS_CLUSTER_NODES (+ REDIS_PREFIX), else USERS_FILE.`

export interface CliIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean }
  stdout: { write(text: string): unknown }
  stderr: { write(text: string): unknown }
  env: NodeJS.ProcessEnv
}

class Usage extends Error {}
class Refused extends Error {}

/** The first line of stdin; on a terminal, after a prompt, without echo. */
async function readPassword(io: CliIo, prompt: string): Promise<string> {
  const tty = io.stdin.isTTY === true
  if (tty) io.stderr.write(prompt)
  // readline echoes what it reads to `output`: a sink that drops it keeps the password off screen.
  const sink = new Writable({ write: (_chunk, _enc, done) => done() })
  const lines = createInterface({ input: io.stdin, output: sink, terminal: tty, crlfDelay: Infinity })
  try {
    for await (const line of lines) return line
    return ''
  } finally {
    lines.close()
    if (tty) io.stderr.write('\n')
  }
}

/** The configured user store, and how to close it. */
async function open(config: ServerConfig): Promise<{ users: UserStore; close: () => Promise<void> }> {
  if (config.store.kind === 'memory') {
    if (config.usersFile === null) throw new Usage('no store configured: set REDIS_URL, REDIS_CLUSTER_NODES or USERS_FILE')
    const file = config.usersFile
    return { users: new MemoryUserStore((await readUsersFile(file)).map(toUser), { file }), close: async () => {} }
  }
  // A one-shot command: no client cache (its tracking connections would serve no second read).
  const sessions = createStore({ ...config.store, clientCache: false }, config.redisPrefix) as RedisStore
  // The CLI reads each user once: no cache. Its changes reach the servers' caches through Redis's
  // client tracking, like any other process's.
  const users = new RedisUserStore({ client: sessions.client, cache: false, prefix: config.redisPrefix })
  return { users, close: () => sessions.close() }
}

async function find(users: UserStore, who: string | undefined): Promise<User> {
  if (who === undefined) throw new Usage('give the user: <id|email>')
  const user = who.includes('@') ? await users.byEmail(who) : await users.byId(who)
  if (user === null) throw new Refused(`no user ${who}`)
  return user
}

const REFUSED = { missing: 'no such user', 'last-admin': 'the last enabled admin cannot be demoted, disabled or deleted' }

function done(result: ChangeResult | DeleteResult, what: string): string {
  if (result.ok) return what
  throw new Refused(REFUSED[result.reason])
}

function row(u: User): string {
  return [u.id, u.email, u.role, u.disabled ? 'disabled' : 'enabled', u.name].join('\t')
}

async function run(users: UserStore, command: string, rest: string[], io: CliIo, cost: number): Promise<string> {
  switch (command) {
    case 'list': {
      const lines: string[] = []
      for (let after: string | null = null, first = true; first || after !== null; first = false) {
        const page = await users.list({ after, limit: 1000 })
        lines.push(...page.users.map(row))
        after = page.next
      }
      return lines.join('\n')
    }
    case 'add': {
      const { values } = parseArgs({ args: rest, strict: true, options: { email: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' } } })
      const role = values.role ?? 'user'
      const problem = emailProblem(values.email) ?? nameProblem(values.name) ?? roleProblem(role)
      if (problem !== null) throw new Usage(problem)
      const password = await readPassword(io, 'Password for the new user: ')
      const bad = passwordProblem(password, { forNew: true })
      if (bad !== null) throw new Usage(bad)
      const result = await users.create({ email: values.email as string, name: values.name as string, role: role as 'user', passwordHash: await hashPassword(password, cost) })
      if (!result.ok) throw new Refused('email already in use')
      return `added ${row(result.user)}`
    }
    case 'set-password': {
      const user = await find(users, rest[0])
      const password = await readPassword(io, `New password for ${user.email}: `)
      const bad = passwordProblem(password, { forNew: true })
      if (bad !== null) throw new Usage(bad)
      return done(await users.setPasswordHash(user.id, await hashPassword(password, cost)), `password of ${user.id} set; their sessions end`)
    }
    case 'disable':
    case 'enable': {
      const user = await find(users, rest[0])
      return done(await users.update(user.id, { disabled: command === 'disable' }), `${user.id} ${command}d`)
    }
    case 'delete': {
      const user = await find(users, rest[0])
      return done(await users.delete(user.id), `${user.id} deleted`)
    }
    case 'import': {
      if (rest[0] === undefined) throw new Usage('give the file to import')
      const counts = await importUsers(users, await readUsersFile(rest[0]))
      const skipped = counts.conflicts.length > 0 ? `, skipped ${counts.conflicts.join(', ')} (email taken)` : ''
      return `imported ${counts.imported}, kept ${counts.kept} that exist${skipped}`
    }
    default:
      throw new Usage(`unknown command ${JSON.stringify(command)}`)
  }
}

/** Run one command; resolves to the exit code. */
export async function main(args: string[], io: CliIo): Promise<number> {
  const [command, ...rest] = args
  if (command === undefined || command === '--help' || command === '-h') {
    io.stdout.write(`${USAGE}\n`)
    return command === undefined ? 2 : 0
  }
  let close = async (): Promise<void> => {}
  let code = 0
  try {
    const config = loadConfig(io.env)
    const store = await open(config)
    close = store.close
    io.stdout.write(`${await run(store.users, command, rest, io, config.bcryptCost)}\n`)
  } catch (err) {
    io.stderr.write(`users: ${(err as Error).message}\n`)
    const usage = err instanceof Usage || String((err as NodeJS.ErrnoException).code).startsWith('ERR_PARSE_ARGS')
    if (usage) io.stderr.write(`${USAGE}\n`)
    code = usage ? 2 : 1
  }
  await close()
  return code
}

/* c8 ignore next 3 -- binds main() to the real process; tests call main() with fake streams */
if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = await main(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env })
}
