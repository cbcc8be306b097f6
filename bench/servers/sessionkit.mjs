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
 */
import { startServer } from '../../dist/server/app.js'
import { loadConfig } from '../../dist/server/config.js'
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
  REDIS_SENTINELS: '',
  WORKERS: '1',
  ANON_SESSION_LIMIT: '0',
})
// BENCH_CLIENT_CACHE=off: the RedisStore without its client-side cache (REDIS_CLIENT_CACHE=off).
const clientCache = process.env.BENCH_CLIENT_CACHE === 'off' ? { clientCache: false } : {}
const store = kind === 'redis' ? new RedisStore({ url: required('BENCH_REDIS_URL'), prefix: required('BENCH_PREFIX'), ...clientCache }) : undefined
const running = await startServer(config, store === undefined ? {} : { store })
announce(running.url, () => running.close(2000), () => store?.clientCacheStats() ?? null)
