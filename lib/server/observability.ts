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
import { performance } from 'node:perf_hooks' // not the global: see lib/router.ts
import type { SecurityEvents } from '../events.js'
import { sendJson } from '../http.js'
import { CONTENT_TYPE, writeText } from '../metrics/exposition.js'
import { routingPath, type Router, type RouterOptions } from '../router.js'
import type { Store } from '../store.js'
import type { ServerConfig } from './config.js'
import type { AppContext } from './context.js'
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

  /** True when requests are observed (access lines or request metrics). */
  get active(): boolean {
    return this.log !== null || this.metrics !== null
  }

  /** The store to hand to the engine: timed when metrics are on. */
  store(store: Store): Store {
    return this.metrics === null ? store : this.metrics.timeStore(store)
  }

  /**
   * The router's `observe` hook (lib/router.ts): the access line and the latency histogram of each
   * request, recorded when its handler has replied. The router passes the route it matched and
   * the context holding the session, so nothing is matched again, no listener is added to the
   * response and no property to it (a response object that keeps one hidden class keeps node's
   * own code fast). A reply still on its way when the handler returned (a handler that did not
   * wait for it) is recorded when the response closes instead.
   */
  observer(): RouterOptions<AppContext>['observe'] {
    if (!this.active) return undefined
    const log = this.log
    const metrics = this.metrics
    const clientIp = this.#clientIp
    // Without TRUST_PROXY the client address is the socket's peer (lib/http.ts clientIp), the same
    // for every request on a connection: read once per connection. With it, each request's own
    // X-Forwarded-For counts, read per request.
    const perRequestIp = this.#config.trustProxy
    const record = (req: IncomingMessage, res: ServerResponse, route: string | null, startedAt: number, ctx: AppContext | null): void => {
      const end = performance.now()
      const seconds = (end - startedAt) / 1000
      const method = req.method as string
      const status = res.statusCode
      metrics?.request(method, route, status, seconds)
      if (log === null) return
      const socket = req.socket
      let conn = connections.get(socket)
      if (conn === undefined) connections.set(socket, (conn = { sent: 0, ip: perRequestIp ? '' : clientIp(req) }))
      // What the socket has sent since the previous response on it (keep-alive), head and body.
      const sent = socket.bytesWritten
      const bytes = sent - conn.sent
      conn.sent = sent
      log.access({
        method,
        route,
        status,
        ms: Math.round(seconds * 1e5) / 100,
        bytes,
        session: ctx?.loadedSession?.handle ?? null,
        ip: perRequestIp ? clientIp(req) : conn.ip,
        at: end,
      })
    }
    return (req, res, route, startedAt, ctx) => {
      if (res.writableEnded) record(req, res, route, startedAt, ctx)
      else res.once('close', () => record(req, res, route, startedAt, ctx))
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

/** What an access line needs of a connection, kept from one response on it to the next. */
interface Connection {
  /** `socket.bytesWritten` when its previous response was recorded. */
  sent: number
  /** The client address (when it is the socket's peer; '' with TRUST_PROXY). */
  ip: string
}

/**
 * Each connection's {@link Connection}, found with one lookup a request. Kept in a WeakMap, never
 * as a property of the socket: a property added to node's sockets after they are built gives them
 * a second hidden class, which node:http's own code then meets on every request. A closed socket's
 * entry goes with the socket. Per process: a connection is served by one process only.
 */
const connections = new WeakMap<Socket, Connection>()

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
