/**
 * Assemble the auth server from its configuration: store, session manager, users, throttle,
 * router, page; and start/stop it.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createDummyHash } from '../auth/password.js'
import { SecurityEvents } from '../events.js'
import { LoginThrottle } from '../auth/throttle.js'
import { clientIp } from '../http.js'
import { createSessionManager, type SessionManager } from '../manager.js'
import { Router } from '../router.js'
import type { Store } from '../store.js'
import { MemoryStore } from '../stores/memory.js'
import { RedisStore } from '../stores/redis.js'
import type { ServerConfig, StoreConfig } from './config.js'
import { contextFactory, type AppContext } from './context.js'
import { registerPage } from './page.js'
import { registerRoutes } from './routes.js'
import { UserCache } from '../users/cache.js'
import type { UserStore } from '../users/store.js'
import type { Logger } from './log.js'
import { Observability } from './observability.js'
import { openUsers } from './users.js'

export interface AppOverrides {
  /** Use this store instead of the one the config names (tests). */
  store?: Store
  /** Use these users instead of the ones the config names (tests); closed with the server. */
  users?: UserStore
  /** Where start-up notes go (the users import). Default: console.log. */
  log?: (line: string) => void
  /** Session manager clock (tests). */
  now?: () => number
  /** Write access and audit lines here (`npm start` passes one built from LOG_LEVEL). Default: none. */
  logger?: Logger
}

export interface RunningServer {
  url: string
  port: number
  server: Server
  sessions: SessionManager
  /** The METRICS_PORT listener's URL, or null. */
  metricsUrl: string | null
  /** Stop accepting, let in-flight requests finish (up to `graceMs`), close the store. */
  close(graceMs?: number): Promise<void>
}

export function createStore(config: StoreConfig, prefix = 'sk:'): Store {
  switch (config.kind) {
    case 'memory':
      return new MemoryStore()
    case 'redis':
      return new RedisStore({ url: config.url, prefix })
    case 'cluster':
      return new RedisStore({ clusterNodes: config.nodes, prefix })
  }
}

/** Build the request handler and everything behind it. */
export async function createApp(config: ServerConfig, overrides: AppOverrides = {}) {
  const configured = overrides.store ?? createStore(config.store, config.redisPrefix)
  const events = new SecurityEvents(overrides.now ? { now: overrides.now } : {})
  const ip = (req: IncomingMessage) => clientIp(req, { trustProxy: config.trustProxy })
  // Read at scrape time only, after the users are loaded below.
  let users: UserCache
  const observed = new Observability({
    config,
    events,
    store: configured,
    log: overrides.logger ?? null,
    clientIp: ip,
    countUsers: () => users.store.count(),
  })
  const store = observed.store(configured)
  const sessions = createSessionManager({
    secrets: config.secrets,
    store,
    events,
    // RFC 6265bis §4.1.3.2: `__Host-` pins the cookie to this host, path /, Secure, no Domain —
    // a sibling subdomain cannot overwrite it (cookie tossing).
    cookie: config.production ? { name: '__Host-sid', secure: true } : { name: 'sid' },
    clientIp: ip,
    ...config.timeouts,
    ...(overrides.now ? { now: overrides.now } : {}),
  })
  // Users live where sessions live: in Redis when sessions do (one truth for every process).
  const redisClient = configured instanceof RedisStore && overrides.store === undefined ? configured.client : undefined
  const [loaded, dummyHash] = await Promise.all([
    overrides.users !== undefined
      ? new UserCache(overrides.users)
      : openUsers(config, { ...(redisClient ? { redisClient } : {}), ...(overrides.log ? { log: overrides.log } : {}) }),
    createDummyHash(config.bcryptCost),
  ]).catch(async (err: unknown) => {
    await observed.close()
    await sessions.close()
    throw err
  })
  users = loaded
  const router = new Router<AppContext>({ createContext: contextFactory(sessions, observed.active) })
  registerPage(router)
  observed.route(router)
  registerRoutes(router, {
    sessions,
    users,
    throttle: new LoginThrottle(store),
    dummyHash,
    bcryptCost: config.bcryptCost,
    trustProxy: config.trustProxy,
    storeKind: store.kind,
  })
  return { router, sessions, users, observed, handler: observed.handler(router, router.handler()) }
}

/** The URL to print for a server listening on `host:port` (a wildcard address → loopback). */
export function serverUrl(host: string, port: number): string {
  if (host === '0.0.0.0' || host === '::') host = '127.0.0.1'
  return `http://${host.includes(':') ? `[${host}]` : host}:${port}`
}

/** Create the app and listen on `config.host:config.port`. */
export async function startServer(config: ServerConfig, overrides: AppOverrides = {}): Promise<RunningServer> {
  const app = await createApp(config, overrides)
  const server = createServer(app.handler)
  app.observed.metrics?.watchServer(server)
  // Bound slow clients: headers within 10 s, the whole request within 30 s (slowloris).
  server.headersTimeout = 10_000
  server.requestTimeout = 30_000
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(config.port, config.host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const { port } = server.address() as AddressInfo
  const metricsUrl = await app.observed.listen().catch(async (err: unknown) => {
    server.close()
    await app.sessions.close()
    throw err
  })
  let closing: Promise<void> | null = null
  return {
    url: serverUrl(config.host, port),
    port,
    server,
    sessions: app.sessions,
    metricsUrl,
    close(graceMs = 4000) {
      closing ??= (async () => {
        const drained = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeIdleConnections()
        const timer = setTimeout(() => server.closeAllConnections(), graceMs)
        timer.unref()
        await drained
        clearTimeout(timer)
        await app.observed.close()
        await app.sessions.close()
        await app.users.close()
      })()
      return closing
    },
  }
}
