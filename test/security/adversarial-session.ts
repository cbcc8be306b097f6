/**
 * Session attacks against the real server: fixation, replay after logout, secrets retired from
 * the rotation, and idle and absolute expiry on an injected clock (the session manager and the
 * memory store share it, so no test sleeps).
 *
 * Expected statuses come from lib/manager.ts (strict mode: a presented ID is never adopted; a
 * cookie that fails verification or whose record is gone means "no session") and the defaults of
 * lib/options.ts (idle 1 day, remember-me idle 30 days, absolute 30 days, touch every 5 minutes).
 */
import t from 'tap'
import { generateSessionId } from '../../lib/id.js'
import { sign, SIGNATURE_LENGTH } from '../../lib/signature.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { send, sessionCookie, watch, type Reply } from '../fixtures/adversarial.js'
import { JOHN } from '../fixtures/http-client.js'

const w = watch(t)
const OLD = 'adversarial-session-old-secret-0123456789'
const NEW = 'adversarial-session-new-secret-0123456789'
const HOUR = 3_600_000
const DAY = 24 * HOUR

const idOf = (cookie: string): string => cookie.slice('sid='.length, -SIGNATURE_LENGTH - 1)
const get = (url: string, path: string, cookie?: string): Promise<Reply> =>
  send(url, 'GET', path, cookie === undefined ? {} : { headers: { cookie } })
const post = (url: string, path: string, json: unknown, cookie?: string): Promise<Reply> =>
  send(url, 'POST', path, { json, ...(cookie === undefined ? {} : { headers: { cookie } }) })

t.test('fixation: the pre-login cookie is dead after login, and a planted ID is never adopted', async (t) => {
  const server = await w.start(t, { SESSION_SECRET: OLD }, { store: new MemoryStore() })
  // The attacker makes an anonymous session and plants its cookie in the victim's browser.
  const planted = sessionCookie(await post(server.url, '/cart', { item: 'bait' }))
  const login = await post(server.url, '/login', JOHN, planted)
  t.equal(login.status, 200, 'the victim logs in with the planted cookie')
  const victim = sessionCookie(login)
  t.not(idOf(victim), idOf(planted), 'login issued a new ID')
  t.equal((await get(server.url, '/dashboard', planted)).status, 401, 'the planted cookie is not logged in')
  t.same((await get(server.url, '/cart', planted)).json, { cart: [] }, 'and holds nothing any more')
  t.equal((await get(server.url, '/dashboard', victim)).status, 200, "the victim's new cookie is")

  // An ID the server never issued, validly signed (as if the secret had leaked): still a new ID.
  const chosen = `sid=${sign(generateSessionId(), OLD)}`
  t.equal((await get(server.url, '/dashboard', chosen)).status, 401, 'a signed, never-issued ID is no session')
  const again = await post(server.url, '/login', JOHN, chosen)
  t.equal(again.status, 200)
  t.not(idOf(sessionCookie(again)), idOf(chosen), 'the chosen ID was not adopted')
  t.equal((await get(server.url, '/dashboard', chosen)).status, 401, 'and stays no session')
  await w.verify(t, server)
})

t.test('replay after logout', async (t) => {
  const server = await w.start(t, { SESSION_SECRET: OLD }, { store: new MemoryStore() })
  const stolen = sessionCookie(await post(server.url, '/login', JOHN))
  t.equal((await get(server.url, '/dashboard', stolen)).status, 200)
  t.equal((await post(server.url, '/logout', {}, stolen)).status, 200)
  t.equal((await get(server.url, '/dashboard', stolen)).status, 401, 'replayed on a read: 401')
  t.equal((await get(server.url, '/profile', stolen)).status, 401, 'replayed on /profile: 401')
  t.equal((await get(server.url, '/sessions', stolen)).status, 401, 'replayed on /sessions: 401')
  const write = await post(server.url, '/cart', { item: 'x' }, stolen)
  t.equal(write.status, 200, 'a write with it makes a new anonymous session…')
  t.not(idOf(sessionCookie(write)), idOf(stolen), '…under a new ID, never the old one')
  t.equal((await get(server.url, '/dashboard', stolen)).status, 401, 'the stolen cookie stays dead')
  t.equal((await post(server.url, '/password', { currentPassword: JOHN.password, newPassword: 'hijacked-pass-1' }, stolen)).status, 401)
  await w.verify(t, server)
})

