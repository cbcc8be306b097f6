import { chmod, mkdir, readFile, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { hashPassword, verifyPassword } from '../../lib/auth/password.js'
import { ErrorCodes } from '../../lib/errors.js'
import { loadConfig } from '../../lib/server/config.js'
import { demoUsers, importUsers, normalizeEmail, openUsers, readUsersFile, toUser, validateUser, type UserEntry } from '../../lib/server/users.js'
import { MemoryUserStore } from '../../lib/users/memory.js'

const COST = 4
const hashA = await hashPassword('password-a', COST)
const hashB = await hashPassword('password-b', COST)

function entries(): UserEntry[] {
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
  const users = await demoUsers(COST)
  const [admin, john] = users
  t.match(admin, { id: '1', email: 'admin@example.com', name: 'Ada Admin', role: 'admin' })
  t.equal(await verifyPassword('admin-password-1', admin?.passwordHash), true)
  t.match(john, { id: '2', email: 'john@example.com', name: 'John', role: 'user' })
  t.equal(await verifyPassword('john-password-1', john?.passwordHash), true)
  t.equal(await verifyPassword('admin-password-1', john?.passwordHash), false)
  await t.rejects(demoUsers(3), { code: ErrorCodes.OPTION_INVALID })
  t.same(toUser(john as UserEntry), { ...john, disabled: false, credentialVersion: 1 })
})

t.test('readUsersFile loads and normalizes', async (t) => {
  const users = await readUsersFile(usersFile(t, [...entries(), { id: 'u3', email: 'c@example.com', name: 'C', role: 'user', passwordHash: hashB, disabled: true }]))
  t.strictSame(users.map((u) => [u.id, u.email, u.name, u.disabled]), [
    ['u1', 'ada@example.com', 'Ada', undefined],
    ['u2', 'bob@example.com', 'Bob', undefined],
    ['u3', 'c@example.com', 'C', true],
  ])
  t.equal(normalizeEmail('  X@Y.Z '), 'x@y.z')
  t.throws(() => validateUser({ ...entries()[0], disabled: 'no' }, 'here'), { name: 'ConfigError', message: /disabled/ })
})

t.test('fromFile refuses bad files with a ConfigError naming file and entry', async (t) => {
  const ok = entries()[1] as UserEntry
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
    await t.rejects(readUsersFile(path), { name: 'ConfigError', message }, label)
  }
  const missing = join(t.testdir(), 'nope.json')
  await t.rejects(readUsersFile(missing), { name: 'ConfigError', cause: { code: 'ENOENT' } })
  t.throws(() => validateUser({}, 'here'), { name: 'ConfigError', message: /^here: / })
})

async function fileStore(path: string): Promise<MemoryUserStore> {
  return new MemoryUserStore((await readUsersFile(path)).map(toUser), { file: path })
}

t.test('setPasswordHash rewrites the file atomically, mode 0600', async (t) => {
  const path = usersFile(t, entries())
  await chmod(path, 0o600)
  const users = await fileStore(path)
  const before = await users.byId('u1')
  const fresh = await hashPassword('password-new', COST)
  t.equal((await users.setPasswordHash('u1', fresh)).ok, true)
  t.equal((await users.byId('u1'))?.passwordHash, fresh)
  t.equal((await users.byEmail('ada@example.com'))?.passwordHash, fresh)
  t.equal(before?.passwordHash, hashA, 'the old frozen entry is untouched')
  const reloaded = await fileStore(path)
  t.equal((await reloaded.byId('u1'))?.passwordHash, fresh)
  t.equal((await reloaded.byId('u2'))?.passwordHash, hashB, 'other users kept')
  t.equal((await stat(path)).mode & 0o777, 0o600)
  t.strictSame(await readdir(join(path, '..')), ['users.json'], 'no temporary file left')
  t.same(await users.setPasswordHash('nobody', fresh), { ok: false, reason: 'missing' })
  await t.rejects(users.setPasswordHash('u1', 'plain'), { name: 'TypeError', code: ErrorCodes.PASSWORD_INVALID })
})

