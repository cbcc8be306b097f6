/**
 * The auth server's Prometheus metrics: what they are, where their numbers come from, and how
 * `/metrics` is protected. Names and meanings are listed in the README ("Metrics").
 *
 * Off by default. `METRICS_TOKEN` serves `GET /metrics` on the public port behind
 * `Authorization: Bearer <token>` (compared in constant time); `METRICS_PORT` serves it on a
 * separate listener bound to loopback. Never on the public port unprotected.
 *
 * Many processes, one truth: each process counts what it did. With WORKERS > 1 a scrape, on
 * whichever worker or on the primary's metrics port, is answered by the primary with every
 * worker's numbers combined (lib/server/metrics-cluster.ts): counters and histograms summed,
 * per-process gauges (memory, event-loop delay) labelled by worker. Two instances on one Redis are
 * two scrape targets, summed by Prometheus as usual.
 */
import { timingSafeEqual } from 'node:crypto'
import type { Server } from 'node:http'
import { monitorEventLoopDelay, type IntervalHistogram } from 'node:perf_hooks'
import type { Redis, Cluster } from 'ioredis'
import { bcryptPool } from '../auth/bcrypt-pool.js'
import { SECURITY_EVENT_TYPES, type SecurityEvent, type SecurityEvents } from '../events.js'
import { Registry, type Counter, type FamilySnapshot, type Histogram, HistogramSeries, type Scalar } from '../metrics/registry.js'
import { TimedStore } from '../metrics/timed-store.js'
import { sha256Bytes } from '../sha256.js'
import type { Store } from '../store.js'
import { MemoryStore } from '../stores/memory.js'
import { RedisStore } from '../stores/redis.js'

/** Request latency buckets, seconds: sub-millisecond reads up to slow bcrypt logins. */
const REQUEST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5]
/** Store round trips: microseconds in memory, about a millisecond to Redis, 1 s is the deadline. */
const STORE_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1]
/** bcrypt: cost 10 is ~50–100 ms a hash on one core. */
const BCRYPT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5]

const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx']

/** What the event counter's `reason` label says for an event. */
function reasonOf(e: SecurityEvent): string {
  if ('reason' in e) return e.reason
  if (e.type === 'store.failure') return e.code
  return ''
}

export interface ServerMetricsOptions {
  events: SecurityEvents
  /** The store as configured (before wrapping): live sessions are read from it. */
  store: Store
  /** How many users there are (a gauge read at scrape time). */
  countUsers?: () => number | Promise<number>
}

export class ServerMetrics {
  readonly registry = new Registry()
  readonly #events: Counter
  readonly #requests: Histogram
  /** Route pattern → method → series by status class (1xx…5xx, then other). */
  readonly #requestSeries = new Map<string, Map<string, HistogramSeries[]>>()
  /** The previous request's key and series (status NaN matches nothing: the first one looks up). */
  #lastRequest: { route: string | null; method: string; status: number; series: HistogramSeries } = { route: null, method: '', status: Number.NaN, series: new HistogramSeries([], REQUEST_BUCKETS) }
  readonly #storeCalls: Counter
  readonly #storeOps: Histogram
  readonly #connections: Scalar
  readonly #loopDelay: IntervalHistogram
  readonly #unsubscribe: () => void