t.test('session growth is bounded: 100 cart items of at most 100 characters', async (t) => {
  const server = await w.start(t, {}, { store: new MemoryStore() })
  let cookie = sessionCookie(await post(server.url, '/cart', { item: 'i'.repeat(100) }))
  for (let i = 1; i < 100; i++) {
    const res = await post(server.url, '/cart', { item: 'i'.repeat(100) }, cookie)
    if (res.status !== 200) t.fail(`item ${i + 1}: ${res.status}`)
    if (res.setCookie.length > 0) cookie = sessionCookie(res)
  }
  const full = await post(server.url, '/cart', { item: 'one-more' }, cookie)
  t.same([full.status, full.json], [400, { error: 'a cart holds at most 100 items' }], 'item 101: 400')
  t.equal((await post(server.url, '/cart', { item: 'i'.repeat(101) }, cookie)).status, 400, 'an item of 101 characters: 400')
  t.equal(((await get(server.url, '/cart', cookie)).json as { cart: string[] }).cart.length, 100, 'the cart kept its 100')
  await w.verify(t, server)
})

t.test('secret rotation: a retired secret is refused, a listed old one is re-issued', async (t) => {
  const store = new MemoryStore() // one store behind three differently configured servers
  const before = await w.start(t, { SESSION_SECRET: OLD }, { store })
  const newOnly = await w.start(t, { SESSION_SECRET: NEW }, { store })
  const rotating = await w.start(t, { SESSION_SECRET: `${NEW},${OLD}` }, { store })
  const old = sessionCookie(await post(before.url, '/login', JOHN))

  const retired = await get(newOnly.url, '/dashboard', old)
  t.equal(retired.status, 401, 'OLD retired (SESSION_SECRET=new): 401')
  t.same(retired.setCookie, [], 'and no cookie is issued for it')

  const rotated = await get(rotating.url, '/dashboard', old)
  t.equal(rotated.status, 200, 'OLD still listed (SESSION_SECRET=new,old): 200')
  const reissued = sessionCookie(rotated)
  t.equal(idOf(reissued), idOf(old), 're-issued for the same session…')
  t.equal(reissued, `sid=${sign(idOf(old), NEW)}`, '…signed with the new secret')
  t.equal((await get(newOnly.url, '/dashboard', reissued)).status, 200, 'the re-issued cookie survives retiring OLD')
  t.same((await get(rotating.url, '/dashboard', reissued)).setCookie, [], 'a current cookie is not re-issued again')
  t.equal((await get(rotating.url, '/dashboard', `sid=${sign(idOf(old), `${NEW}-unknown`)}`)).status, 401, 'an unknown secret: 401')
  await w.verify(t, rotating)
})

t.test('idle timeout on an injected clock', async (t) => {
  let clock = Date.parse('2030-01-01T00:00:00Z')
  const now = () => clock
  const server = await w.start(t, {}, { now, store: new MemoryStore({ now }) })
  const cookie = sessionCookie(await post(server.url, '/login', JOHN))
  clock += DAY - 1
  const slid = await get(server.url, '/dashboard', cookie)
  t.equal(slid.status, 200, 'idle 1 day − 1 ms: 200')
  t.match(slid.setCookie[0], /Max-Age=86400;/, 'the request slid the idle clock (cookie re-sent)')
  clock += DAY - 1
  t.equal((await get(server.url, '/dashboard', cookie)).status, 200, 'again 1 day − 1 ms later: 200')
  clock += DAY
  t.equal((await get(server.url, '/dashboard', cookie)).status, 401, 'idle exactly 1 day: 401')
  clock += 1
  const revived = await post(server.url, '/cart', { item: 'x' }, cookie)
  t.not(idOf(sessionCookie(revived)), idOf(cookie), 'a write after expiry starts a new session, never the old one')
  t.equal((await get(server.url, '/dashboard', cookie)).status, 401)
  await w.verify(t, server)
})

t.test('absolute timeout on an injected clock: activity does not extend it', async (t) => {
  let clock = Date.parse('2030-01-01T00:00:00Z')
  const now = () => clock
  const server = await w.start(t, {}, { now, store: new MemoryStore({ now }) })
  const start = clock
  const cookie = sessionCookie(await post(server.url, '/login', JOHN))
  const remembered = sessionCookie(await post(server.url, '/login', { ...JOHN, rememberMe: true }))
  let active = 0
  for (clock = start + 20 * HOUR; clock <= start + 30 * DAY - 20 * HOUR; clock += 20 * HOUR) {
    if ((await get(server.url, '/dashboard', cookie)).status === 200) active++
  }
  t.equal(active, 35, 'active every 20 hours for 29 days: 200 each time')
  clock = start + 30 * DAY - 1
  t.equal((await get(server.url, '/dashboard', cookie)).status, 200, '30 days − 1 ms after login: 200')
  t.equal((await get(server.url, '/dashboard', remembered)).status, 200, 'remember-me, idle for 30 days − 1 ms: 200')
  clock = start + 30 * DAY
  t.equal((await get(server.url, '/dashboard', cookie)).status, 401, '30 days after login: 401 though active')
  t.equal((await get(server.url, '/dashboard', remembered)).status, 401, 'remember-me: 401 at 30 days too')
  await w.verify(t, server)
})
