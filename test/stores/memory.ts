import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { ErrorCodes } from '../../lib/errors.js'
import type { SessionRecord } from '../../lib/store.js'
import { MemoryStore, type MemoryStoreOptions } from '../../lib/stores/memory.js'
import { storeConformance } from '../fixtures/store-conformance.js'

/** A fake clock: expiry without sleeping. */
function fakeClock(start = Date.UTC(2025, 0, 1)) {
  let at = start
  return {
    now: () => at,
    advance: async (ms: number) => {
      at += ms
    },
  }
}

function record(now: number, over: Partial<SessionRecord> = {}): SessionRecord {
  return {
    version: 1,
    data: '{}',
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + 60_000,
    absoluteExpiresAt: now + 86_400_000,
    remember: false,
    userId: null,
    handle: 'h',
    userAgent: 'ua',
    ip: '127.0.0.1',
    credentialVersion: 0,
    authenticatedAt: null,
    ...over,
  }
}

const clock = fakeClock()
await storeConformance(t, {
  name: 'memory',
  make: () => new MemoryStore({ now: clock.now }),
  now: clock.now,
  advance: clock.advance,
})

t.test('options are validated at construction', async (t) => {
  const bad: (readonly [string, unknown])[] = [
    ['options', null],
    ['options', 'big'],
    ...[0, -1, 1.5, Number.NaN, Infinity, '10', 2 ** 53].map((v) => ['maxSessions', v] as const),
    ...[0, 2.5, '1', null].map((v) => ['maxCounters', v] as const),
    ...[0, 1.5, '1'].map((v) => ['maxAnonymousSessions', v] as const),
    ...[0, -5, 2 ** 31, 1.5, '60000'].map((v) => ['sweepIntervalMs', v] as const),
    ['now', 123],
    ['now', 'Date.now'],
  ]
  for (const [name, value] of bad) {
    const options = (name === 'options' ? value : { [name]: value }) as MemoryStoreOptions
    const shape = { name: 'TypeError', code: ErrorCodes.OPTION_INVALID }
    t.throws(() => new MemoryStore(options), shape, `${name}: ${String(value)}`)
  }

  const limits = { maxSessions: 1, maxCounters: 1, sweepIntervalMs: 2 ** 31 - 1 }
  const store = new MemoryStore({ ...limits, now: Date.now })
  t.teardown(() => store.close())
  t.equal(store.kind, 'memory')
  t.equal(store.local, true)
  const defaults = new MemoryStore()
  t.teardown(() => defaults.close())
  t.strictSame(defaults.stats(), { sessions: 0, users: 0, counters: 0 })
})

t.test('evicts the least recently written session at maxSessions, anonymous ones first', async (t) => {
  const { now } = fakeClock()
  const store = new MemoryStore({ maxSessions: 3, now })
  t.teardown(() => store.close())
  await store.create('a', record(now(), { userId: 'u' }))
  await store.create('b', record(now(), { userId: 'u' }))
  await store.create('c', record(now(), { userId: 'v' }))
  await store.touch('a', now(), now() + 60_000) // recency order now: b, c, a
  await store.get('b') // reads do not bump
  await store.create('d', record(now(), { userId: 'w' }))
  t.equal(await store.get('b'), null, 'b was least recently written')
  t.strictSame((await store.listByUser('u')).map((s) => s.key), ['a'], 'and left the user index')
  t.equal(await store.write('a', 1, { ...record(now()), userId: 'u' }), 'ok') // order: c, d, a
  t.equal(await store.touch('c', now(), now() + 60_000), true) // order: d, a, c
  await store.create('e', record(now(), { userId: 'w' }))
  t.equal(await store.get('d'), null, 'write and touch count as use')
  for (const k of ['a', 'c', 'e']) t.not(await store.get(k), null, `${k} is kept`)
  t.equal(store.stats().sessions, 3)

  const single = new MemoryStore({ maxSessions: 1, now })
  t.teardown(() => single.close())
  await single.create('x', record(now(), { userId: 'only' }))
  await t.rejects(single.create('y', record(now())), { code: ErrorCodes.STORE_FULL }, 'an anonymous session never evicts a logged-in one')
  await single.create('z', record(now(), { userId: 'other' }))
  const emptied = { sessions: 1, users: 1, counters: 0 }
  t.strictSame(single.stats(), emptied, 'a logged-in session may; an emptied user entry is dropped')
})

