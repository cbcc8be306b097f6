import { createHash } from 'node:crypto'
import t, { type Test } from 'tap'
import { LoginThrottle, type CounterStore, type LoginThrottleOptions } from '../../lib/auth/throttle.js'
import { ErrorCodes, StoreError } from '../../lib/errors.js'
import { MemoryStore } from '../../lib/stores/memory.js'

const MIN = 60_000

/**
 * A real MemoryStore on a fake clock (expiry without sleeping), closed at the end of the test.
 * `calls` logs every `hit` as `[key, increment]`, the store's default of 1 made explicit, so tests
 * can see what the throttle counts and what it only peeks at.
 */
function memory(t: Test) {
  let now = Date.UTC(2025, 0, 1)
  const store = new MemoryStore({ now: () => now })
  t.teardown(() => store.close())
  const calls: Array<[string, number]> = []
  const spy: CounterStore = {
    hit: (key, windowMs, increment = 1) => {
      calls.push([key, increment])
      return store.hit(key, windowMs, increment)
    },
    resetHits: (key) => store.resetHits(key),
  }
  return { store, spy, calls, advance: (ms: number) => void (now += ms) }
}

const sha = (text: string): string => createHash('sha256').update(text, 'utf8').digest('base64url')

t.test('5 attempts per account; the 6th is refused until the window ends', async (t) => {
  const { store, advance } = memory(t)
  const throttle = new LoginThrottle(store)
  for (let i = 0; i < 5; i++) {
    t.strictSame(await throttle.check('ada@example.com', '10.0.0.1'), { allowed: true }, `attempt ${i + 1}`)
    await throttle.recordFailure('ada@example.com', '10.0.0.1')
    advance(1000)
  }
  const refused = await throttle.check('ada@example.com', '10.0.0.1')
  // The window started with the first attempt, 5 s ago.
  t.strictSame(refused, { allowed: false, retryAfterSeconds: 15 * 60 - 5 })
  t.equal((await throttle.check('ada@example.com', '10.9.9.9')).allowed, false, 'from any client')
  t.equal((await throttle.check(' ADA@Example.COM ', '10.0.0.1')).allowed, false, 'email normalized')
  t.equal((await throttle.check('john@example.com', '10.0.0.1')).allowed, true, 'other accounts unaffected')
  // Refused attempts count too, but a fixed window does not grow: it still ends on time.
  advance(15 * MIN - 5000)
  t.strictSame(await throttle.check('ada@example.com', '10.0.0.1'), { allowed: true }, 'window over')
})

t.test('check counts the attempt against the account and only peeks at the client', async (t) => {
  const { store, spy, calls } = memory(t)
  const throttle = new LoginThrottle(spy)
  const account = `login:a:${sha('ada@example.com')}`
  const client = `login:c:${sha('10.0.0.1')}`
  // No recordFailure at all: a request that never finishes (or is still running bcrypt) counts.
  for (let i = 0; i < 5; i++) t.equal((await throttle.check('ada@example.com', '10.0.0.1')).allowed, true)
  t.equal((await throttle.check('ada@example.com', '10.0.0.1')).allowed, false, '6th attempt refused')
  t.strictSame(calls.slice(0, 2).sort(), [[account, 1], [client, 0]], 'one count, one peek')
  t.equal(store.stats().counters, 1, 'the peek created no client counter')
  t.equal((await store.hit(client, MIN, 0)).count, 0)
  calls.length = 0
  await throttle.recordFailure('ada@example.com', '10.0.0.1')
  t.strictSame(calls, [[client, 1]], 'recordFailure counts the client only')
  t.equal((await store.hit(account, MIN, 0)).count, 6, 'account count unchanged by recordFailure')
  t.equal((await store.hit(client, MIN, 0)).count, 1)
})

t.test('keys are prefixed hashes, never raw emails or IPs', async (t) => {
  const { spy, calls } = memory(t)
  await new LoginThrottle(spy).check('Ada@Example.com', '2001:db8::1')
  await new LoginThrottle(spy, { prefix: 'app1:' }).check(' ada@example.com', '2001:db8::1')
  const keys = calls.map(([key]) => key)
  t.strictSame(keys, [
    `login:a:${sha('ada@example.com')}`,
    `login:c:${sha('2001:db8::1')}`,
    `app1:a:${sha('ada@example.com')}`,
    `app1:c:${sha('2001:db8::1')}`,
  ], 'account trimmed and case-folded before hashing; client hashed as given')
  for (const key of keys) {
    t.match(key, /^(login|app1):[ac]:[\w-]{43}$/)
    t.notMatch(key, /example|2001/)
  }
})

