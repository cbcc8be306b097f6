/**
 * `npm start`: read the configuration, start the auth server (or WORKERS processes of it with
 * node:cluster), and shut down cleanly on SIGTERM/SIGINT: stop accepting, finish in-flight
 * requests, close the store, exit 0 — all within 5 seconds.
 */
import cluster, { type Worker } from 'node:cluster'
import { startServer } from './app.js'
import { ConfigError, loadConfig, type ServerConfig } from './config.js'

/** Whole shutdown budget; in-flight requests get most of it, the store the rest. */
const SHUTDOWN_MS = 5000

const STORE_NAMES = { memory: 'memory store', redis: 'Redis store', cluster: 'Redis Cluster store' } as const

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

async function runServer(config: ServerConfig): Promise<void> {
  const running = await startServer(config)
  const who = cluster.isWorker ? `worker ${process.pid}` : `pid ${process.pid}`
  console.log(`sessionkit auth server listening on ${running.url} (${describe(config)}, ${who})`)
  onSignals(() => {
    // A last-resort timer: whatever hangs, the process is gone within the budget.
    setTimeout(() => process.exit(0), SHUTDOWN_MS - 200).unref()
    running
      .close(SHUTDOWN_MS - 1500)
      /* c8 ignore next -- close() rejects only if the store close() does: log it, still exit 0 */
      .catch((err: unknown) => console.error('sessionkit: error while shutting down:', err))
      .finally(() => process.exit(0))
  })
}

/** A worker that ran at least this long before dying resets the restart back-off. */
const STABLE_MS = 10_000
const MAX_BACKOFF_MS = 10_000

/** The message a worker sends its primary when it cannot start (see main()). */
interface FatalMessage {
  type: 'sessionkit:fatal'
  message: string
}

function isFatal(msg: unknown): msg is FatalMessage {
  return typeof msg === 'object' && msg !== null && (msg as FatalMessage).type === 'sessionkit:fatal'
}

function runPrimary(config: ServerConfig): void {
  // Every worker must sign with the same secret, so a generated one is made here, once.
  process.env.SESSION_SECRET = config.secrets.join(',')
  let stopping = false
  let exitCode = 0
  let crashes = 0
  const startedAt = new Map<Worker, number>()
  const fork = (): void => {
    const worker = cluster.fork()
    startedAt.set(worker, Date.now())
    worker.on('message', (msg: unknown) => {
      if (isFatal(msg)) console.error(`sessionkit: worker ${worker.process.pid} could not start: ${msg.message}`)
    })
  }
  const listened = new WeakSet<Worker>()
  cluster.on('listening', (worker) => listened.add(worker))
  for (let i = 0; i < config.workers; i++) fork()
  cluster.on('exit', (worker, code) => {
    const lived = Date.now() - (startedAt.get(worker) as number)
    startedAt.delete(worker)
    if (stopping) {
      if (workers().length === 0) process.exit(exitCode)
      return
    }
    if (!listened.has(worker)) {
      // It never served: the same configuration would fail again in every worker (a bad
      // USERS_FILE, a port in use). Stop everything, as a single process would.
      stopping = true
      exitCode = 1
      console.error(`sessionkit: worker ${worker.process.pid} failed before listening (exit ${code}); stopping`)
      for (const other of workers()) other.process.kill('SIGTERM')
      setTimeout(() => process.exit(1), SHUTDOWN_MS).unref()
      if (workers().length === 0) process.exit(1)
      return
    }
    // A crash after serving: restart, backing off while crashes come in a row.
    crashes = lived >= STABLE_MS ? 1 : crashes + 1
    const delay = Math.min(100 * 2 ** (crashes - 1), MAX_BACKOFF_MS)
    console.error(`sessionkit: worker ${worker.process.pid} exited (${code}); starting another in ${delay} ms`)
    setTimeout(() => {
      if (!stopping) fork()
    }, delay)
  })
  console.log(`sessionkit: starting ${config.workers} workers (${describe(config)})`)
  onSignals(() => {
    stopping = true
    setTimeout(() => process.exit(0), SHUTDOWN_MS).unref()
    for (const worker of workers()) worker.process.kill('SIGTERM')
  })
}

async function main(): Promise<void> {
  const config = loadConfig(process.env)
  if (cluster.isPrimary && config.generatedSecret) {
    console.warn('sessionkit: warning: SESSION_SECRET is not set; using a random secret, so sessions will not survive a restart')
  }
  if (cluster.isPrimary && config.production && config.usersFile === null) {
    console.warn('sessionkit: warning: NODE_ENV=production and no USERS_FILE: no user can log in (demo users are off in production)')
  }
  if (cluster.isPrimary && config.workers > 1) runPrimary(config)
  else await runServer(config)
}

main().catch((err: unknown) => {
  if (err instanceof ConfigError) console.error(`sessionkit: configuration error: ${err.message}`)
  else console.error('sessionkit: failed to start:', err)
  if (cluster.isWorker && process.send !== undefined) {
    // Tell the primary why, then exit once the message is out.
    const message = err instanceof Error ? err.message : String(err)
    process.send({ type: 'sessionkit:fatal', message } satisfies FatalMessage, () => process.exit(1))
    return
  }
  process.exit(1)
})
