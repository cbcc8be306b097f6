/**
 * RedisTracking (lib/stores/redis-tracking.ts) on a private redis-server, so that the tests may
 * FLUSHALL, CLIENT KILL and restart it: hits and misses, invalidation by another client and by this
 * process, reads in flight that race an invalidation, LRU bound and expiry, the lease, and every
 * way tracking can be lost (dropped, killed, restarted) — after which nothing stale is served.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis, type RedisOptions } from 'ioredis'
import t, { type Test } from 'tap'
import { ErrorCodes } from '../../lib/errors.js'
import { RedisTracking, type Loader, type RedisTrackingOptions } from '../../lib/stores/redis-tracking.js'
import { startRedis } from '../fixtures/redis-server.js'
import { until as pollUntil } from '../fixtures/redis-users.js'

const server = await startRedis()
t.teardown(() => server.stop())

/** The "other instance": writes through its own connection. */
const writer = new Redis(server.url, { maxRetriesPerRequest: 1, retryStrategy: () => 50 })
writer.on('error', () => {})
t.teardown(() => writer.disconnect())

let loads = 0
/** A loader that counts its calls and reads a string key on the reader. */
const getString: Loader<string> = async (reader, key) => {
  loads++
  const value = await reader.get(key)
  return value === null ? null : { value, expiresAt: Infinity }
}

interface Made {
  cache: RedisTracking<string>
  template: Redis
  states: Array<[boolean, string]>
  errors: Error[]
  /** Every subscriber connection the cache made, newest last. */
  subscribers: Redis[]
}

/** A cache on the private server; its template records the subscribers it is asked to make. */
function make(over: Partial<RedisTrackingOptions> = {}, patchSubscriber?: (s: Redis) => void): Made {
  const template = new Redis(server.url, { lazyConnect: true, maxRetriesPerRequest: 1, retryStrategy: () => 50 })
  const subscribers: Redis[] = []
  const duplicate = template.duplicate.bind(template)
  template.duplicate = (o?: Partial<RedisOptions>) => {
    const c = duplicate(o)
    if (o?.protocol === 2) {
      subscribers.push(c)
      patchSubscriber?.(c)
    }
    return c
  }
  const states: Array<[boolean, string]> = []
  const errors: Error[] = []
  const cache = new RedisTracking<string>({
    client: template,
    onStateChange: (active, reason) => states.push([active, reason]),
    onError: (err) => errors.push(err),
    ...over,
  })
  t.teardown(() => cache.close())
  return { cache, template, states, errors, subscribers }
}

/** Poll `cond` for at most `ms` (test/fixtures/redis-users.ts). */
const until = (cond: () => boolean, ms = 5000): Promise<boolean> => pollUntil(cond, ms)

let n = 0
const newKey = (): string => `tr:${n++}`

t.test('options are validated, each naming the option', async (t) => {
  const client = new Redis(server.url, { lazyConnect: true })
  const cases: Array<[string, unknown]> = [
    ['null', null],
    ['no client', {}],
    ['a Cluster without nodes()', { client: { duplicate: () => {}, isCluster: true } }],
    ['not a client', { client: { isCluster: false } }],
    ['maxEntries 0', { client, maxEntries: 0 }],
    ['maxEntries 1.5', { client, maxEntries: 1.5 }],
    ['leaseMs 3', { client, leaseMs: 3 }],
    ['leaseMs huge', { client, leaseMs: 2 ** 31 }],
    ['now not a function', { client, now: 1 }],
    ['onStateChange not a function', { client, onStateChange: 'x' }],
    ['onError not a function', { client, onError: {} }],
  ]
  for (const [name, options] of cases) {
    t.throws(() => new RedisTracking(options as RedisTrackingOptions), { name: 'TypeError', code: ErrorCodes.OPTION_INVALID }, name)
  }
})

t.test('a read is loaded once, then served from memory until Redis says the key changed', async (t) => {
  const { cache, states } = make()
  t.ok(await until(() => cache.active), 'tracking comes up')
  t.match(states, [[true, /^tracking on/]])
  const key = newKey()
  await writer.set(key, 'v1')
  loads = 0
  t.equal(await cache.get(key, getString), 'v1')
  t.equal(await cache.get(key, getString), 'v1')
  t.equal(loads, 1, 'the second read came from memory')
  t.equal(cache.peek(key), 'v1', 'peek() answers a hit synchronously')
  t.equal(cache.peek(newKey()), undefined, 'and never loads')
  await writer.set(key, 'v2')
  t.ok(await until(() => cache.stats().size === 0, 2000), 'the invalidation dropped the entry')
  t.equal(await cache.get(key, getString), 'v2')
  t.equal(loads, 2)
  // A missing key is returned as null and never kept.
  const missing = newKey()
  t.equal(await cache.get(missing, getString), null)
  t.equal(await cache.get(missing, getString), null)
  t.equal(loads, 4)
  t.match(cache.stats(), { hits: 2, misses: 4, bypassed: 0, flushes: 0, size: 1 })
  t.ok(cache.stats().invalidations >= 1)
  await writer.del(key)
})

