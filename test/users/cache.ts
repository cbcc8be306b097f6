/**
 * UserCache: hits are synchronous; a change through the cache or on the feed drops the user; a
 * read racing an invalidation is not kept; while the feed is down nothing is served from memory.
 */
import t from 'tap'
import { hashPassword } from '../../lib/auth/password.js'
import { UserCache } from '../../lib/users/cache.js'
import { MemoryUserStore } from '../../lib/users/memory.js'
import { NO_FEED, type ChangeFeed, type User, type UserStore } from '../../lib/users/store.js'

const HASH = await hashPassword('cache-password-1', 4)
const ann: User = { id: 'ann', email: 'ann@example.com', name: 'Ann', role: 'admin', disabled: false, passwordHash: HASH, credentialVersion: 1 }

/** A feed the test drives by hand, over a memory store whose own feed is ignored. */
class ManualFeed implements ChangeFeed {
  live = true
  listeners = new Set<(id: string | null) => void>()
  subscribe(l: (id: string | null) => void) {
    this.listeners.add(l)
    return () => this.listeners.delete(l)
  }
  emit(id: string | null) {
    for (const l of this.listeners) l(id)
  }
}

function setup(): { cache: UserCache; store: MemoryUserStore; feed: ManualFeed; reads: () => number } {
  const store = new MemoryUserStore([ann])
  const feed = new ManualFeed()
  let reads = 0
  const view: UserStore = {
    kind: 'memory',
    changes: feed,
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
  return { cache: new UserCache(view), store, feed, reads: () => reads }
}

t.test('a hit is synchronous; misses (and unknown ids) are read once', async (t) => {
  const { cache, reads } = setup()
  const first = cache.byId('ann')
  t.ok(first instanceof Promise, 'a miss reads the store')
  t.same(await first, ann)
  t.same(cache.byId('ann'), ann, 'then a plain value, no promise')
  t.equal(await cache.byId('nobody'), null)
  t.equal(cache.byId('nobody'), null, 'an unknown id is remembered too')
  t.equal(reads(), 2)
  t.equal(cache.size, 2)
})

t.test('a change on the feed drops the user; null drops everything', async (t) => {
  const { cache, store, feed } = setup()
  await cache.byId('ann')
  await store.update('ann', { name: 'Anne' })
  t.equal((cache.byId('ann') as User).name, 'Ann', 'until the message comes, memory answers')
  feed.emit('ann')
  t.equal((await cache.byId('ann'))?.name, 'Anne', 'after it, the store')
  feed.emit(null)
  t.equal(cache.size, 0)
})

t.test('a change made through the cache is seen at once', async (t) => {
  const { cache } = setup()
  await cache.byId('ann')
  await cache.update('ann', { name: 'Anna' })
  t.equal((await cache.byId('ann'))?.name, 'Anna')
  await cache.setPasswordHash('ann', HASH)
  t.equal((await cache.byId('ann'))?.credentialVersion, 2)
  const bob = await cache.create({ email: 'bob@example.com', name: 'Bob', role: 'user', passwordHash: HASH })
  t.equal(bob.ok, true)
  t.same(await cache.create({ email: 'bob@example.com', name: 'Bob', role: 'user', passwordHash: HASH }), { ok: false, reason: 'taken' })
  if (bob.ok) {
    await cache.byId(bob.user.id)
    t.same(await cache.delete(bob.user.id), { ok: true })
    t.equal(await cache.byId(bob.user.id), null)
  }
  t.equal((await cache.byEmail('ANN@example.com'))?.id, 'ann', 'emails always go to the store')
  t.equal((await cache.fresh('ann'))?.name, 'Anna')
})

t.test('a read in flight when an invalidation arrives is returned but not kept', async (t) => {
  const { cache, store, feed, reads } = setup()
  const pending = cache.byId('ann')
  await store.update('ann', { name: 'Changed' })
  feed.emit('ann')
  t.equal((await pending)?.name, 'Ann', 'the read began before the change: its answer is old…')
  const before = reads()
  await cache.byId('ann')
  t.equal(reads(), before + 1, '…and was not kept: read again')
  t.equal((await cache.byId('ann'))?.name, 'Changed')
})

t.test('while the feed is down: no hit is served, nothing is kept', async (t) => {
  const { cache, feed, reads } = setup()
  await cache.byId('ann')
  feed.live = false
  const before = reads()
  t.ok(cache.byId('ann') instanceof Promise, 'memory is bypassed')
  await cache.byId('ann')
  t.equal(reads(), before + 2)
  feed.live = true
  feed.emit(null)
  await cache.byId('ann')
  t.same(cache.byId('ann'), ann, 'back up: cached again')
})

t.test('a store without a feed is never served from memory', async (t) => {
  const store = new MemoryUserStore([ann])
  const view: UserStore = { ...bind(store), changes: NO_FEED }
  const cache = new UserCache(view)
  await cache.byId('ann')
  t.ok(cache.byId('ann') instanceof Promise)
  t.equal(cache.size, 0)
  await cache.close()
})

function bind(store: MemoryUserStore): Omit<UserStore, 'changes'> {
  return {
    kind: store.kind, byId: (id) => store.byId(id), byEmail: (e) => store.byEmail(e), list: (o) => store.list(o), count: () => store.count(),
    create: (u) => store.create(u), update: (id, p) => store.update(id, p), setPasswordHash: (id, h) => store.setPasswordHash(id, h),
    delete: (id) => store.delete(id), close: () => store.close(),
  }
}

t.test('the cache is bounded', async (t) => {
  const store = new MemoryUserStore([ann])
  const cache = new UserCache(store, { maxEntries: 2 })
  await cache.byId('a')
  await cache.byId('b')
  t.equal(cache.size, 2)
  await cache.byId('ann')
  t.equal(cache.size, 1, 'full: started over')
  await cache.close()
  t.equal(cache.size, 0)
})
