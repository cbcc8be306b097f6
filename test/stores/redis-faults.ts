/**
 * RedisStore when Redis misbehaves, on a private redis-server (test/fixtures/redis-server.ts):
 * hung (SIGSTOP), crashed (SIGKILL) and restarted, never there. The bound asserted here, "every
 * call settles within 1.5 s", is a correctness property (a request must get its 503 instead of
 * hanging), not a performance measurement: commandTimeoutMs is 1000 and the rest is slack.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import { Redis } from 'ioredis'
import t, { type Test } from 'tap'
import type { SessionRecord, SessionUpdate } from '../../lib/store.js'
import { RedisStore } from '../../lib/stores/redis.js'
import { freePort, startRedis } from '../fixtures/redis-server.js'

const BOUND_MS = 1500
const STORE_FAILURE = { name: 'StoreError', code: /^ERR_STORE_(TIMEOUT|UNAVAILABLE)$/ }

const server = await startRedis()
t.teardown(() => server.stop())

const silent = (): void => {}
const newKey = (): string => randomBytes(32).toString('hex')
function record(over: Partial<SessionRecord> = {}): SessionRecord {
  const now = Date.now()
  return {
    version: 1, data: '{"cart":[1,2,3]}', createdAt: now, lastSeenAt: now, expiresAt: now + 600_000,
    absoluteExpiresAt: now + 86_400_000, remember: false, userId: null,
    handle: randomBytes(16).toString('base64url'), userAgent: 'ua', ip: '127.0.0.1', credentialVersion: 0, ...over,
  }
}
const update = (over: Partial<SessionUpdate> = {}): SessionUpdate =>
  ({ data: '{"cart":[]}', lastSeenAt: Date.now(), expiresAt: Date.now() + 600_000, remember: false, userId: null, credentialVersion: 0, ...over })

/** Settle `call`, returning the rejection (or the value) and how long it took. */
async function timed(call: () => Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const start = performance.now()
  const error = await call().then((value) => ({ resolved: value }), (err: unknown) => err)
  return { error, ms: Math.round(performance.now() - start) }
}

/** Every call must reject with a StoreError within BOUND_MS (started together). */
async function allFailFast(t: Test, calls: Record<string, () => Promise<unknown>>): Promise<void> {
  const results = await Promise.all(Object.values(calls).map(timed))
  Object.keys(calls).forEach((name, i) => {
    const { error, ms } = results[i] as { error: unknown; ms: number }
    t.match(error, STORE_FAILURE, `${name} rejects with a StoreError`)
    t.ok(ms <= BOUND_MS, `${name} settled in ${ms} ms (≤ ${BOUND_MS})`)
  })
}

/** Poll `fn` until it resolves, for at most `ms`. */
async function eventually<T>(fn: () => Promise<T>, ms: number): Promise<T> {
  const deadline = Date.now() + ms
  for (;;) {
    try {
      return await fn()
    } catch (err) {
      if (Date.now() > deadline) throw err
      await sleep(100)
    }
  }
}

t.test('hung server (SIGSTOP): calls fail fast; after SIGCONT the data is there', async (t) => {
  const store = new RedisStore({ url: server.url, prefix: 'stop:', onClientError: silent })
  t.teardown(() => store.close())
  const key = newKey()
  const rec = record({ userId: 'alice' })
  await store.create(key, rec)

  server.pause()
  t.teardown(() => server.resume()) // also if an assertion below throws
  await allFailFast(t, {
    get: () => store.get(key),
    write: () => store.write(key, 1, update({ userId: 'alice' })),
    touch: () => store.touch(key, Date.now(), Date.now() + 600_000),
    listByUser: () => store.listByUser('alice'),
    hit: () => store.hit('ip', 1000),
    ping: () => store.ping(),
  })
  server.resume()

  const got = await eventually(() => store.get(key), 5000)
  // The write was on the wire when it timed out, so Redis runs it on SIGCONT: a timeout is not a
  // rollback. Either way the record is whole.
  t.ok(got !== null && (got.version === 1 ? got.data === rec.data : got.data === update().data), 'readable and intact')
  t.strictSame((await store.listByUser('alice')).map((s) => s.key), [key], 'the index too')
})

