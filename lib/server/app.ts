/**
 * Assemble the auth server from its configuration: store, session manager, users, throttle,
 * router, page; and start/stop it.
 */
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createDummyHash } from '../auth/password.js'
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
}

export interface RunningServer {
  url: string
  port: number
  server: Server
  sessions: SessionManager
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
  const store = overrides.store ?? createStore(config.store, config.redisPrefix)
  const sessions = createSessionManager({
    secrets: config.secrets,
    store,
    // RFC 6265bis §4.1.3.2: `__Host-` pins the cookie to this host, path /, Secure, no Domain —
    // a sibling subdomain cannot overwrite it (cookie tossing).
    cookie: config.production ? { name: '__Host-sid', secure: true } : { name: 'sid' },
    clientIp: (req) => clientIp(req, { trustProxy: config.trustProxy }),
    ...config.timeouts,
    ...config.sessionLimit,
    ...(overrides.now ? { now: overrides.now } : {}),
  })
  // Users live where sessions live: in Redis when sessions do (one truth for every process).
  const redisClient = store instanceof RedisStore && overrides.store === undefined ? store.client : undefined
  const [users, dummyHash] = await Promise.all([
    overrides.users !== undefined
      ? new UserCache(overrides.users)
      : openUsers(config, { ...(redisClient ? { redisClient } : {}), ...(overrides.log ? { log: overrides.log } : {}) }),
    createDummyHash(config.bcryptCost),
  ]).catch(async (err: unknown) => {
    await sessions.close()
    throw err
  })
  const router = new Router<AppContext>({ createContext: contextFactory(sessions) })
  registerPage(router)
  registerRoutes(router, {
    sessions,
    users,
    throttle: new LoginThrottle(store),
    dummyHash,
    bcryptCost: config.bcryptCost,
    trustProxy: config.trustProxy,
    storeKind: store.kind,
    reauthMaxAgeMs: config.reauthMaxAgeMs,
  })
  return { router, sessions, users, handler: router.handler() }
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
  let closing: Promise<void> | null = null
  return {
    url: serverUrl(config.host, port),
    port,
    server,
    sessions: app.sessions,
    close(graceMs = 4000) {
      closing ??= (async () => {
        const drained = new Promise<void>((resolve) => server.close(() => resolve()))
        server.closeIdleConnections()
        const timer = setTimeout(() => server.closeAllConnections(), graceMs)
        timer.unref()
        await drained
        clearTimeout(timer)
        await app.sessions.close()
        await app.users.close()
      })()
      return closing
    },
  }
}
