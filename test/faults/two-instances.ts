/**
 * Two instances of the auth server on one Redis (same SESSION_SECRET, same key prefix), as behind
 * a load balancer: a logout on B must be seen by A at once, even while A is busy with requests of
 * that very session, and no request on A may bring the session back (OWASP Session Management
 * Cheat Sheet, "Session Expiration": the session is invalidated on the server side).
 *
 * The race that could resurrect it: A loads the session, B deletes it, A writes its change. The
 * engine's compare-and-set write (and touch) finds the record missing and drops the write
 * (lib/manager.ts `#write`), so nothing is recreated under the old ID. Requests that were in flight
 * when the logout happened may still answer with the old session (they read it before it was
 * gone); every request that *starts* after B has answered the logout must not.
 */
import { randomBytes } from 'node:crypto'
import t from 'tap'
import { RedisStore } from '../../lib/stores/redis.js'
import { describe, storageKeyOf, tally, timed, until, type Outcome } from '../fixtures/faults.js'
import { Client, JOHN } from '../fixtures/http-client.js'
import { startRedis } from '../fixtures/redis-server.js'
import { boot } from '../fixtures/server-suite.js'

const ROUNDS = 5
const WORKERS = 8
/** How many of the workers write (POST /cart); the rest read (GET /dashboard, /profile). */
const WRITERS = 8
/** Requests on A after the logout before the load stops. */
const AFTER_REQUESTS = 80
/** Hard bound on each worker's loop. */
const MAX_ITERATIONS = 300

const redis = await startRedis()
t.teardown(() => redis.stop())

t.test('logout on B under concurrent requests on A: seen at once, never resurrected', async (t) => {
  const prefix = `t-two-${randomBytes(6).toString('hex')}:`
  const env = { SESSION_SECRET: randomBytes(32).toString('base64url') }
  const a = await boot(t, new RedisStore({ url: redis.url, prefix, onClientError: () => {} }), env)
  const b = await boot(t, new RedisStore({ url: redis.url, prefix, onClientError: () => {} }), env)
  // A third connection that no server uses: what Redis really holds.
  const reader = new RedisStore({ url: redis.url, prefix, onClientError: () => {} })
  t.teardown(() => reader.close())

  const totals: Outcome[] = []
  let inFlight = 0
  let afterLogout = 0
  for (let round = 0; round < ROUNDS; round++) {
    const onA = new Client(a.url)
    await onA.login(JOHN.email, JOHN.password)
    const cookie = onA.cookieHeader()
    const key = storageKeyOf(onA) as string
    const onB = new Client(b.url)
    for (const [k, v] of onA.jar) onB.jar.set(k, v)
    t.equal((await onB.get('/dashboard')).status, 200, `round ${round}: B sees the session made on A`)
    t.same((await onB.post('/cart', { item: 'from-b' })).body, { cart: ['from-b'] })
    t.same((await onA.get('/cart')).body, { cart: ['from-b'] }, `round ${round}: A sees B's write`)

    // A busy with this session: authenticated reads, and writes (the resurrection risk). The
    // cookie is fixed (adopt: false), as an attacker replaying it would keep it. Every worker also
    // writes: eight concurrent compare-and-set writers on one session, which the jittered retries
    // in lib/manager.ts must absorb without a 503.
    const outcomes: Outcome[] = []
    let logoutDoneAt = Infinity
    let stop = false
    const worker = async (w: number): Promise<void> => {
      for (let i = 0; i < MAX_ITERATIONS && !stop; i++) {
        if (w < WRITERS) outcomes.push(await timed(onA, 'POST', '/cart', { cookie, adopt: false, json: { item: `w${w}-${i}` }, label: `w${w}-${i}` }))
        else outcomes.push(await timed(onA, 'GET', (w + i) % 2 === 0 ? '/dashboard' : '/profile', { cookie, adopt: false }))
      }
    }
    const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)))
    let logout: Outcome | undefined
    try {
      // Log out at a different moment each round.
      await until('load on A', () => outcomes.length >= 10 + 15 * round, 10_000, 1)
      logout = await timed(onB, 'POST', '/logout')
      logoutDoneAt = logout.endMs
      await until('requests on A after the logout', () => outcomes.filter((o) => o.startMs > logoutDoneAt).length >= AFTER_REQUESTS, 10_000, 5)
    } finally {
      stop = true
      await load
    }
    t.match(logout, { status: 200, setCookie: [/^sid=; Max-Age=0;/] }, `round ${round}: logged out on B`)

    const after = outcomes.filter((o) => o.startMs > logoutDoneAt)
    const straddling = outcomes.filter((o) => o.startMs <= logoutDoneAt && o.endMs >= (logout?.startMs ?? 0))
    inFlight += straddling.length
    afterLogout += after.length
    t.same(outcomes.filter((o) => o.status !== 200 && o.status !== 401).map(describe), [], `round ${round}: only 200 and 401 on A`)
    // After the logout: no authenticated answer, and a write with the dead cookie starts a new,
    // empty, anonymous session under a new ID (the cart of the old one is not visible).
    const leaks = after.filter((o) => o.method === 'GET'
      ? o.status !== 401
      : o.status !== 200 || JSON.stringify(o.body) !== JSON.stringify({ cart: [o.label] }) ||
        o.setCookie.some((line) => line.startsWith(`${cookie};`)))
    t.same(leaks.map(describe), [], `round ${round}: ${after.length} requests on A after the logout, none saw the session`)
    t.equal(await reader.get(key), null, `round ${round}: no record under the old ID`)
    t.same(await reader.listByUser('2'), [], `round ${round}: the user has no session left`)
    t.equal((await onA.get('/dashboard', { headers: { cookie } })).status, 401, `round ${round}: A says 401 for the old cookie`)
    t.equal((await onB.get('/dashboard', { headers: { cookie } })).status, 401)
    totals.push(...outcomes)
  }

  const stats = tally(totals)
  t.comment(`two instances, ${ROUNDS} logouts on B under ${WORKERS} concurrent workers (${WRITERS} writing) on A: ${stats.requests} requests on A ` +
    `(${JSON.stringify(stats.byStatus)}), ${inFlight} in flight across a logout, ${afterLogout} after it, ` +
    'authenticated answers after logout 0, resurrected sessions 0')
})
