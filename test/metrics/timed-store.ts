import t from 'tap'
import { StoreError, ErrorCodes } from '../../lib/errors.js'
import { Registry } from '../../lib/metrics/registry.js'
import { LOCAL_SAMPLE, STORE_OPERATIONS, TimedStore } from '../../lib/metrics/timed-store.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { fakeClock, withOverrides } from '../fixtures/session-app.js'
import { storeConformance } from '../fixtures/store-conformance.js'

/** A counter and a histogram labelled (operation, outcome), and what each holds for a pair. */
function families() {
  const r = new Registry()
  const calls = r.counter('ops_total', 'Calls.', ['operation', 'outcome'])
  const h = r.histogram('op_seconds', 'Ops.', ['operation', 'outcome'], [0.001, 1])
  const find = <S extends { labels: string[] }>(series: S[], op: string, outcome: string) => series.find((s) => s.labels[0] === op && s.labels[1] === outcome)
  return {
    calls,
    h,
    counted: (op: string, outcome: string) => find(calls.snapshot().series, op, outcome)?.value,
    timed: (op: string, outcome: string) => find(h.snapshot().series, op, outcome)?.counts?.reduce((a, b) => a + b, 0),
  }
}

t.test('every operation is counted and timed under its own name, ok, and passed through unchanged', async (t) => {
  const inner = new MemoryStore()
  const f = families()
  const timed = new TimedStore(inner, f.calls, f.h)
  t.equal(timed.kind, 'memory')
  t.equal(timed.local, true)
  t.equal(timed.selfTimed, undefined)
  t.equal(timed.inner, inner)
  const now = Date.now()
  const record = { version: 1, data: '{}', createdAt: now, lastSeenAt: now, expiresAt: now + 60_000, absoluteExpiresAt: now + 60_000, remember: false, userId: 'u', credentialVersion: 1, handle: 'h'.repeat(16), userAgent: '', ip: '', authenticatedAt: null }
  t.equal(await timed.create('k', record), true)
  t.match(await timed.get('k'), { version: 1 })
  t.equal(await timed.write('k', 1, { data: '{}', lastSeenAt: now, expiresAt: now + 60_000, remember: false, userId: 'u', credentialVersion: 1 }), 'ok')
  t.equal(await timed.touch('k', now, now + 60_000), true)
  t.equal((await timed.listByUser('u')).length, 1)
  t.equal(await timed.destroyByUser('u', 'k'), 0)
  t.equal(await timed.destroy('k'), true)
  t.match(await timed.consume([{ key: 'q', windowMs: 1000, limit: 5 }]), { allowed: true })
  t.match(await timed.hit('c', 1000), { count: 1 })
  await timed.resetHits('c')
  await timed.ping()
  for (const op of STORE_OPERATIONS) {
    t.equal(f.counted(op, 'ok'), 1, `${op} counted once`)
    // A local store's first call of each operation is one of those timed.
    t.equal(f.timed(op, 'ok'), 1, `${op} timed once`)
    t.equal(f.counted(op, 'error'), 0, 'every outcome\'s series exists from the start')
  }
  const failing = new TimedStore(withOverrides(inner, { kind: 'x', local: false, selfTimed: true, get: () => Promise.reject(new StoreError(ErrorCodes.STORE_TIMEOUT, 'late')) }), f.calls, f.h)
  t.equal(failing.selfTimed, true)
  t.equal(failing.local, false)
  await t.rejects(failing.get('k'), { code: ErrorCodes.STORE_TIMEOUT })
  t.equal(f.counted('get', 'error'), 1)
  t.equal(f.timed('get', 'error'), 1)
  await timed.close()
})

t.test('a local store: every call counted, one in 16 of each operation timed; a remote store: every call timed', async (t) => {
  const f = families()
  const local = new TimedStore(new MemoryStore(), f.calls, f.h)
  const remote = new TimedStore(withOverrides(new MemoryStore(), { local: false }), f.calls, f.h)
  const CALLS = 100
  for (let i = 0; i < CALLS; i++) {
    await local.get(`k${i}`)
    // Calls of another operation in between do not move get's sampling.
    await local.touch(`k${i}`, 0, 1)
  }
  t.equal(f.counted('get', 'ok'), CALLS)
  t.equal(f.counted('touch', 'ok'), CALLS)
  // Timed: the 1st, 17th, 33rd, …
  const timed = 1 + Math.floor((CALLS - 1) / LOCAL_SAMPLE)
  t.equal(f.timed('get', 'ok'), timed, `${timed} of ${CALLS} gets timed`)
  t.equal(f.timed('touch', 'ok'), timed)
  const before = f.timed('ping', 'ok') ?? 0
  for (let i = 0; i < CALLS; i++) await remote.ping()
  t.equal(f.counted('ping', 'ok'), CALLS)
  t.equal((f.timed('ping', 'ok') ?? 0) - before, CALLS, 'a remote store\'s every call timed')
  await local.close()
  await remote.close()
})

t.test('outcome: a refusal for room (ERR_STORE_FULL) is `refused`, any other rejection `error`, local or remote', async (t) => {
  const f = families()
  // A real refusal: every counter the memory store may hold is at its limit (a lock in force).
  const full = new TimedStore(new MemoryStore({ maxCounters: 1 }), f.calls, f.h)
  t.match(await full.consume([{ key: 'a', windowMs: 60_000, limit: 1 }]), { allowed: true })
  // Refusals, counted every one; the 17th consume is timed, as a refusal.
  for (let i = 0; i < LOCAL_SAMPLE; i++) await t.rejects(full.consume([{ key: `b${i}`, windowMs: 60_000, limit: 1 }]), { code: ErrorCodes.STORE_FULL })
  t.equal(f.counted('consume', 'ok'), 1)
  t.equal(f.counted('consume', 'refused'), LOCAL_SAMPLE)
  t.equal(f.counted('consume', 'error'), 0)
  t.equal(f.timed('consume', 'ok'), 1)
  t.equal(f.timed('consume', 'refused'), 1)
  await full.close()

  const closed = new MemoryStore()
  await closed.close()
  const local = new TimedStore(closed, f.calls, f.h)
  await t.rejects(local.create('k', {} as never), { code: ErrorCodes.STORE_UNAVAILABLE })
  await t.rejects(local.create('k', {} as never), { code: ErrorCodes.STORE_UNAVAILABLE })
  t.equal(f.counted('create', 'error'), 2, 'a closed local store failing a create is an error, timed or not')
  t.equal(f.timed('create', 'error'), 1)

  const remote = new TimedStore(withOverrides(new MemoryStore(), { local: false, get: () => Promise.reject(new StoreError(ErrorCodes.STORE_FULL, 'full')), touch: () => Promise.reject(new Error('boom')) }), f.calls, f.h)
  await t.rejects(remote.get('k'), { code: ErrorCodes.STORE_FULL })
  await t.rejects(remote.touch('k', 0, 0), { message: 'boom' })
  t.equal(f.timed('get', 'refused'), 1)
  t.equal(f.timed('touch', 'error'), 1, 'a rejection that is not a StoreError is an error')
  await remote.ping()
  t.equal(f.timed('ping', 'ok'), 1)
})

// The wrapper is a Store in every respect the engine relies on.
const clock = fakeClock()
await storeConformance(t, {
  name: 'timed memory',
  make: () => {
    const f = families()
    return new TimedStore(new MemoryStore({ now: clock.now }), f.calls, f.h)
  },
  now: clock.now,
  advance: async (ms) => clock.advance(ms),
})
