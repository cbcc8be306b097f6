/**
 * What every bench server shares, so that the servers differ only in their session machinery:
 *
 * - the users (BENCH_USERS_FILE, the same JSON array sessionkit reads as USERS_FILE), checked with
 *   sessionkit's own `verifyPassword`, so a login costs every server the same bcrypt work;
 * - the public asset (`GET /assets/app.css`): the same bytes and headers as sessionkit's page.ts;
 * - the JSON bodies of /dashboard, /cart and the errors;
 * - the protocol with the harness (bench/lib/servers.mjs), over the fork() IPC channel:
 *   the server sends `{ type: 'ready', url }` once listening; it answers `{ type: 'mem' }` with
 *   `process.memoryUsage()` and `{ type: 'stats' }` with its store's counters (or null); `{ type: 'stop' }`, SIGTERM, SIGINT or a lost parent close it and
 *   exit 0 — a normal exit, so `node --cpu-prof` writes its profile.
 */
import { RedisStore } from 'connect-redis'
import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { createClient } from 'redis'
import { APP_CSS } from '../../dist/server/assets/app-css.js'
import { PAGE_CSP } from '../../dist/server/page.js'

export { verifyPassword } from '../../dist/auth/password.js'

/** Same limit as sessionkit's routes.ts: a cart holds at most 100 items. */
export const MAX_CART_ITEMS = 100
/** A day, the sessionkit default idle timeout; peers get it as their cookie maxAge. */
export const DAY_MS = 86_400_000

/** The users of this run: `{ byId, byEmail }` Maps of `{ id, email, name, role, passwordHash }`. */
export function loadUsers() {
  const list = JSON.parse(readFileSync(required('BENCH_USERS_FILE'), 'utf8'))
  return {
    byId: new Map(list.map((u) => [u.id, u])),
    byEmail: new Map(list.map((u) => [u.email, u])),
  }
}

/**
 * The peers' store for BENCH_STORE=redis: connect-redis 9 on a node-redis client (it speaks
 * `redis`, not ioredis). `{ store: undefined, redis: null }` selects each framework's MemoryStore.
 */
export async function peerStore() {
  if (required('BENCH_STORE') !== 'redis') return { store: undefined, redis: null }
  const redis = createClient({ url: required('BENCH_REDIS_URL') })
  await redis.connect()
  return { store: new RedisStore({ client: redis, prefix: required('BENCH_PREFIX') }), redis }
}

/** The environment variable `name`, or exit with a message. */
export function required(name) {
  const value = process.env[name]
  if (value === undefined || value === '') {
    console.error(`bench server: ${name} is not set`)
    process.exit(1)
  }
  return value
}

/** Bodies, identical across servers. */
export const bodies = {
  dashboard: (user) => ({ message: 'Welcome to dashboard', userId: user.id, email: user.email }),
  login: (user) => ({ message: 'Logged in successfully', user: { id: user.id, email: user.email, name: user.name } }),
  logout: { message: 'Logged out successfully' },
  unauthenticated: { error: 'Not authenticated' },
  invalid: { error: 'Invalid credentials' },
  cartFull: { error: `a cart holds at most ${MAX_CART_ITEMS} items` },
  badItem: { error: 'item must be a string' },
}

/** `GET /assets/app.css` as sessionkit's lib/server/page.ts serves it: same body, same headers. */
export const css = (() => {
  const body = Buffer.from(APP_CSS, 'utf8')
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`
  return {
    body,
    headers: {
      'Content-Security-Policy': PAGE_CSP,
      'X-Content-Type-Options': 'nosniff',
      'Referrer-Policy': 'no-referrer',
      'X-Frame-Options': 'DENY',
      'Cache-Control': 'no-cache',
      ETag: etag,
      'Content-Type': 'text/css; charset=utf-8',
      'Content-Length': body.length,
    },
  }
})()

/**
 * Tell the harness we listen on `url`, and wire up memory and stats queries and shutdown. `close`
 * stops the server and its store; it gets 5 s, then the process exits anyway. `stats` answers the
 * harness's `stats` query (sessionkit: the RedisStore client cache's counters).
 */
export function announce(url, close, stats = () => null) {
  let stopping = false
  const stop = () => {
    if (stopping) return
    stopping = true
    setTimeout(() => process.exit(0), 5000).unref()
    Promise.resolve()
      .then(close)
      .catch((err) => console.error('bench server: error while closing:', err))
      .finally(() => process.exit(0))
  }
  process.on('message', (msg) => {
    if (msg?.type === 'mem') process.send?.({ type: 'mem', id: msg.id, mem: process.memoryUsage() })
    else if (msg?.type === 'stats') process.send?.({ type: 'stats', id: msg.id, stats: stats() })
    else if (msg?.type === 'stop') stop()
  })
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
  process.once('disconnect', stop)
  process.send?.({ type: 'ready', url })
}
