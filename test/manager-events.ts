/**
 * The session engine's security events: each emit point, what the event carries (a handle, never
 * the ID, the cookie or the storage key), and that nothing is emitted — or built — without a
 * listener.
 */
import t, { type Test } from 'tap'
import { ErrorCodes, StoreError } from '../lib/errors.js'
import { SecurityEvents, type SecurityEvent } from '../lib/events.js'
import { createSessionManager, type SessionManager } from '../lib/manager.js'
import { generateSessionId } from '../lib/id.js'
import { sign } from '../lib/signature.js'
import type { Store } from '../lib/store.js'
import { MemoryStore } from '../lib/stores/memory.js'
import { cookiePair, fakeClock, SECRET_A, SECRET_B, startApp, withOverrides } from './fixtures/session-app.js'

const DAY = 86_400_000

function app(t: Test, manager: SessionManager) {
  return startApp(manager, async (session, _req, url) => {
    switch (url.pathname) {
      case '/set':
        session.set('k', url.searchParams.get('v'))
        return { ok: true }
      case '/login':
        session.regenerate().setUser('u1')
        return { ok: true }
      case '/logout':
        session.destroy()
        return { ok: true }
      case '/revoke-one':
        return { ended: await manager.revokeSession('u1', url.searchParams.get('h') as string) }
      case '/revoke-all':
        return { ended: await manager.revokeUserSessions('u1', undefined, 'admin-revoked') }
      case '/revoke-others':
        return { ended: await manager.revokeUserSessions('u1', session) }
      default:
        return { handle: session.handle }
    }
  }).then((a) => {
    t.teardown(() => a.close())
    return a
  })
}

function record(manager: SessionManager): SecurityEvent[] {
  const seen: SecurityEvent[] = []
  manager.events.onAny((e) => seen.push(e))
  return seen
}

t.test('created, regenerated, destroyed: with handle, user, ip and user agent; never the ID', async (t) => {
  const clock = fakeClock()
  const store = new MemoryStore({ now: clock.now })
  const m = createSessionManager({ secrets: [SECRET_A], store, now: clock.now })
  const seen = record(m)
  const a = await app(t, m)
  const first = cookiePair((await a.request('/set?v=1', { headers: { 'user-agent': 'tester/1' } })).setCookie[0])
  const second = cookiePair((await a.request('/login', { cookie: first })).setCookie[0])
  await a.request('/logout', { cookie: second })
  t.same(seen.map((e) => e.type), ['session.created', 'session.regenerated', 'session.destroyed'])
  const [created, regenerated, destroyed] = seen as [SecurityEvent<'session.created'>, SecurityEvent<'session.regenerated'>, SecurityEvent<'session.destroyed'>]
  t.match(created, { time: clock.now(), userId: null, ip: '127.0.0.1', userAgent: 'tester/1' })
  t.match(created.handle, /^[\w-]{16}$/)
  t.equal(regenerated.previousHandle, created.handle)
  t.not(regenerated.handle, created.handle)
  t.equal(regenerated.userId, 'u1')
  t.equal(destroyed.handle, regenerated.handle)
  const text = JSON.stringify(seen)
  for (const cookie of [first, second]) {
    const id = cookie.slice(4, cookie.lastIndexOf('.'))
    t.notOk(text.includes(id), 'no session ID in any event')
  }
})

t.test('revoked: one by handle (user-revoked), all (a given reason), others; nothing when none ended', async (t) => {
  const m = createSessionManager({ secrets: [SECRET_A], store: new MemoryStore() })
  const seen = record(m)
  const a = await app(t, m)
  const one = cookiePair((await a.request('/login')).setCookie[0])
  const two = cookiePair((await a.request('/login')).setCookie[0])
  const handleOne = ((await a.request('/whoami', { cookie: one })).body as { handle: string }).handle
  await a.request(`/revoke-one?h=${handleOne}`, { cookie: two })
  await a.request('/revoke-one?h=nope', { cookie: two })
  await a.request('/revoke-others', { cookie: two })
  await a.request('/login')
  await a.request('/revoke-all')
  const revoked = seen.filter((e): e is SecurityEvent<'session.revoked'> => e.type === 'session.revoked')
  t.same(revoked.map(({ reason, count, handle, userId }) => ({ reason, count, handle, userId })), [
    { reason: 'user-revoked', count: 1, handle: handleOne, userId: 'u1' },
    { reason: 'admin-revoked', count: 2, handle: undefined, userId: 'u1' },
  ])
})