t.test('a key read by a Lua script on the reader is tracked too', async (t) => {
  const { cache } = make()
  cache.reader.defineCommand('trackingTestGet', { numberOfKeys: 1, lua: "return redis.call('HGET', KEYS[1], 'f')" })
  const viaScript: Loader<string> = async (reader, key) => {
    const value = (await (reader as unknown as { trackingTestGet(k: string): Promise<string | null> }).trackingTestGet(key))
    return value === null ? null : { value, expiresAt: Infinity }
  }
  t.ok(await until(() => cache.active))
  const key = newKey()
  await writer.hset(key, 'f', 'a')
  t.equal(await cache.get(key, viaScript), 'a')
  t.equal(cache.stats().size, 1)
  await writer.hset(key, 'f', 'b')
  t.ok(await until(() => cache.stats().size === 0, 2000), 'HSET by another client invalidated it')
  t.equal(await cache.get(key, viaScript), 'b')
  await writer.del(key)
})

/** Start a read of `key` that reaches Redis, then hold its answer until `release()`. */
async function heldRead(cache: RedisTracking<string>, key: string): Promise<{ pending: Promise<string | null>; release: () => void }> {
  let release!: () => void
  const gate = new Promise<void>((resolve) => (release = resolve))
  let read!: () => void
  const hasRead = new Promise<void>((resolve) => (read = resolve))
  const slow: Loader<string> = async (reader, k) => {
    const value = (await reader.get(k)) as string
    read()
    await gate
    return { value, expiresAt: Infinity }
  }
  const pending = cache.get(key, slow)
  await hasRead
  return { pending, release }
}

t.test('invalidate() drops the entry and voids a read of the key in flight', async (t) => {
  const { cache } = make()
  t.ok(await until(() => cache.active))
  const key = newKey()
  await writer.set(key, 'old')
  // The read reaches Redis, then its answer is held back until after the local invalidation.
  const { pending, release } = await heldRead(cache, key)
  await writer.set(key, 'new')
  cache.invalidate(key)
  release()
  t.equal(await pending, 'old', 'the caller gets what it read')
  t.equal(cache.stats().size, 0, 'but it is not kept')
  t.equal(await cache.get(key, getString), 'new')
  t.equal(await cache.get(key, getString), 'new')
  t.equal(cache.stats().size, 1)
  cache.invalidate(key)
  t.equal(cache.stats().size, 0, 'invalidate() drops a kept entry')
  await writer.del(key)
})

t.test('a read in flight is voided by a Redis invalidation that overtakes its reply', async (t) => {
  const { cache } = make()
  t.ok(await until(() => cache.active))
  const key = newKey()
  await writer.set(key, 'old')
  const { pending, release } = await heldRead(cache, key)
  const before = cache.stats().invalidations
  await writer.set(key, 'new')
  t.ok(await until(() => cache.stats().invalidations > before, 2000), 'the invalidation arrived first')
  release()
  t.equal(await pending, 'old')
  t.equal(cache.stats().size, 0, 'the stale answer was not kept')
  await writer.del(key)
})

t.test('a loader rejection reaches the caller; nothing is kept', async (t) => {
  const { cache } = make()
  t.ok(await until(() => cache.active))
  const boom = new Error('boom')
  await t.rejects(cache.get(newKey(), async () => Promise.reject(boom)), boom)
  t.equal(cache.stats().size, 0)
})

t.test('the LRU keeps at most maxEntries, evicting the least recently used', async (t) => {
  const { cache } = make({ maxEntries: 2 })
  t.ok(await until(() => cache.active))
  const [a, b, c] = [newKey(), newKey(), newKey()]
  await writer.mset(a, 'a', b, 'b', c, 'c')
  await cache.get(a, getString)
  await cache.get(b, getString)
  await cache.get(a, getString) // a is now the most recent
  await cache.get(c, getString) // evicts b
  t.equal(cache.stats().size, 2)
  loads = 0
  await cache.get(a, getString)
  await cache.get(c, getString)
  t.equal(loads, 0, 'a and c are in memory')
  await cache.get(b, getString)
  t.equal(loads, 1, 'b was evicted')
  await writer.del(a, b, c)
})

