import t, { type Test } from 'tap'
import { generateSessionId, hashSessionId } from '../lib/id.js'
import { createSessionManager, SessionManager } from '../lib/manager.js'
import { sign } from '../lib/signature.js'
import { MemoryStore } from '../lib/stores/memory.js'
import { cookiePair, fakeClock, managerSetup, SECRET_A, SECRET_B, startApp, type App } from './fixtures/session-app.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR

/** The demo app most tests use: /set?k=&v= writes, /get?k= reads, /whoami reads nothing. */
function routes(manager: SessionManager) {
  return startApp(manager, (session, _req, url) => {
    const k = url.searchParams.get('k') ?? 'k'
    switch (url.pathname) {
      case '/set':
        session.set(k, url.searchParams.get('v'))
        return { ok: true }
      case '/get':
        return { value: session.get(k) ?? null, isNew: session.isNew }
      case '/login':
        session.regenerate().setUser(url.searchParams.get('user') ?? 'u1')
        if (url.searchParams.get('remember') === '1') session.setRemember(true)
        return { ok: true }
      case '/logout':
        session.destroy()
        return { ok: true }
      default:
        return { nothing: true }
    }
  })
}

const setup = managerSetup

async function app(t: Test, manager: SessionManager): Promise<App> {
  const a = await routes(manager)
  t.teardown(() => a.close())
  return a
}

function maxAge(line: string | undefined): number {
  const m = /; Max-Age=(\d+)/.exec(line ?? '')
  if (m === null) throw new Error(`no Max-Age in ${String(line)}`)
  return Number(m[1])
}

t.test('lazy: no cookie, or a bad signature, never touches the store', async (t) => {
  const { spy, manager } = setup(t)
  const a = await app(t, manager)
  const r1 = await a.request('/get')
  t.same(r1.body, { value: null, isNew: true })
  t.same(r1.setCookie, [], 'no cookie for an untouched session (saveUninitialized = false)')
  const forged = `sid=${'A'.repeat(43)}.${'B'.repeat(43)}`
  const r2 = await a.request('/get', { cookie: forged })
  t.same(r2.body, { value: null, isNew: true })
  t.same(r2.setCookie, [])
  await a.request('/get', { cookie: 'sid=garbage; other=1' })
  t.equal(spy.count(), 0, 'no store call at all')
})

t.test('a validly signed ID the server never issued is never adopted', async (t) => {
  const { spy, manager } = setup(t)
  const a = await app(t, manager)
  const chosen = generateSessionId()
  const r = await a.request('/set?k=x&v=1', { cookie: `sid=${sign(chosen, SECRET_A)}` })
  t.equal(spy.count('get'), 1, 'looked up once')
  const issued = cookiePair(r.setCookie[0])
  t.not(issued, `sid=${sign(chosen, SECRET_A)}`, 'a fresh ID replaces the chosen one')
  t.notOk(await spy.store.get(hashSessionId(chosen)), 'nothing stored under the chosen ID')
})

t.test('new sessions are stored once data is set; unmodified ones are not rewritten', async (t) => {
  const { spy, manager } = setup(t)
  const a = await app(t, manager)
  const r1 = await a.request('/set?k=color&v=blue')
  t.equal(r1.setCookie.length, 1)
  t.match(r1.setCookie[0], /^sid=[A-Za-z0-9_-]{43}\.[A-Za-z0-9_-]{43}; Max-Age=86400; Path=\/; HttpOnly; SameSite=Lax$/)
  t.equal(spy.count('create'), 1)
  const cookie = cookiePair(r1.setCookie[0])
  const r2 = await a.request('/get?k=color', { cookie })
  t.same(r2.body, { value: 'blue', isNew: false })
  t.same(r2.setCookie, [], 'read within the touch interval: no cookie, no write')
  t.equal(spy.count('write') + spy.count('touch'), 0)
  t.equal(r2.headers.get('vary'), 'Cookie')
  t.equal(r2.headers.get('cache-control'), 'no-store')
})

