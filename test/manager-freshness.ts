/**
 * The engine's side of "fresh" sessions and per-user limits, through plain node:http: the proof
 * time a login records (`authenticatedAt`), the guard that dates it, a forced idle refresh
 * (`touch()`), a status read that refreshes nothing (`peek`), and `maxSessionsPerUser`.
 */
import t, { type Test } from 'tap'
import { requireRecentAuth } from '../lib/auth/guards.js'
import { ErrorCodes, SessionLimitError } from '../lib/errors.js'
import { HttpError } from '../lib/http.js'
import { createSessionManager, type SessionManager } from '../lib/manager.js'
import { MemoryStore } from '../lib/stores/memory.js'
import { cookiePair, managerSetup, SECRET_A, startApp, type App } from './fixtures/session-app.js'

const MINUTE = 60_000

const setup = managerSetup

/** /login proves the password, /regen regenerates without proof, /set writes, /touch keeps alive. */
async function app(t: Test, manager: SessionManager, maxAgeMs = 10 * MINUTE): Promise<App> {
  const a = await startApp(manager, (session, _req, url) => {
    switch (url.pathname) {
      case '/login':
        session.regenerate({ authenticated: true }).setUser(url.searchParams.get('user') ?? 'u1')
        return { ok: true }
      case '/regen':
        session.regenerate()
        return { ok: true }
      case '/set':
        session.set('k', url.searchParams.get('v'))
        return { ok: true }
      case '/touch':
        session.touch()
        if (url.searchParams.has('v')) session.set('k', url.searchParams.get('v'))
        return { ok: true }
      case '/sensitive':
        try {
          requireRecentAuth(session, maxAgeMs, manager.options.now)
        } catch (err) {
          return { status: (err as HttpError).status, code: (err as HttpError).code }
        }
        return { allowed: true }
      default:
        return { at: session.authenticatedAt }
    }
  })
  t.teardown(() => a.close())
  return a
}

t.test('authenticatedAt: set by an authenticated regenerate, kept by a plain one', async (t) => {
  const { clock, manager } = setup(t)
  const a = await app(t, manager)
  const anon = await a.request('/set?v=1')
  const anonCookie = cookiePair(anon.setCookie[0])
  t.strictSame((await a.request('/', { cookie: anonCookie })).body, { at: null }, 'an anonymous session: null')

  clock.advance(1000)
  const loginAt = clock.now()
  const login = await a.request('/login', { cookie: anonCookie })
  const cookie = cookiePair(login.setCookie[0])
  t.not(cookie, anonCookie, 'a new ID')
  t.strictSame((await a.request('/', { cookie })).body, { at: loginAt }, 'the login time')

  clock.advance(5 * MINUTE)
  const regen = cookiePair((await a.request('/regen', { cookie })).setCookie[0])
  t.not(regen, cookie)
  t.strictSame((await a.request('/', { cookie: regen })).body, { at: loginAt }, 'a plain regenerate keeps the proof time')
  t.strictSame((await a.request('/set?v=2', { cookie: regen })).status, 200)
  t.strictSame((await a.request('/', { cookie: regen })).body, { at: loginAt }, 'a write keeps it too')

  const fresh = await a.request('/login')
  t.strictSame((await a.request('/', { cookie: cookiePair(fresh.setCookie[0]) })).body, { at: clock.now() },
    'a login without any earlier session')
})

t.test('regenerate() refuses options that are not an object', async (t) => {
  const { manager } = setup(t)
  const a = await startApp(manager, (session) => {
    try {
      session.regenerate(null as unknown as object)
    } catch (err) {
      return { code: (err as { code: string }).code }
    }
    return {}
  })
  t.teardown(() => a.close())
  t.strictSame((await a.request('/')).body, { code: ErrorCodes.SESSION_DATA_INVALID })
})

