/**
 * No log line ever holds a cookie value, a session ID, a session's storage key or a password
 * (OWASP ASVS 5.0 16.2.5), over a full run of the black-box suite: every test file of
 * test/security/ and the server suites of test/server/ run here again, in this process (the flood
 * suites as subtests: their cases, not their files), with LOG_LEVEL=debug, metrics on, and every
 * line the servers log captured.
 *
 * What is searched for is collected from the traffic itself, server-side: every value of every
 * Cookie request header (forged ones included), every Set-Cookie value sent, the session ID inside
 * each well-formed cookie and its SHA-256 storage key, and every password that reached bcrypt
 * (plus the demo passwords). The captured log must be non-trivial too (access and audit lines of
 * the kinds the suite provokes), or the test would pass by logging nothing.
 */
import { readdirSync } from 'node:fs'
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import t from 'tap'
import { bcryptPool } from '../../lib/auth/bcrypt-pool.js'
import { hashSessionId, isWellFormedSessionId } from '../../lib/id.js'
import { Logger } from '../../lib/server/log.js'
import { hardeningSuite } from '../fixtures/hardening-suite.js'
import { memoryHardening, redisHardening } from '../fixtures/hardening-stores.js'
import { ADMIN, JOHN } from '../fixtures/http-client.js'
import { observeHook } from '../fixtures/observe-hook.js'

const captured: string[] = []
const log = new Logger({ level: 'debug', write: (text) => captured.push(text), maxPending: 1 })
const secrets = new Set<string>()
const passwords = new Set<string>([JOHN.password, ADMIN.password])

/** A cookie value, the ID inside it, and that ID's storage key. */
function addCookieValue(value: string): void {
  if (value.length < 8) return // `sid=` (cleared), short junk: too short to search for meaningfully
  secrets.add(value)
  const dot = value.lastIndexOf('.')
  const id = dot === -1 ? value : value.slice(0, dot)
  if (isWellFormedSessionId(id)) {
    secrets.add(id)
    secrets.add(hashSessionId(id))
  }
}

function addSetCookie(line: unknown): void {
  for (const one of Array.isArray(line) ? line : [line]) {
    const m = /^[^=;]+=([^;]*)/.exec(String(one))
    if (m !== null) addCookieValue(m[1] as string)
  }
}

function watchTraffic(req: IncomingMessage, res: ServerResponse): void {
  for (const pair of (req.headers.cookie ?? '').split(';')) {
    const eq = pair.indexOf('=')
    if (eq !== -1) addCookieValue(pair.slice(eq + 1).trim())
  }
  const writeHead = res.writeHead.bind(res) as (...args: unknown[]) => ServerResponse
  res.writeHead = ((...args: unknown[]) => {
    for (const headers of args.slice(1)) {
      if (Array.isArray(headers)) {
        headers.forEach((v, i) => i % 2 === 1 && /^set-cookie$/i.test(String(headers[i - 1])) && addSetCookie(v))
      } else if (headers !== null && typeof headers === 'object') {
        for (const [name, v] of Object.entries(headers as OutgoingHttpHeaders)) if (/^set-cookie$/i.test(name)) addSetCookie(v)
      }
    }
    addSetCookie(res.getHeader('set-cookie') ?? [])
    return writeHead(...args)
  }) as typeof res.writeHead
}

// Every password the servers check or hash goes through the bcrypt pool.
const verify = bcryptPool.verify.bind(bcryptPool)
const hash = bcryptPool.hash.bind(bcryptPool)
bcryptPool.verify = (input, stored) => (passwords.add(input), verify(input, stored))
bcryptPool.hash = (input, cost) => (passwords.add(input), hash(input, cost))

observeHook.env = { LOG_LEVEL: 'debug', METRICS_TOKEN: 'log-secrecy-metrics-token-0123456789' }
observeHook.overrides = { logger: log }
observeHook.onStart = (server) => {
  server.server.prependListener('request', watchTraffic)
}

const here = new URL('.', import.meta.url)
const security = new URL('../security/', import.meta.url)
const files = [
  ...readdirSync(here).filter((f) => /^app-.*\.ts$/.test(f) || f === 'store-failure.ts' || f === 'admin.ts').map((f) => new URL(f, here)),
  // The flood suites (hardening-*.ts) are not imported (imported here, tap's root test ended
  // between them and the next file: "cannot create subtest after parent test ends"); their cases
  // run below as subtests, on the same stores their files use.
  ...readdirSync(security).filter((f) => f.endsWith('.ts') && !f.startsWith('hardening-')).map((f) => new URL(f, security)),
]
// tap ends its root test once it has a teardown and is idle for two timer turns
// (@tapjs/core's TAP autoend), and loading the next file through the TypeScript loader can take
// longer than that after the previous file's tests are done: "cannot create subtest after parent
// test ends". So the root teardowns the imported files register are held back until every file
// is in, then handed to tap all at once.
const heldTeardowns: Array<() => unknown> = []
const teardown = t.teardown
t.teardown = (fn: () => unknown) => void heldTeardowns.push(fn)
for (const file of files) await import(file.href)
const redis = redisHardening(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
heldTeardowns.push(() => redis.cleanup())
t.teardown = teardown
for (const fn of heldTeardowns) t.teardown(fn)
for (const options of [memoryHardening, redis.options]) await t.test(`hardening suite, ${options.name}`, (t) => hardeningSuite(t, options))

t.test('no log line holds a cookie value, a session ID or key, or a password', async (t) => {
  log.flush()
  const text = captured.join('')
  const lines = text.split('\n').filter((line) => line !== '')
  const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>)
  const access = entries.filter((e) => e.kind === 'access')
  const events = new Set(entries.filter((e) => e.kind === 'audit').map((e) => e.event))
  t.ok(files.length >= 9, `${files.length} black-box files ran`)
  t.ok(access.length > 500, `${access.length} access lines captured`)
  for (const kind of ['login.succeeded', 'login.failed', 'logout', 'session.created', 'session.regenerated', 'session.destroyed', 'session.revoked', 'password.changed', 'store.failure', 'user.created', 'user.updated', 'user.disabled', 'user.deleted']) {
    t.ok(events.has(kind), `audit lines include ${kind}`)
  }
  const reasons = new Set(entries.filter((e) => e.kind === 'audit').map((e) => `${e.event} ${e.reason}`))
  for (const reason of ['login.failed unknown-user', 'login.failed bad-password', 'login.failed disabled', 'login.failed throttled', 'session.revoked user-revoked', 'session.revoked admin-revoked', 'session.revoked password-changed', 'session.revoked credential-version', 'session.revoked limit-evicted']) {
    t.ok(reasons.has(reason), `audit lines include ${reason}`)
  }
  t.ok(secrets.size > 200, `${secrets.size} cookie values, IDs and keys collected`)
  t.ok(passwords.size > 5, `${passwords.size} passwords collected`)
  const leaks = [...secrets, ...passwords].filter((secret) => text.includes(secret))
  t.same(leaks, [], 'none appears in the log')
  const keys = new Set(entries.flatMap((e) => Object.keys(e)))
  for (const forbidden of ['password', 'cookie', 'sid', 'id', 'key', 'body', 'query', 'path', 'url']) {
    t.notOk(keys.has(forbidden), `no line has a "${forbidden}" field`)
  }
})
