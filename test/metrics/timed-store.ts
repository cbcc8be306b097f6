import t from 'tap'
import { StoreError, ErrorCodes } from '../../lib/errors.js'
import { Registry } from '../../lib/metrics/registry.js'
import { STORE_OPERATIONS, TimedStore } from '../../lib/metrics/timed-store.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { fakeClock, withOverrides } from '../fixtures/session-app.js'
import { storeConformance } from '../fixtures/store-conformance.js'

const histogram = () => new Registry().histogram('op_seconds', 'Ops.', ['operation', 'outcome'], [0.001, 1])

t.test('every operation is timed under its own name, ok, and passed through unchanged', async (t) => {
  const inner = new MemoryStore()
  const h = histogram()
  const timed = new TimedStore(inner, h)
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
  const snap = h.snapshot().series
  for (const op of STORE_OPERATIONS) {
    const ok = snap.find((s) => s.labels[0] === op && s.labels[1] === 'ok')
    t.equal(ok?.counts?.reduce((a, b) => a + b, 0), 1, `${op} timed once`)
  }
  const failing = new TimedStore(withOverrides(inner, { kind: 'x', local: false, selfTimed: true, get: () => Promise.reject(new StoreError(ErrorCodes.STORE_TIMEOUT, 'late')) }), h)
  t.equal(failing.selfTimed, true)
  t.equal(failing.local, false)
  await t.rejects(failing.get('k'), { code: ErrorCodes.STORE_TIMEOUT })
  const err = h.snapshot().series.find((s) => s.labels[0] === 'get' && s.labels[1] === 'error')
  t.same(err?.counts?.reduce((a, b) => a + b, 0), 1)
  await timed.close()
})

t.test('outcome: a refusal for room (ERR_STORE_FULL) is `refused`, any other rejection `error`, local or remote', async (t) => {
  const h = histogram()
  const count = (op: string, outcome: string) => h.snapshot().series.find((s) => s.labels[0] === op && s.labels[1] === outcome)?.counts?.reduce((a, b) => a + b, 0)
  // A real refusal: every counter the memory store may hold is at its limit (a lock in force).
  const full = new TimedStore(new MemoryStore({ maxCounters: 1 }), h)
  t.match(await full.consume([{ key: 'a', windowMs: 60_000, limit: 1 }]), { allowed: true })
  await t.rejects(full.consume([{ key: 'b', windowMs: 60_000, limit: 1 }]), { code: ErrorCodes.STORE_FULL })
  t.equal(count('consume', 'ok'), 1)
  t.equal(count('consume', 'refused'), 1)
  t.equal(count('consume', 'error'), 0)
  await full.close()

  const closed = new MemoryStore()
  await closed.close()
  const local = new TimedStore(closed, h)
  await t.rejects(local.create('k', {} as never), { code: ErrorCodes.STORE_UNAVAILABLE })
  t.equal(count('create', 'error'), 1, 'a closed local store failing a create is an error')

  const remote = new TimedStore(withOverrides(new MemoryStore(), { local: false, get: () => Promise.reject(new StoreError(ErrorCodes.STORE_FULL, 'full')), touch: () => Promise.reject(new Error('boom')) }), h)
  await t.rejects(remote.get('k'), { code: ErrorCodes.STORE_FULL })
  await t.rejects(remote.touch('k', 0, 0), { message: 'boom' })
  t.equal(count('get', 'refused'), 1)
  t.equal(count('touch', 'error'), 1, 'a rejection that is not a StoreError is an error')
  await remote.ping()
  t.equal(count('ping', 'ok'), 1)
})

// The wrapper is a Store in every respect the engine relies on.
const clock = fakeClock()
await storeConformance(t, {
  name: 'timed memory',
  make: () => new TimedStore(new MemoryStore({ now: clock.now }), histogram()),
  now: clock.now,
  advance: async (ms) => clock.advance(ms),
})
