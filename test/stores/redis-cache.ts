/**
 * RedisStore's client-side cache across two stores on one Redis, as two instances of the server
 * would be ("A" changes, "B" reads): how long B can still see what A changed, and what B sees
 * when its tracking is lost (connection killed, Redis restarted). A private redis-server, so the
 * faults disturb nobody.
 *
 * The latency bound (50 ms) is a correctness bound, not a benchmark: an invalidation crosses the
 * loopback in well under a millisecond (the measured median, p99 and worst case are printed as
 * comments), and a lost one would show as a whole lease (1 s). On a loaded machine (a shared
 * 2-core CI box: load averages of 12 were seen) the wall clock also counts time this process,
 * redis-server or the kernel's loopback delivery could not run. Redis writes the invalidation
 * before it answers A, so a trial is judged against the same delivery path measured at the same
 * moment: B sends a PING the instant A's change resolves, and the change must be seen within
 * 50 ms or, if the machine stalled longer than that, no later than that PING's answer (plus one
 * event-loop turn). The 99th
 * percentile is asserted on the raw wall clock.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Cluster, Redis } from 'ioredis'
import t, { type Test } from 'tap'
import { ErrorCodes } from '../../lib/errors.js'
import type { SessionRecord } from '../../lib/store.js'
import { reconnectOnReadonly, RedisStore } from '../../lib/stores/redis.js'
import { startRedis } from '../fixtures/redis-server.js'

const BOUND_MS = 50
const TRIALS = 1000
const TURN_MS = 5

const server = await startRedis()
t.teardown(() => server.stop())
const silent = (): void => {}
const admin = new Redis(server.url, { retryStrategy: () => 50 })
admin.on('error', silent)
t.teardown(() => admin.disconnect())

const newKey = (): string => randomBytes(32).toString('hex')
function record(over: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now()
  return {
    version: 1, data: '{"n":0}', createdAt: now, lastSeenAt: now, expiresAt: now + 600_000,
    absoluteExpiresAt: now + 86_400_000, remember: false, userId: null,
    handle: randomBytes(16).toString('base64url'), userAgent: 'ua', ip: '127.0.0.1', credentialVersion: 0, authenticatedAt: null, ...over,
  }
}

/** Two stores ("instances") on the private server, sharing one prefix. */
function pair(prefix: string): { a: RedisStore; b: RedisStore } {
  const a = new RedisStore({ url: server.url, prefix, onClientError: silent })
  const b = new RedisStore({ url: server.url, prefix, onClientError: silent })
  t.teardown(async () => {
    await a.close()
    await b.close()
  })
  return { a, b }
}

/** Poll `cond` for at most `ms`. */
async function until(cond: () => boolean | Promise<boolean>, ms = 5000): Promise<boolean> {
  const deadline = Date.now() + ms
  while (!(await cond())) {
    if (Date.now() > deadline) return false
    await sleep(5)
  }
  return true
}

/** Cache in force on `store` (its first record read twice answers from memory). */
async function cached(store: RedisStore, key: string): Promise<void> {
  const before = store.clientCacheStats()?.hits as number
  await store.get(key)
  await store.get(key)
  if ((store.clientCacheStats()?.hits as number) <= before) throw new Error('not served from memory')
}

/**
 * Read on `b` until `seen(record)` holds; how long after `since` (when A's change resolved) the
 * last read that still answered the old state started. Bounded at 2 s (a lost invalidation; the
 * test then fails).
 */
async function lag(b: RedisStore, key: string, seen: (r: SessionRecord | null) => boolean, since: number): Promise<{ wall: number; pingMs: number }> {
  // The same path, measured at the same moment (see the file comment).
  const ping = b.ping().then(() => performance.now() - since)
  // How late after the change a read still *started* that answered the old state: what a user
  // could see. (When the read that sees the change finishes does not matter: on a busy machine a
  // read from Redis can itself take long, and it is not stale.)
  let lastStale = 0
  for (;;) {
    const started = performance.now()
    if (seen(await b.get(key))) return { wall: lastStale, pingMs: await ping }
    lastStale = started - since
    if (lastStale > 2000) return { wall: Infinity, pingMs: await ping }
    await new Promise<void>((resolve) => setImmediate(resolve))
  }
}

const quantile = (sorted: number[], q: number): number => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number

