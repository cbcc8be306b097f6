/**
 * Behind a reverse proxy, and the security headers: PUBLIC_ORIGIN and trusted X-Forwarded-Host /
 * -Proto in the CSRF Origin check, HSTS in production, Clear-Site-Data on logout, the
 * `__Host-Http-` cookie name, the address actually bound, REDIS_URL credentials kept out of
 * messages. Black-box: the real server on loopback, raw HTTP (a proxy rewrites Host, which fetch
 * cannot send).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { hashPassword } from '../../lib/auth/password.js'
import { boundUrl, startServer } from '../../lib/server/app.js'
import { ConfigError, loadConfig, redactCredentials } from '../../lib/server/config.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { call } from '../fixtures/hardening-suite.js'
import { JOHN } from '../fixtures/http-client.js'

const SECRET = 'proxy-test-secret-0123456789abcdefghijkl'

/** A users file with John (production loads no demo users). */
const dir = await mkdtemp(join(tmpdir(), 'sessionkit-proxy-'))
t.teardown(() => rm(dir, { recursive: true, force: true }))
const USERS_FILE = join(dir, 'users.json')
const john = { id: '2', email: JOHN.email, name: 'John', role: 'user', passwordHash: await hashPassword(JOHN.password, 4) }
await writeFile(USERS_FILE, JSON.stringify([john]))

async function serve(t: Test, env: Record<string, string>) {
  const config = loadConfig({ PORT: '0', BCRYPT_COST: '4', SESSION_SECRET: SECRET, USERS_FILE, ...env })
  const server = await startServer(config, { store: new MemoryStore() })
  t.teardown(() => server.close())
  return server
}

const browser = (origin: string, extra: Record<string, string> = {}) => ({ origin, 'sec-fetch-site': 'same-origin', ...extra })

t.test('a proxy that rewrites Host: PUBLIC_ORIGIN is what the Origin check compares', async (t) => {
  const plain = await serve(t, {})
  const proxied = { host: '127.0.0.1:8080' } // what nginx sends upstream with proxy_pass http://127.0.0.1:8080
  const before = await call(plain.port, 'POST', '/login', JOHN, browser('https://app.example.com', proxied))
  t.equal(before.status, 403, 'without PUBLIC_ORIGIN the browser is refused (the reported bug)')

  const s = await serve(t, { PUBLIC_ORIGIN: 'https://app.example.com, https://www.example.com:8443' })
  t.equal((await call(s.port, 'POST', '/login', JOHN, browser('https://app.example.com', proxied))).status, 200)
  t.equal((await call(s.port, 'POST', '/login', JOHN, browser('https://www.example.com:8443', proxied))).status, 200, 'any listed origin')
  for (const origin of ['https://evil.example', 'http://app.example.com', 'https://app.example.com:444', 'null', 'https://app.example.com.evil.example']) {
    t.equal((await call(s.port, 'POST', '/login', JOHN, browser(origin, proxied))).status, 403, origin)
  }
  const hostOnly = await call(s.port, 'POST', '/login', JOHN, browser(`http://127.0.0.1:${s.port}`))
  t.equal(hostOnly.status, 403, 'with PUBLIC_ORIGIN, Host is no longer consulted')
})

t.test('X-Forwarded-Host and -Proto count only with TRUST_PROXY and TRUST_FORWARDED_HOST', async (t) => {
  const forwarded = { host: '127.0.0.1:8080', 'x-forwarded-host': 'app.example.com', 'x-forwarded-proto': 'https' }
  const ignoring = await serve(t, { TRUST_PROXY: 'true' })
  t.equal((await call(ignoring.port, 'POST', '/login', JOHN, browser('https://app.example.com', forwarded))).status, 403, 'not configured: ignored')
  const s = await serve(t, { TRUST_PROXY: 'true', TRUST_FORWARDED_HOST: 'true' })
  t.equal((await call(s.port, 'POST', '/login', JOHN, browser('https://app.example.com', forwarded))).status, 200)
  t.equal((await call(s.port, 'POST', '/login', JOHN, browser('http://app.example.com', forwarded))).status, 403, 'scheme must match the proto')
  const spoofed = { ...forwarded, 'x-forwarded-host': 'evil.example, app.example.com' }
  t.equal((await call(s.port, 'POST', '/login', JOHN, browser('https://evil.example', spoofed))).status, 403, 'the last hop counts, not the client-sent first')
  const noProto = { host: '127.0.0.1:8080', 'x-forwarded-host': 'APP.example.com' }
  t.equal((await call(s.port, 'POST', '/login', JOHN, browser('https://app.example.com', noProto))).status, 200, 'host only, case-insensitive')
  const empty = { host: '127.0.0.1:8080', 'x-forwarded-host': 'app.example.com,' }
  t.equal((await call(s.port, 'POST', '/login', JOHN, browser('https://app.example.com', empty))).status, 403, 'an empty last hop: no forwarded host')
  const noForward = await call(s.port, 'POST', '/login', JOHN, browser(`http://127.0.0.1:${s.port}`))
  t.equal(noForward.status, 200, 'no X-Forwarded-Host: Host as before')
  t.throws(() => loadConfig({ TRUST_FORWARDED_HOST: 'true' }), ConfigError, 'never without TRUST_PROXY')
})

