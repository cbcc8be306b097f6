/**
 * sessionkit's auth server as `npm start` runs it (lib/server/app.ts `startServer` with the
 * configuration read by `loadConfig`), on port 0. The only difference: with BENCH_STORE=redis the
 * store is built here, because the key prefix (unique per run, so runs never share keys) is not an
 * environment setting.
 *
 * Environment: BENCH_STORE (memory | redis), BENCH_REDIS_URL, BENCH_PREFIX, BENCH_USERS_FILE,
 * SESSION_SECRET, BCRYPT_COST. BENCH_OBSERVED=1: what an operator runs — JSON access and audit lines
 * at LOG_LEVEL=info, written to /dev/null the way `npm start > /dev/null` writes them (synchronous
 * writes to a file), and metrics on (METRICS_TOKEN), so every request is timed and counted.
 */
import { openSync, writeSync } from 'node:fs'
import { startServer } from '../../dist/server/app.js'
import { loadConfig } from '../../dist/server/config.js'
import { Logger } from '../../dist/server/log.js'
import { RedisStore } from '../../dist/stores/redis.js'
import { announce, required } from './common.mjs'

const kind = required('BENCH_STORE')
const config = loadConfig({
  ...process.env,
  PORT: '0',
  HOST: '127.0.0.1',
  USERS_FILE: required('BENCH_USERS_FILE'),
  REDIS_URL: '',
  REDIS_CLUSTER_NODES: '',
  WORKERS: '1',
  ...(process.env.BENCH_OBSERVED ? { LOG_LEVEL: 'info', METRICS_TOKEN: 'bench-metrics-token-0123456789' } : {}),
})
const overrides =
  kind === 'redis' ? { store: new RedisStore({ url: required('BENCH_REDIS_URL'), prefix: required('BENCH_PREFIX') }) } : {}
if (process.env.BENCH_OBSERVED) {
  const devNull = openSync('/dev/null', 'w')
  overrides.logger = new Logger({ level: 'info', write: (text) => writeSync(devNull, text) })
}
const running = await startServer(config, overrides)
announce(running.url, () => running.close(2000))
