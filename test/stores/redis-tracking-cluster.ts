/**
 * RedisTracking (lib/stores/redis-tracking.ts) on a real 3-master Redis Cluster
 * (test/fixtures/redis-cluster.ts): the slot function against `CLUSTER KEYSLOT`, one lane per
 * master, invalidation across two caches (the worst case over many trials, every master), a killed
 * connection on one node, and a slot migrated under a cached key — never a stale read.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster, Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { keySlot } from '../../lib/stores/key-slot.js'
import { RedisTracking, type Loader, type RedisTrackingOptions } from '../../lib/stores/redis-tracking.js'
import { startCluster } from '../fixtures/redis-cluster.js'
import { until as pollUntil } from '../fixtures/redis-users.js'

const BOUND_MS = 50
const TRIALS = 600

const cluster = await startCluster({ masters: 3 })
t.teardown(() => cluster.stop())
const silent = (): void => {}
const newCluster = (): Cluster => {
  const c = new Cluster(cluster.nodes, { redisOptions: { maxRetriesPerRequest: 1 } })
  c.on('error', silent)
  return c
}
/** The "other instance". */
const writer = newCluster()
t.teardown(() => writer.quit())
await new Promise<void>((resolve) => writer.once('ready', resolve))

/** Poll `cond` for at most `ms` (test/fixtures/redis-users.ts). */
const until = (cond: () => boolean, ms = 5000): Promise<boolean> => pollUntil(cond, ms)

const getString: Loader<string> = async (reader, key) => {
  const value = await reader.get(key)
  return value === null ? null : { value, expiresAt: Infinity }
}

function make(t: Test, over: Partial<RedisTrackingOptions> = {}): { cache: RedisTracking<string>; client: Cluster; states: Array<[boolean, string]> } {
  const client = newCluster()
  const states: Array<[boolean, string]> = []
  const cache = new RedisTracking<string>({ client, onStateChange: (a, r) => states.push([a, r]), ...over })
  t.teardown(async () => {
    await cache.close()
    client.disconnect()
  })
  return { cache, client, states }
}

const masterPorts = async (): Promise<number[]> => (await cluster.topology()).filter((n) => n.role === 'master').map((n) => n.port)

/** A key (under `prefix`) on each master, by `CLUSTER KEYSLOT` and the topology. */
async function keyPerMaster(prefix: string): Promise<string[]> {
  const masters = (await cluster.topology()).filter((n) => n.role === 'master')
  const keys = new Map<number, string>()
  for (let i = 0; keys.size < masters.length; i++) {
    const key = `${prefix}${i}`
    const slot = keySlot(key)
    const owner = masters.find((m) => m.slots.some(([a, b]) => slot >= a && slot <= b)) as { port: number }
    if (!keys.has(owner.port)) keys.set(owner.port, key)
  }
  return [...keys.values()]
}

t.test('keySlot agrees with CLUSTER KEYSLOT', async (t) => {
  const keys = ['', 'a', 'foo', '123456789', 'sk:s:' + 'ab'.repeat(32), '{user1000}.following', 'foo{}{bar}', 'foo{{bar}}zap',
    'foo{bar}{zap}', '{}', '}{', 'é{ü}', 'ключ', 'sk:users:{sk:}:u:x']
  for (let i = 0; i < 200; i++) keys.push(randomBytes(1 + (i % 40)).toString('latin1'))
  for (const key of keys) t.equal(keySlot(key), Number(await writer.cluster('KEYSLOT', key)), JSON.stringify(key))
  // The reference vector of the Cluster specification: CRC16 of "123456789" is 0x31C3.
  t.equal(keySlot('123456789'), 0x31c3 % 16384)
})

t.test('one lane per master; reads on every master hit memory until a change anywhere', async (t) => {
  const { cache, states } = make(t)
  t.equal(await cache.get('tc:early', getString), null, 'before the slot map is known: through the Cluster client')
  t.equal(cache.stats().bypassed, 1)
  t.ok(await until(() => cache.active), 'every master tracked')
  t.equal(states.filter(([a]) => a).length, 3, 'three lanes came up')
  const ports = await masterPorts()
  for (const port of ports) t.ok(states.some(([, r]) => r.endsWith(`:${port})`)), `a lane at ${port}`)
  t.throws(() => cache.reader, TypeError, 'no single reader on Cluster')
  const keys = await keyPerMaster('tc:hit:')
  for (const key of keys) await writer.set(key, 'v1')
  for (const key of keys) t.equal(await cache.get(key, getString), 'v1')
  for (const key of keys) t.equal(cache.peek(key), 'v1', `${key} from memory`)
  t.match(cache.stats(), { misses: 3, hits: 3, size: 3, bypassed: 1 })
  for (const key of keys) await writer.set(key, 'v2')
  t.ok(await until(() => cache.stats().size === 0, 2000), 'each master invalidated its key')
  for (const key of keys) t.equal(await cache.get(key, getString), 'v2')
  await writer.del(...keys.map((k) => k)).catch(async () => Promise.all(keys.map((k) => writer.del(k))))
})

