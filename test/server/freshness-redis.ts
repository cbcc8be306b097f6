/**
 * Re-authentication, the per-user session limit and GET /session on the real Redis (REDIS_URL,
 * default 127.0.0.1:6379). Each server gets its own key prefix; every key is deleted at the end.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t from 'tap'
import { RedisStore } from '../../lib/stores/redis.js'
import { freshnessSuite } from '../fixtures/freshness-suite.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const run = `t-fresh-${randomBytes(6).toString('hex')}:`
const raw = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null })
try {
  await raw.connect()
} catch (err) {
  throw new Error(`Redis is required at ${url} (set REDIS_URL); it did not answer: ${String(err)}`)
}
t.teardown(async () => {
  for (let cursor = '0'; ;) {
    const [next, keys] = await raw.scan(cursor, 'MATCH', `${run}*`, 'COUNT', 1000)
    if (keys.length > 0) await raw.del(...keys)
    cursor = next
    if (cursor === '0') break
  }
  await raw.quit()
})

let n = 0
await freshnessSuite(t, { name: 'redis', makeStore: () => new RedisStore({ url, prefix: `${run}${n++}:` }) })