t.test('hashed at rest: the store key is SHA-256 of the ID, and the key is no cookie', async (t) => {
  const { spy, manager } = setup(t)
  const a = await app(t, manager)
  const r = await a.request('/set?k=a&v=1')
  const signed = cookiePair(r.setCookie[0]).slice(4)
  const id = signed.slice(0, signed.lastIndexOf('.'))
  const key = spy.calls.find((c) => c.method === 'create')?.args[0]
  t.equal(key, hashSessionId(id))
  t.not(key, id)
  // Someone holding a dump of the store (the keys) and even the secret gets nothing from a key.
  const replay = await a.request('/get?k=a', { cookie: `sid=${sign(key as string, SECRET_A)}` })
  t.same(replay.body, { value: null, isNew: true })
})

t.test('idle timeout slides, absolute timeout does not', async (t) => {
  const { clock, spy, manager } = setup(t, { idleTimeoutMs: 2 * HOUR, absoluteTimeoutMs: 5 * HOUR, touchIntervalMs: 10 * 60_000 })
  const a = await app(t, manager)
  const cookie = cookiePair((await a.request('/set?k=a&v=1')).setCookie[0])
  clock.advance(5 * 60_000)
  t.same((await a.request('/get?k=a', { cookie })).setCookie, [], 'inside the touch interval: no touch')
  t.equal(spy.count('touch'), 0)
  clock.advance(HOUR)
  const touched = await a.request('/get?k=a', { cookie })
  t.equal(spy.count('touch'), 1, 'touched once the interval passed')
  t.equal(spy.count('write'), 1 - 1, 'a touch is a TTL refresh, not a rewrite')
  t.equal(maxAge(touched.setCookie[0]), 2 * 3600, 'cookie lifetime slides with the idle clock')
  // Keep it alive past the original idle deadline: it slides.
  let last = touched
  for (let i = 0; i < 2; i++) {
    clock.advance(HOUR + 30 * 60_000)
    last = await a.request('/get?k=a', { cookie })
    t.same(last.body, { value: '1', isNew: false }, 'alive past the first idle deadline')
  }
  // 4 h 05 min in: the absolute deadline (5 h) caps the cookie at 55 minutes, not 2 h.
  t.equal(maxAge(last.setCookie[0]), 55 * 60)
  clock.advance(HOUR)
  t.same((await a.request('/get?k=a', { cookie })).body, { value: null, isNew: true }, 'dead at 5 h though active')
})

t.test('idle timeout ends a session left alone', async (t) => {
  const { clock, manager } = setup(t, { idleTimeoutMs: HOUR })
  const a = await app(t, manager)
  const cookie = cookiePair((await a.request('/set?k=a&v=1')).setCookie[0])
  clock.advance(HOUR)
  t.same((await a.request('/get?k=a', { cookie })).body, { value: null, isNew: true })
})

t.test('remember me: 30-day cookie and idle clock, never past the absolute limit', async (t) => {
  const { manager } = setup(t)
  const a = await app(t, manager)
  const plain = await a.request('/login')
  t.equal(maxAge(plain.setCookie[0]), 86_400, 'seed default: 24 h')
  const remembered = await a.request('/login?remember=1')
  t.equal(maxAge(remembered.setCookie[0]), 30 * 86_400, 'remembered: 30 days')

  const short = setup(t, { absoluteTimeoutMs: 10 * DAY })
  const b = await app(t, short.manager)
  t.equal(maxAge((await b.request('/login?remember=1')).setCookie[0]), 10 * 86_400, 'capped by absolute')
})

t.test('regenerate keeps data, writes the new record before deleting the old', async (t) => {
  const { spy, manager } = setup(t)
  const a = await app(t, manager)
  const before = cookiePair((await a.request('/set?k=cart&v=apple')).setCookie[0])
  spy.calls.length = 0
  const login = await a.request('/login?user=42', { cookie: before })
  const after = cookiePair(login.setCookie[0])
  t.not(after, before, 'new ID (fixation defence)')
  t.same(spy.calls.map((c) => c.method), ['get', 'get', 'create', 'destroy'], 'create before destroy')
  t.same((await a.request('/get?k=cart', { cookie: after })).body, { value: 'apple', isNew: false }, 'the cart survives login')
  t.same((await a.request('/get?k=cart', { cookie: before })).body, { value: null, isNew: true }, 'the old ID is dead')
  t.same((await manager.listSessions('42')).map((s) => s.current), [false])
})