t.test('a Lua command defined on the cache runs on every lane, and through the Cluster while bypassing', async (t) => {
  const { cache, client } = make(t)
  cache.defineCommand('trackingClusterGet', { numberOfKeys: 1, lua: "return redis.call('GET', KEYS[1])" })
  t.equal(typeof (client as unknown as Record<string, unknown>).trackingClusterGet, 'function', 'defined on the Cluster client too')
  const viaScript: Loader<string> = async (reader, key) => {
    const value = await (reader as unknown as { trackingClusterGet(k: string): Promise<string | null> }).trackingClusterGet(key)
    return value === null ? null : { value, expiresAt: Infinity }
  }
  const keys = await keyPerMaster('tc:lua:')
  for (const key of keys) await writer.set(key, 'x')
  // Before the lanes are up: bypassed, through the Cluster client.
  for (const key of keys) t.equal(await cache.get(key, viaScript), 'x')
  t.ok(await until(() => cache.active))
  cache.defineCommand('trackingClusterGet', { numberOfKeys: 1, lua: "return redis.call('GET', KEYS[1])" })
  for (const key of keys) t.equal(await cache.get(key, viaScript), 'x')
  t.equal(cache.stats().size, 3)
  await writer.set(keys[0] as string, 'y')
  t.ok(await until(() => cache.stats().size === 2, 2000), 'a key read by a script is tracked')
  for (const key of keys) await writer.del(key)
})

t.test(`invalidation across two caches within ${BOUND_MS} ms, worst case over ${TRIALS} trials on every master`, async (t) => {
  const { cache: a } = make(t)
  const { cache: b } = make(t)
  t.ok(await until(() => a.active && b.active), 'both tracking')
  const keys = await keyPerMaster(`tc:lag:${randomBytes(4).toString('hex')}:`)
  const lags: number[] = []
  let notCached = 0
  for (let i = 0; i < TRIALS; i++) {
    const key = keys[i % keys.length] as string
    await writer.set(key, `v${i}`)
    a.invalidate(key)
    b.invalidate(key)
    await a.get(key, getString)
    await b.get(key, getString)
    if (b.peek(key) !== `v${i}`) notCached++
    // "A" changes the key through its own client, then reads its own write.
    await writer.set(key, `w${i}`)
    a.invalidate(key)
    const since = performance.now()
    let lastStale = 0
    for (;;) {
      const started = performance.now()
      const seen = await b.get(key, getString)
      if (seen === `w${i}`) break
      lastStale = started - since
      if (lastStale > 2000) break
      await new Promise<void>((resolve) => setImmediate(resolve))
    }
    lags.push(lastStale)
  }
  for (const key of keys) await writer.del(key)
  lags.sort((x, y) => x - y)
  const q = (p: number): string => (lags[Math.min(lags.length - 1, Math.floor(p * lags.length))] as number).toFixed(3)
  t.comment(`Cluster invalidation A→B: ${lags.length} trials, median ${q(0.5)} ms, p99 ${q(0.99)} ms, worst ${(lags.at(-1) as number).toFixed(3)} ms`)
  t.ok(notCached < TRIALS / 10, `B held the key in memory before the change in nearly every trial (${TRIALS - notCached}/${TRIALS})`)
  t.ok((lags.at(-1) as number) < BOUND_MS, `worst ${(lags.at(-1) as number).toFixed(3)} ms < ${BOUND_MS} ms`)
})

t.test('CLIENT KILL on one node: that lane flushed and bypassed, the others kept, back by itself, never stale', async (t) => {
  const { cache, states } = make(t)
  t.ok(await until(() => cache.active))
  const keys = await keyPerMaster('tc:kill:')
  for (const key of keys) await writer.set(key, 'before')
  for (const key of keys) await cache.get(key, getString)
  t.equal(cache.stats().size, 3)
  const port = (await masterPorts())[0] as number
  const node = new Redis({ host: '127.0.0.1', port })
  t.teardown(() => node.disconnect())
  const flushes = cache.stats().flushes
  await node.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  t.ok(await until(() => cache.stats().flushes > flushes, 3000), 'flushed')
  t.equal(cache.stats().size, 2, "that node's entry went; the other masters' stayed")
  t.ok(states.some(([a, r]) => !a && r === 'subscriber connection closed'), 'told onStateChange')
  for (const key of keys) await writer.set(key, 'after')
  const deadline = Date.now() + 5000
  while (!cache.active && Date.now() < deadline) {
    for (const key of keys) t.not(await cache.get(key, getString).catch(() => 'error'), 'before', 'nothing stale while down')
    await sleep(10)
  }
  t.ok(cache.active, 'every lane back')
  // Now the reader of the same node: its lane ends (Cluster node connections never reconnect)
  // and a new one is made.
  const readers = await node.call('CLIENT', 'LIST', 'TYPE', 'normal') as string
  const before = cache.stats().flushes
  for (const key of keys) await cache.get(key, getString)
  await node.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
  t.ok(readers.length > 0)
  t.ok(await until(() => cache.stats().flushes > before, 3000), 'flushed again')
  t.ok(await until(() => cache.active, 5000), 'a new lane for that master')
  for (const key of keys) await writer.set(key, 'later')
  // Another client's write: its invalidation may arrive a moment after the write's reply.
  t.ok(await until(() => keys.every((key) => cache.peek(key) === undefined), 2000), 'invalidations flow on every lane')
  for (const key of keys) t.equal(await cache.get(key, getString), 'later')
  for (const key of keys) await writer.del(key)
})

