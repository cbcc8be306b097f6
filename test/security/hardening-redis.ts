// Throttling and flood attacks against the server on Redis (see the suite); keys are counted
// by prefix, and every key this file wrote is deleted at the end.
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t from 'tap'
import type { Store } from '../../lib/store.js'
import { RedisStore } from '../../lib/stores/redis.js'
import { hardeningSuite } from '../fixtures/hardening-suite.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const run = `t-hard-${randomBytes(6).toString('hex')}:`
const raw = new Redis(url)
const prefixes = new WeakMap<Store, string>()
let n = 0

async function keys(pattern: string): Promise<string[]> {
  const out: string[] = []
  let cursor = '0'
  do {
    const [next, batch] = await raw.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    out.push(...batch)
    cursor = next
  } while (cursor !== '0')
  return out
}

t.teardown(async () => {
  const left = await keys(`${run}*`)
  if (left.length > 0) await raw.del(...left)
  await raw.quit()
})

await hardeningSuite(t, {
  name: 'redis',
  makeStore: () => {
    const prefix = `${run}${n++}:`
    const store = new RedisStore({ url, prefix })
    prefixes.set(store, prefix)
    return store
  },
  size: async (store) => {
    const prefix = prefixes.get(store) as string
    return { counters: (await keys(`${prefix}h:*`)).length, sessions: (await keys(`${prefix}s:*`)).length }
  },
})
