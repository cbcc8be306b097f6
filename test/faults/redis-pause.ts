/**
 * Redis hangs (SIGSTOP) in the middle of a load on the auth server, over real HTTP.
 *
 * A stopped redis-server keeps its TCP connections open and answers nothing: the worst case for a
 * client, which sees no error, only silence. The server must answer every cookie-bearing request
 * with 503 + Retry-After within FAIL_FAST_MS (never hang, never 401, which would log the user out,
 * never 500), send no Set-Cookie with a 503 (a fresh or cleared cookie would end the session just
 * as surely), and once Redis resumes every session and every acknowledged cart write is still
 * there: 0 sessions lost.
 */
import { randomBytes } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import t from 'tap'
import { RedisStore } from '../../lib/stores/redis.js'
import { describe, FAIL_FAST_MS, tally, timed, until, type Outcome } from '../fixtures/faults.js'
import { Client, JOHN } from '../fixtures/http-client.js'
import { startRedis } from '../fixtures/redis-server.js'
import { boot } from '../fixtures/server-suite.js'

const CLIENTS = 20
const WORKERS = 10
/** Requests answered before Redis is stopped. */
const WARM_REQUESTS = 100
/** How long Redis stays stopped: over three store deadlines, so each worker meets it several times. */
const PAUSE_MS = 3500
/** 200s needed after the resume before the load stops. */
const AFTER_REQUESTS = 100
/** Iterations per worker (2 requests each): a hard bound on the loop. */
const MAX_ITERATIONS = 60

const redis = await startRedis()
t.teardown(() => redis.stop())