t.test('an entry is never served past its expiresAt', async (t) => {
  let now = 1_000_000
  const { cache } = make({ now: () => now })
  t.ok(await until(() => cache.active))
  const key = newKey()
  await writer.set(key, 'x')
  let expiresAt = now + 100
  const load: Loader<string> = async (reader, k) => ({ value: (await reader.get(k)) as string, expiresAt })
  loads = 0
  await cache.get(key, async (r, k) => (loads++, load(r, k)))
  await cache.get(key, async (r, k) => (loads++, load(r, k)))
  t.equal(loads, 1)
  now += 100
  expiresAt = now // already expired when it arrives: not kept
  await cache.get(key, async (r, k) => (loads++, load(r, k)))
  t.equal(loads, 2, 'expired: loaded again')
  t.equal(cache.stats().size, 0, 'an answer that is already expired is not kept')
  await writer.del(key)
})

t.test('the lease: no memory is served without a fresh proof, and serving resumes with the next one', async (t) => {
  let now = 5_000_000
  const { cache } = make({ now: () => now, leaseMs: 200 })
  t.ok(await until(() => cache.active))
  const key = newKey()
  await writer.set(key, 'x')
  await cache.get(key, getString)
  now += 10_000 // as if the subscriber had been silent for 10 s
  t.notOk(cache.active, 'not active once the proof is older than leaseMs')
  loads = 0
  await cache.get(key, getString) // decided in this tick, before any PING can answer
  t.equal(loads, 1, 'the read went to Redis')
  t.equal(cache.stats().bypassed, 1)
  t.ok(await until(() => cache.active, 2000), 'the next PING renews the proof')
  await cache.get(key, getString)
  t.equal(loads, 1, 'and memory is served again (nothing was flushed)')
  await writer.del(key)
})

t.test('FLUSHALL, or a message of an unknown shape, drops everything', async (t) => {
  const { cache, subscribers } = make()
  t.ok(await until(() => cache.active))
  const key = newKey()
  await writer.set(key, 'x')
  await cache.get(key, getString)
  t.equal(cache.stats().size, 1)
  await writer.flushall()
  t.ok(await until(() => cache.stats().size === 0, 2000))
  t.equal(cache.stats().flushes, 1)
  await writer.set(key, 'x')
  await cache.get(key, getString)
  const current = subscribers.at(-1) as Redis
  current.emit('messageBuffer', Buffer.from('__redis__:invalidate'), Buffer.from('not an array'))
  t.equal(cache.stats().size, 0)
  t.equal(cache.stats().flushes, 2)
  t.ok(cache.active, 'still active: only the entries went')
  await writer.del(key)
})

/** Fill the cache with one key, lose tracking with `fault`, and check what happens next. */
async function survivesFault(t: Test, name: string, fault: (m: Made) => Promise<void>): Promise<void> {
  const m = make()
  const { cache, states } = m
  t.ok(await until(() => cache.active), `${name}: active`)
  const key = newKey()
  await writer.set(key, 'before')
  await cache.get(key, getString)
  t.equal(cache.stats().size, 1)
  const flushes = cache.stats().flushes
  await fault(m)
  t.ok(await until(() => !cache.active || cache.stats().flushes > flushes, 3000), `${name}: tracking lost`)
  t.equal(cache.stats().size, 0, `${name}: flushed`)
  t.ok(states.some(([active]) => !active), `${name}: told onStateChange`)
  await writer.set(key, 'after')
  // Whatever the state, never the old value again.
  const deadline = Date.now() + 5000
  while (!cache.active && Date.now() < deadline) {
    const value = await cache.get(key, getString).catch(() => 'error')
    t.not(value, 'before', `${name}: nothing stale while down`)
    await sleep(20)
  }
  t.ok(cache.active, `${name}: tracking back by itself`)
  t.equal(await cache.get(key, getString), 'after')
  t.equal(await cache.get(key, getString), 'after')
  // And invalidation works on the new connections.
  await writer.set(key, 'later')
  t.ok(await until(() => cache.stats().size === 0, 2000), `${name}: invalidations flow again`)
  t.equal(await cache.get(key, getString), 'later')
  await writer.del(key)
  await cache.close()
}

t.test('CLIENT KILL of the subscriber', (t) =>
  survivesFault(t, 'subscriber killed', async () => {
    await writer.call('CLIENT', 'KILL', 'TYPE', 'pubsub')
  }))

t.test('CLIENT KILL of the reader', (t) =>
  survivesFault(t, 'reader killed', async ({ cache }) => {
    const id = await cache.reader.client('ID')
    await writer.call('CLIENT', 'KILL', 'ID', String(id))
  }))

t.test('Redis restarted (empty)', (t) =>
  survivesFault(t, 'restart', async () => {
    await server.restart()
    await until(() => writer.status === 'ready', 3000)
  }))

