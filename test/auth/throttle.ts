import { createHash } from 'node:crypto'
import t, { type Test } from 'tap'
import { LoginThrottle, type CounterStore, type LoginThrottleOptions } from '../../lib/auth/throttle.js'
import { ErrorCodes, StoreError } from '../../lib/errors.js'
import { MemoryStore } from '../../lib/stores/memory.js'

const MIN = 60_000

/**
 * A real MemoryStore on a fake clock (expiry without sleeping), closed at the end of the test.
 * `keys` logs the counter keys of every `consume`, so tests can see what the throttle counts.
 */
function memory(t: Test, options: { maxCounters?: number } = {}) {
  let now = Date.UTC(2025, 0, 1)
  const store = new MemoryStore({ now: () => now, ...options })
  t.teardown(() => store.close())
  const keys: string[][] = []
  const spy: CounterStore = {
    consume: (counters) => {
      keys.push(counters.map((c) => c.key))
      return store.consume(counters)
    },
    hit: (key, windowMs, increment) => store.hit(key, windowMs, increment),
    resetHits: (key) => store.resetHits(key),
  }
  return { store, spy, keys, advance: (ms: number) => void (now += ms) }
}

const sha = (text: string): string => createHash('sha256').update(text, 'utf8').digest('base64url')

/** `n` failed attempts; resolves to how many were allowed. */
async function fail(throttle: LoginThrottle, account: string, client: string, n: number): Promise<number> {
  let allowed = 0
  for (let i = 0; i < n; i++) {
    if ((await throttle.check(account, client)).allowed) {
      allowed++
      await throttle.recordFailure(account, client)
    }
  }
  return allowed
}

t.test('5 attempts per account and client; the 6th is refused until the window ends', async (t) => {
  const { store, advance } = memory(t)
  const throttle = new LoginThrottle(store)
  for (let i = 0; i < 5; i++) {
    t.strictSame(await throttle.check('ada@example.com', '10.0.0.1'), { allowed: true }, `attempt ${i + 1}`)
    await throttle.recordFailure('ada@example.com', '10.0.0.1')
    advance(1000)
  }
  const refused = await throttle.check('ada@example.com', '10.0.0.1')
  // The window started with the first attempt, 5 s ago.
  t.strictSame(refused, { allowed: false, retryAfterSeconds: 15 * 60 - 5, limit: 'pair' })
  t.equal((await throttle.check(' ADA@Example.COM ', '10.0.0.1')).allowed, false, 'email normalized')
  t.equal((await throttle.check('john@example.com', '10.0.0.1')).allowed, true, 'other accounts unaffected')
  advance(15 * MIN - 5000)
  t.strictSame(await throttle.check('ada@example.com', '10.0.0.1'), { allowed: true }, 'window over')
})

t.test('lockout is no denial of service: the owner from a clean client gets in, the attacker stays out', async (t) => {
  const { store } = memory(t)
  const throttle = new LoginThrottle(store)
  t.equal(await fail(throttle, 'admin@example.com', '203.0.113.9', 6), 5, 'attacker: 5 guesses, then refused')
  t.strictSame(await throttle.check('admin@example.com', '198.51.100.7'), { allowed: true }, 'owner from another network')
  await throttle.recordSuccess('admin@example.com', '198.51.100.7')
  t.equal((await throttle.check('admin@example.com', '203.0.113.9')).allowed, false, 'the owner logging in does not free the attacker')
  // 19 more attacker clients: 5 × 20 = 100 attempts reach the account-wide limit (NIST's 100).
  for (let i = 1; i < 20; i++) await fail(throttle, 'admin@example.com', `203.0.113.${100 + i}`, 5)
  const wide = await throttle.check('admin@example.com', '192.0.2.200')
  t.match(wide, { allowed: false, limit: 'account' }, 'a distributed attack meets the account-wide limit')
  t.equal((await throttle.check('other@example.com', '192.0.2.200')).allowed, true, 'other accounts unaffected')
})

t.test('IPv6 clients count by /64, whatever the spelling; IPv4-mapped counts as IPv4', async (t) => {
  const { store } = memory(t)
  const throttle = new LoginThrottle(store)
  t.equal(await fail(throttle, 'ada@example.com', '2001:db8:1:2::1', 5), 5)
  for (const spelling of ['2001:db8:1:2::2', '2001:DB8:1:2::1', '2001:db8:1:2:0:0:0:1', '2001:db8:1:2:ffff::6']) {
    t.equal((await throttle.check('ada@example.com', spelling)).allowed, false, spelling)
  }
  t.equal((await throttle.check('ada@example.com', '2001:db8:1:3::1')).allowed, true, 'the next /64 is another client')
  t.equal(await fail(throttle, 'bob@example.com', '192.0.2.1', 5), 5)
  t.equal((await throttle.check('bob@example.com', '::ffff:192.0.2.1')).allowed, false, 'mapped IPv4')
})