t.test('destroy deletes the record and clears the cookie with the same Path and Domain', async (t) => {
  const { spy, manager } = setup(t, { cookie: { path: '/app', domain: 'example.com', name: 'app_sid' } })
  const a = await app(t, manager)
  const created = await a.request('/set?k=a&v=1')
  t.match(created.setCookie[0], /; Domain=example\.com; Path=\/app/)
  const cookie = cookiePair(created.setCookie[0])
  const out = await a.request('/logout', { cookie })
  t.equal(out.setCookie.length, 1)
  t.match(out.setCookie[0], /^app_sid=; Max-Age=0; /)
  t.match(out.setCookie[0], /Domain=example\.com/)
  t.match(out.setCookie[0], /Path=\/app/)
  t.equal(spy.count('destroy'), 1)
  t.same((await a.request('/get?k=a', { cookie })).body, { value: null, isNew: true }, 'replay after logout fails')
  const again = await a.request('/logout')
  t.same(again.setCookie, [], 'logout without a cookie: nothing to clear')
})

t.test('secret rotation: old-secret cookies work and are re-issued under the new secret', async (t) => {
  const clock = fakeClock()
  const store = new MemoryStore({ now: clock.now })
  t.teardown(() => store.close())
  const oldManager = createSessionManager({ secrets: [SECRET_A], store, now: clock.now })
  const rotated = createSessionManager({ secrets: [SECRET_B, SECRET_A], store, now: clock.now })
  const retired = createSessionManager({ secrets: [SECRET_B], store, now: clock.now })
  const a = await app(t, oldManager)
  const b = await app(t, rotated)
  const c = await app(t, retired)
  const oldCookie = cookiePair((await a.request('/set?k=a&v=1')).setCookie[0])
  const r = await b.request('/get?k=a', { cookie: oldCookie })
  t.same(r.body, { value: '1', isNew: false }, 'accepted')
  t.equal(r.setCookie.length, 1, 're-issued in the same response')
  const fresh = cookiePair(r.setCookie[0])
  const id = oldCookie.slice(4, oldCookie.lastIndexOf('.'))
  t.equal(fresh, `sid=${sign(id, SECRET_B)}`, 'same ID, signed with the current secret')
  t.same((await b.request('/get?k=a', { cookie: fresh })).setCookie, [], 'current cookie: no re-issue')
  t.same((await c.request('/get?k=a', { cookie: oldCookie })).body, { value: null, isNew: true }, 'retired secret: rejected')
  t.same((await c.request('/get?k=a', { cookie: fresh })).body, { value: '1', isNew: false })
})

t.test('caching headers: Vary merges, Cache-Control respected', async (t) => {
  const { manager } = setup(t)
  const a = await startApp(manager, (session, _req, url) => {
    if (url.pathname === '/public') return { public: true }
    session.get('x')
    return { read: true }
  })
  t.teardown(() => a.close())
  const pub = await a.request('/public')
  t.equal(pub.headers.get('vary'), null, 'no session touched: cacheable as the handler likes')
  t.equal(pub.headers.get('cache-control'), null)
  const read = await a.request('/read')
  t.equal(read.headers.get('vary'), 'Cookie', 'reading the session makes the response cookie-dependent')
  t.equal(read.headers.get('cache-control'), 'no-store')
})

t.test('per-user index: list, revoke one, revoke others, revoke all', async (t) => {
  const { manager } = setup(t)
  const a = await app(t, manager)
  const cookies: string[] = []
  for (let i = 0; i < 3; i++) {
    const r = await a.request('/login?user=7', { headers: { 'user-agent': `agent-${i}` } })
    cookies.push(cookiePair(r.setCookie[0]))
  }
  await a.request('/login?user=8')
  const listed = await manager.listSessions('7')
  t.equal(listed.length, 3)
  t.same(listed.map((s) => s.userAgent), ['agent-0', 'agent-1', 'agent-2'], 'oldest first, with the user agent')
  for (const s of listed) {
    t.match(s, { handle: String, createdAt: Number, lastSeenAt: Number, ip: '127.0.0.1', current: false })
    t.notOk(cookies.some((c) => c.includes(s.handle)), 'a handle is not (part of) the ID')
  }
  const first = listed[0]
  t.ok(first)
  t.equal(await manager.revokeSession('7', first?.handle ?? ''), true)
  t.equal(await manager.revokeSession('7', first?.handle ?? ''), false, 'already gone')
  t.equal(await manager.revokeSession('8', listed[1]?.handle ?? ''), false, 'not another user\'s session')
  t.same((await a.request('/get', { cookie: cookies[0] })).body, { value: null, isNew: true })
  t.equal((await manager.listSessions('7')).length, 2)
  t.equal(await manager.revokeUserSessions('7'), 2)
  t.equal((await manager.listSessions('7')).length, 0)
  t.equal((await manager.listSessions('8')).length, 1, 'other users untouched')
})

