/**
 * RedisUserStore on the shared Redis (REDIS_URL, default redis://127.0.0.1:6379): the conformance
 * suite (two stores on one prefix stand for two processes), the key layout, and failure mapping.
 * Fails — never skips — when Redis is not there.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { createServer, type AddressInfo } from 'node:net'
import t from 'tap'
import { hashPassword } from '../../lib/auth/password.js'
import { RedisChangeFeed, feedConnector } from '../../lib/users/redis-feed.js'
import { channelOf, RedisUserStore } from '../../lib/users/redis.js'
import { redisUsers } from '../fixtures/redis-users.js'
import { userStoreConformance } from '../fixtures/user-store-conformance.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const raw = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => null })
try {
  await raw.connect()
} catch (err) {
  throw new Error(`Redis is required at ${url} (set REDIS_URL); it did not answer: ${String(err)}`)
}
t.teardown(() => raw.quit())

await userStoreConformance(t, {
  name: 'redis',
  shared: true,
  make: (t, shared) => redisUsers(t, raw, { url }, shared === undefined ? undefined : `tu-${shared}:`),
})

t.test('key layout: one hash tag for the directory, no TTL', async (t) => {
  const prefix = `tu-${randomBytes(6).toString('hex')}:`
  const store = await redisUsers(t, raw, { url }, prefix)
  const hash = await hashPassword('layout-password-1', 4)
  const c = await store.create({ id: 'u1', email: 'a@example.com', name: 'A', role: 'admin', passwordHash: hash })
  t.equal(c.ok, true)
  const dir = `${prefix}users:{${prefix}}`
  t.same(await store.keys(), [`${dir}:u:u1`, `${dir}:email`, `${dir}:ids`, `${dir}:admins`])
  t.same(await raw.hgetall(`${dir}:u:u1`), { id: 'u1', email: 'a@example.com', name: 'A', role: 'admin', disabled: '0', hash, cv: '1' })
  t.same(await raw.hgetall(`${dir}:email`), { 'a@example.com': 'u1' })
  t.same(await raw.smembers(`${dir}:admins`), ['u1'])
  for (const key of await store.keys()) t.equal(await raw.pttl(key), -1, `${key} has no TTL`)
  // The email index pointing at a user whose email is another (deleted and reused between the
  // two reads of byEmail): as if not found.
  await raw.hset(`${dir}:email`, 'stale@example.com', 'u1')
  t.equal(await store.byEmail('stale@example.com'), null)
  const invalid = { name: 'TypeError', code: 'ERR_OPTION_INVALID' }
  t.throws(() => new RedisUserStore({ client: raw, changes: store.changes, prefix: 'a{b' }), invalid)
  t.throws(() => new RedisUserStore({ client: raw, changes: store.changes, commandTimeoutMs: 0 }), invalid)
})

t.test('failures are StoreErrors; a closed store refuses', async (t) => {
  const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false })
  dead.on('error', () => {})
  const feed = new RedisChangeFeed({ channel: 'x', connect: feedConnector({ url: 'redis://127.0.0.1:1' }) })
  t.teardown(() => feed.close())
  const store = new RedisUserStore({ client: dead, changes: feed, commandTimeoutMs: 200 })
  await t.rejects(store.byId('x'), { code: 'ERR_STORE_UNAVAILABLE' })
  t.equal(feed.live, false, 'a feed that never connected is not live')
  // A server that accepts and never answers: only the store's own deadline ends the call.
  const mute = createServer(() => {})
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve))
  t.teardown(() => mute.close())
  const hung = new Redis({ port: (mute.address() as AddressInfo).port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null })
  hung.on('error', () => {})
  t.teardown(() => hung.disconnect())
  const slow = new RedisUserStore({ client: hung, changes: feed, commandTimeoutMs: 100 })
  await t.rejects(slow.setPasswordHash('x', await hashPassword('slow-password-1', 4)), { code: 'ERR_STORE_TIMEOUT' })
  await store.close()
  await store.close()
  await t.rejects(store.byEmail('a@example.com'), { code: 'ERR_STORE_UNAVAILABLE' })
  t.equal(channelOf('p:'), 'p:users:changed')
})
