import { readdirSync, readFileSync } from 'node:fs'
import t from 'tap'
import { ConfigError, loadConfig } from '../../lib/server/config.js'
import { SERVER_VARIABLES } from '../fixtures/child-env.js'

const SECRET = 's'.repeat(32)

t.test('defaults outside production', async (t) => {
  const c = loadConfig({})
  t.match(c, { port: 3000, host: '127.0.0.1', production: false, generatedSecret: true, store: { kind: 'memory' }, usersFile: null, workers: 1, trustProxy: false, bcryptCost: 10 })
  t.same(c.timeouts, {}, 'session timeouts: the manager defaults')
  t.equal(c.reauthMaxAgeMs, 600_000, 'sensitive actions need a proof of at most 10 minutes')
  t.same(c.sessionLimit, { maxSessionsPerUser: 10, sessionLimitPolicy: 'evict-oldest' }, '10 sessions a user, oldest evicted')
  t.equal(c.secrets.length, 1)
  t.ok(Buffer.byteLength(c.secrets[0] ?? '') >= 32, 'a random secret of at least 32 bytes')
  t.not(loadConfig({}).secrets[0], c.secrets[0], 'random each time')
})

t.test('every variable', async (t) => {
  const c = loadConfig({
    PORT: '0', HOST: '::1', NODE_ENV: 'production', SESSION_SECRET: ` ${SECRET}, ${'o'.repeat(40)} ,`,
    REDIS_URL: 'redis://127.0.0.1:6379/2', USERS_FILE: '/etc/users.json', WORKERS: '4', TRUST_PROXY: 'true', BCRYPT_COST: '12',
  })
  t.match(c, { port: 0, host: '::1', production: true, generatedSecret: false, store: { kind: 'redis', url: 'redis://127.0.0.1:6379/2' }, usersFile: '/etc/users.json', workers: 4, trustProxy: true, bcryptCost: 12 })
  t.same(c.secrets, [SECRET, 'o'.repeat(40)], 'comma-separated, trimmed, the first signs')
  t.equal(loadConfig({ NODE_ENV: 'production', SESSION_SECRET: SECRET }).host, '0.0.0.0')
  t.same(loadConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000, localhost:7001,[::1]:7002', REDIS_URL: 'redis://x' }).store, {
    kind: 'cluster',
    nodes: [{ host: '127.0.0.1', port: 7000 }, { host: 'localhost', port: 7001 }, { host: '::1', port: 7002 }],
  }, 'cluster wins over REDIS_URL')
  t.same(loadConfig({ SESSION_IDLE_MS: '1800000', SESSION_REMEMBER_MS: '3600000', SESSION_ABSOLUTE_MS: '43200000' }).timeouts,
    { idleTimeoutMs: 1_800_000, rememberIdleTimeoutMs: 3_600_000, absoluteTimeoutMs: 43_200_000 })
  t.equal(loadConfig({ REAUTH_MAX_AGE_MS: '300000' }).reauthMaxAgeMs, 300_000)
  t.same(loadConfig({ MAX_SESSIONS_PER_USER: '3', SESSION_LIMIT_POLICY: 'refuse' }).sessionLimit,
    { maxSessionsPerUser: 3, sessionLimitPolicy: 'refuse' })
  t.same(loadConfig({ MAX_SESSIONS_PER_USER: '0', SESSION_LIMIT_POLICY: '' }).sessionLimit,
    { maxSessionsPerUser: 0, sessionLimitPolicy: 'evict-oldest' }, '0 turns the limit off')
  t.equal(loadConfig({ TRUST_PROXY: '0' }).trustProxy, false)
  t.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false)
  t.equal(loadConfig({ TRUST_PROXY: '1' }).trustProxy, true)
})

