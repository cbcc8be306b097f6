/**
 * Two auth server instances on one real 3-master Redis Cluster, wired from REDIS_CLUSTER_NODES
 * alone: sessions spread over the slots, users in one slot, both cached under client tracking. See
 * test/fixtures/multi-instance.ts.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { startServer } from '../../lib/server/app.js'
import { loadConfig } from '../../lib/server/config.js'
import { multiInstanceSuite } from '../fixtures/multi-instance.js'
import { startCluster } from '../fixtures/redis-cluster.js'

const cluster = await startCluster({ masters: 3 })
t.teardown(() => cluster.stop())
const nodes = cluster.nodes.map((n) => `${n.host}:${n.port}`)
const secret = randomBytes(32).toString('base64url')
// Each instance knows a different node to start from, as two hosts configured separately might.
const boot = (seed: string[]) =>
  startServer(loadConfig({ PORT: '0', BCRYPT_COST: '4', TRUST_PROXY: 'true', REDIS_CLUSTER_NODES: seed.join(','), SESSION_SECRET: secret }), { log: () => {} })
const a = await boot(nodes.slice(0, 1))
const b = await boot(nodes.slice(1))
t.teardown(() => Promise.all([a.close(), b.close()]))

await multiInstanceSuite(t, { name: 'cluster, two instances', a: a.url, b: b.url })
