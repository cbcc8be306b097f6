/**
 * `/metrics` on the real server: off by default, Bearer-protected on the public port, or on its
 * own loopback port; the output passes `promtool check metrics`; the numbers match what the
 * requests did; live sessions in Redis are counted exactly when few, estimated when many.
 */
import { Redis } from 'ioredis'
import t from 'tap'
import { listenMetrics } from '../../lib/server/observability.js'
import { SecurityEvents } from '../../lib/events.js'
import { writeText } from '../../lib/metrics/exposition.js'
import { bearerMatches, estimateRedisSessions, ServerMetrics } from '../../lib/server/metrics.js'
import type { Store } from '../../lib/store.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { RedisStore } from '../../lib/stores/redis.js'
import { Client, JOHN } from '../fixtures/http-client.js'
import { promtoolCheck, sample } from '../fixtures/prometheus.js'
import { startRedis } from '../fixtures/redis-server.js'
import { boot } from '../fixtures/server-suite.js'

const TOKEN = 'metrics-test-token-0123456789abcdef'
const auth = { authorization: `Bearer ${TOKEN}` }

t.test('off by default: no /metrics route, no listener', async (t) => {
  const server = await boot(t, new MemoryStore())
  t.equal((await new Client(server.url).get('/metrics')).status, 404)
  t.equal(server.metricsUrl, null)
})

t.test('METRICS_TOKEN: Bearer in constant time; the numbers follow the traffic; promtool agrees', async (t) => {
  const server = await boot(t, new MemoryStore(), { METRICS_TOKEN: TOKEN })
  const c = new Client(server.url)
  for (const headers of [{} as Record<string, string>, { authorization: 'Bearer wrong-token-wrong-token-1234' }, { authorization: `Basic ${TOKEN}` }, { authorization: `Bearer ${TOKEN}x` }]) {
    const res = await c.get('/metrics', { headers })
    t.equal(res.status, 401)
    t.equal(res.headers.get('www-authenticate'), 'Bearer realm="metrics"')
    t.same(res.body, { error: 'Metrics need a bearer token' })
  }
  await c.post('/login', { email: JOHN.email, password: 'not-the-password' })
  await c.login(JOHN.email, JOHN.password)
  await c.get('/dashboard')
  await c.delete('/sessions/nope')
  await c.request('PROPFIND', '/coffee')
  await c.get('/no/such/route')
  const res = await c.get('/metrics', { headers: { authorization: `bearer   ${TOKEN}` } })
  t.equal(res.status, 200, 'the scheme is case-insensitive')
  t.equal(res.headers.get('content-type'), 'text/plain; version=0.0.4; charset=utf-8')
  t.equal(res.headers.get('cache-control'), 'no-store')
  const text = res.body as string
  await promtoolCheck(t, text)
  t.equal(sample(text, 'sessionkit_security_events_total{event="login.succeeded"}'), 1)
  t.equal(sample(text, 'sessionkit_security_events_total{event="login.failed",reason="bad-password"}'), 1)
  t.equal(sample(text, 'sessionkit_security_events_total{event="session.created"}'), 1)
  t.equal(sample(text, 'sessionkit_security_events_total{event="user.deleted"}'), 0, 'every event type has a series from the start')
  t.equal(sample(text, 'sessionkit_http_request_duration_seconds_count{method="POST",route="/login",status_class="2xx"}'), 1)
  t.equal(sample(text, 'sessionkit_http_request_duration_seconds_count{method="POST",route="/login",status_class="4xx"}'), 1)
  t.equal(sample(text, 'sessionkit_http_request_duration_seconds_count{method="GET",route="/metrics",status_class="4xx"}'), 4)
  t.equal(sample(text, 'sessionkit_http_request_duration_seconds_count{method="DELETE",route="/sessions/:handle",status_class="4xx"}'), 1, 'the route pattern, not the path')
  t.equal(sample(text, 'sessionkit_http_request_duration_seconds_count{method="other",route="unmatched",status_class="4xx"}'), 1, 'invented methods share one label')
  t.equal(sample(text, 'sessionkit_http_request_duration_seconds_count{method="GET",route="unmatched",status_class="4xx"}'), 1)
  t.notMatch(text, /no\/such\/route|nope|coffee/, 'no raw path in any label')
  // The memory store's calls: every one counted, the first (and one in 16) timed.
  t.ok((sample(text, 'sessionkit_store_operations_total{operation="get",outcome="ok"}') ?? 0) >= 2)
  t.ok((sample(text, 'sessionkit_store_operation_duration_seconds_count{operation="get",outcome="ok"}') ?? 0) >= 1)
  t.ok((sample(text, 'sessionkit_bcrypt_duration_seconds_count{operation="verify"}') ?? 0) >= 2)
  t.equal(sample(text, 'sessionkit_bcrypt_queue_depth'), 0)
  t.equal(sample(text, 'sessionkit_sessions'), 1, 'exact for the memory store')
  t.equal(sample(text, 'sessionkit_users'), 2)
  t.ok((sample(text, 'sessionkit_http_open_connections') ?? 0) >= 1)
  t.ok((sample(text, 'process_resident_memory_bytes') ?? 0) > 1e6)
  t.ok((sample(text, 'nodejs_heap_used_bytes') ?? 0) > 1e5)
  t.ok((sample(text, 'nodejs_heap_total_bytes') ?? 0) > 1e5)
  t.ok((sample(text, 'nodejs_eventloop_delay_p99_seconds') ?? -1) >= 0)
  t.equal(server.metricsUrl, null, 'no separate listener')
  const head = await fetch(`${server.url}/metrics`, { method: 'HEAD', headers: auth })
  t.equal(head.status, 200)
  t.equal(await head.text(), '')
})

