/**
 * RedisStore on a real Redis Cluster (3 masters, started by test/fixtures/redis-cluster.ts): the
 * conformance suite (client cache on, as by default), a check that one user's sessions really live
 * on different nodes while the user's index, on yet another slot, lists and revokes them all, and
 * the client cache across two stores ("instances"): how long B still sees what A changed.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster } from 'ioredis'
import t from 'tap'
import type { SessionRecord } from '../../lib/store.js'
import { RedisStore } from '../../lib/stores/redis.js'
import { startCluster } from '../fixtures/redis-cluster.js'
import { storeConformance } from '../fixtures/store-conformance.js'

const cluster = await startCluster({ masters: 3 })
t.teardown(() => cluster.stop())
const silent = (): void => {}

await storeConformance(t, {
  name: 'redis cluster',
  make: () => new RedisStore({ clusterNodes: cluster.nodes.slice(0, 1), prefix: 'conf:', onClientError: silent }),
  now: Date.now,
  advance: (ms) => sleep(ms),
})

t.test('one user, sessions on every master, one index', async (t) => {
  const prefix = 'spread:'
  const store = new RedisStore({ clusterNodes: cluster.nodes, prefix, onClientError: silent })
  t.teardown(() => store.close())
  const raw = new Cluster(cluster.nodes)
  t.teardown(() => raw.quit())

  const masters = (await cluster.topology()).filter((n) => n.role === 'master')
  t.equal(masters.length, 3)
  const ownerOf = async (key: string): Promise<number> => {
    const slot = Number(await raw.cluster('KEYSLOT', key))
    const owner = masters.find((m) => m.slots.some(([from, to]) => slot >= from && slot <= to))
    return owner?.port ?? -1
  }

  // Create sessions until every master holds at least one of the user's (random keys spread
  // evenly; 3 masters need ~6 on average, the cap only bounds bad luck).
  const userId = 'user:{cluster}:1'
  const keys: string[] = []
  const nodes = new Set<number>()
  while (nodes.size < 3 && keys.length < 200) {
    const key = randomBytes(32).toString('hex')
    const now = Date.now()
    const rec: SessionRecord = {
      version: 1, data: '{}', createdAt: now + keys.length, lastSeenAt: now, expiresAt: now + 600_000,
      absoluteExpiresAt: now + 86_400_000, remember: false, userId, handle: `h${keys.length}`,
      userAgent: 'ua', ip: '127.0.0.1', credentialVersion: 0, authenticatedAt: null,
    }
    t.equal(await store.create(key, rec), true)
    keys.push(key)
    nodes.add(await ownerOf(`${prefix}s:${key}`))
  }
  t.equal(nodes.size, 3, `${keys.length} sessions span all three masters`)
  const indexNode = await ownerOf(`${prefix}u:{${userId}}`)
  t.ok(masters.some((m) => m.port === indexNode), `the index lives on one master (${indexNode})`)

  t.strictSame((await store.listByUser(userId)).map((s) => s.key), keys, 'listed across nodes, oldest first')
  const keep = keys[0] as string
  t.equal(await store.destroyByUser(userId, keep), keys.length - 1, 'revoked across nodes')
  t.strictSame((await store.listByUser(userId)).map((s) => s.key), [keep])
  for (const key of keys.slice(1)) t.equal(await raw.exists(`${prefix}s:${key}`), 0)
  t.strictSame(await raw.hkeys(`${prefix}u:{${userId}}`), ['h0'], 'the index holds only the survivor')
  await store.destroy(keep)
  t.equal(await raw.exists(`${prefix}u:{${userId}}`), 0, 'an empty index is gone')
})

t.test('client cache: a logout or write on A is seen on B within 50 ms, worst case over 400 trials', async (t) => {
  const prefix = 'lag:'
  const a = new RedisStore({ clusterNodes: cluster.nodes, prefix, onClientError: silent })
  const b = new RedisStore({ clusterNodes: cluster.nodes.slice(1), prefix, onClientError: silent })
  t.teardown(async () => {
    await a.close()
    await b.close()
  })
  const hits = (): number => b.clientCacheStats()?.hits as number
  const lags: number[] = []
  let cachedBefore = 0
  for (let i = 0; i < 400; i++) {
    const key = randomBytes(32).toString('hex')
    const now = Date.now()
    const rec: SessionRecord = {
      version: 1, data: '{}', createdAt: now, lastSeenAt: now, expiresAt: now + 600_000, absoluteExpiresAt: now + 86_400_000,
      remember: false, userId: null, handle: `h${i}`, userAgent: 'ua', ip: '127.0.0.1', credentialVersion: 0, authenticatedAt: null,
    }
    await a.create(key, rec)
    await b.get(key)
    const before = hits()
    await b.get(key)
    if (hits() > before) cachedBefore++
    const write = i % 2 === 0
    if (write) t.equal(await a.write(key, 1, { data: '{"n":1}', lastSeenAt: now, expiresAt: now + 600_000, remember: false, userId: null, credentialVersion: 0 }), 'ok')
    else await a.destroy(key)
    const since = performance.now()
    let lastStale = 0
    for (;;) {
      const started = performance.now()
      const r = await b.get(key)
      if (write ? r?.version === 2 : r === null) break
      lastStale = started - since
      if (lastStale > 2000) break
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    lags.push(lastStale)
    await a.destroy(key)
  }
  lags.sort((x, y) => x - y)
  const worst = lags.at(-1) as number
  t.comment(`Cluster, two stores: median ${(lags[200] as number).toFixed(3)} ms, p99 ${(lags[396] as number).toFixed(3)} ms, worst ${worst.toFixed(3)} ms`)
  t.ok(cachedBefore > 360, `B answered from memory before the change (${cachedBefore}/400)`)
  t.ok(worst < 50, `worst ${worst.toFixed(3)} ms < 50 ms`)
})
