/**
 * `npm start`: read the configuration, start the auth server (or WORKERS processes of it with
 * node:cluster), and shut down cleanly on SIGTERM/SIGINT: stop accepting, finish in-flight
 * requests, close the store, exit 0 — all within 5 seconds.
 */
import cluster, { type Worker } from 'node:cluster'
import type { AddressInfo } from 'node:net'
import { performance } from 'node:perf_hooks'
import { inspect } from 'node:util'
import { startServer } from './app.js'
import { ConfigError, loadConfig, redactCredentials, type ServerConfig } from './config.js'
import { Logger } from './log.js'
import { ClusterMetrics } from './metrics-cluster.js'
import { listenMetrics } from './observability.js'

/** Whole shutdown budget; in-flight requests get most of it, the store the rest. */
const SHUTDOWN_MS = 5000

const STORE_NAMES = { memory: 'memory store', redis: 'Redis store', cluster: 'Redis Cluster store', sentinel: 'Redis Sentinel store' } as const

function describe(config: ServerConfig): string {
  return STORE_NAMES[config.store.kind]
}

/** The live workers (only called in the primary, where `cluster.workers` is always set). */
function workers(): Worker[] {
  return Object.values(cluster.workers as NodeJS.Dict<Worker>) as Worker[]
}

function onSignals(handler: (signal: string) => void): void {
  for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => handler(signal))
}

/** The process's log on stdout (LOG_LEVEL=silent writes nothing). Pending lines are written at exit. */
function createLog(config: ServerConfig): Logger {
  // With workers, the primary and every worker write to one inherited stdout: atomic pieces.
  const log = new Logger({ ...config.log, atomic: config.workers > 1 })
  process.on('exit', () => log.flush())
  return log
}

async function runServer(config: ServerConfig): Promise<void> {
  const log = createLog(config)
  const running = await startServer(config, { logger: log, log: (line) => log.log('info', line) })
  const who = cluster.isWorker ? `worker ${process.pid}` : `pid ${process.pid}`
  // The address actually bound (0.0.0.0 in production means every interface, not loopback).
  log.log('info', `sessionkit auth server listening on ${running.boundUrl} (${describe(config)}, ${who})`, { url: running.boundUrl })
  if (running.metricsUrl !== null) log.log('info', `metrics on ${running.metricsUrl}`, { url: running.metricsUrl })
  onSignals(() => {
    // A last-resort timer: whatever hangs, the process is gone within the budget.
    setTimeout(() => process.exit(0), SHUTDOWN_MS - 200).unref()
    const deadline = performance.now() + SHUTDOWN_MS - 400
    running
      .close(SHUTDOWN_MS - 1500)
      /* c8 ignore next -- close() rejects only if the store close() does: log it, still exit 0 */
      .catch((err: unknown) => console.error(`sessionkit: error while shutting down: ${redactCredentials(inspect(err))}`))
      // process.exit() drops what stdout still holds (its reader is behind): let the log out first.
      .then(() => log.drained(deadline - performance.now()))
      .finally(() => process.exit(0))
  })
}

/** Each STABLE_MS a worker ran before dying pays one crash off the restart back-off. */
const STABLE_MS = 10_000
const MAX_BACKOFF_MS = 10_000

/** A worker's message saying why it could not start (see main()); the others are metrics'. */
interface FatalMessage {
  type: 'sessionkit:fatal'
  message: string
}

async function runPrimary(config: ServerConfig): Promise<void> {
  const log = createLog(config)
  // Every worker must sign with the same secret, so a generated one is made here, once.
  process.env.SESSION_SECRET = config.secrets.join(',')
  const on = config.metrics.token !== null || config.metrics.port !== null
  // Workers' numbers are merged here: a scrape must never show one random worker.
  const metrics = on ? new ClusterMetrics() : null
  if (metrics !== null && config.metrics.port !== null) {
    const server = await listenMetrics(config.metrics.port, () => metrics.text())
    const { port } = server.address() as AddressInfo
    log.log('info', `metrics on http://127.0.0.1:${port}/metrics (all workers)`, { url: `http://127.0.0.1:${port}/metrics` })
  }
  let stopping = false
  let exitCode = 0
  let crashes = 0
  const startedAt = new Map<Worker, number>()
  /** Restarts waiting out their back-off: cancelled when the server stops. */
  const pending = new Set<NodeJS.Timeout>()
  const fork = (): void => {
    const worker = cluster.fork()
    startedAt.set(worker, Date.now())
    worker.on('message', (msg: FatalMessage) => {
      if (msg?.type !== 'sessionkit:fatal') return
      console.error(`sessionkit: worker ${worker.process.pid} could not start: ${msg.message}`)
    })
  }
  const stop = (code: number): void => {
    stopping = true
    exitCode = code
    pending.forEach(clearTimeout)
    setTimeout(() => process.exit(code), SHUTDOWN_MS).unref()
    for (const worker of workers()) worker.process.kill('SIGTERM')
  }
  const listened = new WeakSet<Worker>()
  cluster.on('listening', (worker) => listened.add(worker))
  for (let i = 0; i < config.workers; i++) fork()
  cluster.on('exit', (worker, code) => {
    const lived = Date.now() - (startedAt.get(worker) as number)
    startedAt.delete(worker)
    if (stopping) {
      if (workers().length === 0) void log.drained(1000).then(() => process.exit(exitCode))
      return
    }
    if (!listened.has(worker)) {
      // It never served: the same configuration would fail again in every worker (a bad
      // USERS_FILE, a port in use). Stop everything with exit 1, as a single process would. (The
      // other workers are still listed: a worker leaves cluster.workers at its own 'exit'.)
      console.error(`sessionkit: worker ${worker.process.pid} failed before listening (exit ${code}); stopping`)
      stop(1)
      return
    }
    // A crash after serving: restart, backing off while crashes come in a row (each STABLE_MS
    // the worker lived pays one crash off).
    crashes = Math.max(0, crashes - Math.floor(lived / STABLE_MS)) + 1
    const delay = Math.min(100 * 2 ** (crashes - 1), MAX_BACKOFF_MS)
    console.error(`sessionkit: worker ${worker.process.pid} exited (${code}); starting another in ${delay} ms`)
    const timer = setTimeout(() => {
      pending.delete(timer)
      fork()
    }, delay)
    pending.add(timer)
  })
  log.log('info', `sessionkit: starting ${config.workers} workers (${describe(config)})`)
  onSignals(() => stop(0))
}

async function main(): Promise<void> {
  const config = loadConfig(process.env)
  if (cluster.isPrimary && config.generatedSecret) {
    console.warn('sessionkit: warning: SESSION_SECRET is not set; using a random secret, so sessions will not survive a restart')
  }
  if (cluster.isPrimary && config.production && config.usersFile === null) {
    console.warn('sessionkit: warning: NODE_ENV=production and no USERS_FILE: no user can log in (demo users are off in production)')
  }
  if (cluster.isPrimary && config.workers > 1) await runPrimary(config)
  else await runServer(config)
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`sessionkit: configuration error: ${err.message}`)
  // An error from the Redis client may quote its URL: no password in the log.
  else console.error(`sessionkit: failed to start: ${redactCredentials(inspect(err))}`)
  if (cluster.isWorker) {
    // Tell the primary why (a worker always has the IPC channel), then exit once it is out.
    const send = process.send as (msg: FatalMessage, done: () => void) => boolean
    send.call(process, { type: 'sessionkit:fatal', message: redactCredentials((err as Error).message) }, () => process.exit(1))
    return
  }
  process.exit(1)
})
