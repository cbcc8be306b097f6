/**
 * WORKERS=2 on one Redis and on a real 3-master Cluster: the workers are the "instances". Every
 * request goes on a new connection, so node:cluster's round-robin spreads them over both workers;
 * the scenarios of test/fixtures/multi-instance.ts must hold whichever worker answers.
 */
import { randomBytes } from 'node:crypto'
import { Redis } from 'ioredis'
import t from 'tap'
import { wipePrefix } from '../fixtures/child-env.js'
import { multiInstanceSuite } from '../fixtures/multi-instance.js'
import { startCluster } from '../fixtures/redis-cluster.js'
import { spawnServer } from '../fixtures/spawn-server.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const secret = randomBytes(32).toString('base64url')

t.test('WORKERS=2 on Redis', async (t) => {
  const prefix = `t-workers-${randomBytes(6).toString('hex')}:`
  const raw = new Redis(url)
  t.teardown(async () => {
    await wipePrefix(raw, prefix)
    await raw.quit()
  })
  const server = await spawnServer(t, { WORKERS: '2', REDIS_URL: url, REDIS_PREFIX: prefix, TRUST_PROXY: 'true', SESSION_SECRET: secret }, 2)
  await multiInstanceSuite(t, { name: 'redis, WORKERS=2', a: server.url, b: server.url, fresh: true }, { raceRounds: 20 })
  t.equal(await server.stop(), 0)
})

t.test('WORKERS=2 on a 3-master Cluster', async (t) => {
  const cluster = await startCluster({ masters: 3 })
  t.teardown(() => cluster.stop())
  const nodes = cluster.nodes.map((n) => `${n.host}:${n.port}`).join(',')
  const server = await spawnServer(t, { WORKERS: '2', REDIS_CLUSTER_NODES: nodes, TRUST_PROXY: 'true', SESSION_SECRET: secret }, 2)
  await multiInstanceSuite(t, { name: 'cluster, WORKERS=2', a: server.url, b: server.url, fresh: true }, { raceRounds: 20 })
  t.equal(await server.stop(), 0)
})
