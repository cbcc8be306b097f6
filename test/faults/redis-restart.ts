/**
 * Redis crashes (SIGKILL) under the running auth server and comes back empty on the same port.
 *
 * While Redis is gone, every request that needs the store answers 503 fast (connection refused is
 * quicker than a hang, but ioredis would queue and retry for seconds by default) and /healthz says
 * 503, so a load balancer can take the instance out. When Redis is back, the same Node process
 * recovers by itself: no restart, no new client, the Lua scripts reloaded on NOSCRIPT.
 *
 * The restarted Redis has no persistence (--save "" --appendonly no), so the sessions are gone and
 * old cookies answer 401: that is the data being lost with Redis, not the server losing sessions.
 * Losing nothing across a Redis crash is a Redis durability setting (AOF, replicas), not ours.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { RedisStore } from '../../lib/stores/redis.js'
import { describe, FAIL_FAST_MS, storageKeyOf, tally, timed, until, type Outcome } from '../fixtures/faults.js'
import { Client, JOHN } from '../fixtures/http-client.js'
import { startRedis } from '../fixtures/redis-server.js'
import { boot } from '../fixtures/server-suite.js'

const CLIENTS = 5
/** How long Redis stays dead: several of ioredis' reconnect attempts (backoff 50 ms … 1 s). */
const DOWN_MS = 2500
/** Longest wait for /healthz 200 once Redis answers PING again (the reconnect backoff is ≤ 1 s). */
const RECOVERY_BOUND_MS = 10_000

const redis = await startRedis()
t.teardown(() => redis.stop())

t.test('SIGKILL and restart: fast 503s while down, then the same process recovers by itself', async (t) => {
  const prefix = `t-restart-${randomBytes(6).toString('hex')}:`
  const store = new RedisStore({ url: redis.url, prefix, onClientError: () => {} })
  const server = await boot(t, store)

  const clients: Client[] = []
  for (let i = 0; i < CLIENTS; i++) {
    const c = new Client(server.url)
    await c.login(JOHN.email, JOHN.password)
    t.equal((await c.post('/cart', { item: `before-${i}` })).status, 200)
    clients.push(c)
  }
  const cookies = clients.map((c) => c.cookieHeader())

  await redis.kill()
  const killedAt = performance.now()
  // Probe in rounds across the whole outage: right after the crash (connection reset), and later
  // while ioredis is between reconnect attempts (offline queue).
  const down: Outcome[] = []
  const anonymousCart: Outcome[] = []
  for (let round = 0; performance.now() - killedAt < DOWN_MS; round++) {
    const probes = clients.flatMap((c, i) => [
      timed(c, 'GET', '/dashboard', { label: `c${i}`, adopt: false }),
      timed(c, 'GET', '/cart', { label: `c${i}`, adopt: false }),
      timed(c, 'POST', '/cart', { json: { item: `down-${round}` }, label: `c${i}`, adopt: false }),
    ])
    const anon = new Client(server.url)
    probes.push(
      timed(anon, 'GET', '/healthz'),
      timed(anon, 'POST', '/login', { json: JOHN, label: 'login (throttle needs the store)' }),
      timed(anon, 'POST', '/cart', { json: { item: 'x' }, label: 'anonymous first write' }),
    )
    down.push(...(await Promise.all(probes)))
    // A visitor without a cookie and no write needs no store at all: still served.
    anonymousCart.push(await timed(new Client(server.url), 'GET', '/cart'))
    await sleep(200)
  }
  const stats = tally(down)
  t.same(down.filter((o) => o.status !== 503).map(describe), [], 'every store-bound request 503 while Redis is down')
  t.same(down.filter((o) => o.ms > FAIL_FAST_MS).map(describe), [], `each within ${FAIL_FAST_MS} ms`)
  t.same(down.filter((o) => o.setCookie.length > 0).map(describe), [], 'no Set-Cookie with a 503')
  t.same(anonymousCart.filter((o) => o.status !== 200 || o.body?.cart?.length !== 0).map(describe), [],
    'an anonymous read that needs no store is still served')
  t.same(clients.map((c) => c.cookieHeader()), cookies, 'no cookie was changed during the outage')

  await redis.restart()
  const restartedAt = performance.now()
  await until('/healthz 200 after the restart',
    async () => (await timed(new Client(server.url), 'GET', '/healthz')).status === 200, RECOVERY_BOUND_MS, 50)
  const recoveryMs = Math.round(performance.now() - restartedAt)
  t.pass(`/healthz 200 again ${recoveryMs} ms after Redis answered PING (bound ${RECOVERY_BOUND_MS} ms)`)
  t.ok(server.server.listening, 'the same server process, never restarted')

  let relogged = 0
  for (const [i, c] of clients.entries()) {
    // The old session died with Redis's memory: 401, the honest answer, not a 500 or a hang.
    const old = await timed(c, 'GET', '/dashboard')
    t.equal(old.status, 401, `client ${i}: the pre-crash session is gone with Redis (401)`)
    await c.login(JOHN.email, JOHN.password)
    relogged++
    t.not(c.cookieHeader(), cookies[i], `client ${i}: a new session`)
    for (const item of ['after-a', 'after-b']) t.equal((await c.post('/cart', { item: `${item}-${i}` })).status, 200)
  }
  // Read back through the server, and straight from Redis with a fresh connection: the writes made
  // after the recovery are in Redis, not in some cache of this process.
  const reader = new RedisStore({ url: redis.url, prefix, onClientError: () => {} })
  t.teardown(() => reader.close())
  const listed = new Set((await reader.listByUser('2')).map((s) => s.key))
  for (const [i, c] of clients.entries()) {
    t.same((await c.get('/cart')).body, { cart: [`after-a-${i}`, `after-b-${i}`] }, `client ${i}: cart after recovery`)
    t.equal((await c.get('/dashboard')).status, 200)
    const key = storageKeyOf(c) as string
    t.ok(listed.has(key), `client ${i}: the new session is in the user index`)
    t.same(JSON.parse((await reader.get(key))?.data ?? 'null'), { cart: [`after-a-${i}`, `after-b-${i}`] }, `client ${i}: stored in Redis`)
  }

  t.comment(`redis SIGKILL, down ${DOWN_MS} ms: ${stats.requests} requests while down, ${stats.byStatus['503'] ?? 0} × 503, ` +
    `slowest ${stats.maxMs} ms; recovered by itself ${recoveryMs} ms after the restart; ${relogged} new logins, ` +
    'their writes persisted')
})