t.test(`a change on A reaches B within ${BOUND_MS} ms, worst case over ${TRIALS} trials`, async (t) => {
  const { a, b } = pair('lag:')
  const kinds = ['logout', 'revoke', 'destroyByUser', 'write'] as const
  const lags: Record<(typeof kinds)[number], number[]> = { logout: [], revoke: [], destroyByUser: [], write: [] }
  /** Trials slower than the bound, with the PING sent at the same moment. */
  const slow: Array<{ wall: number; pingMs: number }> = []
  let notCached = 0
  for (let i = 0; i < TRIALS; i++) {
    const kind = kinds[i % kinds.length] as (typeof kinds)[number]
    const userId = `u${i}`
    const key = newKey()
    const other = newKey()
    await a.create(key, record({ userId }))
    await a.create(other, record({ userId }))
    // B has the session in memory (a hit), so only an invalidation can make it see the change.
    try {
      await cached(b, key)
    } catch {
      notCached++
      await until(async () => (await b.get(key), (b.clientCacheStats()?.size ?? 0) > 0), 2000)
    }
    let since: number
    let seen: (r: SessionRecord | null) => boolean = (r) => r === null
    switch (kind) {
      case 'logout':
        await a.destroy(key)
        since = performance.now()
        break
      case 'revoke': {
        // "End that session" from the list on another device.
        const listed = await a.listByUser(userId)
        await a.destroy((listed.find((s) => s.key === key) as { key: string }).key)
        since = performance.now()
        break
      }
      case 'destroyByUser':
        // A password change logs out every other session of the user.
        await a.destroyByUser(userId, other)
        since = performance.now()
        break
      case 'write':
        t.equal(await a.write(key, 1, { data: '{"n":1}', lastSeenAt: Date.now(), expiresAt: Date.now() + 600_000, remember: false, userId, credentialVersion: 0 }), 'ok')
        since = performance.now()
        seen = (r) => r !== null && r.version === 2 && r.data === '{"n":1}'
        break
    }
    const measured = await lag(b, key, seen, since)
    lags[kind].push(measured.wall)
    if (measured.wall >= BOUND_MS) slow.push(measured)
    await a.destroyByUser(userId)
  }
  const all = Object.values(lags).flat().sort((x, y) => x - y)
  for (const kind of kinds) {
    const sorted = [...lags[kind]].sort((x, y) => x - y)
    t.comment(`${kind}: ${sorted.length} trials, median ${quantile(sorted, 0.5).toFixed(3)} ms, p99 ${quantile(sorted, 0.99).toFixed(3)} ms, worst ${(sorted.at(-1) as number).toFixed(3)} ms`)
  }
  t.equal(all.length, TRIALS)
  t.ok(notCached < TRIALS / 10, `B served from memory before the change in nearly every trial (${TRIALS - notCached}/${TRIALS})`)
  const p99 = quantile(all, 0.99)
  t.ok(p99 < BOUND_MS, `p99 ${p99.toFixed(3)} ms < ${BOUND_MS} ms on the wall clock (median ${quantile(all, 0.5).toFixed(3)} ms, worst ${(all.at(-1) as number).toFixed(3)} ms)`)
  const fmt = (x: { wall: number; pingMs: number }): string => `${x.wall.toFixed(1)} ms (PING ${x.pingMs.toFixed(1)} ms)`
  t.comment(`trials over ${BOUND_MS} ms: ${slow.length ? slow.map(fmt).join(', ') : 'none'}`)
  // B notices the change at its next read, one event-loop turn after the message is processed,
  // which may come just after the PING's answer in the same turn: TURN_MS of slack for that.
  t.same(slow.filter((x) => x.wall > x.pingMs + TURN_MS).map(fmt), [],
    `every change seen within ${BOUND_MS} ms, or (machine stalled) no later than a PING sent at the same moment`)
})

/**
 * B holds a record in memory; `fault` breaks B's tracking; A then changes the record. B must show
 * the change (or fail with a StoreError) within the bound, and never the old record after that.
 */
async function faultCase(t: Test, name: string, fault: (b: RedisStore) => Promise<void>, change: 'write' | 'gone'): Promise<void> {
  const { a, b } = pair(`${name}:`)
  const key = newKey()
  await a.create(key, record())
  t.ok(await until(async () => {
    try {
      await cached(b, key)
      return true
    } catch {
      return false
    }
  }), `${name}: B serves the record from memory`)
  await fault(b)
  if (change === 'write') {
    t.equal(await a.write(key, 1, { data: '{"n":2}', lastSeenAt: Date.now(), expiresAt: Date.now() + 600_000, remember: false, userId: null, credentialVersion: 0 }), 'ok')
  }
  const since = performance.now()
  const old = (r: SessionRecord | null): boolean => r !== null && r.version === 1
  let stale = 0
  let lastStaleMs = 0
  let errors = 0
  // Read for 1.5 s: across the reconnection and the return of tracking.
  while (performance.now() - since < 1500) {
    try {
      if (old(await b.get(key))) {
        stale++
        lastStaleMs = performance.now() - since
      }
    } catch (err) {
      t.match(err, { name: 'StoreError', code: /^ERR_STORE_(UNAVAILABLE|TIMEOUT)$/ }, `${name}: only a StoreError`)
      errors++
    }
    await sleep(2)
  }
  t.comment(`${name}: ${stale} stale reads, the last ${lastStaleMs.toFixed(3)} ms after the change; ${errors} store errors`)
  t.ok(lastStaleMs < BOUND_MS, `${name}: no stale read ${BOUND_MS} ms after the change`)
  const fresh = newKey()
  await a.create(fresh, record())
  t.ok(await until(async () => cached(b, fresh).then(() => true, () => false), 5000), `${name}: B caches again by itself`)
  const now = await b.get(key)
  t.ok(change === 'write' ? now?.version === 2 : now === null, `${name}: and serves the new state`)
}

