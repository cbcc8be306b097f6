/**
 * sessionkit's auth server as `npm start` runs it (lib/server/app.ts `startServer` with the
 * configuration read by `loadConfig`), on port 0. The only difference: with BENCH_STORE=redis the
 * store is built here, because the key prefix (unique per run, so runs never share keys) is not an
 * environment setting, and the per-client limit on new anonymous sessions is off: the cart
 * scenario opens thousands of anonymous sessions a second from one loopback client, which is
 * exactly the flood that limit refuses (SECURITY.md §2.1); the bench measures the engine.
 *
 * Environment: BENCH_STORE (memory | redis), BENCH_REDIS_URL, BENCH_PREFIX, BENCH_USERS_FILE,
 * SESSION_SECRET, BCRYPT_COST, BENCH_CLIENT_CACHE (off: no client-side cache on Redis).
 * BENCH_OBSERVED=1: what an operator runs — JSON access and audit lines
 * at LOG_LEVEL=info, written to /dev/null the way `npm start > /dev/null` writes them (synchronous
 * writes to a file), and metrics on (METRICS_TOKEN), so every request is timed and counted.
 * BENCH_OBSERVED=logs or =metrics turns on one half only (servers sessionkit-memory-logs and
 * sessionkit-memory-metrics), to see which half costs what.
 * BENCH_CALLGRIND=1 (bench/instructions.mjs, under valgrind, ~50× slower): the clock-paced work is
 * scaled back to what it is per request at full speed — `performance.now()` runs 50× slower, log
 * lines are written by size only, the event-loop delay monitor (a 10 ms timer) is left out.
 */
import { openSync } from 'node:fs'
import { syncBuiltinESMExports } from 'node:module'
import perfHooks from 'node:perf_hooks'
import { startServer } from '../../dist/server/app.js'
import { loadConfig } from '../../dist/server/config.js'
import { Logger } from '../../dist/server/log.js'
import { RedisStore } from '../../dist/stores/redis.js'
import { announce, required } from './common.mjs'

const kind = required('BENCH_STORE')
const callgrind = process.env.BENCH_CALLGRIND === '1'
if (callgrind) {
  const now = performance.now.bind(performance)
  performance.now = () => now() / 50
  perfHooks.monitorEventLoopDelay = () => ({ enable() {}, disable() {}, reset() {}, percentile: () => 0 })
  syncBuiltinESMExports()
}
// BENCH_OBSERVED=1 is both; `logs` or `metrics` is one half (to see which costs what).
const observed = new Set(process.env.BENCH_OBSERVED === '1' ? ['logs', 'metrics'] : (process.env.BENCH_OBSERVED ?? '').split(',').filter(Boolean))
const config = loadConfig({
  ...process.env,
  PORT: '0',
  HOST: '127.0.0.1',
  USERS_FILE: required('BENCH_USERS_FILE'),
  REDIS_URL: '',
  REDIS_CLUSTER_NODES: '',
  REDIS_SENTINELS: '',
  WORKERS: '1',
  ANON_SESSION_LIMIT: '0',
  ...(observed.has('logs') ? { LOG_LEVEL: 'info' } : {}),
  ...(observed.has('metrics') ? { METRICS_TOKEN: 'bench-metrics-token-0123456789' } : {}),
})
// BENCH_CLIENT_CACHE=off: the RedisStore without its client-side cache (REDIS_CLIENT_CACHE=off).
const clientCache = process.env.BENCH_CLIENT_CACHE === 'off' ? { clientCache: false } : {}
const store = kind === 'redis' ? new RedisStore({ url: required('BENCH_REDIS_URL'), prefix: required('BENCH_PREFIX'), ...clientCache }) : undefined
const overrides = store === undefined ? {} : { store }
if (observed.has('logs')) {
  const devNull = openSync('/dev/null', 'w')
  // What `npm start > /dev/null` does: the logger finds stdout is a device, not a pipe, and writes
  // there in place (lib/server/log.ts, `fd`); here the descriptor is given, stdout being the
  // harness's.
  overrides.logger = new Logger({ level: 'info', fd: devNull, ...(callgrind ? { flushMs: 2 ** 31 - 1 } : {}) })
}
const running = await startServer(config, overrides)
announce(running.url, () => running.close(2000), () => store?.clientCacheStats() ?? null)
