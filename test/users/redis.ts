/**
 * RedisUserStore on the shared Redis (REDIS_URL, default redis://127.0.0.1:6379): the conformance
 * suite (two stores on one prefix stand for two processes), the key layout, failure mapping, and
 * the user cache across two stores: how soon B stops answering from memory what A changed, and
 * what B answers while its tracking is lost. Fails — never skips — when Redis is not there.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import { createServer, type AddressInfo } from 'node:net'
import t from 'tap'
import { hashPassword } from '../../lib/auth/password.js'
import { setTimeout as sleep } from 'node:timers/promises'
import { RedisUserStore } from '../../lib/users/redis.js'
import { redisUsers, until, userLag } from '../fixtures/redis-users.js'
import { startRedis } from '../fixtures/redis-server.js'
import { userStoreConformance } from '../fixtures/user-store-conformance.js'
import { testRedis } from '../fixtures/redis-client.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const raw = await testRedis(t, url)

await userStoreConformance(t, {
  name: 'redis',
  shared: true,
  make: (t, shared) => redisUsers(t, raw, shared === undefined ? undefined : `tu-${shared}:`),
})

t.test('key layout: one hash tag for the directory, no TTL', async (t) => {
  const prefix = `tu-${randomBytes(6).toString('hex')}:`
  const store = await redisUsers(t, raw, prefix)
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
  t.throws(() => new RedisUserStore({ client: raw, prefix: 'a{b' }), invalid)
  t.throws(() => new RedisUserStore({ client: raw, commandTimeoutMs: 0 }), invalid)
})

t.test('failures are StoreErrors; a closed store refuses', async (t) => {
  const dead = new Redis('redis://127.0.0.1:1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false })
  dead.on('error', () => {})
  const errors: Error[] = []
  const store = new RedisUserStore({ client: dead, commandTimeoutMs: 200, onError: (err) => errors.push(err) })
  await t.rejects(store.byId('x'), { code: 'ERR_STORE_UNAVAILABLE' })
  t.equal(store.peek('x'), undefined, 'a cache that never connected answers nothing')
  // A server that accepts and never answers: only the store's own deadline ends the call.
  const mute = createServer(() => {})
  await new Promise<void>((resolve) => mute.listen(0, '127.0.0.1', resolve))
  t.teardown(() => mute.close())
  const hung = new Redis({ port: (mute.address() as AddressInfo).port, host: '127.0.0.1', maxRetriesPerRequest: 0, retryStrategy: () => null })
  hung.on('error', () => {})
  t.teardown(() => hung.disconnect())
  const slow = new RedisUserStore({ client: hung, cache: false, commandTimeoutMs: 100 })
  await t.rejects(slow.setPasswordHash('x', await hashPassword('slow-password-1', 4)), { code: 'ERR_STORE_TIMEOUT' })
  await store.close()
  await store.close()
  await t.rejects(store.byEmail('a@example.com'), { code: 'ERR_STORE_UNAVAILABLE' })
  t.equal(store.peek('x'), undefined, 'closed: nothing from memory')
  t.ok(errors.length > 0, 'the cache told onError')
})

const BOUND_MS = 50

t.test(`user cache: a change on A leaves B's memory within ${BOUND_MS} ms, worst case over 500 trials`, async (t) => {
  const prefix = `tu-${randomBytes(6).toString('hex')}:`
  await userLag(t, await redisUsers(t, raw, prefix), await redisUsers(t, raw, prefix), 500, BOUND_MS, 'one node')
})

t.test('user cache: a killed tracking connection flushes and bypasses memory until tracking is back', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const client = new Redis(redis.url, { maxRetriesPerRequest: 1 })
  client.on('error', () => {})
  t.teardown(() => client.disconnect())
  const a = new RedisUserStore({ client, cache: false })
  const b = new RedisUserStore({ client, cache: { leaseMs: 200, maxEntries: 100 } })
  t.teardown(() => b.close())
  const hash = await hashPassword('kill-password-1', 4)
  await a.create({ id: 'k', email: 'k@example.com', name: 'K', role: 'admin', passwordHash: hash })
  t.equal((await a.byId('k'))?.id, 'k', 'without a cache, byId reads Redis')
  t.equal(a.peek('k'), undefined, 'and nothing is in memory')
  t.ok(await until(async () => (await b.byId('k'), b.peek('k') !== undefined)))
  await client.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  await a.setPasswordHash('k', hash)
  const since = Date.now()
  let stale = 0
  while (Date.now() - since < 1000) {
    // The close of the killed connection reaches B a moment after the kill: the same bound.
    if (Date.now() - since > BOUND_MS && b.peek('k')?.credentialVersion === 1) stale++
    await b.byId('k')
    await sleep(5)
  }
  t.equal(stale, 0, `never the old user ${BOUND_MS} ms after the change`)
  t.ok(await until(async () => (await b.byId('k'), b.peek('k')?.credentialVersion === 2)), 'back in memory, current')
})
