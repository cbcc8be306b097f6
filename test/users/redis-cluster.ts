/**
 * RedisUserStore on a real Redis Cluster (3 masters, started by test/fixtures/redis-cluster.ts):
 * the conformance suite — the cross-user rules stay atomic because the directory's keys share one
 * slot, and two stores' caches stay coherent through the directory master's client tracking.
 */
import { Cluster } from 'ioredis'
import t from 'tap'
import { startCluster } from '../fixtures/redis-cluster.js'
import { redisUsers, userLag } from '../fixtures/redis-users.js'
import { userStoreConformance } from '../fixtures/user-store-conformance.js'

const cluster = await startCluster({ masters: 3 })
t.teardown(() => cluster.stop())
const client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
t.teardown(() => client.quit())

await userStoreConformance(t, {
  name: 'redis cluster',
  shared: true,
  make: (t, shared) => redisUsers(t, client, shared === undefined ? undefined : `tu-${shared}:`),
})

t.test('the directory lives in one slot', async (t) => {
  const store = await redisUsers(t, client)
  await store.create({ id: 'one', email: 'one@example.com', name: 'One', role: 'admin', passwordHash: '$2b$04$' + 'a'.repeat(53) })
  const slots = new Set(await Promise.all((await store.keys()).map((k) => client.cluster('KEYSLOT', k))))
  t.equal(slots.size, 1)
})

t.test('user cache on Cluster: a change on A leaves B’s memory within 50 ms, worst case over 300 trials', async (t) => {
  const prefix = 'tu-lag:'
  await userLag(t, await redisUsers(t, client, prefix), await redisUsers(t, client, prefix), 300, 50, 'Cluster')
})
