/**
 * The auth server's configuration, read from environment variables once at start-up.
 * A bad value stops the server with a clear message (ConfigError), never a half-working server.
 *
 * | variable             | default                    | meaning                                        |
 * |----------------------|----------------------------|------------------------------------------------|
 * | PORT                 | 3000                       | TCP port (0 = any free port)                   |
 * | HOST                 | 127.0.0.1 (0.0.0.0 in prod)| interface to listen on                         |
 * | NODE_ENV             | (unset)                    | `production`: Secure `__Host-` cookie, secrets |
 * |                      |                            | required, no demo users                        |
 * | SESSION_SECRET       | random (dev only)          | comma-separated secrets, the first signs       |
 * | REDIS_URL            | (unset → memory store)     | Redis for sessions and login counters          |
 * | REDIS_CLUSTER_NODES  | (unset)                    | `host:port,host:port,…` → Redis Cluster        |
 * | REDIS_SENTINELS      | (unset)                    | `host:port,…` of Redis Sentinels → HA master   |
 * | REDIS_SENTINEL_NAME  | (required with SENTINELS)  | master name the sentinels monitor              |
 * | REDIS_SENTINEL_USERNAME, REDIS_SENTINEL_PASSWORD | | ACL user/password of the sentinels (ioredis   |
 * |                      |                            | `sentinelUsername` / `sentinelPassword`)       |
 * | REDIS_USERNAME, REDIS_PASSWORD | (unset)          | ACL user/password of the master (Sentinel mode;|
 * |                      |                            | with REDIS_URL put them in the URL)            |
 * | REDIS_CLIENT_CACHE   | on                         | `off`: no in-process cache of session records  |
 * |                      |                            | (CLIENT TRACKING; node, Sentinel and Cluster)  |
 * | REDIS_PREFIX         | sk:                        | prefix of every Redis key (several apps, tests)|
 * | USERS_FILE           | (unset → demo users)       | JSON file of users with bcrypt hashes          |
 * | WORKERS              | 1                          | processes (node:cluster); needs Redis          |
 * | TRUST_PROXY          | false                      | take the client IP from X-Forwarded-For        |
 * | BCRYPT_COST          | 10                         | cost of new password hashes                    |
 * | SESSION_IDLE_MS      | 86400000 (24 h)            | idle timeout                                   |
 * | SESSION_REMEMBER_MS  | 2592000000 (30 days)       | idle timeout with "remember me"                |
 * | SESSION_ABSOLUTE_MS  | 2592000000 (30 days)       | absolute lifetime                              |
 * | REAUTH_MAX_AGE_MS    | 600000 (10 min)            | how recent a password proof sensitive actions  |
 * |                      |                            | need (else 401 REAUTH_REQUIRED)                |
 * | MAX_SESSIONS_PER_USER| 10                         | live sessions per user; 0 = no limit           |
 * | SESSION_LIMIT_POLICY | evict-oldest               | at the limit: `evict-oldest` or `refuse` (429) |
 * | LOG_LEVEL            | info                       | debug, info, warn, error or silent             |
 * | LOG_FORMAT           | json                       | json (one object a line) or pretty             |
 * | METRICS_TOKEN        | (unset)                    | serve GET /metrics behind Bearer <token>       |
 * | METRICS_PORT         | (unset)                    | serve /metrics on 127.0.0.1:<port> instead     |
 *
 * Throttling, flood limits, proxy and header settings: lib/server/config-hardening.ts.
 */
import { randomBytes } from 'node:crypto'
import type { SessionLimitPolicy } from '../options.js'
import { MIN_BCRYPT_COST } from '../auth/password.js'
import { MAX_COOKIE_LIFETIME_MS } from '../limits.js'
import { redactCredentials } from '../redact.js'
import { MIN_SECRET_BYTES } from '../signature.js'
import { loadHardening, type HardeningConfig } from './config-hardening.js'
import { ConfigError, envFlag, envInteger, envOneOf, envText } from './env.js'
import { LOG_LEVELS, type LogFormat, type LogLevel } from './log.js'

export { ConfigError, redactCredentials }

/**
 * Highest `BCRYPT_COST` the server accepts, and so `hash-password --cost` too: each step doubles
 * the work, and cost 15 already takes about 2 s of one core per hash (cost 10: about 70 ms), so a
 * handful of logins above it would hold the bcrypt workers for minutes. bcrypt itself goes to 31.
 */
export const MAX_BCRYPT_COST_SETTING = 15

/** Redis Sentinel settings, named as ioredis names them. */
export interface SentinelConfig {
  sentinels: Array<{ host: string; port: number }>
  name: string
  sentinelUsername?: string
  sentinelPassword?: string
  username?: string
  password?: string
}

