import t from 'tap'
import { resolveOptions, type SessionManagerOptions } from '../lib/options.js'
import { MemoryStore } from '../lib/stores/memory.js'
import { SECRET_A } from './fixtures/session-app.js'

const store = new MemoryStore()
t.teardown(() => store.close())
const base: SessionManagerOptions = { secrets: [SECRET_A], store }

t.test('defaults are the documented ones, frozen', async (t) => {
  const o = resolveOptions(base)
  t.match(o, {
    cookie: { name: 'sid', path: '/', domain: undefined, secure: false, httpOnly: true, sameSite: 'Lax', partitioned: false },
    idleTimeoutMs: 86_400_000,
    rememberIdleTimeoutMs: 2_592_000_000,
    absoluteTimeoutMs: 2_592_000_000,
    touchIntervalMs: 300_000,
    storeTimeoutMs: 1000,
    retryAfterSeconds: 1,
    maxWriteRetries: 16,
    verifiedCacheSize: 10_000,
    now: Date.now,
  })
  t.ok(Object.isFrozen(o) && Object.isFrozen(o.cookie) && Object.isFrozen(o.secrets))
  t.equal(resolveOptions({ ...base, idleTimeoutMs: 60_000 }).touchIntervalMs, 30_000, 'touch interval defaults below a short idle timeout')
  const custom = resolveOptions({ ...base, cookie: { name: '__Host-sid', secure: true, sameSite: 'Strict', domain: undefined } })
  t.equal(custom.cookie.name, '__Host-sid')
  t.equal(resolveOptions({ ...base, cookie: { domain: 'example.com' } }).cookie.domain, 'example.com')
})

const bad: Array<[string, unknown]> = [
  ['options not an object', null],
  ['no secrets', { store }],
  ['empty secrets', { secrets: [], store }],
  ['no store', { secrets: [SECRET_A] }],
  ['store missing methods', { secrets: [SECRET_A], store: { get() {} } }],
  ['store not an object', { secrets: [SECRET_A], store: 'redis' }],
  ['idle timeout not a number', { ...base, idleTimeoutMs: '1000' }],
  ['idle timeout fractional', { ...base, idleTimeoutMs: 1000.5 }],
  ['idle timeout too small', { ...base, idleTimeoutMs: 10 }],
  ['idle timeout over 400 days', { ...base, idleTimeoutMs: 401 * 86_400_000 }],
  ['remember shorter than idle', { ...base, idleTimeoutMs: 7_200_000, rememberIdleTimeoutMs: 3_600_000 }],
  ['absolute NaN', { ...base, absoluteTimeoutMs: Number.NaN }],
  ['touch interval not below idle', { ...base, idleTimeoutMs: 60_000, touchIntervalMs: 60_000 }],
  ['store timeout zero', { ...base, storeTimeoutMs: 0 }],
  ['retry-after negative', { ...base, retryAfterSeconds: -1 }],
  ['retries Infinity', { ...base, maxWriteRetries: Infinity }],
  ['cache size negative', { ...base, verifiedCacheSize: -1 }],
  ['now not a function', { ...base, now: 5 }],
  ['clientIp not a function', { ...base, clientIp: 'x' }],
  ['admitAnonymous not a function', { ...base, admitAnonymous: true }],
  ['cookie not an object', { ...base, cookie: 'sid' }],
  ['cookie null', { ...base, cookie: null }],
  ['secure not boolean', { ...base, cookie: { secure: 'yes' } }],
  ['httpOnly not boolean', { ...base, cookie: { httpOnly: 1 } }],
  ['sameSite unknown', { ...base, cookie: { sameSite: 'strict-ish' } }],
  ['SameSite=None without Secure', { ...base, cookie: { sameSite: 'None' } }],
  ['partitioned without Secure', { ...base, cookie: { partitioned: true } }],
  ['bad cookie name', { ...base, cookie: { name: 'a b' } }],
  ['__Host- without Secure', { ...base, cookie: { name: '__Host-sid' } }],
  ['__Host- with a Domain', { ...base, cookie: { name: '__Host-sid', secure: true, domain: 'example.com' } }],
  ['path injection (CVE-2024-47764)', { ...base, cookie: { path: '/; Domain=evil.com' } }],
]
for (const [name, input] of bad) {
  t.test(`rejects: ${name}`, async (t) => {
    t.throws(() => resolveOptions(input as SessionManagerOptions), { name: 'TypeError', code: 'ERR_OPTION_INVALID' })
  })
}
