/**
 * Re-authentication, the per-user session limit and GET /session on the real Redis (REDIS_URL,
 * default 127.0.0.1:6379), then two server instances sharing one Redis. Each server (or pair)
 * gets its own key prefix; every key is deleted at the end.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { startServer } from '../../lib/server/app.js'
import { loadConfig } from '../../lib/server/config.js'
import { RedisStore } from '../../lib/stores/redis.js'
import { freshnessSuite } from '../fixtures/freshness-suite.js'
import { Client, JOHN } from '../fixtures/http-client.js'
import { testRedis } from '../fixtures/redis-client.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const run = `t-fresh-${randomBytes(6).toString('hex')}:`
await testRedis(t, url, run)

let n = 0
await freshnessSuite(t, { name: 'redis', makeStore: () => new RedisStore({ url, prefix: `${run}${n++}:` }) })

t.test('two instances on one Redis: one per-user limit, and a re-authentication seen by both', async (t) => {
  const prefix = `${run}shared:`
  const env = { PORT: '0', BCRYPT_COST: '4', SESSION_SECRET: 'shared-secret-for-two-instances-0123456789', MAX_SESSIONS_PER_USER: '4' }
  const [a, b] = await Promise.all([0, 1].map(() => startServer(loadConfig(env), { store: new RedisStore({ url, prefix }) })))
  t.teardown(() => Promise.all([a?.close(), b?.close()]))
  const servers = [a, b] as NonNullable<typeof a>[]
  // Three waves of four logins, each wave split over both instances at once.
  const clients: Client[] = []
  for (let wave = 0; wave < 3; wave++) {
    const batch = Array.from({ length: 4 }, (_, i) => new Client((servers[i % 2] as { url: string }).url))
    const logins = await Promise.all(batch.map((c) => c.post('/login', JOHN)))
    t.ok(logins.every((r) => r.status === 200), `wave ${wave}: every login succeeds`)
    clients.push(...batch)
  }
  const live = await Promise.all(clients.map(async (c) => (await c.get('/dashboard')).status === 200))
  t.equal(live.filter(Boolean).length, 4, 'exactly 4 live, whichever instance made them')

  const onA = clients.find((c, i) => live[i] && c.baseUrl === servers[0]?.url) as Client
  const old = onA.cookieHeader()
  t.equal((await onA.post('/reauth', { password: JOHN.password })).status, 200, 're-authenticated on A')
  const onB = new Client(servers[1]?.url as string)
  t.equal((await onB.get('/dashboard', { headers: { cookie: old } })).status, 401, 'B refuses the old cookie')
  t.equal((await onB.get('/dashboard', { headers: { cookie: onA.cookieHeader() } })).status, 200, 'B accepts the new one')
})