t.test('revoke all but the current session', async (t) => {
  const { manager } = setup(t)
  const a = await startApp(manager, async (session, _req, url) => {
    if (url.pathname === '/login') {
      session.regenerate().setUser('9')
      return null
    }
    if (session.userId === null) return { listed: [] }
    const listed = await manager.listSessions(session.userId, session)
    if (url.pathname === '/others') return { ended: await manager.revokeUserSessions(session.userId, session), listed }
    return { listed }
  })
  t.teardown(() => a.close())
  const c1 = cookiePair((await a.request('/login')).setCookie[0])
  const c2 = cookiePair((await a.request('/login')).setCookie[0])
  const mine = (await a.request('/list', { cookie: c2 })).body as { listed: Array<{ current: boolean }> }
  t.same(mine.listed.map((s) => s.current), [false, true], 'exactly one current')
  const out = (await a.request('/others', { cookie: c2 })).body as { ended: number }
  t.equal(out.ended, 1)
  t.same(((await a.request('/list', { cookie: c1 })).body as { listed: unknown[] }).listed, [], 'c1 ended')
  t.equal(((await a.request('/list', { cookie: c2 })).body as { listed: unknown[] }).listed.length, 1)
})

t.test('the verified-cookie cache is bounded, and can be disabled', async (t) => {
  for (const size of [0, 2]) {
    const { spy, manager } = setup(t, { verifiedCacheSize: size })
    const a = await app(t, manager)
    const cookies: string[] = []
    for (let i = 0; i < 4; i++) cookies.push(cookiePair((await a.request(`/set?k=n&v=${i}`)).setCookie[0]))
    for (let round = 0; round < 2; round++) {
      for (const [i, cookie] of cookies.entries()) {
        t.same((await a.request('/get?k=n', { cookie })).body, { value: String(i), isNew: false })
      }
    }
    t.equal(spy.count('get'), 8)
  }
})

t.test('createSessionManager returns a SessionManager exposing its store', async (t) => {
  const { spy, manager } = setup(t)
  t.type(manager, SessionManager)
  t.equal(manager.store, spy.store)
  await manager.ping()
  t.ok(Object.isFrozen(manager.options))
})

t.test('admitAnonymous: asked before a new anonymous session is stored, never for a user-bound one', async (t) => {
  let asked = 0
  let refuse = false
  const { spy, manager } = setup(t, {
    admitAnonymous: async (req) => {
      asked++
      t.type(req.headers, 'object', 'gets the request')
      if (refuse) throw Object.assign(new Error('too many'), { code: 'ERR_TOO_MANY' })
    },
  })
  const a = await app(t, manager)
  t.same((await a.request('/get')).setCookie, [], 'an untouched session asks nothing')
  t.equal(asked, 0)
  const first = await a.request('/set?v=1')
  t.equal(first.setCookie.length, 1)
  t.equal(asked, 1, 'asked once for a new anonymous session')
  const cookie = cookiePair(first.setCookie[0])
  await a.request('/set?v=2', { cookie })
  t.equal(asked, 1, 'not for an existing one')
  await a.request('/login?user=u9')
  t.equal(asked, 1, 'not for a new session bound to a user')
  refuse = true
  const creates = spy.count('create')
  const refused = await a.request('/set?v=3')
  t.equal(refused.status, 500, 'the refusal propagates')
  t.same(refused.setCookie, [])
  t.equal(spy.count('create'), creates, 'nothing stored')
})
