/**
 * Logs and metrics around the auth server, in one place so the app only calls a few hooks:
 * an access line and a latency observation per request, an audit line per security event, the
 * `/metrics` endpoint (token-protected on the public port, or a loopback listener), and the
 * cluster glue. With no logger and metrics off, none of this is installed: the request path is
 * exactly the plain one.
 */
import cluster from 'node:cluster'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import type { SecurityEvents } from '../events.js'
import { sendJson } from '../http.js'
import { CONTENT_TYPE, writeText } from '../metrics/exposition.js'
import { routingPath, type Router } from '../router.js'
import type { Store } from '../store.js'
import type { ServerConfig } from './config.js'
import { SESSION_OF, type AppContext, type TrackedResponse } from './context.js'
import type { Logger } from './log.js'
import { workerMetrics } from './metrics-cluster.js'
import { bearerMatches, ServerMetrics } from './metrics.js'

export interface ObservabilityOptions {
  config: ServerConfig
  events: SecurityEvents
  /** The store as configured. */
  store: Store
  log: Logger | null
  clientIp: (req: IncomingMessage) => string
  countUsers: () => number | Promise<number>
}

export class Observability {
  readonly log: Logger | null
  readonly metrics: ServerMetrics | null
  /** The whole server's metrics as text: this process's, or (in a worker) the primary's merge. */
  readonly scrape: (() => Promise<string>) | null
  readonly #config: ServerConfig
  readonly #clientIp: (req: IncomingMessage) => string
  readonly #unsubscribe: (() => void) | null
  #listener: Server | null = null

  constructor(o: ObservabilityOptions) {
    this.#config = o.config
    this.#clientIp = o.clientIp
    // A silent logger is no logger: nothing is observed for it.
    const log = o.log !== null && o.log.level !== 'silent' ? o.log : null
    this.log = log
    this.#unsubscribe = log === null ? null : o.events.onAny((e) => log.event(e))
    const on = o.config.metrics.token !== null || o.config.metrics.port !== null
    this.metrics = on ? new ServerMetrics({ events: o.events, store: o.store, countUsers: o.countUsers }) : null
    const metrics = this.metrics
    if (metrics === null) this.scrape = null
    else if (cluster.isWorker) this.scrape = workerMetrics(() => metrics.snapshot())
    else this.scrape = async () => writeText(await metrics.snapshot())
  }

  /** True when requests are observed (then the context must track sessions). */
  get active(): boolean {
    return this.log !== null || this.metrics !== null
  }

  /** The store to hand to the engine: timed when metrics are on. */
  store(store: Store): Store {
    return this.metrics === null ? store : this.metrics.timeStore(store)
  }

  /** Wrap the request listener with the access line and the latency histogram. */
  handler(router: Router<AppContext>, inner: (req: IncomingMessage, res: ServerResponse) => void) {
    if (!this.active) return inner
    const log = this.log
    const metrics = this.metrics
    const clientIp = this.#clientIp
    // One listener for every response (`this` is the response), its start time on the response:
    // no closure allocated per request.
    function onClose(this: ObservedResponse): void {
      const seconds = (performance.now() - (this[STARTED] as number)) / 1000
      const req = this.req
      const method = req.method as string
      const found = router.match(method, routingPath(req.url as string))
      const route = found.status === 200 ? found.route : null
      const status = this.statusCode
      metrics?.request(method, route, status, seconds)
      if (log !== null) {
        log.access({
          method,
          route,
          status,
          ms: Math.round(seconds * 1e5) / 100,
          bytes: sentSince(req.socket as SentSocket),
          session: this[SESSION_OF]?.handle ?? null,
          ip: clientIp(req),
        })
      }
    }
    return (req: IncomingMessage, res: ServerResponse): void => {
      ;(res as ObservedResponse)[STARTED] = performance.now()
      // 'close' fires once for every response, finished or cut short (Node ≥ 16); `on` rather
      // than `once` spares the once-wrapper on every request.
      res.on('close', onClose)
      inner(req, res)
    }
  }

  /** Register `GET /metrics` on the public router, when METRICS_TOKEN is set. */
  route(router: Router<AppContext>): void {
    const token = this.#config.metrics.token
    const scrape = this.scrape
    if (token === null || scrape === null) return
    router.get('/metrics', async (ctx) => {
      if (!bearerMatches(ctx.req.headers.authorization, token)) {
        sendJson(ctx.res, 401, { error: 'Metrics need a bearer token' }, { 'WWW-Authenticate': 'Bearer realm="metrics"', 'Cache-Control': 'no-store' })
        return
      }
      await sendMetrics(ctx.res, scrape)
    })
  }

  /** Start the METRICS_PORT listener on loopback (not in a worker: the primary serves it). */
  async listen(): Promise<string | null> {
    const port = this.#config.metrics.port
    const scrape = this.scrape
    if (port === null || scrape === null || cluster.isWorker) return null
    this.#listener = await listenMetrics(port, scrape)
    return `http://127.0.0.1:${(this.#listener.address() as AddressInfo).port}/metrics`
  }

  async close(): Promise<void> {
    this.#unsubscribe?.()
    this.metrics?.close()
    this.log?.flush()
    const listener = this.#listener
    if (listener !== null) {
      listener.closeAllConnections()
      await new Promise((resolve) => listener.close(resolve))
    }
  }
}

/** When the response's request arrived (performance.now()), for its duration. */
const STARTED = Symbol('sessionkit.started')
type ObservedResponse = TrackedResponse & { [STARTED]?: number }

/** What a socket had sent when its previous response closed (keep-alive: many per socket). */
const SENT = Symbol('sessionkit.sent')
type SentSocket = Socket & { [SENT]?: number }

/** Bytes sent on `socket` since its previous response (head and body), read once per response. */
function sentSince(socket: SentSocket): number {
  const total = socket.bytesWritten
  const bytes = total - (socket[SENT] ?? 0)
  socket[SENT] = total
  return bytes
}

async function sendMetrics(res: ServerResponse, scrape: () => Promise<string>): Promise<void> {
  let text: string
  try {
    text = await scrape()
  } catch {
    sendJson(res, 503, { error: 'Metrics unavailable' }, { 'Retry-After': '1', 'Cache-Control': 'no-store' })
    return
  }
  res.writeHead(200, ['Content-Type', CONTENT_TYPE, 'Content-Length', String(Buffer.byteLength(text)), 'Cache-Control', 'no-store'])
  res.end(res.req.method === 'HEAD' ? undefined : text)
}

/**
 * A listener for `/metrics` alone, bound to 127.0.0.1: only this machine (a local Prometheus or
 * an agent) can scrape it, so it needs no token. Everything else is 404.
 */
export async function listenMetrics(port: number, scrape: () => Promise<string>): Promise<Server> {
  const server = createServer((req, res) => {
    const path = routingPath(req.url as string)
    if (path !== '/metrics') sendJson(res, 404, { error: 'Not found' })
    else if (req.method !== 'GET' && req.method !== 'HEAD') sendJson(res, 405, { error: 'Method not allowed' }, { Allow: 'GET, HEAD' })
    else void sendMetrics(res, scrape)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  return server
}
