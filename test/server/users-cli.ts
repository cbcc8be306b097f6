/**
 * `npm run users`: every command against a USERS_FILE (memory store) and against Redis, exit codes
 * 0 / 1 / 2, passwords from stdin (a prompt without echo on a terminal).
 */
import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { PassThrough, Readable } from 'node:stream'
import { Redis } from 'ioredis'
import t from 'tap'
import { hashPassword, verifyPassword } from '../../lib/auth/password.js'
import { main } from '../../lib/server/users-cli.js'
import { wipePrefix } from '../fixtures/child-env.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const HASH = await hashPassword('file-password-1', 4)

async function cli(env: Record<string, string>, args: string[], stdin = '', tty = false) {
  let out = ''
  let err = ''
  const input = Readable.from([stdin]) as Readable & { isTTY?: boolean }
  if (tty) input.isTTY = true
  const code = await main(args, { stdin: input, stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) }, env: { BCRYPT_COST: '4', ...env } })
  return { code, out, err }
}

t.test('against a USERS_FILE', async (t) => {
  const dir = t.testdir({ 'users.json': JSON.stringify([{ id: 'ada', email: 'ada@example.com', name: 'Ada', role: 'admin', passwordHash: HASH }]) })
  const file = join(dir, 'users.json')
  const env = { USERS_FILE: file }
  t.match(await cli(env, ['list']), { code: 0, out: 'ada\tada@example.com\tadmin\tenabled\tAda\n' })
  const added = await cli(env, ['add', '--email', 'Bob@Example.com', '--name', 'Bob'], 'bob-password-1\n')
  t.match(added, { code: 0, out: /^added \S+\tbob@example.com\tuser\tenabled\tBob\n$/ })
  t.match(await cli(env, ['add', '--email', 'bob@example.com', '--name', 'Bob'], 'bob-password-1\n'), { code: 1, err: /email already in use/ })
  t.match(await cli(env, ['add', '--email', 'x', '--name', 'X'], 'x-password-1\n'), { code: 2, err: /email must be/ })
  t.match(await cli(env, ['add', '--email', 'c@example.com', '--name', 'C'], 'short\n'), { code: 2 })
  t.match(await cli(env, ['add', '--bogus'], ''), { code: 2, err: /usage/ })
  const prompted = await cli(env, ['set-password', 'bob@example.com'], 'new-bob-password-1\n', true)
  t.match(prompted, { code: 0, err: /^New password for bob@example.com: \n$/ }, 'a prompt on a terminal, no echo')
  const saved = JSON.parse(await readFile(file, 'utf8')) as Array<{ email: string; passwordHash: string }>
  t.equal(await verifyPassword('new-bob-password-1', saved.find((u) => u.email === 'bob@example.com')?.passwordHash), true, 'written to the file')
  t.match(await cli(env, ['set-password', 'ada'], 'short\n'), { code: 2 })
  t.match(await cli(env, ['disable', 'ada']), { code: 1, err: /last enabled admin/ })
  t.match(await cli(env, ['disable', 'bob@example.com']), { code: 0, out: /disabled/ })
  t.match(await cli(env, ['enable', 'bob@example.com']), { code: 0, out: /enabled/ })
  t.match(await cli(env, ['delete', 'ada']), { code: 1, err: /last enabled admin/ })
  t.match(await cli(env, ['delete', 'nobody']), { code: 1, err: /no user nobody/ })
  t.match(await cli(env, ['delete']), { code: 2 })
  t.match(await cli(env, ['delete', 'bob@example.com']), { code: 0 })
  const other = join(dir, 'import.json')
  await writeFile(other, JSON.stringify([{ id: 'ada', email: 'ada-other@example.com', name: 'Ada', role: 'admin', passwordHash: HASH }, { id: 'cy', email: 'cy@example.com', name: 'Cy', role: 'user', passwordHash: HASH }, { id: 'dup', email: 'ada@example.com', name: 'D', role: 'user', passwordHash: HASH }]))
  t.match(await cli(env, ['import', other]), { code: 0, out: 'imported 1, kept 1 that exist, skipped dup (email taken)\n' })
  t.match(await cli(env, ['import']), { code: 2 })
  t.match(await cli(env, ['frobnicate']), { code: 2, err: /unknown command/ })
  t.match(await cli(env, []), { code: 2, out: /usage/ })
  t.match(await cli(env, ['--help']), { code: 0, out: /usage/ })
  t.match(await cli({}, ['list']), { code: 2, err: /no store configured/ })
  t.match(await cli({ USERS_FILE: join(dir, 'missing.json') }, ['list']), { code: 1, err: /cannot read it/ })
})

t.test('against Redis: changes reach the store the servers share', async (t) => {
  const prefix = `t-cli-${randomBytes(6).toString('hex')}:`
  const raw = new Redis(url)
  t.teardown(async () => {
    await wipePrefix(raw, prefix)
    await raw.quit()
  })
  const env = { REDIS_URL: url, REDIS_PREFIX: prefix }
  const dir = t.testdir({ 'users.json': JSON.stringify([{ id: 'ada', email: 'ada@example.com', name: 'Ada', role: 'admin', passwordHash: HASH }]) })
  t.match(await cli(env, ['import', join(dir, 'users.json')]), { code: 0, out: 'imported 1, kept 0 that exist\n' })
  t.match(await cli(env, ['add', '--email', 'eve@example.com', '--name', 'Eve', '--role', 'admin'], 'eve-password-1\n'), { code: 0 })
  t.match(await cli(env, ['disable', 'ada']), { code: 0 })
  t.match(await cli(env, ['list']), { code: 0, out: /ada\tada@example.com\tadmin\tdisabled\tAda\n/ })
  const stdin = new PassThrough()
  stdin.end()
  t.match(await cli(env, ['set-password', 'eve@example.com'], ''), { code: 2 }, 'an empty password is refused')
})
