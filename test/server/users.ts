import { mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { hashPassword, verifyPassword } from '../../lib/auth/password.js'
import { ErrorCodes } from '../../lib/errors.js'
import { UserDirectory, normalizeEmail, validateUser, type User } from '../../lib/server/users.js'

const COST = 4
const hashA = await hashPassword('password-a', COST)
const hashB = await hashPassword('password-b', COST)

function entries(): User[] {
  return [
    { id: 'u1', email: '  Ada@Example.COM ', name: 'Ada', role: 'admin', passwordHash: hashA },
    { id: 'u2', email: 'bob@example.com', name: ' Bob ', role: 'user', passwordHash: hashB },
  ]
}

/** A fresh directory holding users.json with `content`; returns the file's path. */
function usersFile(t: Test, content: unknown): string {
  const dir = t.testdir({ 'users.json': typeof content === 'string' ? content : JSON.stringify(content) })
  return join(dir, 'users.json')
}

t.test('demo users', async (t) => {
  const users = await UserDirectory.demo(COST)
  const admin = users.byEmail(' ADMIN@example.com')
  t.match(admin, { id: '1', email: 'admin@example.com', name: 'Ada Admin', role: 'admin' })
  t.equal(await verifyPassword('admin-password-1', admin?.passwordHash), true)
  const john = users.byId('2')
  t.match(john, { id: '2', email: 'john@example.com', name: 'John', role: 'user' })
  t.equal(await verifyPassword('john-password-1', john?.passwordHash), true)
  t.equal(await verifyPassword('admin-password-1', john?.passwordHash), false)
  t.strictSame(users.list(), [
    { id: '1', email: 'admin@example.com', name: 'Ada Admin', role: 'admin' },
    { id: '2', email: 'john@example.com', name: 'John', role: 'user' },
  ])
  t.equal(users.byId('3'), undefined)
  t.equal(users.byEmail('nobody@example.com'), undefined)
  t.ok(Object.isFrozen(admin), 'entries cannot be mutated by callers')
  await t.rejects(UserDirectory.demo(3), { code: ErrorCodes.OPTION_INVALID })
})

t.test('empty directory', async (t) => {
  const users = UserDirectory.empty()
  t.strictSame(users.list(), [])
  t.equal(users.byEmail('admin@example.com'), undefined)
  t.equal(await users.setPasswordHash('1', hashA), false)
})

t.test('fromFile loads, normalizes and never lists hashes', async (t) => {
  const users = await UserDirectory.fromFile(usersFile(t, entries()))
  t.equal(users.byEmail('ada@example.com')?.id, 'u1')
  t.equal(users.byEmail('ADA@EXAMPLE.COM')?.id, 'u1')
  t.equal(users.byId('u2')?.name, 'Bob', 'name trimmed')
  t.equal(users.byId('u2')?.passwordHash, hashB)
  t.strictSame(users.list(), [
    { id: 'u1', email: 'ada@example.com', name: 'Ada', role: 'admin' },
    { id: 'u2', email: 'bob@example.com', name: 'Bob', role: 'user' },
  ])
  const bob = users.byId('u2') as User
  t.strictSame(users.toPublic(bob), { id: 'u2', email: 'bob@example.com', name: 'Bob', role: 'user' })
  t.equal(normalizeEmail('  X@Y.Z '), 'x@y.z')
})

t.test('fromFile refuses bad files with a ConfigError naming file and entry', async (t) => {
  const ok = entries()[1] as User
  const cases: Array<[string, unknown, number | null]> = [
    ['not JSON', '[{"id": ', null],
    ['not an array', { users: [] }, null],
    ['entry null', [null], 0],
    ['entry array', [ok, []], 1],
    ['entry string', ['u1'], 0],
    ['unknown field', [{ ...ok, passwordhash: hashA }], 0],
    ...[undefined, '', 'a b', 'x'.repeat(65), 7, 'é'].map((id) => [`id ${String(id)}`, [{ ...ok, id }], 0] as [string, unknown, number]),
    ...[undefined, 'no-at', 'a b@c.d', 'a@b@c', '@b.c', 'a@', `${'a'.repeat(250)}@b.cd`, 7].map(
      (email) => [`email ${String(email).slice(0, 20)}`, [{ ...ok, email }], 0] as [string, unknown, number],
    ),
    ...[undefined, '', '   ', 'x'.repeat(101), 'a\nb', 'a\u007fb', 7].map((name) => [`name ${String(name).slice(0, 20)}`, [{ ...ok, name }], 0] as [string, unknown, number]),
    ...[undefined, 'root', 'Admin'].map((role) => [`role ${String(role)}`, [{ ...ok, role }], 0] as [string, unknown, number]),
    ...[undefined, 'password-b', hashB.replace('$2b$', '$2x$'), hashB.slice(0, -1)].map(
      (passwordHash) => [`hash ${String(passwordHash).slice(0, 10)}`, [{ ...ok, passwordHash }], 0] as [string, unknown, number],
    ),
    ['duplicate id', [ok, { ...ok, email: 'other@example.com' }], 1],
    ['duplicate email, other case', [ok, { ...ok, id: 'u3', email: 'BOB@example.com' }], 1],
  ]
  for (const [label, content, entry] of cases) {
    const path = usersFile(t, content)
    const message = new RegExp(`${path.replace(/[.\\/]/g, '\\$&')}.*${entry === null ? '' : `entry ${entry}\\b`}`)
    await t.rejects(UserDirectory.fromFile(path), { name: 'ConfigError', message }, label)
  }
  const missing = join(t.testdir(), 'nope.json')
  await t.rejects(UserDirectory.fromFile(missing), { name: 'ConfigError', cause: { code: 'ENOENT' } })
  t.throws(() => validateUser({}, 'here'), { name: 'ConfigError', message: /^here: / })
})

t.test('setPasswordHash rewrites the file atomically, mode 0600', async (t) => {
  const path = usersFile(t, entries())
  const users = await UserDirectory.fromFile(path)
  const before = users.byId('u1')
  const fresh = await hashPassword('password-new', COST)
  t.equal(await users.setPasswordHash('u1', fresh), true)
  t.equal(users.byId('u1')?.passwordHash, fresh)
  t.equal(users.byEmail('ada@example.com')?.passwordHash, fresh)
  t.equal(before?.passwordHash, hashA, 'the old frozen entry is untouched')
  const reloaded = await UserDirectory.fromFile(path)
  t.equal(reloaded.byId('u1')?.passwordHash, fresh)
  t.equal(reloaded.byId('u2')?.passwordHash, hashB, 'other users kept')
  t.strictSame(reloaded.list(), users.list())
  t.equal((await stat(path)).mode & 0o777, 0o600)
  t.strictSame(await readdir(join(path, '..')), ['users.json'], 'no temporary file left')
  t.equal(await users.setPasswordHash('nobody', fresh), false)
  await t.rejects(users.setPasswordHash('u1', 'plain'), { name: 'TypeError', code: ErrorCodes.PASSWORD_INVALID })
})

t.test('concurrent changes are serialized, none is lost', async (t) => {
  const path = usersFile(t, entries())
  const users = await UserDirectory.fromFile(path)
  const [h1, h2] = await Promise.all([hashPassword('new-password-1', COST), hashPassword('new-password-2', COST)])
  t.strictSame(await Promise.all([users.setPasswordHash('u1', h1), users.setPasswordHash('u2', h2)]), [true, true])
  const saved = JSON.parse(await readFile(path, 'utf8')) as User[]
  t.strictSame(saved.map((u) => u.passwordHash), [h1, h2])
})

t.test('a failed write rejects and changes nothing; later writes still work', async (t) => {
  const path = usersFile(t, entries())
  const dir = join(path, '..')
  const users = await UserDirectory.fromFile(path)
  // The directory disappears: the temporary file cannot be created.
  await rm(dir, { recursive: true })
  await t.rejects(users.setPasswordHash('u1', hashB), { code: 'ENOENT' })
  t.equal(users.byId('u1')?.passwordHash, hashA, 'memory unchanged')
  // The target is now a directory: the temporary file is written, the rename fails, and the
  // temporary file is removed.
  await mkdir(path, { recursive: true })
  await t.rejects(users.setPasswordHash('u1', hashB), { code: /^(EISDIR|ENOTEMPTY|EEXIST|EPERM)$/ })
  t.strictSame(await readdir(dir), ['users.json'], 'temporary file removed')
  t.equal(users.byId('u1')?.passwordHash, hashA)
  await rm(path, { recursive: true })
  await writeFile(path, '[]')
  t.equal(await users.setPasswordHash('u1', hashB), true, 'the queue recovered')
  t.equal(users.byId('u1')?.passwordHash, hashB)
})

t.test('demo users change passwords in memory only', async (t) => {
  const users = await UserDirectory.demo(COST)
  t.equal(await users.setPasswordHash('2', hashA), true)
  t.equal(users.byEmail('john@example.com')?.passwordHash, hashA)
})
