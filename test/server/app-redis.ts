/**
 * The same black-box suite on the real Redis (REDIS_URL, default 127.0.0.1:6379), plus two server
 * instances sharing one Redis: log in on one, use and log out on the other.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t from 'tap'
import { wipePrefix } from '../fixtures/child-env.js'
import { RedisStore } from '../../lib/stores/redis.js'
import { Client, JOHN } from '../fixtures/http-client.js'
import { redisDemoUsers } from '../fixtures/redis-users.js'
import { boot, serverSuite } from '../fixtures/server-suite.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
/** Every prefix this file used: wiped at the end, so the run leaves no keys. */
const used: string[] = []
const prefix = () => {
  used.push(`t-app-${randomBytes(6).toString('hex')}:`)
  return used.at(-1) as string
}
const raw = new Redis(url)
t.teardown(async () => {
  for (const p of used) await wipePrefix(raw, p)
  await raw.quit()
})

await serverSuite(t, {
  name: 'redis',
  makeStore: () => new RedisStore({ url, prefix: prefix() }),
  storeKind: 'redis',
  makeUsers: (t, store) => redisDemoUsers(t, store as RedisStore),
})

t.test('two instances on one Redis: login on one, use and log out on the other', async (t) => {
  const shared = prefix()
  const secret = 'shared-secret-for-two-instances-0123456789'
  const env = { SESSION_SECRET: secret }
  const a = await boot(t, new RedisStore({ url, prefix: shared }), env)
  const b = await boot(t, new RedisStore({ url, prefix: shared }), env)
  const onA = new Client(a.url)
  await onA.login(JOHN.email, JOHN.password)
  const onB = new Client(b.url)
  for (const [k, v] of onA.jar) onB.jar.set(k, v)
  t.equal((await onB.get('/dashboard')).status, 200, 'the session is seen by the other instance')
  await onB.post('/cart', { item: 'book' })
  t.same((await onA.get('/cart')).body, { cart: ['book'] })
  t.equal((await onB.post('/logout')).status, 200)
  t.equal((await onA.get('/dashboard')).status, 401, 'logout on B is seen by A at once')
})
