/**
 * Assemble the auth server from its configuration: store, session manager, users, throttle,
 * router, page; and start/stop it.
 */
import { createServer, type IncomingMessage, type RequestListener, type Server } from 'node:http'
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
import { anonymousSessionLimit } from './anonymous-limit.js'
import type { HardeningConfig } from './config-hardening.js'
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
  /** A URL to reach the server (a wildcard address is replaced by loopback). */
  url: string
  /** The address actually bound, e.g. `http://0.0.0.0:3000` (every IPv4 interface). */
  boundUrl: string
  port: number
  server: Server
  sessions: SessionManager
  /** The METRICS_PORT listener's URL, or null. */
  metricsUrl: string | null
  /** Stop accepting, let in-flight requests finish (up to `graceMs`), close the store. */
  close(graceMs?: number): Promise<void>
}

export function createStore(config: StoreConfig, prefix = 'sk:', memory: HardeningConfig['memory'] = {}): Store {
  switch (config.kind) {
    case 'memory':
      return new MemoryStore(memory)
    case 'redis':
      return new RedisStore({ url: config.url, prefix, ...(config.clientCache === false ? { clientCache: false } : {}) })
    case 'cluster':
      return new RedisStore({ clusterNodes: config.nodes, prefix, ...(config.clientCache === false ? { clientCache: false } : {}) })
    case 'sentinel':
      return new RedisStore({ sentinel: config.sentinel, prefix, ...(config.clientCache === false ? { clientCache: false } : {}) })
  }
}

/** Build the request handler and everything behind it. */
export async function createApp(config: ServerConfig, overrides: AppOverrides = {}) {
  const h = config.hardening
  const configured = overrides.store ?? createStore(config.store, config.redisPrefix, h.memory)
  const events = new SecurityEvents(overrides.now ? { now: overrides.now } : {})
  const ipOptions = { trustProxy: config.trustProxy }
  const ip = (req: IncomingMessage) => clientIp(req, ipOptions)
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
    // a sibling subdomain cannot overwrite it (cookie tossing). `__Host-Http-sid` (layered
    // cookies draft) also tells the browser no script may ever set it.
    cookie: config.production ? { name: h.cookieName, secure: true } : { name: h.cookieName },
    clientIp: ip,
    admitAnonymous: anonymousSessionLimit(store, { ...h.anonymousSessions, clientIp: ip }),
    ...config.timeouts,
    ...config.sessionLimit,
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
  const observe = observed.observer()
  const router = new Router<AppContext>({
    createContext: contextFactory(sessions, { publicOrigins: h.publicOrigins, trustForwardedHost: h.trustForwardedHost }),
    ...(observe === undefined ? {} : { observe }),
  })
  registerPage(router)
  observed.route(router)
  registerRoutes(router, {
    sessions,
    users,
    throttle: new LoginThrottle(store, h.login),
    clearSiteData: h.clearSiteCookies ? '"cache", "storage", "cookies"' : '"cache", "storage"',
    dummyHash,
    bcryptCost: config.bcryptCost,
    trustProxy: config.trustProxy,
    storeKind: store.kind,
    reauthMaxAgeMs: config.reauthMaxAgeMs,
  })
  const handler = router.handler()
  return { router, sessions, users, observed, handler: config.production ? withHsts(handler, h.hstsIncludeSubdomains) : handler }
}

/**
 * HSTS on every response in production (RFC 6797; OWASP HTTP Headers Cheat Sheet): one year, so
 * a browser that has seen the site once never again tries it over plain HTTP, where a network
 * attacker could strip TLS and read the session cookie. `includeSubDomains` only when asked: it
 * breaks any plain-HTTP service on a subdomain.
 */
function withHsts(handler: RequestListener, includeSubdomains: boolean): RequestListener {
  const value = `max-age=31536000${includeSubdomains ? '; includeSubDomains' : ''}`
  return (req, res) => {
    res.setHeader('Strict-Transport-Security', value)
    handler(req, res)
  }
}

/** The URL of the address a server is bound to, as is (a wildcard stays a wildcard). */
export function boundUrl(address: AddressInfo): string {
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  return `http://${host}:${address.port}`
}

/** A URL to reach a server listening on `host:port` (a wildcard address → loopback). */
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
  const address = server.address() as AddressInfo
  const { port } = address
  const metricsUrl = await app.observed.listen().catch(async (err: unknown) => {
    server.close()
    await app.sessions.close()
    throw err
  })
  let closing: Promise<void> | null = null
  return {
    url: serverUrl(config.host, port),
    boundUrl: boundUrl(address),
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
