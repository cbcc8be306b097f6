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

t.test('evicts the least recently written session at maxSessions', async (t) => {
  const { now } = fakeClock()
  const store = new MemoryStore({ maxSessions: 3, now })
  t.teardown(() => store.close())
  await store.create('a', record(now(), { userId: 'u' }))
  await store.create('b', record(now(), { userId: 'u' }))
  await store.create('c', record(now()))
  await store.touch('a', now(), now() + 60_000) // recency order now: b, c, a
  await store.get('b') // reads do not bump
  await store.create('d', record(now()))
  t.equal(await store.get('b'), null, 'b was least recently written')
  t.strictSame((await store.listByUser('u')).map((s) => s.key), ['a'], 'and left the user index')
  t.equal(await store.write('a', 1, { ...record(now()), userId: 'u' }), 'ok') // order: c, d, a
  t.equal(await store.touch('c', now(), now() + 60_000), true) // order: d, a, c
  await store.create('e', record(now()))
  t.equal(await store.get('d'), null, 'write and touch count as use')
  for (const k of ['a', 'c', 'e']) t.not(await store.get(k), null, `${k} is kept`)
  t.equal(store.stats().sessions, 3)

  const single = new MemoryStore({ maxSessions: 1, now })
  t.teardown(() => single.close())
  await single.create('x', record(now(), { userId: 'only' }))
  await single.create('y', record(now()))
  const emptied = { sessions: 1, users: 0, counters: 0 }
  t.strictSame(single.stats(), emptied, 'an emptied user entry is dropped')
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
