import t from 'tap'
import { StoreError, ErrorCodes } from '../../lib/errors.js'
import { Registry } from '../../lib/metrics/registry.js'
import { STORE_OPERATIONS, TimedStore } from '../../lib/metrics/timed-store.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { fakeClock, withOverrides } from '../fixtures/session-app.js'
import { storeConformance } from '../fixtures/store-conformance.js'

const histogram = () => new Registry().histogram('op_seconds', 'Ops.', ['operation', 'outcome'], [0.001, 1])

t.test('every operation is timed under its own name, ok or error, and passed through unchanged', async (t) => {
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

// The wrapper is a Store in every respect the engine relies on.
const clock = fakeClock()
await storeConformance(t, {
  name: 'timed memory',
  make: () => new TimedStore(new MemoryStore({ now: clock.now }), histogram()),
  now: clock.now,
  advance: async (ms) => clock.advance(ms),
})
