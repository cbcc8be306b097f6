/**
 * Two auth server instances on one Redis, each wired from its configuration alone (REDIS_URL,
 * REDIS_PREFIX: sessions, users and their caches as in production), and the memory store for
 * the race: see test/fixtures/multi-instance.ts.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t from 'tap'
import { startServer } from '../../lib/server/app.js'
import { loadConfig } from '../../lib/server/config.js'
import { wipePrefix } from '../fixtures/child-env.js'
import { multiInstanceSuite } from '../fixtures/multi-instance.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `t-multi-${randomBytes(6).toString('hex')}:`
const raw = new Redis(url)
t.teardown(async () => {
  await wipePrefix(raw, prefix)
  await raw.quit()
})
const env = {
  PORT: '0', BCRYPT_COST: '4', TRUST_PROXY: 'true', REDIS_URL: url, REDIS_PREFIX: prefix,
  SESSION_SECRET: randomBytes(32).toString('base64url'),
}
const quiet = { log: () => {} }
const a = await startServer(loadConfig(env), quiet)
const b = await startServer(loadConfig(env), quiet)
t.teardown(() => Promise.all([a.close(), b.close()]))

await multiInstanceSuite(t, { name: 'redis, two instances', a: a.url, b: b.url })

t.test('memory: logins racing a password change (one process)', async (t) => {
  const m = await startServer(loadConfig({ PORT: '0', BCRYPT_COST: '4', TRUST_PROXY: 'true' }))
  t.teardown(() => m.close())
  await multiInstanceSuite(t, { name: 'memory', a: m.url, b: m.url })
})