t.test('requireRecentAuth dates the proof (401 REAUTH_REQUIRED when stale, absent or in the future)', async (t) => {
  const { clock, manager } = setup(t)
  const a = await app(t, manager, 10 * MINUTE)
  const required = { status: 401, code: 'REAUTH_REQUIRED' }
  t.strictSame((await a.request('/sensitive')).body, required, 'no session: no proof')
  const anon = cookiePair((await a.request('/set?v=1')).setCookie[0])
  t.strictSame((await a.request('/sensitive', { cookie: anon })).body, required, 'anonymous: no proof')

  const cookie = cookiePair((await a.request('/login')).setCookie[0])
  t.strictSame((await a.request('/sensitive', { cookie })).body, { allowed: true }, 'just logged in')
  clock.advance(10 * MINUTE)
  t.strictSame((await a.request('/sensitive', { cookie })).body, { allowed: true }, 'exactly maxAgeMs old')
  clock.advance(1)
  t.strictSame((await a.request('/sensitive', { cookie })).body, required, 'one ms older')
  clock.advance(-20 * MINUTE)
  t.strictSame((await a.request('/sensitive', { cookie })).body, required, 'a proof from the future (clock went back)')

  const session = await manager.load({ headers: {} } as never)
  for (const bad of [-1, 1.5, Number.NaN, '600000']) {
    t.throws(() => requireRecentAuth(session, bad as number), { code: ErrorCodes.OPTION_INVALID }, `maxAgeMs ${String(bad)}`)
  }
  t.throws(() => requireRecentAuth(session, 0), HttpError, 'the default clock is Date.now')
})

t.test('touch(): refresh the idle clock inside the touch interval', async (t) => {
  const { clock, spy, manager } = setup(t, { idleTimeoutMs: 10 * MINUTE, touchIntervalMs: 5 * MINUTE })
  const a = await app(t, manager)
  const cookie = cookiePair((await a.request('/login')).setCookie[0])
  clock.advance(MINUTE)
  const before = await manager.peek({ headers: { cookie } } as never)
  const r = await a.request('/touch', { cookie })
  t.equal(r.setCookie.length, 1, 'the cookie is re-sent with the new lifetime')
  t.match(r.setCookie[0], /Max-Age=600;/)
  t.equal(spy.count('touch'), 1, 'one TTL refresh, no data write')
  const after = await manager.peek({ headers: { cookie } } as never)
  t.equal(after?.lastSeenAt, clock.now())
  t.equal(after?.idleExpiresAt, (before?.idleExpiresAt ?? 0) + MINUTE, 'the idle deadline moved by the minute')
  t.equal(after?.absoluteExpiresAt, before?.absoluteExpiresAt, 'the absolute deadline did not')

  clock.advance(MINUTE)
  const w = await a.request('/touch?v=x', { cookie })
  t.equal(w.setCookie.length, 1, 'with a data change: written, cookie re-sent')
  t.equal(spy.count('write'), 1)

  const none = await a.request('/touch')
  t.strictSame(none.setCookie, [], 'a new, empty session: nothing to refresh, nothing stored')
})

t.test('peek(): the status without refreshing anything', async (t) => {
  const { clock, spy, manager } = setup(t, { idleTimeoutMs: 30 * MINUTE, touchIntervalMs: MINUTE })
  const a = await app(t, manager)
  const peek = (cookie?: string) => manager.peek({ headers: cookie === undefined ? {} : { cookie } } as never)
  t.equal(await peek(), null, 'no cookie: null')
  t.equal(await peek('other=1'), null, 'no session cookie: null')
  t.equal(await peek('sid=forged.value'), null, 'a bad cookie: null')
  const loginAt = clock.now()
  const cookie = cookiePair((await a.request('/login?user=ann')).setCookie[0])

  clock.advance(10 * MINUTE) // well past the touch interval: a load + commit would slide the clock
  const calls = spy.calls.length
  t.strictSame(await peek(cookie), {
    userId: 'ann',
    createdAt: loginAt,
    lastSeenAt: loginAt,
    idleExpiresAt: loginAt + 30 * MINUTE,
    absoluteExpiresAt: loginAt + manager.options.absoluteTimeoutMs,
    remember: false,
    authenticatedAt: loginAt,
    credentialVersion: 0,
  })
  t.strictSame(spy.calls.slice(calls).map((c) => c.method), ['get'], 'one read, no touch, no write')
  const again = await peek(cookie)
  t.equal(again?.lastSeenAt, loginAt, 'lastSeenAt unchanged')
  t.equal(again?.idleExpiresAt, loginAt + 30 * MINUTE, 'idle deadline unchanged')

  clock.advance(21 * MINUTE)
  t.equal(await peek(cookie), null, 'an expired session: null')
})

