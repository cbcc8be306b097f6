/**
 * RedisUserStore on a real Redis Cluster (3 masters, started by test/fixtures/redis-cluster.ts):
 * the conformance suite — the cross-user rules stay atomic because the directory's keys share one
 * slot — and a check that the feed hears changes published on another node.
 */
import { Cluster } from 'ioredis'
import t from 'tap'
import { startCluster } from '../fixtures/redis-cluster.js'
import { redisUsers } from '../fixtures/redis-users.js'
import { userStoreConformance } from '../fixtures/user-store-conformance.js'

const cluster = await startCluster({ masters: 3 })
t.teardown(() => cluster.stop())
const client = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
t.teardown(() => client.quit())

// Each feed subscribes on a different node than the one owning the directory's slot, in turn:
// PUBLISH on Cluster reaches every node.
let n = 0
await userStoreConformance(t, {
  name: 'redis cluster',
  shared: true,
  make: (t, shared) => redisUsers(t, client, { nodes: [cluster.nodes[n++ % cluster.nodes.length] as { host: string; port: number }] },
    shared === undefined ? undefined : `tu-${shared}:`),
})

t.test('the directory lives in one slot', async (t) => {
  const store = await redisUsers(t, client, { nodes: cluster.nodes })
  await store.create({ id: 'one', email: 'one@example.com', name: 'One', role: 'admin', passwordHash: '$2b$04$' + 'a'.repeat(53) })
  const slots = new Set(await Promise.all((await store.keys()).map((k) => client.cluster('KEYSLOT', k))))
  t.equal(slots.size, 1)
})
