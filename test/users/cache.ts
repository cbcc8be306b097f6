/**
 * UserCache: a hit (the store's `peek`) is synchronous; a miss reads the store; `fresh` and
 * `byEmail` always read the store; changes go to the store. What is kept, and how it stays current,
 * is the store's (test/fixtures/user-store-conformance.ts, test/users/redis.ts).
 */
import t from 'tap'
import { hashPassword } from '../../lib/auth/password.js'
import { UserCache } from '../../lib/users/cache.js'
import { MemoryUserStore } from '../../lib/users/memory.js'
import type { User, UserStore } from '../../lib/users/store.js'

const HASH = await hashPassword('cache-password-1', 4)
const ann: User = { id: 'ann', email: 'ann@example.com', name: 'Ann', role: 'admin', disabled: false, passwordHash: HASH, credentialVersion: 1 }

/** A memory store whose `peek` the test controls (`undefined`: not in memory). */
function setup(): { cache: UserCache; store: MemoryUserStore; memory: Map<string, User | null>; reads: () => number } {
  const store = new MemoryUserStore([ann])
  const memory = new Map<string, User | null>()
  let reads = 0
  const view: UserStore = {
    kind: 'memory',
    peek: (id) => memory.get(id),
    byId: (id) => ((reads++), store.byId(id)),
    byEmail: (email) => store.byEmail(email),
    list: (o) => store.list(o),
    count: () => store.count(),
    create: (u) => store.create(u),
    update: (id, p) => store.update(id, p),
    setPasswordHash: (id, h) => store.setPasswordHash(id, h),
    delete: (id) => store.delete(id),
    close: () => store.close(),
  }
  return { cache: new UserCache(view), store, memory, reads: () => reads }
}

t.test('a hit is synchronous, a miss reads the store, and fresh() always does', async (t) => {
  const { cache, memory, reads } = setup()
  const first = cache.byId('ann')
  t.ok(first instanceof Promise, 'not in memory: the store')
  t.same(await first, ann)
  memory.set('ann', ann)
  memory.set('nobody', null)
  t.same(cache.byId('ann'), ann, 'in memory: a plain value, no promise')
  t.equal(cache.byId('nobody'), null, 'a missing user from memory too')
  t.equal(reads(), 1)
  t.same(await cache.fresh('ann'), ann)
  t.equal(reads(), 2, 'fresh() bypasses memory')
})

t.test('changes go to the store; emails are always looked up there', async (t) => {
  const { cache } = setup()
  await cache.update('ann', { name: 'Anna' })
  t.equal((await cache.byId('ann'))?.name, 'Anna')
  await cache.setPasswordHash('ann', HASH)
  t.equal((await cache.byId('ann'))?.credentialVersion, 2)
  const bob = await cache.create({ email: 'bob@example.com', name: 'Bob', role: 'user', passwordHash: HASH })
  t.equal(bob.ok, true)
  t.same(await cache.create({ email: 'bob@example.com', name: 'Bob', role: 'user', passwordHash: HASH }), { ok: false, reason: 'taken' })
  if (bob.ok) {
    t.same(await cache.delete(bob.user.id), { ok: true })
    t.equal(await cache.byId(bob.user.id), null)
  }
  t.equal((await cache.byEmail('ANN@example.com'))?.id, 'ann', 'emails always go to the store')
  await cache.close()
})

t.test('in front of the memory store: every lookup is a synchronous hit, and always current', async (t) => {
  const store = new MemoryUserStore([ann])
  const cache = new UserCache(store)
  t.same(cache.byId('ann'), ann)
  t.equal(cache.byId('nobody'), null)
  await cache.update('ann', { name: 'Changed' })
  t.equal((cache.byId('ann') as User).name, 'Changed', 'the memory store is its own memory')
  await cache.close()
})