t.test('concurrent changes are serialized, none is lost', async (t) => {
  const path = usersFile(t, entries())
  const users = await fileStore(path)
  const [h1, h2] = await Promise.all([hashPassword('new-password-1', COST), hashPassword('new-password-2', COST)])
  const results = await Promise.all([users.setPasswordHash('u1', h1), users.setPasswordHash('u2', h2)])
  t.strictSame(results.map((r) => r.ok), [true, true])
  const saved = JSON.parse(await readFile(path, 'utf8')) as UserEntry[]
  t.strictSame(saved.map((u) => u.passwordHash), [h1, h2])
})

t.test('a failed write rejects and changes nothing; later writes still work', async (t) => {
  const path = usersFile(t, entries())
  const dir = join(path, '..')
  const users = await fileStore(path)
  // The directory disappears: the temporary file cannot be created.
  await rm(dir, { recursive: true })
  await t.rejects(users.setPasswordHash('u1', hashB), { code: 'ENOENT' })
  t.equal((await users.byId('u1'))?.passwordHash, hashA, 'memory unchanged')
  // The target is now a directory: the temporary file is written, the rename fails, and the
  // temporary file is removed.
  await mkdir(path, { recursive: true })
  await t.rejects(users.setPasswordHash('u1', hashB), { code: /^(EISDIR|ENOTEMPTY|EEXIST|EPERM)$/ })
  t.strictSame(await readdir(dir), ['users.json'], 'temporary file removed')
  t.equal((await users.byId('u1'))?.passwordHash, hashA)
  await rm(path, { recursive: true })
  await writeFile(path, '[]')
  t.equal((await users.setPasswordHash('u1', hashB)).ok, true, 'the queue recovered')
  t.equal((await users.byId('u1'))?.passwordHash, hashB)
})

t.test('openUsers on memory: the demo users, a file, or nobody in production', async (t) => {
  const base = loadConfig({ BCRYPT_COST: '4' })
  const demo = await openUsers(base)
  t.equal((await demo.byEmail('john@example.com'))?.id, '2')
  const path = usersFile(t, entries())
  const file = await openUsers({ ...base, usersFile: path })
  t.equal((await file.setPasswordHash('u2', hashA)).ok, true)
  t.equal((await readUsersFile(path))[1]?.passwordHash, hashA, 'the file is the source: written back')
  const none = await openUsers({ ...base, production: true })
  t.same((await none.store.list()).users, [])
})

t.test('openUsers on Redis: an import that fails closes what it opened and rejects', async (t) => {
  const dead = new Redis({ port: 1, host: '127.0.0.1', lazyConnect: true, retryStrategy: () => null, enableOfflineQueue: false, maxRetriesPerRequest: 0 })
  dead.on('error', () => {})
  t.teardown(() => dead.disconnect())
  const config = loadConfig({ BCRYPT_COST: '4', REDIS_URL: 'redis://127.0.0.1:1', REDIS_PREFIX: 't-dead:' })
  await t.rejects(openUsers(config, { redisClient: dead, log: () => {} }), { code: 'ERR_STORE_UNAVAILABLE' })
})

t.test('importUsers creates what is missing and never overwrites', async (t) => {
  const store = new MemoryUserStore([toUser({ id: 'u1', email: 'ada@example.com', name: 'Changed', role: 'admin', passwordHash: hashB })])
  const counts = await importUsers(store, [...entries().map((e) => validateUser(e, 'e')), { id: 'u9', email: 'bob@example.com', name: 'Clash', role: 'user', passwordHash: hashA }])
  t.same(counts, { imported: 1, kept: 1, conflicts: ['u9'] })
  t.equal((await store.byId('u1'))?.passwordHash, hashB, 'an existing user keeps its (changed) password')
})
