/**
 * The servers under test: each one its own process (child_process.fork), started on port 0, talking
 * to the harness over IPC (protocol in bench/servers/common.mjs). Redis-backed servers get a key
 * prefix unique to the run, and the harness deletes those keys at the end.
 */
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { pinnedCommand } from './pin.mjs'

const dir = fileURLToPath(new URL('../servers/', import.meta.url))

/** name → entry file, store, and the label printed in tables. Order = order in every round. */
export const SERVERS = {
  bare: { file: 'bare.mjs', store: 'none', label: 'node:http, no session (ceiling)' },
  'sessionkit-memory': { file: 'sessionkit.mjs', store: 'memory', label: 'sessionkit, MemoryStore' },
  'sessionkit-redis': { file: 'sessionkit.mjs', store: 'redis', label: 'sessionkit, RedisStore (ioredis), client cache on' },
  'sessionkit-redis-nocache': { file: 'sessionkit.mjs', store: 'redis', env: { BENCH_CLIENT_CACHE: 'off' }, label: 'sessionkit, RedisStore, client cache off' },
  // The same server with JSON access/audit logs (LOG_LEVEL=info, to /dev/null) and metrics on.
  'sessionkit-memory-observed': { file: 'sessionkit.mjs', store: 'memory', env: { BENCH_OBSERVED: '1' }, label: 'sessionkit, MemoryStore, logs + metrics on' },
  'sessionkit-memory-logs': { file: 'sessionkit.mjs', store: 'memory', env: { BENCH_OBSERVED: 'logs' }, label: 'sessionkit, MemoryStore, logs on' },
  'sessionkit-memory-metrics': { file: 'sessionkit.mjs', store: 'memory', env: { BENCH_OBSERVED: 'metrics' }, label: 'sessionkit, MemoryStore, metrics on' },
  'express-memory': { file: 'express.mjs', store: 'memory', label: 'express 4 + express-session, MemoryStore' },
  'express-redis': { file: 'express.mjs', store: 'redis', label: 'express 4 + express-session, connect-redis 9' },
  'fastify-memory': { file: 'fastify.mjs', store: 'memory', label: 'fastify 5 + @fastify/session, MemoryStore' },
  'fastify-redis': { file: 'fastify.mjs', store: 'redis', label: 'fastify 5 + @fastify/session, connect-redis 9' },
}

/**
 * V8 flags of every server process in a throughput scenario (bare node:http and the peers too),
 * so that a run measures the servers and not two coin tosses V8 makes early in each process:
 *
 * - `--no-allocation-site-pretenuring`: V8 moves an allocation site's objects straight to the old
 *   generation when, at one scavenge, nearly all of them were still alive. The burst of
 *   connection set-up at the start of a load (autocannon opens 50 sockets at once) can make that
 *   so for sites node:http also uses per request (`--trace-pretenuring-statistics`: 9 sites
 *   tenured, ~570 objects each, all alive); from then on each request's garbage is promoted and
 *   the same server costs 25–30 % more CPU per request (bare node:http 10.2 against 13.3 µs,
 *   sessionkit 12.9 against 16.9 µs, in one run of identical processes). Whether it happens
 *   depends on where the scavenges fall, so identical processes differed by that much.
 * - `--min-semi-space-size=16`: the young generation at the size V8 grows it to under sustained
 *   load (16 MiB semi-spaces, Node 20's maximum on 64-bit), instead of wherever each process
 *   settled (4, 8 or 16 MiB were seen).
 *
 * With both, identical processes agree within 2 % (the A/A runs in RESULTS.md).
 */
export const BENCH_V8_FLAGS = ['--no-allocation-site-pretenuring', '--min-semi-space-size=16']

/** The prefix of every Redis key this run writes; `cleanRedis` deletes them. */
export const runPrefix = `bench-${randomBytes(4).toString('hex')}:`
// One secret for every server: ≥ 32 bytes, as sessionkit and @fastify/session both require.
const secret = randomBytes(32).toString('base64url')

/**
 * Start server `name` and resolve once it listens.
 * @param {string} name a key of SERVERS
 * `serverCpus` (bench/lib/pin.mjs): start it under `taskset -c` on those CPUs; `ipc` in stdio
 * gives it the same channel fork() would (taskset execs node in place, the fd is inherited).
 * @param {{ usersFile: string, redisUrl: string, bcryptCost: number, execArgv?: string[], serverCpus?: number[] }} options
 * @returns {Promise<{ name: string, url: string, pid: number, memory(): Promise<NodeJS.MemoryUsage>, stats(): Promise<object | null>, stop(): Promise<void> }>}
 */