t.test('keys are prefixed hashes, never raw emails or IPs', async (t) => {
  const { spy, keys } = memory(t)
  await new LoginThrottle(spy).check('Ada@Example.com', '2001:db8::1')
  await new LoginThrottle(spy, { prefix: 'app1:' }).check(' ada@example.com', '2001:DB8:0::1')
  t.strictSame(keys, [
    [`login:c:${sha('2001:db8::/64')}`, `login:a:${sha('ada@example.com')}`, `login:p:${sha('2001:db8::/64\nada@example.com')}`],
    [`app1:c:${sha('2001:db8::/64')}`, `app1:a:${sha('ada@example.com')}`, `app1:p:${sha('2001:db8::/64\nada@example.com')}`],
  ], 'account trimmed and case-folded, client canonicalised by /64, before hashing')
  for (const key of keys.flat()) {
    t.match(key, /^(login|app1):[acp]:[\w-]{43}$/)
    t.notMatch(key, /example|2001/)
  }
})

t.test('a burst of 64 parallel guesses passes exactly the limit', async (t) => {
  const { store } = memory(t)
  const throttle = new LoginThrottle(store)
  // One client, 64 accounts at once: none has recorded its failure when the others check.
  const verdicts = await Promise.all(Array.from({ length: 64 }, (_, i) => throttle.check(`u${i}@example.com`, '10.0.0.1')))
  t.equal(verdicts.filter((v) => v.allowed).length, 50, 'the per-client limit, not 64')
  // 20 clients, one account: the pair limit of each is 5, the account-wide limit 100 is far.
  const spread = await Promise.all(Array.from({ length: 64 }, (_, i) => throttle.check('ada@example.com', `10.1.0.${i % 4}`)))
  t.equal(spread.filter((v) => v.allowed).length, 20, '4 clients × 5 attempts')
})

t.test('refused attempts create no counters: a flood does not fill the store or lift a lock', async (t) => {
  const { store } = memory(t, { maxCounters: 200 })
  const throttle = new LoginThrottle(store)
  t.equal(await fail(throttle, 'admin@example.com', '203.0.113.9', 6), 5, 'admin locked for this client')
  const held = store.stats().counters
  // One client floods random emails: 50 get through (each a bcrypt), the rest are refused.
  let allowed = 0
  for (let i = 0; i < 5000; i++) allowed += await fail(throttle, `r${i}@example.com`, '203.0.113.9', 1)
  t.equal(allowed, 45, 'the client budget (50, 5 already used on admin)')
  t.equal(store.stats().counters, held + 2 * 45, 'only the allowed attempts made counters')
  t.equal((await throttle.check('admin@example.com', '203.0.113.9')).allowed, false, 'the lock held')
  // Many clients flood past maxCounters: counters below their limit are evicted, locks never.
  for (let c = 0; c < 100; c++) await fail(throttle, `s${c}@example.com`, `198.51.100.${c}`, 1)
  t.ok(store.stats().counters <= 200, 'bounded')
  t.equal((await throttle.check('admin@example.com', '203.0.113.9')).allowed, false, 'the lock held')
})

t.test('100 successful logins from one client are never refused; successes leave no counters', async (t) => {
  const { store } = memory(t)
  const throttle = new LoginThrottle(store)
  let allowed = 0
  for (let i = 0; i < 100; i++) {
    const account = `user${i % 7}@example.com`
    if ((await throttle.check(account, '192.0.2.1')).allowed) allowed++
    await throttle.recordSuccess(account, '192.0.2.1')
  }
  t.equal(allowed, 100)
  t.equal(store.stats().counters, 0, 'every unit given back')
  t.equal(await fail(throttle, 'guess@example.com', '192.0.2.1', 4), 4)
  for (let i = 0; i < 46; i++) await fail(throttle, `guess${i}@example.com`, '192.0.2.1', 1)
  t.match(await throttle.check('user0@example.com', '192.0.2.1'), { allowed: false, limit: 'client' }, '51st refused')
})

t.test('success clears the pair, gives back units, keeps the client failures', async (t) => {
  const { store } = memory(t)
  const throttle = new LoginThrottle(store, { maxFailuresPerPair: 3, maxFailuresPerClient: 5 })
  t.equal(await fail(throttle, 'victim@example.com', 'attacker', 3), 3)
  t.equal((await throttle.check('victim@example.com', 'attacker')).allowed, false)
  // The attacker logs into an account of their own between guesses: their client count stays.
  t.equal((await throttle.check('mine@example.com', 'attacker')).allowed, true)
  await throttle.recordSuccess('mine@example.com', 'attacker')
  t.equal(await fail(throttle, 'other@example.com', 'attacker', 2), 2)
  t.match(await throttle.check('mine@example.com', 'attacker'), { allowed: false, limit: 'client' }, 'client still limited')
  // The owner of the pair logs in from a client of its own and clears only that pair.
  t.equal(await fail(throttle, 'victim@example.com', 'owner', 2), 2)
  await throttle.check('victim@example.com', 'owner')
  await throttle.recordSuccess('victim@example.com', 'owner')
  t.equal(await fail(throttle, 'victim@example.com', 'owner', 3), 3, 'pair cleared: 3 fresh attempts')
})

