/**
 * The auth server when its store fails: 503 + Retry-After, no Set-Cookie, never 401 — on reads,
 * writes, session lists, login counters and the health check. Requests without a cookie that need
 * no store are unaffected.
 */
import t from 'tap'
import { ErrorCodes, StoreError } from '../../lib/errors.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { createStore, serverUrl } from '../../lib/server/app.js'
import { RedisStore } from '../../lib/stores/redis.js'
import { Client, JOHN } from '../fixtures/http-client.js'
import { boot } from '../fixtures/server-suite.js'
import { withOverrides } from '../fixtures/session-app.js'

t.test('every store call that fails answers 503', async (t) => {
  const inner = new MemoryStore()
  let broken = false
  const fail = <A extends unknown[], R>(fn: (...a: A) => Promise<R>) =>
    (...args: A): Promise<R> =>
      broken ? Promise.reject(new StoreError(ErrorCodes.STORE_UNAVAILABLE, 'down', { cause: new Error('ECONNRESET') })) : fn(...args)
  const store = withOverrides(inner, {
    local: false,
    get: fail(inner.get.bind(inner)),
    create: fail(inner.create.bind(inner)),
    listByUser: fail(inner.listByUser.bind(inner)),
    hit: fail(inner.hit.bind(inner)),
    ping: fail(inner.ping.bind(inner)),
  })
  const server = await boot(t, store)
  const john = new Client(server.url)
  await john.login(JOHN.email, JOHN.password)
  broken = true
  const cases: Array<[string, () => Promise<{ status: number; headers: Headers; setCookie: string[]; body: unknown }>]> = [
    ['read with a cookie', () => john.get('/dashboard')],
    ['session list', () => john.get('/sessions')],
    ['login counters', () => new Client(server.url).post('/login', JOHN)],
    ['first write of an anonymous cart', () => new Client(server.url).post('/cart', { item: 'x' })],
  ]
  for (const [name, run] of cases) {
    const res = await run()
    t.equal(res.status, 503, name)
    t.equal(res.headers.get('retry-after'), '1', `${name}: Retry-After`)
    t.same(res.setCookie, [], `${name}: no Set-Cookie`)
    t.same(res.body, { error: 'Session store unavailable' })
  }
  const health = await john.get('/healthz')
  t.same([health.status, health.body], [503, { error: 'Session store unavailable' }])
  t.equal((await new Client(server.url).get('/cart')).status, 200, 'no cookie, no store: unaffected')
  broken = false
  t.equal((await john.get('/dashboard')).status, 200, 'the same cookie works again')
})

t.test('password change attempts are throttled like logins', async (t) => {
  const server = await boot(t, new MemoryStore())
  const john = new Client(server.url)
  await john.login(JOHN.email, JOHN.password)
  for (let i = 0; i < 5; i++) {
    t.equal((await john.post('/password', { currentPassword: `wrong-${i}-pass`, newPassword: 'new-password-9' })).status, 403)
  }
  const locked = await john.post('/password', { currentPassword: JOHN.password, newPassword: 'new-password-9' })
  t.equal(locked.status, 429)
  t.ok(Number(locked.headers.get('retry-after')) >= 1)
})

t.test('createStore and serverUrl', async (t) => {
  const memory = createStore({ kind: 'memory' })
  t.type(memory, MemoryStore)
  await memory.close()
  for (const clientCache of [undefined, false] as const) {
    const cluster = createStore({ kind: 'cluster', nodes: [{ host: '127.0.0.1', port: 1 }], ...(clientCache === false ? { clientCache } : {}) }) as RedisStore
    t.type(cluster, RedisStore)
    t.equal(cluster.kind, 'redis')
    t.equal(cluster.clientCacheStats() === null, clientCache === false, `Cluster, REDIS_CLIENT_CACHE ${clientCache === false ? 'off' : 'on'}`)
    await cluster.close()
  }
  const uncached = createStore({ kind: 'redis', url: 'redis://127.0.0.1:1', clientCache: false }) as RedisStore
  t.equal(uncached.clientCacheStats(), null, 'REDIS_CLIENT_CACHE=off')
  await uncached.close()
  const cachedStore = createStore({ kind: 'redis', url: 'redis://127.0.0.1:1' }) as RedisStore
  t.not(cachedStore.clientCacheStats(), null, 'on by default')
  await cachedStore.close()
  for (const clientCache of [undefined, false] as const) {
    const sentinel = createStore({ kind: 'sentinel', sentinel: { sentinels: [{ host: '127.0.0.1', port: 1 }], name: 'm' }, ...(clientCache === false ? { clientCache } : {}) }) as RedisStore
    t.equal(sentinel.clientCacheStats() === null, clientCache === false, `sentinel, clientCache ${String(clientCache)}`)
    await sentinel.close()
  }
  t.equal(serverUrl('0.0.0.0', 80), 'http://127.0.0.1:80')
  t.equal(serverUrl('::', 80), 'http://127.0.0.1:80')
  t.equal(serverUrl('::1', 81), 'http://[::1]:81')
  t.equal(serverUrl('127.0.0.2', 82), 'http://127.0.0.2:82')
})

t.test('behind a trusted proxy, session lists show the client address from X-Forwarded-For', async (t) => {
  const server = await boot(t, new MemoryStore(), { TRUST_PROXY: 'true' })
  const c = new Client(server.url)
  await c.request('POST', '/login', { json: JOHN, headers: { 'x-forwarded-for': '203.0.113.9' } })
  const listed = await c.get('/sessions')
  t.equal(listed.body.sessions[0].ip, '203.0.113.9')
  t.equal(listed.headers.get('x-content-type-options'), 'nosniff')
})

t.test('session timeouts from the environment (ASVS 3.3.2 level 2)', async (t) => {
  const server = await boot(t, new MemoryStore(), { SESSION_IDLE_MS: '1800000', SESSION_ABSOLUTE_MS: '43200000' })
  const plain = await new Client(server.url).login(JOHN.email, JOHN.password)
  t.match(plain.setCookie[0], /; Max-Age=1800;/, '30-minute idle timeout')
  const remembered = await new Client(server.url).login(JOHN.email, JOHN.password, true)
  t.match(remembered.setCookie[0], /; Max-Age=43200;/, 'remember me capped by the 12-hour absolute limit')
})