/** Make `INFO server` on `s` answer `fake()` (unless undefined); ioredis's own ready check is left alone. */
function fakeInfo(s: Redis, fake: () => string | undefined): void {
  const info = s.info.bind(s) as (...args: unknown[]) => Promise<string>
  s.info = ((...args: unknown[]) => {
    const answer = args[0] === 'server' ? fake() : undefined
    return answer === undefined ? info(...args) : Promise.resolve(answer)
  }) as typeof s.info
}

t.test('setup retries when the two connections disagree on the server, and gives up when closed', async (t) => {
  let lie = true
  const { cache, errors } = make({}, (s) => {
    fakeInfo(s, () => (lie ? 'run_id:someoneelse\r\n' : undefined))
  })
  t.ok(await until(() => errors.length >= 2, 3000), 'retried')
  t.notOk(cache.active)
  t.ok(errors.every((e) => e instanceof Error))
  lie = false
  t.ok(await until(() => cache.active, 3000), 'comes up once they agree')
})

t.test('INFO without run_id is refused', async (t) => {
  const { cache, errors } = make({}, (s) => {
    fakeInfo(s, () => 'redis_version:0\r\n')
  })
  t.ok(await until(() => errors.length >= 1, 3000))
  t.notOk(cache.active)
  await cache.close()
  await cache.close()
  await t.rejects(cache.get('k', getString), /closed/)
  await t.rejects(cache.fetch('k', getString), /closed/)
})

t.test('close() during setup cuts the half-made subscriber', async (t) => {
  let stall!: () => void
  const { cache, subscribers } = make({}, (s) => {
    const connect = s.connect.bind(s)
    s.connect = (async () => {
      await new Promise<void>((resolve) => (stall = resolve))
      return connect()
    }) as typeof s.connect
  })
  t.ok(await until(() => subscribers.length === 1, 3000))
  await cache.close()
  stall()
  await sleep(50)
  t.equal((subscribers[0] as Redis).status, 'end', 'the subscriber was disconnected')
  t.notOk(cache.active)
})

t.test('setup retries when CLIENT TRACKING is refused (REDIRECT to a client that is gone)', async (t) => {
  let first = true
  const { cache, errors } = make({}, (s) => {
    if (!first) return
    first = false
    const client = s.client.bind(s) as (...args: unknown[]) => Promise<unknown>
    s.client = ((...args: unknown[]) => (args[0] === 'ID' ? Promise.resolve(987_654_321) : client(...args))) as typeof s.client
  })
  t.ok(await until(() => cache.active, 3000), 'up on the second attempt')
  t.match(errors[0], { message: /redirect|client/i })
})

t.test('a subscriber lost right after setup is replaced', async (t) => {
  let first = true
  const { cache, states, subscribers } = make({}, (s) => {
    if (!first) return
    first = false
    const ping = s.ping.bind(s) as () => Promise<string>
    s.ping = (async () => {
      const answer = await ping()
      s.disconnect()
      return answer
    }) as typeof s.ping
  })
  // It comes up on the first subscriber, loses it at once, and comes up on a second one.
  t.ok(await until(() => states.length >= 3 && cache.active, 3000), 'up with another subscriber')
  t.equal(subscribers.length, 2)
  t.match(states, [[true, /tracking on/], [false, 'subscriber connection closed'], [true, /tracking on/]])
})

t.test('close() while the setup waits for its PING', async (t) => {
  let reached!: () => void
  const atPing = new Promise<void>((resolve) => (reached = resolve))
  const { cache, errors } = make({}, (s) => {
    const ping = s.ping.bind(s) as () => Promise<string>
    s.ping = (async () => {
      const answer = await ping()
      reached()
      await sleep(50)
      return answer
    }) as typeof s.ping
  })
  await atPing
  await cache.close()
  await sleep(100)
  t.notOk(cache.active)
  t.same(errors, [], 'a superseded attempt is not an error')
})

t.test('a lane closed twice, or told ready after closing, does nothing', async (t) => {
  const { cache, states } = make()
  t.ok(await until(() => cache.active))
  const reader = cache.reader
  await cache.close()
  const told = states.length
  reader.emit('ready')
  await sleep(50)
  t.equal(states.length, told, 'no setup after close')
  t.notOk(cache.active)
})

t.test('a reader that does not reconnect leaves the cache bypassed for good', async (t) => {
  const template = new Redis(server.url, { lazyConnect: true, retryStrategy: () => null })
  const cache = new RedisTracking<string>({ client: template })
  t.teardown(() => cache.close())
  t.ok(await until(() => cache.active))
  await writer.call('CLIENT', 'KILL', 'ID', String(await cache.reader.client('ID')))
  t.ok(await until(() => cache.reader.status === 'end', 2000))
  t.notOk(cache.active)
})

t.test('works without callbacks', async (t) => {
  const template = new Redis(server.url, { lazyConnect: true })
  const cache = new RedisTracking<string>({ client: template })
  t.ok(await until(() => cache.active))
  await cache.close()
})