  constructor(options: ServerMetricsOptions) {
    const r = this.registry
    this.#events = r.counter('sessionkit_security_events_total', 'Security events by type and reason (session, login, password, user).', ['event', 'reason'])
    for (const type of SECURITY_EVENT_TYPES) this.#events.series(type, '')
    this.#unsubscribe = options.events.onAny((e) => this.#events.series(e.type, reasonOf(e)).inc())

    this.#requests = r.histogram('sessionkit_http_request_duration_seconds', 'Time from request to response end, by route pattern and status class.', ['method', 'route', 'status_class'], REQUEST_BUCKETS)
    this.#storeCalls = r.counter('sessionkit_store_operations_total', 'Session store calls by operation and outcome, every one.', ['operation', 'outcome'])
    this.#storeOps = r.histogram('sessionkit_store_operation_duration_seconds', 'Session store call latency by operation and outcome: every call of a networked store, one in 16 of the in-process memory store.', ['operation', 'outcome'], STORE_BUCKETS)
    this.#connections = r.gauge('sessionkit_http_open_connections', 'Open TCP connections to the HTTP server.').series()

    const bcryptQueue = r.gauge('sessionkit_bcrypt_queue_depth', 'bcrypt jobs waiting for a worker thread.').series()
    const bcryptTime = r.histogram('sessionkit_bcrypt_duration_seconds', 'bcrypt run time on a worker thread, by operation (verify = password compare).', ['operation'], BCRYPT_BUCKETS)
    const bcrypt = { hash: bcryptTime.series('hash'), verify: bcryptTime.series('verify') }
    bcryptPool.onDone = (op, seconds) => bcrypt[op].observe(seconds)
    r.onCollect(() => bcryptQueue.set(bcryptPool.queueDepth))

    this.#liveSessions(options.store)
    if (options.countUsers !== undefined) {
      const users = r.gauge('sessionkit_users', 'Users in the user directory.', [], 'max').series()
      const count = options.countUsers
      r.onCollect(async () => users.set(await count()))
    }

    const rss = r.gauge('process_resident_memory_bytes', 'Resident set size.', [], 'worker').series()
    const heap = r.gauge('nodejs_heap_used_bytes', 'V8 heap in use.', [], 'worker').series()
    const heapTotal = r.gauge('nodejs_heap_total_bytes', 'V8 heap reserved.', [], 'worker').series()
    const delay = r.gauge('nodejs_eventloop_delay_p99_seconds', 'Event-loop delay, 99th percentile since the previous scrape.', [], 'worker').series()
    this.#loopDelay = monitorEventLoopDelay({ resolution: 10 })
    this.#loopDelay.enable()
    r.onCollect(() => {
      const mem = process.memoryUsage()
      rss.set(mem.rss)
      heap.set(mem.heapUsed)
      heapTotal.set(mem.heapTotal)
      delay.set(this.#loopDelay.percentile(99) / 1e9)
      this.#loopDelay.reset()
    })
  }

  /** Wrap the store so each call is timed (give the wrapper to the session engine and throttle). */
  timeStore(store: Store): Store {
    return new TimedStore(store, this.#storeCalls, this.#storeOps)
  }

  /** Count the connections of `server`. */
  watchServer(server: Server): void {
    server.on('connection', (socket) => {
      this.#connections.inc()
      socket.once('close', () => this.#connections.inc(-1))
    })
  }

  /** One finished request. */
  request(method: string, route: string | null, status: number, seconds: number): void {
    // Under load most requests repeat the previous one's route, method and status: no lookup then.
    const last = this.#lastRequest
    if (last.route === route && last.method === method && last.status === status) {
      last.series.observe(seconds)
      return
    }
    const pattern = route ?? 'unmatched'
    // Only methods the router knows get their own label: a client inventing methods must not
    // invent series (unbounded cardinality).
    const m = route === null && !KNOWN_METHODS.has(method) ? 'other' : method
    // Looked up by route, then method, then status class: no key string built per request.
    let byMethod = this.#requestSeries.get(pattern)
    if (byMethod === undefined) this.#requestSeries.set(pattern, (byMethod = new Map()))
    let byClass = byMethod.get(m)
    if (byClass === undefined) byMethod.set(m, (byClass = []))
    const c = Math.floor(status / 100) - 1
    const index = c >= 0 && c < STATUS_CLASSES.length ? c : STATUS_CLASSES.length
    let series = byClass[index]
    if (series === undefined) byClass[index] = series = this.#requests.series(m, pattern, STATUS_CLASSES[index] ?? 'other')
    series.observe(seconds)
    this.#lastRequest = { route, method, status, series }
  }

  snapshot(): Promise<FamilySnapshot[]> {
    return this.registry.snapshot()
  }

  /** Stop listening and sampling. */
  close(): void {
    this.#unsubscribe()
    this.#loopDelay.disable()
    bcryptPool.onDone = null
  }

  /** A live-session gauge for the stores that can count theirs (a custom store gets none). */
  #liveSessions(store: Store): void {
    if (!(store instanceof MemoryStore) && !(store instanceof RedisStore)) return
    const help = 'Live sessions: exact for the memory store; for Redis an estimate (see README).'
    // Every worker of a cluster estimates the same shared number: the primary averages them.
    const live = this.registry.gauge('sessionkit_sessions', help, [], 'avg').series()
    if (store instanceof MemoryStore) {
      // Exact: the map's size (records expired but not yet swept included, at most one sweep old).
      this.registry.onCollect(() => live.set(store.stats().sessions))
    } else {
      this.registry.onCollect(async () => live.set(await estimateRedisSessions(store.client, store.prefix)))
    }
  }
}

const KNOWN_METHODS = new Set(['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'])

/** Below this many keys a node is counted exactly with SCAN; above, estimated by sampling. */
const EXACT_BELOW = 1000
const SAMPLES = 64

/**
 * Live sessions in Redis, cheaply: per master node, DBSIZE (O(1)) times the share of session keys
 * among RANDOMKEY samples — one pipelined round trip of 65 commands, whatever the data size. The
 * standard error is about √(p(1-p)/64) of DBSIZE (±6 % when half the keys are sessions); small
 * databases are counted exactly by SCAN instead. Counting exactly at scale would mean a SCAN of
 * the whole key space on every scrape, which is what this avoids.
 */
export async function estimateRedisSessions(client: Redis | Cluster, prefix: string): Promise<number> {
  const nodes = 'nodes' in client && typeof client.nodes === 'function' ? (client as Cluster).nodes('master') : [client as Redis]
  const sessionPrefix = `${prefix}s:`
  let total = 0
  for (const node of nodes) {
    const size = await node.dbsize()
    if (size <= EXACT_BELOW) {
      let cursor = '0'
      do {
        const [next, keys] = await node.scan(cursor, 'MATCH', `${sessionPrefix}*`, 'COUNT', 1000)
        cursor = next
        total += keys.length
      } while (cursor !== '0')
      continue
    }
    const pipeline = node.pipeline()
    for (let i = 0; i < SAMPLES; i++) pipeline.randomkey()
    // A pipeline (unlike MULTI) never resolves to null: every command has its [error, reply].
    const replies = (await pipeline.exec()) as Array<[Error | null, unknown]>
    const keys = replies.map(([, key]) => key).filter((key): key is string => typeof key === 'string')
    const hits = keys.filter((key) => key.startsWith(sessionPrefix)).length
    total += Math.round((size * hits) / Math.max(1, keys.length))
  }
  return total
}

/** SHA-256 digests are compared, so the comparison takes the same time whatever the lengths. */
function digest(text: string): Buffer {
  return sha256Bytes(Buffer.from(text))
}

/**
 * Check `Authorization: Bearer <token>` in constant time (OWASP ASVS 5.0 11.2.4 spirit: no early
 * exit on the first differing byte).
 */
export function bearerMatches(header: string | undefined, token: string): boolean {
  const m = header === undefined ? null : /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header)
  const presented = digest(m === null ? '' : (m[1] as string))
  return timingSafeEqual(presented, digest(token)) && m !== null
}
