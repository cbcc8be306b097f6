import t from 'tap'
import { EVENT_LEVELS, Logger, type AccessRecord } from '../../lib/server/log.js'
import { SECURITY_EVENT_TYPES } from '../../lib/events.js'

const TIME = Date.UTC(2026, 0, 2, 3, 4, 5, 678)
const access: AccessRecord = { method: 'GET', route: '/sessions/:handle', status: 200, ms: 0.42, bytes: 57, session: 'Zp3aaaaaaaaaaaaa', ip: '127.0.0.1' }

function capture(options: ConstructorParameters<typeof Logger>[0] = {}) {
  const out: string[] = []
  const log = new Logger({ now: () => TIME, write: (text) => out.push(text), ...options })
  return { log, out, lines: () => out.join('').split('\n').filter(Boolean) }
}

t.test('JSON lines: access, audit and message, one object a line', async (t) => {
  const { log, lines } = capture()
  log.access(access)
  log.access({ ...access, route: null, session: null, method: 'BREW', status: 404 })
  log.event({ type: 'login.failed', time: TIME, reason: 'bad-password', userId: '2', ip: '::1', userAgent: 'curl/8 "quoted"' })
  log.log('warn', 'hello', { n: 1 })
  log.flush()
  t.same(lines().map((l) => JSON.parse(l)), [
    { time: '2026-01-02T03:04:05.678Z', level: 'info', kind: 'access', method: 'GET', route: '/sessions/:handle', status: 200, ms: 0.42, bytes: 57, session: 'Zp3aaaaaaaaaaaaa', ip: '127.0.0.1' },
    { time: '2026-01-02T03:04:05.678Z', level: 'info', kind: 'access', method: 'BREW', route: null, status: 404, ms: 0.42, bytes: 57, session: null, ip: '127.0.0.1' },
    { time: '2026-01-02T03:04:05.678Z', level: 'warn', kind: 'audit', event: 'login.failed', reason: 'bad-password', userId: '2', ip: '::1', userAgent: 'curl/8 "quoted"' },
    { time: '2026-01-02T03:04:05.678Z', level: 'warn', kind: 'message', message: 'hello', n: 1 },
  ])
})

t.test('levels: probes are debug, events have their own level, silent writes nothing', async (t) => {
  const info = capture({ level: 'info' })
  info.log.access({ ...access, route: '/healthz' })
  info.log.access({ ...access, route: '/metrics' })
  info.log.log('debug', 'hidden')
  info.log.event({ type: 'session.created', time: TIME })
  info.log.flush()
  t.same(info.lines().map((l) => JSON.parse(l).event), ['session.created'])
  t.equal(info.log.enabled('debug'), false)
  t.equal(info.log.enabled('error'), true)

  const debug = capture({ level: 'debug' })
  debug.log.access({ ...access, route: '/healthz' })
  debug.log.flush()
  t.match(debug.lines()[0], /"level":"debug".*"route":"\/healthz"/)

  const error = capture({ level: 'error' })
  error.log.event({ type: 'login.failed', time: TIME, reason: 'throttled' })
  error.log.event({ type: 'store.failure', time: TIME, code: 'ERR_STORE_TIMEOUT' })
  error.log.access(access)
  error.log.flush()
  t.equal(error.lines().length, 1)

  const silent = capture({ level: 'silent' })
  silent.log.event({ type: 'store.failure', time: TIME, code: 'ERR_STORE_TIMEOUT' })
  silent.log.log('error', 'x')
  silent.log.flush()
  t.same(silent.out, [])
  for (const type of SECURITY_EVENT_TYPES) t.ok(EVENT_LEVELS[type], `${type} has a level`)
})

t.test('pretty lines for a terminal', async (t) => {
  const { log, lines } = capture({ format: 'pretty' })
  log.access(access)
  log.access({ ...access, route: null, session: null })
  log.event({ type: 'login.failed', time: TIME, reason: 'bad-password', userId: '2', handle: null, ip: '::1', userAgent: 'Mozilla/5.0 (X11)' })
  log.event({ type: 'session.revoked', time: TIME, reason: 'admin-revoked', count: 3, userId: '', handle: undefined })
  log.log('info', 'listening', { url: 'http://127.0.0.1:3000' })
  log.flush()
  t.same(lines(), [
    '03:04:05.678 INFO  GET /sessions/:handle 200 0.42ms 57B ip=127.0.0.1 session=Zp3aaaaaaaaaaaaa',
    '03:04:05.678 INFO  GET (no route) 200 0.42ms 57B ip=127.0.0.1',
    '03:04:05.678 WARN  login.failed reason=bad-password userId=2 ip=::1 userAgent="Mozilla/5.0 (X11)"',
    '03:04:05.678 INFO  session.revoked reason=admin-revoked count=3',
    '03:04:05.678 INFO  listening url=http://127.0.0.1:3000',
  ])
})

t.test('buffered: one write per flush interval, or when the buffer is full', async (t) => {
  const { log, out } = capture({ flushMs: 5 })
  log.access(access)
  log.access(access)
  t.same(out, [], 'nothing written yet')
  // The flush timer is unref'd; keep this process up until it fires.
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(out.length, 1, 'one write for both lines')
  t.equal(out[0]?.split('\n').length, 3)
  log.flush()
  t.equal(out.length, 1, 'flushing nothing writes nothing')
  const small = capture({ maxPending: 10 })
  small.log.access(access)
  t.equal(small.out.length, 1, 'a full buffer is written at once')
})

t.test('defaults: info, json, stdout, Date.now', async (t) => {
  const log = new Logger()
  t.equal(log.level, 'info')
  t.equal(log.format, 'json')
  const written: string[] = []
  const original = process.stdout.write
  process.stdout.write = ((chunk: string) => (written.push(chunk), true)) as typeof process.stdout.write
  const before = Date.now()
  log.log('info', 'to stdout')
  log.flush()
  process.stdout.write = original
  const line = JSON.parse(written.join('')) as { time: string; message: string }
  t.equal(line.message, 'to stdout')
  t.ok(Date.parse(line.time) >= before - 1)
})

t.test('the quoted-value cache is bounded: it starts over past 4096 distinct values', async (t) => {
  const { log, lines } = capture({ maxPending: 1 << 30 })
  for (let i = 0; i < 4100; i++) log.access({ ...access, ip: `10.0.${i >> 8}.${i & 255}` })
  log.flush()
  const all = lines()
  t.equal(all.length, 4100)
  t.equal(JSON.parse(all.at(-1) as string).ip, '10.0.16.3')
})

t.test('time stamps: the ISO form, milliseconds zero-padded, across second boundaries', async (t) => {
  let now = Date.UTC(2026, 0, 2, 3, 4, 5, 5)
  const out: string[] = []
  const log = new Logger({ now: () => now, write: (text) => out.push(text) })
  for (const ms of [5, 45, 999, 1000, 1001]) {
    now = Date.UTC(2026, 0, 2, 3, 4, 5, ms)
    log.log('info', 'tick')
  }
  log.flush()
  const times = out.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l).time as string)
  t.same(times, ['2026-01-02T03:04:05.005Z', '2026-01-02T03:04:05.045Z', '2026-01-02T03:04:05.999Z', '2026-01-02T03:04:06.000Z', '2026-01-02T03:04:06.001Z'])
  for (const time of times) t.equal(new Date(time).toISOString(), time)
})