/** `clientCache: false` when REDIS_CLIENT_CACHE=off (absent: the store's default, on). */
export type StoreConfig =
  | { kind: 'memory' }
  | { kind: 'redis'; url: string; clientCache?: false }
  | { kind: 'cluster'; nodes: Array<{ host: string; port: number }>; clientCache?: false }
  | { kind: 'sentinel'; sentinel: SentinelConfig; clientCache?: false }

export interface ServerConfig {
  port: number
  host: string
  production: boolean
  /** Signing secrets, current first. */
  secrets: string[]
  /** True when no SESSION_SECRET was given and one was generated for this process. */
  generatedSecret: boolean
  store: StoreConfig
  usersFile: string | null
  /** Prefix of every Redis key and channel (sessions, counters, users). */
  redisPrefix: string
  workers: number
  trustProxy: boolean
  bcryptCost: number
  /** Session timeouts in ms; unset ones take the session manager's defaults (24 h / 30 d / 30 d). */
  timeouts: { idleTimeoutMs?: number; rememberIdleTimeoutMs?: number; absoluteTimeoutMs?: number }
  /** Throttle limits, flood budgets, proxy origins, security headers, cookie name. */
  hardening: HardeningConfig
  /** How old a password proof may be for a sensitive action (password change, ending sessions, user admin). */
  reauthMaxAgeMs: number
  /** Live sessions per user (0 = no limit) and what a login at the limit does. */
  sessionLimit: { maxSessionsPerUser: number; sessionLimitPolicy: SessionLimitPolicy }
  log: { level: LogLevel; format: LogFormat }
  /** Metrics are on when either is set: behind a Bearer token, and/or on a loopback port. */
  metrics: { token: string | null; port: number | null }
}

function parseNodes(raw: string, name = 'REDIS_CLUSTER_NODES'): Array<{ host: string; port: number }> {
  return raw.split(',').map((entry) => {
    const m = /^\s*([^\s:]+|\[[0-9a-fA-F:]+\]):(\d{1,5})\s*$/.exec(entry)
    const port = Number(m?.[2])
    if (m === null || port < 1 || port > 65535) {
      throw new ConfigError(`${name} must be host:port,host:port,…; bad entry "${entry}"`)
    }
    return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port }
  })
}

/**
 * Session timeouts from the environment (OWASP ASVS 4.0.3 3.3.2 level 2, for example, asks for
 * SESSION_ABSOLUTE_MS=43200000 and SESSION_IDLE_MS=1800000). Ranges are checked again, with the
 * relations between them, by the session manager's own option validation at start-up.
 */
function timeouts(env: NodeJS.ProcessEnv): ServerConfig['timeouts'] {
  const out: ServerConfig['timeouts'] = {}
  const MAX = MAX_COOKIE_LIFETIME_MS // RFC 6265bis: no cookie outlives 400 days
  if (env.SESSION_IDLE_MS) out.idleTimeoutMs = envInteger(env, 'SESSION_IDLE_MS', 0, 1000, MAX)
  if (env.SESSION_REMEMBER_MS) out.rememberIdleTimeoutMs = envInteger(env, 'SESSION_REMEMBER_MS', 0, 1000, MAX)
  if (env.SESSION_ABSOLUTE_MS) out.absoluteTimeoutMs = envInteger(env, 'SESSION_ABSOLUTE_MS', 0, 1000, MAX)
  return out
}