t.test('SIGSTOP mid-load: fast 503s without Set-Cookie, then every session and write intact', async (t) => {
  const store = new RedisStore({ url: redis.url, prefix: `t-pause-${randomBytes(6).toString('hex')}:`, onClientError: () => {} })
  // Twenty sessions of one user: above the default per-user limit (10), which is not under test here.
  const server = await boot(t, store, { MAX_SESSIONS_PER_USER: '0' })
  // A stopped process is still SIGKILLed by redis.stop(), but resume it if an assertion throws.
  t.teardown(() => redis.resume())

  // Sequential logins of one account: each success resets its throttle counter.
  const clients: Client[] = []
  for (let i = 0; i < CLIENTS; i++) {
    const c = new Client(server.url)
    await c.login(JOHN.email, JOHN.password)
    clients.push(c)
  }
  const cookies = clients.map((c) => c.cookieHeader())
  t.equal(new Set(cookies).size, CLIENTS, `${CLIENTS} distinct sessions`)

  const outcomes: Outcome[] = []
  /** Items each client was told (200) are in its cart, in order, and every item it tried. */
  const acked = clients.map((): string[] => [])
  const tried = clients.map((): string[] => [])
  let pausedAt = Infinity
  let resumedAt = Infinity
  let stop = false

  // Each worker owns two clients, so no two requests of one session overlap: the cart check below
  // can then expect exactly the acknowledged order.
  const worker = async (w: number): Promise<void> => {
    for (let i = 0; i < MAX_ITERATIONS && !stop; i++) {
      const n = w + (i % 2) * WORKERS
      const c = clients[n] as Client
      outcomes.push(await timed(c, 'GET', '/dashboard', { label: `c${n}` }))
      const item = `c${n}-${i}`
      tried[n]?.push(item)
      const res = await timed(c, 'POST', '/cart', { json: { item }, label: `c${n} ${item}` })
      outcomes.push(res)
      if (res.status === 200) acked[n]?.push(item)
    }
  }
  const load = Promise.all(Array.from({ length: WORKERS }, (_, w) => worker(w)))

  let healthDuringPause: Outcome | undefined
  try {
    await until('warm-up requests', () => outcomes.length >= WARM_REQUESTS, 10_000, 5)
    redis.pause()
    pausedAt = performance.now()
    // /healthz pings the store: it must say so, just as fast.
    healthDuringPause = await timed(new Client(server.url), 'GET', '/healthz')
    await sleep(PAUSE_MS - (performance.now() - pausedAt))
    redis.resume()
    resumedAt = performance.now()
    await until('200s after the resume',
      () => outcomes.filter((o) => o.startMs > resumedAt && o.status === 200).length >= AFTER_REQUESTS, 15_000, 5)
  } finally {
    stop = true
    await load
  }

  const stats = tally(outcomes)
  const inPause = outcomes.filter((o) => o.startMs >= pausedAt && o.endMs <= resumedAt)
  const failed = outcomes.filter((o) => o.status === 503)
  t.same(outcomes.filter((o) => o.status !== 200 && o.status !== 503).map(describe), [],
    'only 200 and 503: no 401, no 500, nothing hung past 5 s')
  t.ok(inPause.length >= WORKERS, `${inPause.length} requests were sent and answered while Redis was stopped`)
  t.same(inPause.filter((o) => o.status !== 503).map(describe), [], 'every one of them 503')
  t.same(failed.filter((o) => o.ms > FAIL_FAST_MS).map(describe), [], `every 503 within ${FAIL_FAST_MS} ms`)
  t.same(failed.filter((o) => o.setCookie.length > 0).map(describe), [], 'no 503 carries Set-Cookie')
  t.same(failed.filter((o) => o.retryAfter !== '1' || o.body?.error !== 'Session store unavailable').map(describe), [],
    'every 503 says why and when to retry')
  t.ok(stats.maxMs <= FAIL_FAST_MS, `slowest request of all: ${stats.maxMs} ms`)
  t.match(healthDuringPause, { status: 503 }, '/healthz 503 while Redis is stopped')
  t.ok((healthDuringPause?.ms ?? Infinity) <= FAIL_FAST_MS, `/healthz answered in ${healthDuringPause?.ms} ms`)

  // After the resume: the very same cookies, no new login.
  await until('/healthz 200', async () => (await timed(new Client(server.url), 'GET', '/healthz')).status === 200, 5000)
  let lost = 0
  let landedAnyway = 0
  for (const [n, c] of clients.entries()) {
    const dash = await timed(c, 'GET', '/dashboard')
    const cart = await timed(c, 'GET', '/cart')
    const items: string[] = Array.isArray(cart.body?.cart) ? cart.body.cart : []
    const ok = dash.status === 200 && dash.body?.userId === '2' && c.cookieHeader() === cookies[n] && cart.status === 200
    if (!ok) lost++
    t.ok(ok, `client ${n}: still logged in with its original cookie (${dash.status})`)
    // Every acknowledged item is there, in order; nothing foreign. An item whose POST got 503 may be
    // there too: its write was on the wire when the deadline fired and Redis ran it on SIGCONT (a
    // timeout is not a rollback; the client retries, as Retry-After tells it).
    t.same(items.filter((item) => acked[n]?.includes(item)), acked[n], `client ${n}: all ${acked[n]?.length} acknowledged items, in order`)
    t.same(items.filter((item) => !tried[n]?.includes(item)), [], `client ${n}: no item it never sent`)
    landedAnyway += items.length - (acked[n]?.length ?? 0)
  }
  t.equal(lost, 0, 'sessions lost: 0')
  t.equal((await store.listByUser('2')).length, CLIENTS, 'the user index still lists every session')

  t.comment(`redis SIGSTOP for ${PAUSE_MS} ms under ${WORKERS} workers / ${CLIENTS} sessions: ${stats.requests} requests, ` +
    `${stats.byStatus['200'] ?? 0} × 200, ${failed.length} × 503 (${inPause.length} sent and answered during the pause), ` +
    `slowest 503 ${Math.max(0, ...failed.map((o) => o.ms))} ms, slowest request ${stats.maxMs} ms, ` +
    `sessions lost ${lost}, writes answered 503 that landed on resume ${landedAnyway}`)
})