t.test('production: HSTS on every response, includeSubDomains opt-in, __Host-Http-sid', async (t) => {
  const s = await serve(t, { NODE_ENV: 'production', HOST: '127.0.0.1', SESSION_COOKIE_NAME: '__Host-Http-sid' })
  const login = await call(s.port, 'POST', '/login', JOHN)
  t.equal(login.status, 200)
  t.equal(login.headers['strict-transport-security'], 'max-age=31536000')
  const line = (login.headers['set-cookie'] as string[])[0] as string
  t.match(line, /^__Host-Http-sid=[\w.-]+; Max-Age=\d+; Path=\/; HttpOnly; Secure; SameSite=Lax$/)
  t.equal((await call(s.port, 'GET', '/nope')).headers['strict-transport-security'], 'max-age=31536000', 'errors too')
  t.equal((await call(s.port, 'GET', '/')).headers['strict-transport-security'], 'max-age=31536000', 'the page too')
  const sub = await serve(t, { NODE_ENV: 'production', HOST: '127.0.0.1', HSTS_INCLUDE_SUBDOMAINS: 'true' })
  t.equal((await call(sub.port, 'GET', '/healthz')).headers['strict-transport-security'], 'max-age=31536000; includeSubDomains')
  const dev = await serve(t, {})
  t.equal((await call(dev.port, 'GET', '/healthz')).headers['strict-transport-security'], undefined, 'not over plain-HTTP development')
  t.throws(() => loadConfig({ SESSION_COOKIE_NAME: '__Host-Http-sid' }), ConfigError, 'a prefixed name needs production (Secure)')
  t.throws(() => loadConfig({ SESSION_COOKIE_NAME: 'a b' }), ConfigError)
  t.equal(loadConfig({ SESSION_COOKIE_NAME: 'app_sid' }).hardening.cookieName, 'app_sid')
})

t.test('Clear-Site-Data on logout, on ending the current session and on log out everywhere', async (t) => {
  const s = await serve(t, {})
  const cookieOf = (a: { headers: Record<string, unknown> }) => ((a.headers['set-cookie'] as string[])[0] as string).split(';')[0] as string
  const cookie = cookieOf(await call(s.port, 'POST', '/login', JOHN))
  const out = await call(s.port, 'POST', '/logout', {}, { cookie })
  t.equal(out.headers['clear-site-data'], '"cache", "storage"')
  t.equal((await call(s.port, 'GET', '/dashboard', undefined, { cookie })).status, 401)

  const a = cookieOf(await call(s.port, 'POST', '/login', JOHN))
  const b = cookieOf(await call(s.port, 'POST', '/login', JOHN))
  const list = await call(s.port, 'GET', '/sessions', undefined, { cookie: a })
  const mine = (list.body.sessions as Array<{ handle: string; current: boolean }>).find((x) => x.current)?.handle as string
  const other = (list.body.sessions as Array<{ handle: string; current: boolean }>).find((x) => !x.current)?.handle as string
  t.equal((await call(s.port, 'DELETE', `/sessions/${other}`, undefined, { cookie: a })).headers['clear-site-data'], undefined, 'not for another session')
  t.equal((await call(s.port, 'DELETE', `/sessions/${mine}`, undefined, { cookie: a })).headers['clear-site-data'], '"cache", "storage"', 'ending this one is a logout')
  t.equal((await call(s.port, 'GET', '/dashboard', undefined, { cookie: b })).status, 401)

  const c = cookieOf(await call(s.port, 'POST', '/login', JOHN))
  const d = cookieOf(await call(s.port, 'POST', '/login', JOHN))
  const everywhere = await call(s.port, 'POST', '/logout/everywhere', {}, { cookie: c })
  t.same(everywhere.body, { message: 'Logged out everywhere', ended: 2 })
  t.equal(everywhere.headers['clear-site-data'], '"cache", "storage"')
  for (const k of [c, d]) t.equal((await call(s.port, 'GET', '/dashboard', undefined, { cookie: k })).status, 401, 'every session ended')
  t.equal((await call(s.port, 'POST', '/logout/everywhere', {}, { cookie: c })).status, 401, 'needs a login')

  const withCookies = await serve(t, { CLEAR_SITE_DATA_COOKIES: 'true' })
  const e = cookieOf(await call(withCookies.port, 'POST', '/login', JOHN))
  t.equal((await call(withCookies.port, 'POST', '/logout', {}, { cookie: e })).headers['clear-site-data'], '"cache", "storage", "cookies"', 'cookies when configured')
})

t.test('the address actually bound is reported', async (t) => {
  const s = await serve(t, { HOST: '0.0.0.0' })
  t.equal(s.boundUrl, `http://0.0.0.0:${s.port}`, 'a wildcard, not loopback')
  t.equal(s.url, `http://127.0.0.1:${s.port}`, 'while url stays connectable')
  t.equal(boundUrl({ address: '::', family: 'IPv6', port: 3000 }), 'http://[::]:3000')
  t.equal(boundUrl({ address: '127.0.0.1', family: 'IPv4', port: 80 }), 'http://127.0.0.1:80')
})

t.test('REDIS_URL credentials never reach a message', async (t) => {
  for (const url of ['http://user:hunter2@redis.internal:6379', 'redis:/:hunter2@host', 'hunter2@host', 'redis:default:hunter2@host']) {
    const err = t.throws(() => loadConfig({ REDIS_URL: url }), ConfigError) as Error
    t.notMatch(err.message, /hunter2/, url)
  }
  t.equal(redactCredentials('redis://u:p@h'), 'redis://***@h', 're-exported for the server (table: test/redact.ts)')
})