t.test('a login past the per-user session limit counts the evicted session as revoked, limit-evicted', async (t) => {
  const server = await boot(t, new MemoryStore(), { METRICS_TOKEN: TOKEN, MAX_SESSIONS_PER_USER: '1' })
  const first = new Client(server.url)
  await first.login(JOHN.email, JOHN.password)
  await new Client(server.url).login(JOHN.email, JOHN.password)
  t.equal((await first.get('/dashboard')).status, 401, 'the older session was ended')
  const text = (await first.get('/metrics', { headers: auth })).body as string
  t.equal(sample(text, 'sessionkit_security_events_total{event="session.revoked",reason="limit-evicted"}'), 1)
})

t.test('METRICS_PORT: a loopback listener serving /metrics only, no token; the public port has none', async (t) => {
  const server = await boot(t, new MemoryStore(), { METRICS_PORT: '0' })
  t.match(server.metricsUrl, /^http:\/\/127\.0\.0\.1:\d+\/metrics$/)
  const url = server.metricsUrl as string
  const res = await fetch(url)
  t.equal(res.status, 200)
  await promtoolCheck(t, await res.text())
  t.equal((await fetch(url.replace('/metrics', '/healthz'))).status, 404)
  const post = await fetch(url, { method: 'POST' })
  t.equal(post.status, 405)
  t.equal(post.headers.get('allow'), 'GET, HEAD')
  t.equal((await fetch(url, { method: 'HEAD' })).status, 200)
  t.equal((await fetch(`${server.url}/metrics`)).status, 404, 'nothing on the public port')
})

t.test('a metrics port already in use stops the start with the listen error', async (t) => {
  const first = await boot(t, new MemoryStore(), { METRICS_PORT: '0' })
  const port = new URL(first.metricsUrl as string).port
  await t.rejects(boot(t, new MemoryStore(), { METRICS_PORT: port }), { code: 'EADDRINUSE' })
})

t.test('a scrape that cannot be answered is a 503 with Retry-After', async (t) => {
  const server = await listenMetrics(0, () => Promise.reject(new Error('primary gone')))
  t.teardown(() => new Promise((resolve) => server.close(resolve)))
  const { port } = server.address() as { port: number }
  const res = await fetch(`http://127.0.0.1:${port}/metrics`)
  t.equal(res.status, 503)
  t.equal(res.headers.get('retry-after'), '1')
  await t.rejects(listenMetrics(port, () => Promise.resolve('')), { code: 'EADDRINUSE' })
})

t.test('bearerMatches', async (t) => {
  const cases: Array<[string | undefined, boolean]> = [
    [undefined, false],
    ['', false],
    ['Bearer', false],
    ['Bearer ', false],
    [`Bearer ${TOKEN}`, true],
    [`BEARER\t${TOKEN} `, true],
    [`Bearer ${TOKEN} extra`, false],
    [`Bearer ${TOKEN.slice(1)}`, false],
    [TOKEN, false],
  ]
  for (const [header, expected] of cases) t.equal(bearerMatches(header, TOKEN), expected, String(header))
})

