/**
 * Re-authentication, the per-user session limit and GET /session on a real 3-master Redis Cluster
 * (test/fixtures/redis-cluster.ts), where a user's sessions and their index live on different
 * nodes: the limit must still hold under concurrent logins.
 */
import t from 'tap'
import { RedisStore } from '../../lib/stores/redis.js'
import { startCluster } from '../fixtures/redis-cluster.js'
import { freshnessSuite } from '../fixtures/freshness-suite.js'

const cluster = await startCluster({ masters: 3 })
t.teardown(() => cluster.stop())

let n = 0
await freshnessSuite(t, {
  name: 'redis cluster',
  makeStore: () => new RedisStore({ clusterNodes: cluster.nodes, prefix: `fresh${n++}:`, onClientError: () => {} }),
})