export function startServer(name, { usersFile, redisUrl, bcryptCost, execArgv = [], serverCpus }) {
  const spec = SERVERS[name]
  if (spec === undefined) throw new Error(`unknown server ${name}`)
  const [command, argv] = pinnedCommand(serverCpus, [...execArgv, dir + spec.file])
  const child = spawn(command, argv, {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: {
      ...process.env,
      NODE_ENV: 'development',
      BENCH_STORE: spec.store,
      BENCH_USERS_FILE: usersFile,
      BENCH_REDIS_URL: redisUrl,
      BENCH_PREFIX: `${runPrefix}${name}:`,
      SESSION_SECRET: secret,
      BCRYPT_COST: String(bcryptCost),
      ...spec.env,
    },
  })
  const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
  let nextId = 0
  const pending = new Map()
  child.on('message', (msg) => {
    if (msg?.type === 'mem' || msg?.type === 'stats') {
      pending.get(msg.id)?.(msg.type === 'mem' ? msg.mem : msg.stats)
      pending.delete(msg.id)
    }
  })
  const ask = (type) => {
    const id = nextId++
    return new Promise((done) => {
      pending.set(id, done)
      child.send({ type, id })
    })
  }
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`${name} did not start within 30 s`))
    }, 30_000)
    exited.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`${name} exited before listening (code ${code}, signal ${signal})`))
    })
    child.on('message', (msg) => {
      if (msg?.type !== 'ready') return
      clearTimeout(timer)
      resolve({
        name,
        url: msg.url,
        pid: child.pid,
        memory: () => ask('mem'),
        /** The server's store counters (sessionkit on Redis: its client cache), or null. */
        stats: () => ask('stats'),
        async stop() {
          if (child.exitCode !== null || child.signalCode !== null) return
          child.send({ type: 'stop' })
          const killer = setTimeout(() => child.kill('SIGKILL'), 10_000)
          await exited
          clearTimeout(killer)
        },
      })
    })
  })
}

/**
 * CPU time (user + system) process `pid` has used, in seconds, from /proc (Linux: fields 14 and 15
 * of /proc/<pid>/stat, in clock ticks of 1/100 s, USER_HZ on every mainstream Linux), or null
 * elsewhere. Unlike req/s it barely moves when other processes compete for the CPUs.
 */
export async function cpuSecondsOf(pid) {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8')
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return null
  }
}

/** Resident set size of process `pid` in bytes, from /proc (Linux), or null elsewhere. */
export async function rssOf(pid) {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8')
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(status)?.[1]
    return kb === undefined ? null : Number(kb) * 1024
  } catch {
    return null
  }
}

/**
 * The session cookie (`name=value`) from the headers autocannon hands to `onResponse`: an object
 * keyed by the header names as the server wrote them (`Set-Cookie` or `set-cookie`), each value a
 * string or, when repeated, an array. Null when there is none.
 */
export function sessionCookie(headers) {
  for (const name of Object.keys(headers)) if (name.toLowerCase() === 'set-cookie') return cookieFrom(headers[name])
  return null
}

/** The first `name=value` of a Set-Cookie list, or null. */
export function cookieFrom(setCookie) {
  const first = Array.isArray(setCookie) ? setCookie[0] : setCookie
  if (typeof first !== 'string' || first === '') return null
  const semi = first.indexOf(';')
  return semi === -1 ? first : first.slice(0, semi)
}

/**
 * Log in over HTTP and return the session cookie (`name=value`); bare node:http has none, so
 * for it the answer is an empty string. Throws unless the answer is 200.
 */
export async function login(url, user) {
  const res = await fetch(`${url}/login`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ email: user.email, password: user.password }),
  })
  await res.arrayBuffer()
  if (res.status !== 200) throw new Error(`login at ${url} answered ${res.status}`)
  return cookieFrom(res.headers.getSetCookie()) ?? ''
}

/** Check that `GET path` with `cookie` answers 200 (the scenario is valid before it is timed). */
export async function expectOk(url, path, cookie) {
  const res = await fetch(url + path, { headers: cookie ? { cookie } : {} })
  const body = await res.text()
  if (res.status !== 200) throw new Error(`GET ${path} at ${url} answered ${res.status}: ${body.slice(0, 200)}`)
  return body
}

/** Delete every key this run wrote to Redis; resolves to the number deleted. */
export async function cleanRedis(redisUrl) {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 1 })
  try {
    await redis.connect()
    let deleted = 0
    for await (const keys of redis.scanStream({ match: `${runPrefix}*`, count: 1000 })) {
      if (keys.length > 0) deleted += await redis.unlink(...keys)
    }
    return deleted
  } finally {
    redis.disconnect()
  }
}

/** Resolve if Redis answers PING at `redisUrl`, else throw a clear error. */
export async function checkRedis(redisUrl) {
  const redis = new Redis(redisUrl, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  try {
    await redis.connect()
    await redis.ping()
  } catch (err) {
    throw new Error(`Redis is not reachable at ${redisUrl} (${err.message}); start it or pass --redis-url, or leave out the *-redis servers`)
  } finally {
    redis.disconnect()
  }
}