t.test('hardening variables', async (t) => {
  t.same(loadConfig({}).hardening, {
    login: { maxFailuresPerPair: 5, maxFailuresPerClient: 50, maxFailuresPerAccount: 100, windowMs: 900_000, accountWindowMs: 3_600_000 },
    anonymousSessions: { limit: 1000, windowMs: 3_600_000 },
    memory: { maxSessions: undefined, maxAnonymousSessions: undefined, maxCounters: undefined },
    publicOrigins: [],
    trustForwardedHost: false,
    hstsIncludeSubdomains: false,
    clearSiteCookies: false,
    cookieName: 'sid',
  }, 'defaults')
  t.equal(loadConfig({ NODE_ENV: 'production', SESSION_SECRET: SECRET }).hardening.cookieName, '__Host-sid')
  t.same(loadConfig({
    LOGIN_PAIR_LIMIT: '3', LOGIN_CLIENT_LIMIT: '20', LOGIN_ACCOUNT_LIMIT: '40', LOGIN_WINDOW_MS: '60000', LOGIN_ACCOUNT_WINDOW_MS: '7200000',
    ANON_SESSION_LIMIT: '0', ANON_SESSION_WINDOW_MS: '1000',
    MEMORY_MAX_SESSIONS: '10', MEMORY_MAX_ANON_SESSIONS: '5', MEMORY_MAX_COUNTERS: '7',
    PUBLIC_ORIGIN: 'https://app.example.com, http://localhost:3000,', TRUST_PROXY: 'true', TRUST_FORWARDED_HOST: '1',
    HSTS_INCLUDE_SUBDOMAINS: 'true', CLEAR_SITE_DATA_COOKIES: 'TRUE', SESSION_COOKIE_NAME: 'app.sid',
  }).hardening, {
    login: { maxFailuresPerPair: 3, maxFailuresPerClient: 20, maxFailuresPerAccount: 40, windowMs: 60_000, accountWindowMs: 7_200_000 },
    anonymousSessions: { limit: 0, windowMs: 1000 },
    memory: { maxSessions: 10, maxAnonymousSessions: 5, maxCounters: 7 },
    publicOrigins: ['https://app.example.com', 'http://localhost:3000'],
    trustForwardedHost: true,
    hstsIncludeSubdomains: true,
    clearSiteCookies: true,
    cookieName: 'app.sid',
  })
})

t.test('Redis Sentinel and the client cache', async (t) => {
  t.same(loadConfig({ REDIS_SENTINELS: '127.0.0.1:26379,[::1]:26380', REDIS_SENTINEL_NAME: 'mymaster', REDIS_URL: 'redis://x' }).store, {
    kind: 'sentinel',
    sentinel: { sentinels: [{ host: '127.0.0.1', port: 26379 }, { host: '::1', port: 26380 }], name: 'mymaster' },
  }, 'sentinels win over REDIS_URL')
  t.same(loadConfig({
    REDIS_SENTINELS: 'h:1', REDIS_SENTINEL_NAME: 'm', REDIS_SENTINEL_USERNAME: 'su', REDIS_SENTINEL_PASSWORD: 'sp',
    REDIS_USERNAME: 'u', REDIS_PASSWORD: 'p', REDIS_CLIENT_CACHE: 'OFF',
  }).store, {
    kind: 'sentinel',
    sentinel: { sentinels: [{ host: 'h', port: 1 }], name: 'm', sentinelUsername: 'su', sentinelPassword: 'sp', username: 'u', password: 'p' },
    clientCache: false,
  }, 'passwords as ioredis names them')
  t.same(loadConfig({ REDIS_URL: 'redis://x', REDIS_CLIENT_CACHE: 'off' }).store, { kind: 'redis', url: 'redis://x', clientCache: false })
  t.same(loadConfig({ REDIS_URL: 'redis://x', REDIS_CLIENT_CACHE: 'on' }).store, { kind: 'redis', url: 'redis://x' })
  t.same(loadConfig({ REDIS_CLUSTER_NODES: 'h:1', REDIS_CLIENT_CACHE: 'off' }).store, { kind: 'cluster', nodes: [{ host: 'h', port: 1 }], clientCache: false }, 'off on Cluster too')
  t.equal(loadConfig({ REDIS_SENTINELS: 'h:1', REDIS_SENTINEL_NAME: 'm', WORKERS: '2' }).workers, 2, 'Sentinel is a shared store')
})