t.test('expired: a cookie whose record is past its time', async (t) => {
  // The store keeps real time and still holds the record; the engine's clock says it is over
  // (as with a Redis whose TTL has not fired yet when the engine checks).
  const clock = fakeClock(Date.now())
  const m = createSessionManager({ secrets: [SECRET_A], store: new MemoryStore(), now: clock.now })
  const seen = record(m)
  const a = await app(t, m)
  const cookie = cookiePair((await a.request('/login')).setCookie[0])
  clock.advance(2 * DAY)
  await a.request('/whoami', { cookie })
  t.match(seen.at(-1), { type: 'session.expired', userId: 'u1' })
})

t.test('old secret: a cookie signed with a retired (but still accepted) secret', async (t) => {
  const store = new MemoryStore()
  const before = createSessionManager({ secrets: [SECRET_B], store })
  const after = createSessionManager({ secrets: [SECRET_A, SECRET_B], store })
  const seen = record(after)
  const a = await app(t, before)
  const b = await app(t, after)
  const cookie = cookiePair((await a.request('/login')).setCookie[0])
  await b.request('/whoami', { cookie })
  t.match(seen, [{ type: 'session.old-secret', userId: 'u1' }])
})

t.test('write conflict: each retried attempt, numbered', async (t) => {
  const inner = new MemoryStore()
  let conflicts = 2
  const store: Store = withOverrides(inner, {
    write: (key: string, v: number, u: never) => (conflicts-- > 0 ? Promise.resolve('conflict') : inner.write(key, v, u)),
  })
  const m = createSessionManager({ secrets: [SECRET_A], store })
  const seen = record(m)
  const a = await app(t, m)
  const cookie = cookiePair((await a.request('/set?v=1')).setCookie[0])
  await a.request('/set?v=2', { cookie })
  t.same(seen.filter((e) => e.type === 'session.write-conflict').map((e) => (e as SecurityEvent<'session.write-conflict'>).attempt), [1, 2])
})

t.test('store failure: raced stores (timeout, error) and self-timed stores, with the StoreError code', async (t) => {
  const inner = new MemoryStore()
  const never = withOverrides(inner, { local: false, get: () => new Promise(() => {}) })
  const broken = withOverrides(inner, { local: false, get: () => Promise.reject(new Error('boom')) })
  const selfTimed = withOverrides(inner, { local: false, selfTimed: true, get: () => Promise.reject(new StoreError(ErrorCodes.STORE_TIMEOUT, 'late')) })
  const odd = withOverrides(inner, { local: true, get: () => Promise.reject(new Error('a custom store bug')) })
  const codes: string[] = []
  // A local store is trusted to reject with StoreErrors; one that does not is a bug (→ 500).
  for (const [store, status] of [[never, 503], [broken, 503], [selfTimed, 503], [odd, 500]] as const) {
    const m = createSessionManager({ secrets: [SECRET_A], store, storeTimeoutMs: 50 })
    m.events.on('store.failure', (e) => codes.push(e.code))
    const a = await app(t, m)
    const cookie = `sid=${sign(generateSessionId(), SECRET_A)}`
    t.equal((await a.request('/whoami', { cookie })).status, status)
  }
  t.same(codes, [ErrorCodes.STORE_TIMEOUT, ErrorCodes.STORE_UNAVAILABLE, ErrorCodes.STORE_TIMEOUT, ErrorCodes.STORE_UNAVAILABLE])
})

t.test('no listener: no event is built, and a removed listener stops the stream', async (t) => {
  const m = createSessionManager({ secrets: [SECRET_A], store: new MemoryStore() })
  t.equal(m.events.active, false)
  let built = 0
  // The emitter is only reached through `active`: count what reaches it.
  const emit = m.events.emit.bind(m.events)
  m.events.emit = ((...args: Parameters<typeof emit>) => (built++, emit(...args))) as typeof emit
  const a = await app(t, m)
  const cookie = cookiePair((await a.request('/login')).setCookie[0])
  await a.request('/logout', { cookie })
  t.equal(built, 0, 'no emit call without a listener')
  const off = m.events.on('session.created', () => {})
  await a.request('/login')
  t.equal(built, 1)
  off()
  await a.request('/login')
  t.equal(built, 1, 'none once the listener is gone')
})

t.test('a shared stream can be passed in; anything else is refused', async (t) => {
  const events = new SecurityEvents()
  const m = createSessionManager({ secrets: [SECRET_A], store: new MemoryStore(), events })
  t.equal(m.events, events)
  t.throws(() => createSessionManager({ secrets: [SECRET_A], store: new MemoryStore(), events: {} as SecurityEvents }), { code: ErrorCodes.OPTION_INVALID })
})