t.test('a slot migrated under a cached key: never stale, cached again from its new master', async (t) => {
  const { cache } = make(t)
  t.ok(await until(() => cache.active))
  const topology = await cluster.topology()
  const masters = topology.filter((n) => n.role === 'master')
  const key = `tc:move:${randomBytes(4).toString('hex')}`
  const slot = keySlot(key)
  const source = masters.find((m) => m.slots.some(([a, b]) => slot >= a && slot <= b)) as (typeof masters)[number]
  const target = masters.find((m) => m !== source) as (typeof masters)[number]
  await writer.set(key, 'before')
  t.equal(await cache.get(key, getString), 'before')
  t.equal(cache.peek(key), 'before', 'cached from the source')
  const cli = (port: number, ...args: string[]): Promise<string> => cluster.cli(port, ...args)
  const S = String(slot)
  await cli(target.port, 'CLUSTER', 'SETSLOT', S, 'IMPORTING', source.id)
  await cli(source.port, 'CLUSTER', 'SETSLOT', S, 'MIGRATING', target.id)
  await cli(source.port, 'MIGRATE', '127.0.0.1', String(target.port), key, '0', '5000')
  t.ok(await until(() => cache.peek(key) === undefined, 2000), 'the MIGRATE deleted it at the source: invalidated')
  // During the migration the source answers ASK: the read goes through the Cluster, not kept.
  t.equal(await cache.get(key, getString), 'before')
  t.equal(cache.peek(key), undefined, 'an ASK answer is not kept')
  for (const m of masters) await cli(m.port, 'CLUSTER', 'SETSLOT', S, 'NODE', target.id)
  await writer.set(key, 'after')
  // The cache's own client still routes the slot to the source (MOVED) until it refreshes.
  for (let i = 0; i < 20; i++) {
    t.equal(await cache.get(key, getString), 'after', 'never the old value')
    await sleep(20)
  }
  t.ok(await until(() => cache.active, 5000), 'tracking on the new slot map')
  t.ok(await until(() => (void cache.get(key, getString), cache.peek(key) === 'after'), 3000), 'kept again, from the new master')
  await writer.set(key, 'later')
  t.ok(await until(() => cache.peek(key) === undefined, 2000), 'and invalidated by it')
  // Put the slot back, for the tests that follow.
  await cli(source.port, 'CLUSTER', 'SETSLOT', S, 'IMPORTING', target.id)
  await cli(target.port, 'CLUSTER', 'SETSLOT', S, 'MIGRATING', source.id)
  await cli(target.port, 'MIGRATE', '127.0.0.1', String(source.port), key, '0', '5000')
  for (const m of masters) await cli(m.port, 'CLUSTER', 'SETSLOT', S, 'NODE', source.id)
  await until(() => false, 300)
  await writer.del(key).catch(silent)
})

t.test('a slot map without one master closes its lane; a MOVED from the wrong node is answered, never kept', async (t) => {
  const { cache, client, states } = make(t)
  t.ok(await until(() => cache.active))
  const keys = await keyPerMaster('tc:map:')
  for (const key of keys) await writer.set(key, 'v')
  for (const key of keys) await cache.get(key, getString)
  t.equal(cache.stats().size, 3)
  // As if the client had learnt that master X's slots now belong to Y (a failover seen wrongly).
  const x = client.slots[keySlot(keys[0] as string)]?.[0] as string
  const y = client.slots[keySlot(keys[1] as string)]?.[0] as string
  const saved = client.slots.map((s) => [...s])
  client.slots.forEach((s, slot) => {
    if (s[0] === x) client.slots[slot] = [y]
  })
  t.notOk(cache.active, 'not active while the lanes do not match the slot map')
  client.emit('refresh')
  t.equal(cache.stats().size, 2, 'a new slot map flushes the entries of the master that lost its slots')
  t.equal(cache.peek(keys[1] as string), 'v', 'the others are still tracked by their masters')
  t.ok(states.some(([a, r]) => !a && r === 'closed'), 'the lane of the master that left the map was closed')
  // The key now routes to Y's lane, whose node answers MOVED: answered through the Cluster.
  t.equal(await cache.get(keys[0] as string, getString), 'v')
  t.equal(cache.peek(keys[0] as string), undefined, 'not kept')
  client.slots.splice(0, client.slots.length, ...saved)
  client.emit('refresh')
  t.ok(await until(() => cache.active, 5000), 'every master tracked again')
  for (const key of keys) await writer.del(key)
})
