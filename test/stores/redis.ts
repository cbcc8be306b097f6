/**
 * RedisStore on the shared Redis (REDIS_URL, default redis://127.0.0.1:6379): the conformance
 * suite, then what only a Redis store has (options, key layout, client ownership, error events,
 * index pruning, failure mapping). Fails — never skips — when Redis is not there.
 */
import { createHash, randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import t from 'tap'
import { ErrorCodes } from '../../lib/errors.js'
import type { SessionRecord } from '../../lib/store.js'
import { INDEX_PRUNE_GRACE_MS, RedisStore, throttledErrorLog, type RedisStoreOptions } from '../../lib/stores/redis.js'
import { storeConformance } from '../fixtures/store-conformance.js'
import { testRedis } from '../fixtures/redis-client.js'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
/** Unique per run: test files run in parallel against one Redis. */
const run = `t-${randomBytes(6).toString('hex')}:`

const raw = await testRedis(t, url, run)

const silent = (): void => {}
let n = 0
/** A store with its own prefix, closed at the end of the file. */
function makeStore(over: Partial<RedisStoreOptions> = {}): RedisStore {
  const store = new RedisStore({ url, prefix: `${run}${n++}:`, onClientError: silent, ...over } as RedisStoreOptions)
  t.teardown(() => store.close())
  return store
}

function record(over: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now()
  return {
    version: 1,
    data: '{"a":1}',
    createdAt: now,
    lastSeenAt: now,
    expiresAt: now + 60_000,
    absoluteExpiresAt: now + 7 * 86_400_000,
    remember: false,
    userId: null,
    handle: randomBytes(16).toString('base64url'),
    userAgent: 'ua',
    ip: '127.0.0.1',
    credentialVersion: 0,
    authenticatedAt: null,
    ...over,
  }
}
const newKey = (): string => randomBytes(32).toString('hex')

await storeConformance(t, {
  name: 'redis',
  make: () => new RedisStore({ url, prefix: `${run}conformance:` }),
  now: Date.now,
  advance: (ms) => sleep(ms),
})

t.test('options are validated, each naming the option', async (t) => {
  const client = new Redis(url, { lazyConnect: true })
  t.teardown(() => client.disconnect())
  const node = { host: '127.0.0.1', port: 7000 }
  const cases: Array<[string, unknown]> = [
    ['options: null', null],
    ['options: a string', 'redis://x'],
    ['no connection option', {}],
    ['url and clusterNodes', { url, clusterNodes: [node] }],
    ['client and url', { client, url }],
    ['client: a plain object', { client: {} }],
    ['client: a string', { client: 'redis' }],
    ['url: http', { url: 'http://127.0.0.1:6379' }],
    ['url: not a URL', { url: 'not a url' }],
    ['url: a number', { url: 6379 }],
    ['clusterNodes: empty', { clusterNodes: [] }],
    ['clusterNodes: not an array', { clusterNodes: node }],
    ['clusterNodes: null entry', { clusterNodes: [null] }],
    ['clusterNodes: empty host', { clusterNodes: [{ host: '', port: 7000 }] }],
    ['clusterNodes: port 0', { clusterNodes: [{ host: 'a', port: 0 }] }],
    ['clusterNodes: port 65536', { clusterNodes: [{ host: 'a', port: 65536 }] }],
    ['clusterNodes: port 1.5', { clusterNodes: [{ host: 'a', port: 1.5 }] }],
    ['clusterNodes: port as string', { clusterNodes: [{ host: 'a', port: '7000' }] }],
    ['prefix: empty', { url, prefix: '' }],
    ['prefix: hash tag', { url, prefix: '{sk}:' }],
    ['prefix: a number', { url, prefix: 1 }],
    ['commandTimeoutMs: 0', { url, commandTimeoutMs: 0 }],
    ['commandTimeoutMs: 1.5', { url, commandTimeoutMs: 1.5 }],
    ['commandTimeoutMs: a string', { url, commandTimeoutMs: '1000' }],
    ['commandTimeoutMs: beyond a timer', { url, commandTimeoutMs: 2 ** 31 }],
    ['onClientError: a string', { url, onClientError: 'log' }],
  ]
  for (const [name, options] of cases) {
    t.throws(() => new RedisStore(options as RedisStoreOptions), { name: 'TypeError', code: ErrorCodes.OPTION_INVALID }, name)
  }
  const store = new RedisStore({ url, commandTimeoutMs: 2 ** 31 - 1, onClientError: silent })
  t.equal(store.kind, 'redis')
  t.notOk('local' in store, 'a network store: the engine races its calls')
  await store.close()
})

t.test('key layout: hashes, index, counters, each with a TTL', async (t) => {
  const prefix = `${run}layout:`
  const store = makeStore({ prefix })
  const sessionId = randomBytes(32).toString('base64url')
  const key = createHash('sha256').update(sessionId).digest('hex')
  const userId = 'user-42'
  const rec = record({ userId, remember: true })
  t.equal(await store.create(key, rec), true)

  const hash = await raw.hgetall(`${prefix}s:${key}`)
  t.strictSame(Object.keys(hash).sort(), ['a', 'at', 'c', 'cv', 'd', 'e', 'h', 'ip', 'l', 'r', 'u', 'ua', 'v'])
  t.strictSame(hash, {
    v: '1', d: rec.data, c: String(rec.createdAt), l: String(rec.lastSeenAt), e: String(rec.expiresAt),
    a: String(rec.absoluteExpiresAt), r: '1', u: userId, h: rec.handle, ua: 'ua', ip: '127.0.0.1', cv: '0', at: '',
  })
  await raw.hdel(`${prefix}s:${key}`, 'cv')
  t.equal((await store.get(key))?.credentialVersion, 0, 'a record written before cv existed reads as version 0')
  const pttl = await raw.pttl(`${prefix}s:${key}`)
  t.ok(pttl > 55_000 && pttl <= 60_000, `session TTL follows expiresAt (${pttl} ms)`)

  const indexed = await raw.hget(`${prefix}u:{${userId}}`, rec.handle)
  t.match(indexed, new RegExp(`^\\d{13}:${key}$`), 'index: handle → "<added ms>:<storage key>"')
  const indexTtl = await raw.pttl(`${prefix}u:{${userId}}`)
  t.ok(indexTtl > 7 * 86_400_000 - 10_000, 'the index lives as long as the longest session')
  await store.create(newKey(), record({ userId, absoluteExpiresAt: Date.now() + 1000 }))
  t.ok((await raw.pttl(`${prefix}u:{${userId}}`)) > 7 * 86_400_000 - 10_000, 'a shorter session never shortens it')
  await store.create(newKey(), record({ userId, absoluteExpiresAt: Date.now() + 30 * 86_400_000 }))
  t.ok((await raw.pttl(`${prefix}u:{${userId}}`)) > 29 * 86_400_000, 'a longer one stretches it')

  await store.hit('login:1.2.3.4', 5000)
  t.equal(await raw.get(`${prefix}h:login:1.2.3.4`), '1')
  const hitTtl = await raw.pttl(`${prefix}h:login:1.2.3.4`)
  t.ok(hitTtl > 0 && hitTtl <= 5000, 'the counter expires with its window')

  const keys: string[] = []
  for (let cursor = '0'; ;) {
    const [next, batch] = await raw.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000)
    keys.push(...batch)
    cursor = next
    if (cursor === '0') break
  }
  t.equal(keys.length, 5, 'three sessions, one index, one counter')
  for (const k of [`${prefix}s:${key}`, `${prefix}u:{${userId}}`, `${prefix}h:login:1.2.3.4`]) t.ok(keys.includes(k), k)
  t.ok(keys.every((k) => /^(s:|u:\{|h:)/.test(k.slice(prefix.length))), 'nothing outside the documented layout')
  for (const k of keys) {
    t.notOk(k.includes(sessionId), `no raw session ID in key ${k}`)
    const type = await raw.type(k)
    const values = type === 'hash' ? Object.values(await raw.hgetall(k)) : [await raw.get(k)]
    t.notOk(values.some((v) => v?.includes(sessionId)), `no raw session ID in the value of ${k}`)
    t.ok((await raw.pttl(k)) > 0, `${k} has a TTL`)
  }
})

t.test('a client you pass stays open; one the store made is closed', async (t) => {
  const client = new Redis(url)
  t.teardown(() => client.quit())
  const before = client.listenerCount('error')
  const store = new RedisStore({ client, prefix: `${run}provided:`, onClientError: silent })
  t.equal(store.client, client)
  t.equal(client.listenerCount('error'), before + 1, 'an error listener is attached')
  await store.ping()
  await store.close()
  t.equal(await client.ping(), 'PONG', 'your client still works')
  t.equal(client.listenerCount('error'), before, 'and the store removed its listener')
  await t.rejects(store.get(newKey()), { name: 'StoreError', code: ErrorCodes.STORE_UNAVAILABLE }, 'a closed store rejects')

  const owned = new RedisStore({ url, prefix: `${run}owned:`, onClientError: silent })
  await owned.ping()
  await owned.close()
  t.equal(owned.client.status, 'end', 'the owned client is closed')
  await owned.close()
  await t.rejects(owned.ping(), { name: 'StoreError', code: ErrorCodes.STORE_UNAVAILABLE })
})

t.test('an error event on the client never crashes the process', async (t) => {
  const client = new Redis(url, { lazyConnect: true })
  t.teardown(() => client.disconnect())
  const seen: Error[] = []
  const store = new RedisStore({ client, onClientError: (err) => seen.push(err) })
  const boom = new Error('ECONNRESET (simulated)')
  t.doesNotThrow(() => client.emit('error', boom))
  t.strictSame(seen, [boom], 'handed to onClientError')
  await store.close()

  // The default: one line on stderr, then quiet.
  const lines: string[] = []
  const write = process.stderr.write
  process.stderr.write = ((chunk: string) => lines.push(String(chunk)) > 0) as typeof process.stderr.write
  try {
    const store2 = new RedisStore({ client })
    t.doesNotThrow(() => client.emit('error', boom))
    t.doesNotThrow(() => client.emit('error', boom))
    await store2.close()
  } finally {
    process.stderr.write = write
  }
  t.equal(lines.length, 1, 'the default logs once per interval')
})

t.test('throttledErrorLog: first error, then one line per interval with a count', async (t) => {
  let now = 0
  const lines: string[] = []
  const log = throttledErrorLog(1000, (line) => lines.push(line), () => now)
  log(new Error('a'))
  now = 500
  log(new Error('b'))
  log(new Error('c'))
  now = 1500
  log(new Error('d'))
  now = 3000
  log(new Error('e'))
  t.equal(lines.length, 3)
  t.match(lines[1], /\+2 more/, 'the second line counts the two it swallowed')
  t.notMatch(lines[2], /more/, 'nothing swallowed since')
  now = 9000
  log(new Error('cannot parse redis://default:hunter2@cache.internal:6379'))
  t.match(lines[3], 'redis://***@cache.internal:6379', 'credentials redacted')
  t.notMatch(lines[3], /hunter2/)
  const named: string[] = []
  throttledErrorLog(1000, (line) => named.push(line), () => 0, 'user cache: tracking connection')(new Error('x'))
  t.same(named, ['sessionkit user cache: tracking connection error: x\n'], 'the source names the connection')
})

t.test('session limit: a session evicted before its own create finished is destroyed by its creator', async (t) => {
  const prefix = `${run}admit:`
  const store = makeStore({ prefix })
  const userId = 'racer'
  const [a, b] = [newKey(), newKey()]
  const limit = { max: 1, policy: 'evict-oldest' } as const
  // Issued in one tick: both scans, then both admissions (a's first, then b's, which evicts a's
  // entry), then both creates. a's session is written after its entry is gone: a must notice.
  const results = await Promise.all([store.create(a, record({ userId }), limit), store.create(b, record({ userId }), limit)])
  t.strictSame(results, [true, true], 'both were created')
  t.equal(await store.get(a), null, 'the evicted one is gone, though its create came after the eviction')
  t.not(await store.get(b), null)
  t.strictSame((await store.listByUser(userId)).map((s) => s.key), [b])
  t.equal(await raw.hlen(`${prefix}u:{${userId}}`), 1, 'one index entry')
  await store.destroy(b)
})

t.test('user index: lazy pruning, with a grace period for entries just added', async (t) => {
  const prefix = `${run}prune:`
  const store = makeStore({ prefix })
  const userId = 'u1'
  const indexKey = `${prefix}u:{${userId}}`
  const [live, gone, theirs, misfiled] = [newKey(), newKey(), newKey(), newKey()]
  const liveRec = record({ userId })
  await store.create(live, liveRec)
  await store.create(theirs, record({ userId: 'u2' }))
  const misfiledRec = record({ userId })
  await store.create(misfiled, misfiledRec)
  const old = '1000000000000'
  await raw.hset(indexKey, {
    h_gone_old: `${old}:${gone}`, // record missing, added long ago → pruned
    h_gone_new: `${Date.now()}:${newKey()}`, // record missing, added just now → kept (grace)
    h_theirs: `${old}:${theirs}`, // record bound to another user → pruned
    h_wrong: `${old}:${misfiled}`, // the record's handle differs → pruned
    h_legacy: gone, // no timestamp → treated as old → pruned
  })
  t.strictSame(await store.listByUser(userId), [{ key: live, record: liveRec }, { key: misfiled, record: misfiledRec }]
    .sort((a, b) => a.record.createdAt - b.record.createdAt))
  const left = await raw.hkeys(indexKey)
  t.strictSame(left.sort(), [liveRec.handle, misfiledRec.handle, 'h_gone_new'].sort(), 'dead entries pruned, the fresh one kept')
  t.ok(INDEX_PRUNE_GRACE_MS >= 10_000, 'the grace period dwarfs one command')

  t.equal(await store.destroyByUser(userId), 2)
  t.strictSame(await raw.hkeys(indexKey), ['h_gone_new'])
})

t.test('records: corrupt or past expiresAt read as missing; past TTLs delete', async (t) => {
  const prefix = `${run}edge:`
  const store = makeStore({ prefix })
  const [partial, stale] = [newKey(), newKey()]
  await raw.hset(`${prefix}s:${partial}`, 'v', '1')
  t.equal(await store.get(partial), null, 'a hash missing fields is no record')
  const rec = record({ expiresAt: Date.now() - 1000 })
  await raw.hset(`${prefix}s:${stale}`, {
    v: '1', d: rec.data, c: rec.createdAt, l: rec.lastSeenAt, e: rec.expiresAt, a: rec.absoluteExpiresAt,
    r: '0', u: '', h: rec.handle, ua: rec.userAgent, ip: rec.ip,
  })
  await raw.pexpire(`${prefix}s:${stale}`, 60_000)
  t.equal(await store.get(stale), null, 'a record past expiresAt by our clock is not returned')

  const older = newKey()
  const live = record({ userAgent: 'written before authenticatedAt existed' })
  await raw.hset(`${prefix}s:${older}`, {
    v: '1', d: live.data, c: live.createdAt, l: live.lastSeenAt, e: live.expiresAt, a: live.absoluteExpiresAt,
    r: '0', u: '', h: live.handle, ua: live.userAgent, ip: live.ip,
  })
  await raw.pexpire(`${prefix}s:${older}`, 60_000)
  t.strictSame(await store.get(older), live, 'a record without the at field reads with authenticatedAt null')

  const past = newKey()
  t.equal(await store.create(past, record({ expiresAt: Date.now() - 1 })), true, 'creating an expired record succeeds…')
  t.equal(await raw.exists(`${prefix}s:${past}`), 0, '…and stores nothing')

  const [w, tt] = [newKey(), newKey()]
  await store.create(w, record())
  await store.create(tt, record())
  t.equal(await store.write(w, 1, { data: '{}', lastSeenAt: Date.now(), expiresAt: Date.now() - 1, remember: false, userId: null, credentialVersion: 0 }), 'ok')
  t.equal(await raw.exists(`${prefix}s:${w}`), 0, 'a write into the past deletes')
  t.equal(await store.touch(tt, Date.now(), Date.now() - 1), true)
  t.equal(await raw.exists(`${prefix}s:${tt}`), 0, 'a touch into the past deletes')

  t.equal(await store.destroy(newKey()), false, 'destroy: false when there was nothing')
  const d = newKey()
  await store.create(d, record())
  t.equal(await store.destroy(d), true, 'destroy: true when it deleted a record')

  const counter = `${prefix}h:nottl`
  await raw.set(counter, '5')
  const hit = await store.hit('nottl', 1000)
  t.strictSame(hit, { count: 6, resetMs: 1000 }, 'a counter without TTL gets one')
})

t.test('failures reject with a StoreError carrying the cause', async (t) => {
  const prefix = `${run}fail:`
  const store = makeStore({ prefix, commandTimeoutMs: 100 })
  const key = newKey()
  await raw.set(`${prefix}s:${key}`, 'not a hash')
  const wrongType = await store.get(key).catch((err: unknown) => err)
  t.match(wrongType, { name: 'StoreError', code: ErrorCodes.STORE_UNAVAILABLE, cause: Error }, 'a command error')

  const client = store.client as unknown as Record<string, unknown>
  client.sessionkitHit = () => Promise.reject(new Error('Command timed out'))
  await t.rejects(store.hit('x', 1000), { name: 'StoreError', code: ErrorCodes.STORE_TIMEOUT }, 'ioredis commandTimeout')
  client.sessionkitHit = () => Promise.reject('not an Error')
  const odd = await store.hit('x', 1000).catch((err: unknown) => err)
  t.match(odd, { name: 'StoreError', code: ErrorCodes.STORE_UNAVAILABLE, cause: 'not an Error' }, 'a non-Error rejection')
  client.ping = () => new Promise(() => {})
  const hung = await store.ping().catch((err: unknown) => err)
  t.match(hung, { name: 'StoreError', code: ErrorCodes.STORE_TIMEOUT, cause: Error }, 'the store’s own deadline')
})

t.test('a client with its own keyPrefix and stringNumbers works too', async (t) => {
  const client = new Redis(url, { keyPrefix: `${run}kp:`, stringNumbers: true })
  t.teardown(() => client.quit())
  const store = new RedisStore({ client, onClientError: silent })
  t.teardown(() => store.close())
  const key = newKey()
  const rec = record({ userId: 'carol' })
  t.equal(await store.create(key, rec), true)
  t.equal(await store.create(key, rec), false)
  t.equal(await store.touch(key, rec.lastSeenAt + 1, rec.expiresAt), true)
  t.strictSame(await store.hit('n', 1000), { count: 1, resetMs: 1000 })
  t.strictSame((await store.listByUser('carol')).map((s) => s.key), [key])
  t.equal(await raw.exists(`${run}kp:sk:s:${key}`), 1, 'keys carry both prefixes')
})