t.test('fault: B’s invalidation connection killed (CLIENT KILL TYPE pubsub)', (t) =>
  faultCase(t, 'killsub', async () => {
    await admin.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  }, 'write'))

t.test('fault: every connection dropped (CLIENT KILL TYPE normal)', (t) =>
  faultCase(t, 'killall', async () => {
    await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes')
  }, 'write'))

t.test('fault: Redis restarted (empty): B must not answer from memory what Redis lost', (t) =>
  faultCase(t, 'restart', async () => {
    await server.restart()
  }, 'gone'))

t.test('clientCache options', async (t) => {
  const off = new RedisStore({ url: server.url, prefix: 'off:', clientCache: false, onClientError: silent })
  t.teardown(() => off.close())
  t.equal(off.clientCacheStats(), null, 'false turns it off')
  const key = newKey()
  await off.create(key, record())
  t.equal((await off.get(key))?.version, 1)
  const small = new RedisStore({ url: server.url, prefix: 'small:', clientCache: { maxEntries: 1, leaseMs: 400 }, onClientError: silent })
  t.teardown(() => small.close())
  t.match(small.clientCacheStats(), { size: 0 })
  for (const [name, clientCache] of [['a string', 'on'], ['maxEntries 0', { maxEntries: 0 }], ['leaseMs 1', { leaseMs: 1 }]] as const) {
    t.throws(() => new RedisStore({ url: server.url, clientCache } as never), { name: 'TypeError', code: ErrorCodes.OPTION_INVALID }, name)
  }
  // A record handed out from memory is the caller's own copy.
  await until(async () => ((await small.get(key)) !== null && (small.clientCacheStats()?.size ?? 0) > 0) || (await small.create(key, record()), false), 3000)
  const first = await small.get(key)
  if (first !== null) first.data = 'mutated'
  t.not((await small.get(key))?.data, 'mutated', 'no aliasing through the cache')
  await small.close()
  await t.rejects(small.get(key), { code: ErrorCodes.STORE_UNAVAILABLE }, 'closed: no answer from memory either')
})

t.test('Cluster: on by default, off when asked (test/stores/redis-cluster.ts runs it on a real Cluster)', async (t) => {
  // No cluster needs to answer: the choice is made in the constructor.
  const nodes = [{ host: '127.0.0.1', port: 1 }]
  const store = new RedisStore({ clusterNodes: nodes, prefix: 'cl:', onClientError: silent })
  t.match(store.clientCacheStats(), { size: 0 })
  await store.close()
  const client = new Cluster(nodes, { lazyConnect: true })
  const passed = new RedisStore({ client, clientCache: { maxEntries: 10 }, onClientError: silent })
  t.match(passed.clientCacheStats(), { size: 0 })
  await passed.close()
  const off = new RedisStore({ client, clientCache: false, onClientError: silent })
  t.equal(off.clientCacheStats(), null)
  await off.close()
  client.disconnect()
})

t.test('sentinel options are validated, each naming the option', async (t) => {
  const sentinels = [{ host: '127.0.0.1', port: 26379 }]
  const cases: Array<[string, unknown]> = [
    ['not an object', 'x'],
    ['no sentinels', { name: 'm' }],
    ['empty sentinels', { sentinels: [], name: 'm' }],
    ['bad port', { sentinels: [{ host: 'h', port: 0 }], name: 'm' }],
    ['no name', { sentinels }],
    ['empty name', { sentinels, name: '' }],
    ['password not a string', { sentinels, name: 'm', password: 1 }],
    ['sentinelPassword not a string', { sentinels, name: 'm', sentinelPassword: {} }],
    ['db negative', { sentinels, name: 'm', db: -1 }],
    ['db not an integer', { sentinels, name: 'm', db: 1.5 }],
  ]
  for (const [name, sentinel] of cases) {
    t.throws(() => new RedisStore({ sentinel } as never), { name: 'TypeError', code: ErrorCodes.OPTION_INVALID }, name)
  }
  t.throws(() => new RedisStore({ sentinel: { sentinels, name: 'm' }, url: server.url }), { code: ErrorCodes.OPTION_INVALID }, 'only one way to connect')
  const store = new RedisStore({ sentinel: { sentinels, name: 'm', db: 0, password: 'p', sentinelPassword: 's', username: 'u', sentinelUsername: 'su' }, onClientError: silent })
  t.equal(store.kind, 'redis')
  await store.close()
})

t.test('Sentinel: a READONLY reply (a demoted master) makes the client reconnect, nothing else does', async (t) => {
  t.equal(reconnectOnReadonly(new Error("READONLY You can't write against a read only replica.")), true)
  t.equal(reconnectOnReadonly(new Error('ERR unknown command')), false)
})