t.test('an anonymous flood never evicts a logged-in session', async (t) => {
  const { now } = fakeClock()
  const store = new MemoryStore({ maxSessions: 10, maxAnonymousSessions: 4, now })
  t.teardown(() => store.close())
  await store.create('john', record(now(), { userId: 'john' }))
  await store.create('early', record(now()))
  for (let i = 0; i < 1000; i++) await store.create(`anon${i}`, record(now()))
  t.not(await store.get('john'), null, 'john is still logged in')
  t.equal(store.stats().sessions, 5, 'the anonymous budget (4) holds, plus john')
  t.equal(await store.get('early'), null, 'anonymous sessions evicted each other')
  for (const i of [996, 997, 998, 999]) t.not(await store.get(`anon${i}`), null)
  // Logging in (binding a user) takes the session out of the anonymous budget, and back on logout.
  t.equal(await store.write('anon996', 1, { ...record(now()), userId: 'ada' }), 'ok')
  for (let i = 0; i < 10; i++) await store.create(`more${i}`, record(now()))
  t.not(await store.get('anon996'), null, 'ada stays')
  t.equal(await store.write('anon996', 2, { ...record(now()), userId: null }), 'ok')
  await store.touch('more6', now(), now() + 60_000)
  for (let i = 0; i < 4; i++) await store.create(`last${i}`, record(now()))
  t.equal(await store.get('anon996'), null, 'unbound again: an anonymous session like the others')
  t.not(await store.get('more6'), null, 'a touch keeps an anonymous session recent')
  // A full store: logged-in sessions make room by evicting anonymous ones first.
  for (let i = 0; i < 9; i++) await store.create(`user${i}`, record(now(), { userId: `u${i}` }))
  t.equal(store.stats().sessions, 10)
  t.not(await store.get('john'), null, 'john survived logins too while anonymous ones were left')
  t.equal(await store.get('last3'), null, 'the anonymous ones went')
})

t.test('an already-expired record is not stored', async (t) => {
  const { now } = fakeClock()
  const store = new MemoryStore({ now })
  t.teardown(() => store.close())
  t.equal(await store.create('k', record(now(), { expiresAt: now() })), true)
  t.strictSame(store.stats(), { sessions: 0, users: 0, counters: 0 })
})

t.test('evicts the oldest counter window at maxCounters', async (t) => {
  const { now, advance } = fakeClock()
  const store = new MemoryStore({ maxCounters: 2, now })
  t.teardown(() => store.close())
  await store.hit('a', 1000)
  await advance(1)
  await store.hit('b', 1000)
  await store.hit('c', 1000) // evicts a
  t.equal(store.stats().counters, 2)
  t.equal((await store.hit('a', 1000)).count, 1, 'a started over') // evicts b
  t.equal((await store.hit('c', 1000)).count, 2, 'c kept counting')
  t.strictSame(await store.hit('c', 1000), { count: 3, resetMs: 1000 })
  await advance(400)
  t.strictSame(await store.hit('c', 1000), { count: 4, resetMs: 600 }, 'resetMs counts down')
})

t.test('a flood of new counters never evicts one at its limit (no lock is lifted)', async (t) => {
  const { now, advance } = fakeClock()
  const store = new MemoryStore({ maxCounters: 4, now })
  t.teardown(() => store.close())
  const lock = [{ key: 'victim', limit: 2, windowMs: 10_000 }]
  await store.consume(lock)
  await store.consume(lock)
  t.equal((await store.consume(lock)).allowed, false, 'locked')
  // A flood from many clients, each counter below its limit: they evict each other, never the lock.
  for (let i = 0; i < 200; i++) t.equal((await store.consume([{ key: `flood${i}`, limit: 5, windowMs: 10_000 }])).allowed, true)
  t.equal(store.stats().counters, 4, 'the bound holds')
  t.equal((await store.consume(lock)).allowed, false, 'still locked after the flood')
  await store.consume([{ key: 'keep', limit: 9, windowMs: 10_000 }])
  // consume never evicts a counter it is counting, even the oldest one below its limit.
  t.equal((await store.consume([{ key: 'keep', limit: 9, windowMs: 10_000 }, { key: 'new', limit: 9, windowMs: 10_000 }])).allowed, true)
  t.equal((await store.hit('keep', 10_000, 0)).count, 2, 'kept its count')

  // Only locks left: a new counter is refused with ERR_STORE_FULL rather than lifting one.
  for (const key of ['l1', 'l2', 'l3']) await store.consume([{ key, limit: 1, windowMs: 5_000 }])
  t.equal(store.stats().counters, 4)
  await t.rejects(store.consume([{ key: 'one-more', limit: 5, windowMs: 10_000 }]), { code: ErrorCodes.STORE_FULL })
  await t.rejects(store.hit('one-more', 10_000), { code: ErrorCodes.STORE_FULL }, 'hit too')
  t.equal((await store.consume(lock)).allowed, false, 'the lock held')
  // A lock given back below its limit is evictable again.
  t.equal((await store.hit('l1', 5_000, -1)).count, 0)
  t.equal((await store.consume([{ key: 'one-more', limit: 5, windowMs: 10_000 }])).allowed, true, 'room again')
  // Expired counters make room first.
  await advance(5_000)
  t.equal((await store.consume([{ key: 'after', limit: 5, windowMs: 10_000 }])).allowed, true, 'expired locks dropped for room')
  t.equal((await store.consume([{ key: 'after2', limit: 5, windowMs: 10_000 }])).allowed, true)
  t.equal((await store.consume(lock)).allowed, false, 'the live lock still held')
  // Giving back a locked counter moves it back under its limit.
  t.equal((await store.hit('victim', 10_000, -1)).count, 1)
  t.equal((await store.consume(lock)).allowed, true)
})