const bad: Array<[string, Record<string, string>]> = [
  ['login limit zero', { LOGIN_PAIR_LIMIT: '0' }],
  ['login window not a number', { LOGIN_WINDOW_MS: '15m' }],
  ['memory budget zero', { MEMORY_MAX_COUNTERS: '0' }],
  ['memory budget junk', { MEMORY_MAX_SESSIONS: 'lots' }],
  ['hsts junk', { HSTS_INCLUDE_SUBDOMAINS: 'yes' }],
  ['public origin with a path', { PUBLIC_ORIGIN: 'https://app.example.com/app' }],
  ['public origin with a trailing slash', { PUBLIC_ORIGIN: 'https://app.example.com/' }],
  ['public origin not a URL', { PUBLIC_ORIGIN: 'app.example.com' }],
  ['public origin ftp', { PUBLIC_ORIGIN: 'ftp://app.example.com' }],
  ['public origin with credentials', { PUBLIC_ORIGIN: 'https://u:p@app.example.com' }],
  ['public origin with a query', { PUBLIC_ORIGIN: 'https://app.example.com?x' }],
  ['production without a secret', { NODE_ENV: 'production' }],
  ['short secret', { SESSION_SECRET: 'short' }],
  ['one short secret in the list', { SESSION_SECRET: `${SECRET},short` }],
  ['port not a number', { PORT: 'http' }],
  ['port out of range', { PORT: '70000' }],
  ['negative workers', { WORKERS: '-1' }],
  ['workers with the memory store', { WORKERS: '2' }],
  ['bcrypt cost too low', { BCRYPT_COST: '3' }],
  ['trust proxy junk', { TRUST_PROXY: 'maybe' }],
  ['idle timeout not a number', { SESSION_IDLE_MS: '30m' }],
  ['absolute timeout over 400 days', { SESSION_ABSOLUTE_MS: String(401 * 86_400_000) }],
  ['remember timeout under a second', { SESSION_REMEMBER_MS: '10' }],
  ['re-auth age not a number', { REAUTH_MAX_AGE_MS: '10m' }],
  ['re-auth age over a day', { REAUTH_MAX_AGE_MS: '86400001' }],
  ['session limit negative', { MAX_SESSIONS_PER_USER: '-1' }],
  ['session limit policy junk', { SESSION_LIMIT_POLICY: 'oldest' }],
  ['redis url scheme', { REDIS_URL: 'http://127.0.0.1:6379' }],
  ['cluster node without port', { REDIS_CLUSTER_NODES: '127.0.0.1' }],
  ['cluster port zero', { REDIS_CLUSTER_NODES: '127.0.0.1:0' }],
  ['sentinels without a master name', { REDIS_SENTINELS: '127.0.0.1:26379' }],
  ['sentinel without port', { REDIS_SENTINELS: '127.0.0.1', REDIS_SENTINEL_NAME: 'm' }],
  ['client cache junk', { REDIS_URL: 'redis://x', REDIS_CLIENT_CACHE: 'maybe' }],
  ['redis prefix with a hash tag', { REDIS_PREFIX: 'a{b}:' }],
]
for (const [name, env] of bad) {
  t.test(`refuses: ${name}`, async (t) => {
    t.throws(() => loadConfig(env), ConfigError)
  })
}

t.test('tests start servers without the developer\'s variables: the list holds every variable lib/server reads', async (t) => {
  const dir = new URL('../../lib/server/', import.meta.url)
  const read = new Set<string>()
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
    const source = readFileSync(new URL(file, dir), 'utf8')
    // env.NAME, envText(env, 'NAME'), … and names kept in tables of variables ('REDIS_PASSWORD');
    // not error codes ('ERR_…').
    for (const m of source.matchAll(/\benv\.([A-Z][A-Z0-9_]+)|'(?!ERR_)([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)'/g)) read.add((m[1] ?? m[2]) as string)
  }
  t.ok(read.size >= 30, `${read.size} variables found`)
  t.same([...read].filter((name) => !SERVER_VARIABLES.includes(name)), [])
})
