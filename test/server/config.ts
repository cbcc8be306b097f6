import t from 'tap'
import { ConfigError, loadConfig } from '../../lib/server/config.js'

const SECRET = 's'.repeat(32)

t.test('defaults outside production', async (t) => {
  const c = loadConfig({})
  t.match(c, { port: 3000, host: '127.0.0.1', production: false, generatedSecret: true, store: { kind: 'memory' }, usersFile: null, workers: 1, trustProxy: false, bcryptCost: 10 })
  t.same(c.timeouts, {}, 'session timeouts: the manager defaults')
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
  t.equal(loadConfig({ TRUST_PROXY: '0' }).trustProxy, false)
  t.equal(loadConfig({ TRUST_PROXY: 'false' }).trustProxy, false)
  t.equal(loadConfig({ TRUST_PROXY: '1' }).trustProxy, true)
})

const bad: Array<[string, Record<string, string>]> = [
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
  ['redis url scheme', { REDIS_URL: 'http://127.0.0.1:6379' }],
  ['cluster node without port', { REDIS_CLUSTER_NODES: '127.0.0.1' }],
  ['cluster port zero', { REDIS_CLUSTER_NODES: '127.0.0.1:0' }],
  ['redis prefix with a hash tag', { REDIS_PREFIX: 'a{b}:' }],
]
for (const [name, env] of bad) {
  t.test(`refuses: ${name}`, async (t) => {
    t.throws(() => loadConfig(env), ConfigError)
  })
}
