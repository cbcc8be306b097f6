/**
 * CSRF against every unsafe endpoint of the real server: cross-site requests are refused with 403
 * before the handler runs (so they change nothing), same-origin and header-less requests pass.
 *
 * The rule (lib/server/csrf.ts `checkCsrf`; OWASP CSRF Prevention Cheat Sheet, "Fetch
 * Metadata" and "Verifying Origin with Standard Headers"): for methods other than GET, HEAD and
 * OPTIONS, `Sec-Fetch-Site: cross-site` or `same-site` is refused; an `Origin` whose host is not
 * the `Host` header (including `null` and junk) is refused; neither header passes (not a browser).
 * Every request here carries the admin's session, so a 403 can only be the CSRF check (the body
 * says which), and a pass is answered by the endpoint itself.
 */
import t from 'tap'
import { MemoryStore } from '../../lib/stores/memory.js'
import { send, sessionCookie, watch, type Reply } from '../fixtures/adversarial.js'
import { ADMIN, JOHN } from '../fixtures/http-client.js'

const w = watch(t)

interface Endpoint {
  method: 'POST' | 'DELETE'
  path: string
  json?: unknown
  /** Status when the CSRF check lets the request through (admin logged in). */
  pass: number
}

const ENDPOINTS: Endpoint[] = [
  { method: 'POST', path: '/login', json: ADMIN, pass: 200 },
  { method: 'POST', path: '/logout', json: {}, pass: 200 },
  { method: 'POST', path: '/cart', json: { item: 'forged' }, pass: 200 },
  // A new password that policy refuses: it proves the handler ran, without changing anything.
  { method: 'POST', path: '/password', json: { currentPassword: ADMIN.password, newPassword: 'short' }, pass: 400 },
  { method: 'POST', path: '/sessions/revoke-others', json: {}, pass: 200 },
  { method: 'DELETE', path: '/sessions/x', pass: 404 },
  { method: 'POST', path: '/admin/users/1/revoke-sessions', json: {}, pass: 200 },
]

t.test('cross-site requests are refused on every unsafe endpoint; same-origin and header-less pass', async (t) => {
  const server = await w.start(t, {}, { store: new MemoryStore() })
  const host = new URL(server.url).host
  const port = new URL(server.url).port
  const login = async (who: { email: string; password: string }) => sessionCookie(await send(server.url, 'POST', '/login', { json: who }))
  const call = (e: Endpoint, cookie: string, headers: Record<string, string>): Promise<Reply> =>
    send(server.url, e.method, e.path, { headers: { cookie, ...headers }, ...(e.json === undefined ? {} : { json: e.json }) })

  const attacks: Array<[string, Record<string, string>, string]> = [
    ['Sec-Fetch-Site: cross-site', { 'sec-fetch-site': 'cross-site' }, 'Cross-site request refused'],
    ['Sec-Fetch-Site: same-site (a sibling subdomain)', { 'sec-fetch-site': 'same-site' }, 'Cross-site request refused'],
    ['foreign Origin', { origin: 'https://evil.example' }, 'Cross-origin request refused'],
    ['Origin: null', { origin: 'null' }, 'Cross-origin request refused'],
    ['Origin on another port of the same host', { origin: `http://127.0.0.1:${Number(port) === 1 ? 2 : Number(port) - 1}` }, 'Cross-origin request refused'],
    ['Origin naming the same server as localhost', { origin: `http://localhost:${port}` }, 'Cross-origin request refused'],
    ['Origin with our host as userinfo', { origin: `http://${host}@evil.example` }, 'Cross-origin request refused'],
    ['Origin that is not a URL', { origin: 'not a url' }, 'Cross-origin request refused'],
    ['same-origin Fetch Metadata but a foreign Origin', { 'sec-fetch-site': 'same-origin', origin: 'https://evil.example' }, 'Cross-origin request refused'],
  ]
  const admin = await login(ADMIN)
  const cartBefore = (await send(server.url, 'GET', '/cart', { headers: { cookie: admin } })).json
  let refused = 0
  for (const e of ENDPOINTS) {
    for (const [name, headers, message] of attacks) {
      const res = await call(e, admin, headers)
      t.same([res.status, res.json], [403, { error: message }], `${e.method} ${e.path}, ${name}: 403`)
      t.same(res.setCookie, [], `${e.method} ${e.path}, ${name}: no cookie`)
      refused++
    }
  }
  // Refused means nothing happened: not logged out, no session revoked, cart and password unchanged.
  t.equal((await send(server.url, 'GET', '/dashboard', { headers: { cookie: admin } })).status, 200, 'the admin session survived every forged request')
  t.same((await send(server.url, 'GET', '/cart', { headers: { cookie: admin } })).json, cartBefore, 'the cart is unchanged')
  const cross = await send(server.url, 'POST', '/login', { json: JOHN, headers: { 'sec-fetch-site': 'cross-site' } })
  t.same([cross.status, cross.setCookie], [403, []], 'login CSRF: no session is created for the forged login')

  const passes: Array<[string, Record<string, string>]> = [
    ['same-origin (Origin and Fetch Metadata)', { origin: `http://${host}`, 'sec-fetch-site': 'same-origin' }],
    ['same Origin only', { origin: `http://${host}` }],
    ['user-initiated (Sec-Fetch-Site: none)', { 'sec-fetch-site': 'none' }],
    ['no Origin, no Fetch Metadata (curl)', {}],
  ]
  let passed = 0
  for (const e of ENDPOINTS) {
    for (const [name, headers] of passes) {
      // A fresh admin session each time: /logout and the revocations end it.
      const res = await call(e, await login(ADMIN), headers)
      t.equal(res.status, e.pass, `${e.method} ${e.path}, ${name}: ${e.pass}`)
      passed++
    }
  }
  const safe = await send(server.url, 'GET', '/dashboard', { headers: { cookie: await login(ADMIN), 'sec-fetch-site': 'cross-site', origin: 'https://evil.example' } })
  t.equal(safe.status, 200, 'a cross-site GET is not refused (safe method; SameSite=Lax is the layer there)')
  t.ok(refused + passed + 2 >= 40, `${refused} refused + ${passed} passed + 2 cases`)
  await w.verify(t, server)
})