t.test('expired locks make room for new counters (scanned at most once a second)', async (t) => {
  const { now, advance } = fakeClock()
  const store = new MemoryStore({ maxCounters: 2, now })
  t.teardown(() => store.close())
  await store.consume([{ key: 'a', limit: 1, windowMs: 500 }])
  await store.consume([{ key: 'b', limit: 1, windowMs: 5_000 }])
  await t.rejects(store.consume([{ key: 'c', limit: 1, windowMs: 500 }]), { code: ErrorCodes.STORE_FULL })
  await advance(600)
  await t.rejects(store.consume([{ key: 'c', limit: 1, windowMs: 500 }]), { code: ErrorCodes.STORE_FULL }, 'no rescan within a second')
  await advance(400)
  t.strictSame(await store.consume([{ key: 'c', limit: 1, windowMs: 500 }]), { allowed: true }, 'the expired lock made room')
  t.equal(store.stats().counters, 2)
})

t.test('sweep() deletes expired sessions and counters, in slices', async (t) => {
  const { now, advance } = fakeClock()
  const store = new MemoryStore({ now })
  t.teardown(() => store.close())
  // More than one 4096-entry slice in each map, so the sweep yields to the event loop in both.
  for (let i = 0; i < 5000; i++) {
    await store.create(`short${i}`, record(now(), { expiresAt: now() + 100, userId: `u${i % 7}` }))
  }
  for (let i = 0; i < 4000; i++) await store.hit(`hits${i}`, 100)
  await store.create('long', record(now(), { userId: 'u0' }))
  await store.hit('slow', 60_000)
  await advance(100)
  const before = { sessions: 5001, users: 7, counters: 4001 }
  t.strictSame(store.stats(), before, 'expired entries still take memory until swept')
  const first = store.sweep()
  t.equal(store.sweep(), first, 'a sweep during a sweep joins it')
  t.equal(await first, 9000)
  t.strictSame(store.stats(), { sessions: 1, users: 1, counters: 1 }, 'only live entries remain')
  t.equal(await store.sweep(), 0, 'nothing left to sweep')
})

t.test('the interval runs the sweeper', async (t) => {
  const { now, advance } = fakeClock()
  const store = new MemoryStore({ sweepIntervalMs: 1, now })
  t.teardown(() => store.close())
  await store.create('k', record(now(), { expiresAt: now() + 10 }))
  await advance(10)
  while (store.stats().sessions > 0) await sleep(2)
  t.pass('the expired session was swept without a sweep() call')
})

t.test('close() stops the timer, empties the store; later calls reject', async (t) => {
  const setIntervals = t.capture(globalThis, 'setInterval', setInterval)
  const clearIntervals = t.capture(globalThis, 'clearInterval', clearInterval)
  const { now } = fakeClock()
  const store = new MemoryStore({ now })
  await store.create('k', record(now(), { userId: 'u' }))
  await store.hit('h', 1000)
  await store.close()
  const timer = setIntervals().map((c) => ('returned' in c ? c.returned : undefined))[0]
  t.ok(timer)
  t.strictSame(clearIntervals().map((c) => c.args[0]), [timer], 'the sweeper interval was cleared')
  t.strictSame(store.stats(), { sessions: 0, users: 0, counters: 0 })
  await t.resolves(store.close(), 'close again')
  t.equal(clearIntervals().length, 0, 'idempotent: nothing more to clear')

  const closed = { name: 'StoreError', code: ErrorCodes.STORE_UNAVAILABLE }
  const calls: [string, () => Promise<unknown>][] = [
    ['get', () => store.get('k')],
    ['create', () => store.create('n', record(now()))],
    ['write', () => store.write('k', 1, record(now()))],
    ['touch', () => store.touch('k', now(), now() + 1000)],
    ['destroy', () => store.destroy('k')],
    ['listByUser', () => store.listByUser('u')],
    ['destroyByUser', () => store.destroyByUser('u')],
    ['hit', () => store.hit('h', 1000)],
    ['resetHits', () => store.resetHits('h')],
    ['ping', () => store.ping()],
  ]
  for (const [name, call] of calls) await t.rejects(call(), closed, name)
  t.equal(await store.sweep(), 0, 'sweep() on a closed store has nothing to do')
})
