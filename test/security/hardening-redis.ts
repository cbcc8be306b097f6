// Throttling and flood attacks against the server on Redis (see the suite), and two server
// instances on one Redis sharing every limit; keys are counted by prefix, and every key this
// file wrote is deleted at the end.
import t from 'tap'
import { RedisStore } from '../../lib/stores/redis.js'
import { call, hardeningSuite } from '../fixtures/hardening-suite.js'
import { redisHardening } from '../fixtures/hardening-stores.js'
import { JOHN } from '../fixtures/http-client.js'
import { boot } from '../fixtures/server-suite.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const redis = redisHardening(url)
const run = redis.run
t.teardown(() => redis.cleanup())

await hardeningSuite(t, redis.options)

t.test('two instances on one Redis share every limit', async (t) => {
  const prefix = `${run}shared:`
  const env = { TRUST_PROXY: 'true', SESSION_SECRET: 'shared-secret-for-two-instances-0123456789', ANON_SESSION_LIMIT: '10' }
  const a = await boot(t, new RedisStore({ url, prefix }), env)
  const b = await boot(t, new RedisStore({ url, prefix }), env)
  const login = (port: number, password: string, ip: string) => call(port, 'POST', '/login', { email: JOHN.email, password }, { 'x-forwarded-for': ip })
  for (let i = 0; i < 5; i++) t.equal((await login(i % 2 === 0 ? a.port : b.port, `wrong-password-${i}`, '203.0.113.1')).status, 401)
  t.equal((await login(b.port, JOHN.password, '203.0.113.1')).status, 429, 'a lock made through both holds on each')
  t.equal((await login(a.port, JOHN.password, '203.0.113.1')).status, 429)
  const burst = await Promise.all(Array.from({ length: 64 }, (_, i) =>
    call(i % 2 === 0 ? a.port : b.port, 'POST', '/login', { email: `burst${i}@example.com`, password: 'wrong-password' }, { 'x-forwarded-for': '203.0.113.2' })))
  t.equal(burst.filter((r) => r.status === 401).length, 50, 'a burst split over two instances still gets exactly 50')
  const carts = await Promise.all(Array.from({ length: 16 }, (_, i) =>
    call(i % 2 === 0 ? a.port : b.port, 'POST', '/cart', { item: 'x' }, { 'x-forwarded-for': '203.0.113.3' })))
  t.equal(carts.filter((r) => r.status === 200).length, 10, 'the anonymous-session limit is one limit across instances')
})