t.test('when several limits are hit, the later reset wins', async (t) => {
  const { store, advance } = memory(t)
  const throttle = new LoginThrottle(store, { maxFailuresPerPair: 1, maxFailuresPerClient: 2, windowMs: 10_000, accountWindowMs: 20_000 })
  await fail(throttle, 'a@example.com', 'c', 1) // pair (c, a) and c's window: 0–10 s
  advance(4000)
  await fail(throttle, 'b@example.com', 'c', 1) // pair (c, b): 4–14 s; c is at its limit
  t.strictSame(await throttle.check('b@example.com', 'c'), { allowed: false, retryAfterSeconds: 10, limit: 'pair' }, 'pair later')
  t.strictSame(await throttle.check('z@example.com', 'c'), { allowed: false, retryAfterSeconds: 6, limit: 'client' })
  advance(6000)
  t.strictSame(await throttle.check('b@example.com', 'c'), { allowed: false, retryAfterSeconds: 4, limit: 'pair' }, 'c expired')
})

t.test('retryAfterSeconds is at least 1', async (t) => {
  // A store may report 0 ms left on a counter about to expire; MemoryStore never does, hence a stub.
  const store: CounterStore = {
    consume: async () => ({ allowed: false, blocked: 1, resetMs: 0 }),
    hit: async () => ({ count: 0, resetMs: 0 }),
    resetHits: async () => {},
  }
  t.strictSame(await new LoginThrottle(store).check('a', 'b'), { allowed: false, retryAfterSeconds: 1, limit: 'account' })
})

t.test('store failures propagate', async (t) => {
  const failure = new StoreError(ErrorCodes.STORE_UNAVAILABLE, 'down')
  const down = async (): Promise<never> => {
    throw failure
  }
  const store: CounterStore = { consume: down, hit: down, resetHits: down }
  const throttle = new LoginThrottle(store)
  await t.rejects(throttle.check('a', 'b'), failure)
  await t.resolves(throttle.recordFailure('a', 'b'), 'nothing to store on failure')
  await t.rejects(throttle.recordSuccess('a', 'b'), failure)
  // A closed MemoryStore rejects with its own StoreError.
  const closed = new MemoryStore()
  await closed.close()
  await t.rejects(new LoginThrottle(closed).check('a', 'b'), { name: 'StoreError', code: ErrorCodes.STORE_UNAVAILABLE })
})

t.test('options and store are validated', async (t) => {
  const { store } = memory(t)
  const shape = { name: 'TypeError', code: ErrorCodes.OPTION_INVALID }
  const fn = () => {}
  const badStores: unknown[] = [null, 'redis', { hit: fn, resetHits: fn }, { consume: fn, resetHits: fn }, { consume: fn, hit: fn }, { consume: fn, hit: 1, resetHits: fn }]
  for (const s of badStores) t.throws(() => new LoginThrottle(s as CounterStore), shape, `store ${JSON.stringify(s)}`)
  t.throws(() => new LoginThrottle(store, null as unknown as LoginThrottleOptions), shape, 'options null')
  t.throws(() => new LoginThrottle(store, 5 as unknown as LoginThrottleOptions), shape, 'options 5')
  type Bad = [keyof LoginThrottleOptions, unknown]
  const bad: Bad[] = [
    ...[0, -1, 1.5, Number.NaN, Infinity, '5', 2 ** 53].map((v): Bad => ['maxFailuresPerAccount', v]),
    ...[0, 2.5, null].map((v): Bad => ['maxFailuresPerClient', v]),
    ...[0, '5'].map((v): Bad => ['maxFailuresPerPair', v]),
    ...[0, -1000, 0.5, '900000'].map((v): Bad => ['windowMs', v]),
    ...[0, '1'].map((v): Bad => ['accountWindowMs', v]),
    ['prefix', 7],
    ['prefix', null],
  ]
  for (const [name, value] of bad) {
    t.throws(() => new LoginThrottle(store, { [name]: value }), shape, `${name}: ${String(value)}`)
  }
  t.ok(new LoginThrottle(store, { maxFailuresPerPair: 1, maxFailuresPerAccount: 1, maxFailuresPerClient: 1, windowMs: 1, accountWindowMs: 1, prefix: '' }))
})