t.test('a burst of parallel guesses at one account gets exactly 5 tries', async (t) => {
  const { store } = memory(t)
  const throttle = new LoginThrottle(store)
  // 20 clients, so the per-client limit plays no part: the account counter alone stops the burst,
  // although not one of the 20 requests has recorded its failure yet when the others check.
  const verdicts = await Promise.all(
    Array.from({ length: 20 }, (_, i) => throttle.check('ada@example.com', `10.0.0.${i}`)),
  )
  t.equal(verdicts.filter((v) => v.allowed).length, 5)
  t.ok(verdicts.slice(5).every((v) => !v.allowed), 'the first 5 counted get in, the rest wait')
})

t.test('100 successful logins from one client are never refused', async (t) => {
  const { store } = memory(t)
  const throttle = new LoginThrottle(store)
  // A NAT of users (7 accounts, each logging in ~14 times, above the 5 attempts per account):
  // a success clears the account's count and never counts against the client.
  let allowed = 0
  for (let i = 0; i < 100; i++) {
    const account = `user${i % 7}@example.com`
    if ((await throttle.check(account, '192.0.2.1')).allowed) allowed++
    await throttle.recordSuccess(account)
  }
  t.equal(allowed, 100)
  // The client still has its whole budget of 50 failures.
  for (let i = 0; i < 50; i++) {
    t.equal((await throttle.check(`guess${i}@example.com`, '192.0.2.1')).allowed, true)
    await throttle.recordFailure(`guess${i}@example.com`, '192.0.2.1')
  }
  t.equal((await throttle.check('user0@example.com', '192.0.2.1')).allowed, false, '51st refused')
})

t.test('success clears the account counter, not the client counter', async (t) => {
  const { store } = memory(t)
  const throttle = new LoginThrottle(store, { maxFailuresPerAccount: 3, maxFailuresPerClient: 5 })
  for (let i = 0; i < 3; i++) {
    await throttle.check('victim@example.com', 'attacker')
    await throttle.recordFailure('victim@example.com', 'attacker')
  }
  t.equal((await throttle.check('victim@example.com', 'elsewhere')).allowed, false)
  await throttle.recordSuccess('victim@example.com')
  t.equal((await throttle.check('victim@example.com', 'elsewhere')).allowed, true, 'account cleared')
  // The attacker logs into an account of their own between guesses: their client count stays.
  t.equal((await throttle.check('mine@example.com', 'attacker')).allowed, true)
  await throttle.recordSuccess('mine@example.com')
  for (let i = 0; i < 2; i++) {
    t.equal((await throttle.check(`other${i}@example.com`, 'attacker')).allowed, true)
    await throttle.recordFailure(`other${i}@example.com`, 'attacker')
  }
  await throttle.recordSuccess('mine@example.com')
  t.equal((await throttle.check('mine@example.com', 'attacker')).allowed, false, 'client still limited')
})

t.test('the per-client limit spans accounts', async (t) => {
  const { store, advance } = memory(t)
  const throttle = new LoginThrottle(store, { maxFailuresPerClient: 4, windowMs: MIN })
  for (let i = 0; i < 4; i++) {
    t.equal((await throttle.check(`user${i}@example.com`, '10.0.0.7')).allowed, true)
    await throttle.recordFailure(`user${i}@example.com`, '10.0.0.7')
  }
  advance(500)
  // 59.5 s left, rounded up so a client that waits as told is let in.
  t.strictSame(await throttle.check('fresh@example.com', '10.0.0.7'), { allowed: false, retryAfterSeconds: 60 })
  t.strictSame(await throttle.check('fresh@example.com', '10.0.0.8'), { allowed: true }, 'other client')
  advance(MIN)
  t.strictSame(await throttle.check('fresh@example.com', '10.0.0.7'), { allowed: true }, 'window over')
})