/** Which store: Cluster, else Sentinel, else one Redis node, else memory. */
function storeConfig(env: NodeJS.ProcessEnv): StoreConfig {
  const cache = envOneOf(env, 'REDIS_CLIENT_CACHE', 'on', ['on', 'off'], true) === 'off' ? { clientCache: false as const } : {}
  const clusterNodes = envText(env, 'REDIS_CLUSTER_NODES')
  if (clusterNodes !== undefined) return { kind: 'cluster', nodes: parseNodes(clusterNodes), ...cache }
  const sentinels = envText(env, 'REDIS_SENTINELS')
  if (sentinels !== undefined) {
    const name = envText(env, 'REDIS_SENTINEL_NAME')
    if (name === undefined) throw new ConfigError('REDIS_SENTINELS needs REDIS_SENTINEL_NAME (the master name the sentinels monitor)')
    const sentinel: SentinelConfig = { sentinels: parseNodes(sentinels, 'REDIS_SENTINELS'), name }
    const optional = { sentinelUsername: 'REDIS_SENTINEL_USERNAME', sentinelPassword: 'REDIS_SENTINEL_PASSWORD', username: 'REDIS_USERNAME', password: 'REDIS_PASSWORD' } as const
    for (const [key, variable] of Object.entries(optional)) {
      const value = envText(env, variable)
      if (value !== undefined) sentinel[key as keyof typeof optional] = value
    }
    return { kind: 'sentinel', sentinel, ...cache }
  }
  const url = envText(env, 'REDIS_URL')
  if (url === undefined) return { kind: 'memory' }
  if (!/^rediss?:\/\//.test(url)) throw new ConfigError(`REDIS_URL must start with redis:// or rediss://, got "${redactCredentials(url)}"`)
  return { kind: 'redis', url, ...cache }
}

/**
 * The per-user session limit (OWASP ASVS 5.0 7.1.2). Ten by default: enough for a person's
 * phone, laptop, tablet and a few browsers, few enough that a stolen password farming sessions,
 * or a script logging in without ever logging out, stays bounded. `evict-oldest` by default: a
 * user who forgot to log out somewhere is never locked out, the forgotten session just ends.
 */
function sessionLimit(env: NodeJS.ProcessEnv): ServerConfig['sessionLimit'] {
  const policy = envOneOf<SessionLimitPolicy>(env, 'SESSION_LIMIT_POLICY', 'evict-oldest', ['evict-oldest', 'refuse'])
  return { maxSessionsPerUser: envInteger(env, 'MAX_SESSIONS_PER_USER', 10, 0, 1_000_000), sessionLimitPolicy: policy }
}

/** A token shorter than this is guessable; `openssl rand -base64 32` gives 44 characters. */
const MIN_METRICS_TOKEN = 16

function observability(env: NodeJS.ProcessEnv): Pick<ServerConfig, 'log' | 'metrics'> {
  const level = envOneOf<LogLevel>(env, 'LOG_LEVEL', 'info', LOG_LEVELS)
  const format = envOneOf<LogFormat>(env, 'LOG_FORMAT', 'json', ['json', 'pretty'])
  const token = env.METRICS_TOKEN || null
  if (token !== null && (token.length < MIN_METRICS_TOKEN || !/^[\x21-\x7e]+$/.test(token))) {
    throw new ConfigError(`METRICS_TOKEN must be at least ${MIN_METRICS_TOKEN} printable characters without spaces; use e.g. \`openssl rand -base64 32\``)
  }
  const port = env.METRICS_PORT ? envInteger(env, 'METRICS_PORT', 0, 0, 65535) : null
  return { log: { level, format }, metrics: { token, port } }
}

/** Read and validate the configuration from `env`. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): ServerConfig {
  const production = env.NODE_ENV === 'production'
  const rawSecrets = (env.SESSION_SECRET ?? '').split(',').map((s) => s.trim()).filter((s) => s !== '')
  let generatedSecret = false
  if (rawSecrets.length === 0) {
    if (production) {
      throw new ConfigError('SESSION_SECRET is required when NODE_ENV=production (comma-separated, each at least 32 bytes; the first signs)')
    }
    rawSecrets.push(randomBytes(32).toString('base64url'))
    generatedSecret = true
  }
  rawSecrets.forEach((s, i) => {
    if (Buffer.byteLength(s) < MIN_SECRET_BYTES) {
      throw new ConfigError(`SESSION_SECRET entry ${i} is shorter than ${MIN_SECRET_BYTES} bytes; use e.g. \`openssl rand -base64 32\``)
    }
  })
  const store = storeConfig(env)
  const redisPrefix = envText(env, 'REDIS_PREFIX') ?? 'sk:'
  // A brace would change which Cluster slot keys hash to (lib/users/redis.ts relies on its tag).
  if (!/^[\w:.-]{1,64}$/.test(redisPrefix)) throw new ConfigError(`REDIS_PREFIX must be 1–64 of A-Z a-z 0-9 _ - . :, got "${redisPrefix}"`)
  const workers = envInteger(env, 'WORKERS', 1, 1, 64)
  const trustProxy = envFlag(env, 'TRUST_PROXY')
  if (workers > 1 && store.kind === 'memory') {
    throw new ConfigError('WORKERS > 1 needs a shared store: the memory store lives in one process, so set REDIS_URL, REDIS_SENTINELS or REDIS_CLUSTER_NODES')
  }
  return {
    port: envInteger(env, 'PORT', 3000, 0, 65535),
    host: envText(env, 'HOST') ?? (production ? '0.0.0.0' : '127.0.0.1'),
    production,
    secrets: rawSecrets,
    generatedSecret,
    store,
    usersFile: envText(env, 'USERS_FILE') ?? null,
    redisPrefix,
    workers,
    trustProxy,
    bcryptCost: envInteger(env, 'BCRYPT_COST', 10, MIN_BCRYPT_COST, MAX_BCRYPT_COST_SETTING),
    timeouts: timeouts(env),
    hardening: loadHardening(env, production, trustProxy),
    // ASVS 5.0 7.5: sensitive actions need a recent proof. Ory Kratos defaults its
    // privileged_session_max_age to 15 minutes, Laravel its password.confirm timeout to 3 hours;
    // ten minutes keeps short the window in which a stolen cookie alone can act.
    reauthMaxAgeMs: envInteger(env, 'REAUTH_MAX_AGE_MS', 600_000, 0, 86_400_000),
    sessionLimit: sessionLimit(env),
    ...observability(env),
  }
}