t.test('live sessions in Redis: exact when few keys, estimated by sampling when many; every master counted', async (t) => {
  const redis = await startRedis()
  t.teardown(() => redis.stop())
  const client = new Redis(redis.url)
  const other = new Redis(redis.url, { db: 1 })
  t.teardown(() => {
    client.disconnect()
    other.disconnect()
  })
  const server = await boot(t, new RedisStore({ url: redis.url, prefix: 'm:' }), { METRICS_TOKEN: TOKEN })
  const c = new Client(server.url)
  await c.login(JOHN.email, JOHN.password)
  await new Client(server.url).post('/cart', { item: 'x' })
  const text = (await c.get('/metrics', { headers: auth })).body as string
  t.equal(sample(text, 'sessionkit_sessions'), 2, 'exact: two session keys (user indexes, counters not counted)')
  await promtoolCheck(t, text)

  // 3000 keys, a third of them sessions: sampled, within a generous bound (64 samples).
  const pipe = client.pipeline()
  for (let i = 0; i < 1000; i++) pipe.set(`m:s:fake${i}`, '1')
  for (let i = 0; i < 2000; i++) pipe.set(`other:${i}`, '1')
  await pipe.exec()
  const estimate = await estimateRedisSessions(client, 'm:')
  t.ok(estimate > 500 && estimate < 1700, `estimate ${estimate} for ~1002`)
  await other.set('m:s:one', '1')
  // A Cluster-shaped client: every master is counted (here two databases stand in for two nodes).
  const clusterLike = { nodes: () => [other, other] } as unknown as Redis
  t.equal(await estimateRedisSessions(clusterLike, 'm:'), 2)
  t.equal(await estimateRedisSessions({ nodes: () => [] } as unknown as Redis, 'm:'), 0, 'no master, no sessions')
})

t.test('status codes outside 1xx–5xx share one class label', async (t) => {
  const events = new SecurityEvents()
  // A store of a kind it cannot count (neither memory nor Redis).
  const metrics = new ServerMetrics({ events, store: { kind: 'custom' } as unknown as Store })
  t.teardown(() => metrics.close())
  metrics.request('GET', '/x', 600, 0.001)
  events.emit('store.failure', { code: 'ERR_STORE_TIMEOUT' })
  const text = writeText(await metrics.snapshot())
  t.equal(sample(text, 'sessionkit_http_request_duration_seconds_count{method="GET",route="/x",status_class="other"}'), 1)
  t.equal(sample(text, 'sessionkit_security_events_total{event="store.failure",reason="ERR_STORE_TIMEOUT"}'), 1, 'a store failure counts by its code')
  t.notMatch(text, /sessionkit_users/, 'no users gauge without a user count')
  t.notMatch(text, /sessionkit_sessions/, 'no live-session figure for a store it cannot count')
})

t.test('request series: each request lands in its own route, method and status class, repeats or not', async (t) => {
  const metrics = new ServerMetrics({ events: new SecurityEvents(), store: new MemoryStore() })
  t.teardown(() => metrics.close())
  // Runs of one key (the repeat path) between changes of one part at a time (the lookup path).
  const requests: [string, string | null, number][] = [
    ['GET', '/a', 200], ['GET', '/a', 200], ['GET', '/a', 204], ['GET', '/a', 404], ['POST', '/a', 404],
    ['POST', '/b', 404], ['POST', '/b', 404], ['GET', null, 404], ['BREW', null, 404], ['GET', '/a', 200],
    ['GET', null, 404], ['GET', null, 404],
  ]
  for (const [method, route, status] of requests) metrics.request(method, route, status, 0.001)
  const text = writeText(await metrics.snapshot())
  const count = (method: string, route: string, statusClass: string) =>
    sample(text, `sessionkit_http_request_duration_seconds_count{method="${method}",route="${route}",status_class="${statusClass}"}`)
  t.equal(count('GET', '/a', '2xx'), 4)
  t.equal(count('GET', '/a', '4xx'), 1)
  t.equal(count('POST', '/a', '4xx'), 1)
  t.equal(count('POST', '/b', '4xx'), 2)
  t.equal(count('GET', 'unmatched', '4xx'), 3)
  t.equal(count('other', 'unmatched', '4xx'), 1, 'an unknown method on no route: "other"')
})