t.test("maxSessionsPerUser 'refuse': the commit fails with SessionLimitError, nothing changes", async (t) => {
  const { manager } = setup(t, { maxSessionsPerUser: 2, sessionLimitPolicy: 'refuse' })
  const a = await app(t, manager)
  const first = cookiePair((await a.request('/login')).setCookie[0])
  const second = cookiePair((await a.request('/login')).setCookie[0])
  const anon = cookiePair((await a.request('/set?v=cart')).setCookie[0])
  const third = await a.request('/login', { cookie: anon })
  t.equal(third.status, 500, 'the demo app turns the rejection into an error reply')
  t.strictSame(third.body, { error: ErrorCodes.SESSION_LIMIT })
  t.strictSame(third.setCookie, [], 'no cookie')
  t.strictSame((await a.request('/', { cookie: anon })).body, { at: null }, 'the anonymous session is untouched')
  t.equal((await manager.listSessions('u1')).length, 2)
  t.strictSame((await a.request('/', { cookie: first })).body, { at: manager.options.now() }, 'both others live')
  t.not((await a.request('/', { cookie: second })).setCookie[0], 'sid=; Max-Age=0')

  const regen = await a.request('/login', { cookie: first })
  t.equal(regen.status, 200, 're-authenticating one of the two is not a third session')
  t.equal((await manager.listSessions('u1')).length, 2)

  const err = new SessionLimitError('u1', 2)
  t.match(err, { name: 'SessionLimitError', code: 'ERR_SESSION_LIMIT', userId: 'u1', max: 2 })
})

t.test("maxSessionsPerUser 'evict-oldest' (default): the least recently used session ends", async (t) => {
  const { clock, manager } = setup(t, { maxSessionsPerUser: 2, touchIntervalMs: 0 })
  t.equal(manager.options.sessionLimitPolicy, 'evict-oldest')
  const a = await app(t, manager)
  const first = cookiePair((await a.request('/login')).setCookie[0])
  clock.advance(1000)
  const second = cookiePair((await a.request('/login')).setCookie[0])
  clock.advance(1000)
  await a.request('/', { cookie: first }) // touchIntervalMs 0: every request refreshes, so first is now the most recent
  clock.advance(1000)
  const third = await a.request('/login')
  t.equal(third.status, 200)
  t.equal((await manager.listSessions('u1')).length, 2)
  t.match((await a.request('/', { cookie: second })).body, { at: null }, 'the least recently used one is gone')
  t.match((await a.request('/', { cookie: first })).body, { at: Number }, 'the older but recently used one lives')
  t.equal((await a.request('/login?user=other')).status, 200, 'other users are not affected')
})

t.test('options: maxSessionsPerUser and sessionLimitPolicy are validated', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const make = (o: object) => () => createSessionManager({ secrets: [SECRET_A], store, ...o })
  t.throws(make({ maxSessionsPerUser: -1 }), { code: ErrorCodes.OPTION_INVALID })
  t.throws(make({ maxSessionsPerUser: 2.5 }), { code: ErrorCodes.OPTION_INVALID })
  t.throws(make({ sessionLimitPolicy: 'oldest' }), { code: ErrorCodes.OPTION_INVALID })
  t.equal(createSessionManager({ secrets: [SECRET_A], store }).options.maxSessionsPerUser, 0, 'off by default')
})
