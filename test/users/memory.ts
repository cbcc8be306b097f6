/** MemoryUserStore: the conformance suite, then what only it has (the users file written back). */
import { mkdtemp, readFile, rm, stat, writeFile, chmod } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { hashPassword } from '../../lib/auth/password.js'
import { MemoryUserStore, writeUsersFile } from '../../lib/users/memory.js'
import type { User } from '../../lib/users/store.js'
import { userStoreConformance } from '../fixtures/user-store-conformance.js'

await userStoreConformance(t, { name: 'memory', shared: false, make: async () => new MemoryUserStore() })

const HASH = await hashPassword('file-password-1', 4)
const ann: User = { id: 'ann', email: 'ann@example.com', name: 'Ann', role: 'admin', disabled: false, passwordHash: HASH, credentialVersion: 1 }

async function tempDir(t: Tap): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sk-users-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  return dir
}
type Tap = { teardown(fn: () => unknown): void }

t.test('every change is written to the file first, atomically, keeping its mode', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'users.json')
  await writeFile(file, '[]')
  await chmod(file, 0o640)
  const store = new MemoryUserStore([ann], { file })
  const bob = await store.create({ email: 'bob@example.com', name: 'Bob', role: 'user', passwordHash: HASH })
  if (!bob.ok) throw new Error('create failed')
  await store.update(bob.user.id, { disabled: true })
  await store.setPasswordHash('ann', bob.user.passwordHash)
  const saved = JSON.parse(await readFile(file, 'utf8')) as Array<Record<string, unknown>>
  t.same(saved.map((u) => u.id).sort(), ['ann', bob.user.id].sort())
  t.same(saved.find((u) => u.id === bob.user.id), { id: bob.user.id, email: 'bob@example.com', name: 'Bob', role: 'user', passwordHash: HASH, disabled: true })
  t.equal(saved.find((u) => u.id === 'ann')?.disabled, undefined, 'enabled users keep the old entry shape')
  t.equal((await stat(file)).mode & 0o777, 0o640, 'the mode is kept')
  await store.delete(bob.user.id)
  t.same((JSON.parse(await readFile(file, 'utf8')) as unknown[]).length, 1)
})

t.test('a failed write changes nothing in memory', async (t) => {
  const dir = await tempDir(t)
  const store = new MemoryUserStore([ann], { file: join(dir, 'missing-dir', 'users.json') })
  await t.rejects(store.setPasswordHash('ann', await hashPassword('other-password-1', 4)), { code: 'ENOENT' })
  t.equal((await store.byId('ann'))?.credentialVersion, 1)
  await t.rejects(store.update('ann', { name: 'Still tries' }), { code: 'ENOENT' }, 'a rejected change leaves the queue usable')
})

t.test('a new file gets mode 0600', async (t) => {
  const dir = await tempDir(t)
  const file = join(dir, 'new.json')
  await writeUsersFile(file, [ann])
  t.equal((await stat(file)).mode & 0o777, 0o600)
})

t.test('duplicates given to the constructor are a programmer error', async (t) => {
  t.throws(() => new MemoryUserStore([ann, ann]), TypeError)
  t.throws(() => new MemoryUserStore([ann, { ...ann, id: 'other' }]), TypeError)
  await new MemoryUserStore().close()
})