t.test('a client without commandTimeout still cannot hang the store', async (t) => {
  const client = new Redis(server.url) // ioredis defaults: no command timeout, 20 retries
  t.teardown(() => client.disconnect())
  const store = new RedisStore({ client, prefix: 'bare:', commandTimeoutMs: 300, onClientError: silent })
  t.teardown(() => store.close())
  await store.ping()
  server.pause()
  t.teardown(() => server.resume())
  const { error, ms } = await timed(() => store.get(newKey()))
  server.resume()
  t.match(error, { name: 'StoreError', code: 'ERR_STORE_TIMEOUT', cause: Error }, 'the store’s own deadline fired')
  t.ok(ms <= BOUND_MS, `settled in ${ms} ms`)

  // A client with a shorter commandTimeout of its own: its error maps to STORE_TIMEOUT as well.
  const quick = new Redis(server.url, { commandTimeout: 100 })
  t.teardown(() => quick.disconnect())
  const store2 = new RedisStore({ client: quick, prefix: 'quick:', onClientError: silent })
  await store2.ping()
  server.pause()
  const second = await timed(() => store2.get(newKey()))
  server.resume()
  t.match(second.error, { name: 'StoreError', code: 'ERR_STORE_TIMEOUT', cause: { message: 'Command timed out' } })
  await store2.close()
})

t.test('close() on a hung server is bounded too', async (t) => {
  const store = new RedisStore({ url: server.url, prefix: 'close:', onClientError: silent })
  await store.ping()
  server.pause()
  t.teardown(() => server.resume())
  const { error, ms } = await timed(() => store.close())
  server.resume()
  t.strictSame(error, { resolved: undefined }, 'close resolves')
  t.ok(ms <= BOUND_MS, `in ${ms} ms`)
  // disconnect() half-closed the socket; it ends once the server answers (here: after SIGCONT),
  // or when ioredis destroys it (its disconnectTimeout, 2 s).
  await eventually(async () => {
    if (store.client.status !== 'end') throw new Error(store.client.status)
  }, 3000)
  t.pass('the connection is gone')
})

t.test('crash (SIGKILL) and restart: fail fast while down, recover by itself', async (t) => {
  const errors: Error[] = []
  const store = new RedisStore({ url: server.url, prefix: 'crash:', onClientError: (err) => errors.push(err) })
  t.teardown(() => store.close())
  const key = newKey()
  await store.create(key, record())

  await server.kill()
  await allFailFast(t, {
    get: () => store.get(key),
    create: () => store.create(newKey(), record({ userId: 'bob' })),
    write: () => store.write(key, 1, update()),
    destroy: () => store.destroy(key),
    destroyByUser: () => store.destroyByUser('bob'),
    resetHits: () => store.resetHits('ip'),
  })
  // Still down a while later (reconnect attempts in progress): still fast.
  await sleep(300)
  await allFailFast(t, { get: () => store.get(key), ping: () => store.ping() })
  t.ok(errors.length > 0, 'connection errors went to onClientError, not to a crash')

  await server.restart()
  // The same store, no new client: ioredis reconnects (backoff ≤ 1 s) and the scripts are
  // reloaded on NOSCRIPT (the new server's script cache is empty).
  const fresh = newKey()
  const rec = record({ userId: 'bob' })
  await eventually(() => store.create(fresh, rec), 10_000)
  t.strictSame(await store.get(fresh), rec, 'create and get work again')
  t.strictSame((await store.listByUser('bob')).map((s) => s.key), [fresh], 'scripts work again')
  t.equal(await store.get(key), null, 'what was stored before the crash is gone (no persistence)')
})

t.test('Redis never there: calls fail fast from the start', async (t) => {
  const port = await freePort()
  const store = new RedisStore({ url: `redis://127.0.0.1:${port}`, onClientError: silent })
  t.teardown(() => store.close())
  await allFailFast(t, { get: () => store.get(newKey()), ping: () => store.ping(), hit: () => store.hit('k', 1000) })
})
