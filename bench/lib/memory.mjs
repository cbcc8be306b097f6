/**
 * Scenarios "memory" and "soak".
 *
 * memory: heap bytes per session in MemoryStore, by bench/memory-footprint.ts (run as it documents:
 *   `node --expose-gc` with the TypeScript loader tap ships), for anonymous sessions and sessions
 *   bound to a user. Target ≤ 1 KB per session.
 * soak: one server under a mixed load — each connection loops: log in, 50 × GET /dashboard,
 *   GET /cart, 10 × POST /cart, POST /logout — while the harness samples the server's RSS (from
 *   /proc) and heap (over IPC) every second. Target: after the warm-up, every RSS sample within
 *   ±10 % of their median (no growth: logged-out sessions are really gone).
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { cannon, summarize } from './load.mjs'
import { rssOf, sessionCookie, startServer } from './servers.mjs'

const root = fileURLToPath(new URL('../../', import.meta.url))

/** Bytes per session at `count` sessions: `[{ label, sessions, users, bytesPerSession }]`. */
export async function runFootprint(count, log) {
  log(`memory: MemoryStore footprint at ${count} sessions (bench/memory-footprint.ts)`)
  const { stdout } = await promisify(execFile)(
    process.execPath,
    ['--expose-gc', '--import=@isaacs/ts-node-temp-fork-for-pr-2009/import', 'bench/memory-footprint.ts', String(count)],
    { cwd: root, maxBuffer: 1 << 20 },
  )
  const rows = [...stdout.matchAll(/^(.+): (\d+) sessions, (\d+) users, (\d+) bytes\/session$/gm)].map((m) => ({
    label: m[1],
    sessions: Number(m[2]),
    users: Number(m[3]),
    bytesPerSession: Number(m[4]),
  }))
  if (rows.length === 0) throw new Error(`memory-footprint.ts printed nothing usable:\n${stdout}`)
  return { count, rows }
}

function soakRequests(users) {
  let next = 0
  const json = { 'content-type': 'application/json' }
  const withCookie = (req, context) => (context.cookie ? { ...req, headers: { ...req.headers, cookie: context.cookie } } : req)
  const keepCookie = (status, body, context, headers) => {
    context.cookie = sessionCookie(headers) ?? context.cookie
  }
  const loginReq = {
    method: 'POST',
    path: '/login',
    headers: json,
    setupRequest: (req) => {
      const user = users[next++ % users.length]
      return { ...req, body: JSON.stringify({ email: user.email, password: user.password }) }
    },
    onResponse: keepCookie,
  }
  const get = (path) => ({ method: 'GET', path, setupRequest: withCookie, onResponse: keepCookie })
  const cart = { method: 'POST', path: '/cart', headers: json, body: '{"item":"soak-item"}', setupRequest: withCookie, onResponse: keepCookie }
  const logout = { method: 'POST', path: '/logout', setupRequest: withCookie }
  return [
    loginReq,
    ...Array.from({ length: 50 }, () => get('/dashboard')),
    get('/cart'),
    ...Array.from({ length: 10 }, () => cart),
    logout,
  ]
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

/**
 * @param {object} o options: server, users, usersFile, redisUrl, bcryptCost, soakSeconds,
 *   soakWarmup, soakConnections, log
 */
export async function runSoak(o) {
  const server = await startServer(o.server, o)
  try {
    o.log(`soak: ${o.server}, ${o.soakConnections} connections, ${o.soakSeconds} s, sampling every second`)
    const samples = []
    const started = performance.now()
    const sampler = setInterval(async () => {
      const t = (performance.now() - started) / 1000
      const [rss, mem] = await Promise.all([rssOf(server.pid), server.memory()])
      samples.push({ t, rss: rss ?? mem.rss, heapUsed: mem.heapUsed })
    }, 1000)
    let result
    try {
      result = await cannon({
        url: server.url,
        requests: soakRequests(o.users.slice(0, 2 * o.soakConnections)),
        connections: o.soakConnections,
        duration: o.soakSeconds,
        timeout: 30,
      })
    } finally {
      clearInterval(sampler)
    }
    const load = summarize(result)
    const steady = samples.filter((s) => s.t > o.soakWarmup)
    const rssMedian = median(steady.map((s) => s.rss))
    const deviations = steady.map((s) => s.rss / rssMedian - 1)
    const maxDeviation = Math.max(...deviations.map(Math.abs))
    const tail = (xs, n) => xs.slice(-n)
    const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length
    const window = Math.max(1, Math.min(10, Math.floor(steady.length / 3)))
    return {
      server: o.server,
      seconds: o.soakSeconds,
      warmup: o.soakWarmup,
      connections: o.soakConnections,
      load,
      samples,
      rssMedian,
      rssMin: Math.min(...steady.map((s) => s.rss)),
      rssMax: Math.max(...steady.map((s) => s.rss)),
      maxDeviation,
      // Growth from the first to the last `window` seconds after the warm-up: a leak shows here
      // even when it stays inside ±10 %.
      rssDrift: mean(tail(steady, window).map((s) => s.rss)) / mean(steady.slice(0, window).map((s) => s.rss)) - 1,
      heapDrift: mean(tail(steady, window).map((s) => s.heapUsed)) / mean(steady.slice(0, window).map((s) => s.heapUsed)) - 1,
      flat: steady.length > 0 && maxDeviation <= 0.1,
      valid: load.valid && steady.length > 0,
    }
  } finally {
    await server.stop()
  }
}