t.test('when both limits are hit, the later reset wins', async (t) => {
  const { store, advance } = memory(t)
  const throttle = new LoginThrottle(store, { maxFailuresPerAccount: 1, maxFailuresPerClient: 2, windowMs: 10_000 })
  await throttle.check('a@example.com', 'c') // a's window: 0–10 s
  await throttle.recordFailure('a@example.com', 'c') // c's window: 0–10 s
  advance(4000)
  await throttle.check('b@example.com', 'c') // b's window: 4–14 s
  await throttle.recordFailure('b@example.com', 'c') // c reaches its limit
  await throttle.recordFailure('x@example.com', 'd')
  await throttle.recordFailure('y@example.com', 'd') // d's window: 4–14 s, at its limit
  t.strictSame(await throttle.check('b@example.com', 'c'), { allowed: false, retryAfterSeconds: 10 }, 'account later')
  t.strictSame(await throttle.check('a@example.com', 'd'), { allowed: false, retryAfterSeconds: 10 }, 'client later')
  advance(6000)
  t.strictSame(await throttle.check('b@example.com', 'c'), { allowed: false, retryAfterSeconds: 4 }, 'c expired')
})

t.test('retryAfterSeconds is at least 1', async (t) => {
  // A store may report 0 ms left on a counter about to expire; MemoryStore never does, hence a stub.
  const store: CounterStore = { hit: async () => ({ count: 99, resetMs: 0 }), resetHits: async () => {} }
  t.strictSame(await new LoginThrottle(store).check('a', 'b'), { allowed: false, retryAfterSeconds: 1 })
})

t.test('store failures propagate', async (t) => {
  const failure = new StoreError(ErrorCodes.STORE_UNAVAILABLE, 'down')
  const store: CounterStore = {
    hit: async () => {
      throw failure
    },
    resetHits: async () => {
      throw failure
    },
  }
  const throttle = new LoginThrottle(store)
  await t.rejects(throttle.check('a', 'b'), failure)
  await t.rejects(throttle.recordFailure('a', 'b'), failure)
  await t.rejects(throttle.recordSuccess('a'), failure)
  // Only the client peek fails: check still fails closed.
  const peekFails: CounterStore = {
    hit: async (_key, _windowMs, increment = 1) => {
      if (increment === 0) throw failure
      return { count: 1, resetMs: 1000 }
    },
    resetHits: async () => {},
  }
  await t.rejects(new LoginThrottle(peekFails).check('a', 'b'), failure)
  // A closed MemoryStore rejects with its own StoreError.
  const closed = new MemoryStore()
  await closed.close()
  await t.rejects(new LoginThrottle(closed).check('a', 'b'), { name: 'StoreError', code: ErrorCodes.STORE_UNAVAILABLE })
})

t.test('options and store are validated', async (t) => {
  const { store } = memory(t)
  const shape = { name: 'TypeError', code: ErrorCodes.OPTION_INVALID }
  const badStores: unknown[] = [null, 'redis', { hit: () => {} }, { resetHits: () => {} }, { hit: 1, resetHits: () => {} }]
  for (const s of badStores) t.throws(() => new LoginThrottle(s as CounterStore), shape, `store ${String(s)}`)
  t.throws(() => new LoginThrottle(store, null as unknown as LoginThrottleOptions), shape, 'options null')
  t.throws(() => new LoginThrottle(store, 5 as unknown as LoginThrottleOptions), shape, 'options 5')
  const bad: Array<[keyof LoginThrottleOptions, unknown]> = [
    ...[0, -1, 1.5, Number.NaN, Infinity, '5', 2 ** 53].map((v) => ['maxFailuresPerAccount', v] as [keyof LoginThrottleOptions, unknown]),
    ...[0, 2.5, null].map((v) => ['maxFailuresPerClient', v] as [keyof LoginThrottleOptions, unknown]),
    ...[0, -1000, 0.5, '900000'].map((v) => ['windowMs', v] as [keyof LoginThrottleOptions, unknown]),
    ['prefix', 7],
    ['prefix', null],
  ]
  for (const [name, value] of bad) {
    t.throws(() => new LoginThrottle(store, { [name]: value }), shape, `${name}: ${String(value)}`)
  }
  t.ok(new LoginThrottle(store, { maxFailuresPerAccount: 1, maxFailuresPerClient: 1, windowMs: 1, prefix: '' }))
})
