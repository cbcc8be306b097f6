import t from 'tap'
import { closeSync, openSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { AtomicWriter, EVENT_LEVELS, Logger, PIPE_BUF, writtenInPlace, type AccessRecord } from '../../lib/server/log.js'
import { SECURITY_EVENT_TYPES, type SecurityEvent } from '../../lib/events.js'

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
  // maxPending is clamped to 16 MiB, which still holds all 4100 lines: one write, at the flush.
  const { log, out, lines } = capture({ maxPending: 16 << 20 })
  const ips = Array.from({ length: 4100 }, (_, i) => `10.0.${i >> 8}.${i & 255}`)
  for (const ip of ips) log.access({ ...access, ip })
  // After the cache started over: an address seen before it did, and one seen after.
  log.access({ ...access, ip: ips[0] as string })
  log.access({ ...access, ip: ips[4099] as string })
  t.same(out, [], 'nothing written before the flush')
  log.flush()
  t.equal(out.length, 1)
  const all = lines()
  t.equal(all.length, 4102)
  t.same(
    all.map((l) => JSON.parse(l).ip),
    [...ips, ips[0], ips[4099]],
  )
  t.equal(JSON.parse(all[4099] as string).ip, '10.0.16.3')
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

/** A logger whose writes are kept as handed over (the sink may keep them, as a stream queues them). */
function chunks(options: ConstructorParameters<typeof Logger>[0] = {}) {
  const out: string[] = []
  const log = new Logger({ now: () => TIME, write: (text) => out.push(text), ...options })
  return { log, out, lines: () => out.join('').split('\n').filter(Boolean) }
}

/** The one access line written for `r`, as text. */
function accessLine(r: Partial<AccessRecord>): string {
  const { log, lines } = capture()
  log.access({ ...access, ...r })
  log.flush()
  const all = lines()
  if (all.length !== 1) throw new Error(`expected one line, got ${all.length}`)
  return all[0] as string
}

/** The keys of an access line, in the order they are written. */
const ACCESS_KEYS = ['time', 'level', 'kind', 'method', 'route', 'status', 'ip', 'session', 'ms', 'bytes']

/** An integer field as an access line shows it: the floored number, 0 unless a safe integer ≥ 0. */
function wholeOrZero(n: number): number {
  return n >= 0 && n <= Number.MAX_SAFE_INTEGER ? Math.floor(n) : 0
}

/**
 * The access line expected for `r` at `time`, built here from the record (not from the logger's
 * pieces), keys in the written order: `JSON.stringify` of it is the line's exact text.
 */
function expectedAccess(r: AccessRecord, time: number, level: 'debug' | 'info' = r.route === '/healthz' || r.route === '/metrics' ? 'debug' : 'info') {
  return {
    time: new Date(time).toISOString(),
    level,
    kind: 'access',
    method: r.method,
    route: r.route,
    status: wholeOrZero(r.status),
    ip: r.ip,
    session: r.session,
    // + 0: a -0 (from a tiny negative ms) is written, and read back, as 0.
    ms: Number.isFinite(r.ms) && r.ms >= 0 ? Math.round(r.ms * 100) / 100 + 0 : 0,
    bytes: wholeOrZero(r.bytes),
  }
}

/** A small seeded PRNG (mulberry32): the same sequence on every run. */
function prng(seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let x = s
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

t.test('ms: rounded to hundredths, printed as JavaScript prints the rounded number', async (t) => {
  const exact: Record<number, string> = { 0: '0', 0.2: '0.2', 0.42: '0.42', 0.05: '0.05', 3: '3', 12.05: '12.05', 1234.5: '1234.5' }
  for (const [ms, text] of Object.entries(exact)) {
    const line = accessLine({ ms: Number(ms) })
    t.match(line, `,"ms":${text},"bytes":`, `ms ${ms}`)
    t.equal(JSON.parse(line).ms, Number(text))
  }
  for (const ms of [0, 0.2, 0.42, 0.05, 3, 12.05, 1234.5, 0.004, 0.005, 0.015, 0.994, 0.995, 1.005, 1.1, 9.99, 10, 10.01, 99.995, 100.1, 0.1 + 0.2, 65535.25, 1e9 + 0.07]) {
    const rounded = Math.round(ms * 100) / 100
    const line = accessLine({ ms })
    t.equal(JSON.parse(line).ms, rounded, `ms ${ms}`)
    t.match(line, `,"ms":${JSON.stringify(rounded)},"bytes":`, `ms ${ms} as text`)
  }
})

t.test('ms, status and bytes that are not numbers ≥ 0 are written as 0, the line still JSON', async (t) => {
  for (const bad of [-1, -0.42, -0.001, -1e300, NaN, Infinity, -Infinity, 2 ** 60]) {
    const line = accessLine({ status: bad, ms: bad, bytes: bad })
    const parsed = JSON.parse(line)
    t.same([parsed.status, parsed.ms, parsed.bytes], [0, 0, 0], `${bad}`)
    t.match(line, '"status":0,"ip":', `${bad} as text`)
    t.match(line, ',"ms":0,"bytes":0}', `${bad} as text`)
  }
  // Fractions of an integer field are dropped; the largest safe integer is written whole.
  const line = accessLine({ status: 200.7, bytes: 1.5 })
  t.match(line, '"status":200,"ip":')
  t.match(line, ',"ms":0.42,"bytes":1}')
  t.equal(JSON.parse(accessLine({ bytes: Number.MAX_SAFE_INTEGER })).bytes, Number.MAX_SAFE_INTEGER)
})

t.test('status and bytes: digits of every magnitude', async (t) => {
  for (const n of [0, 7, 10, 99, 100, 404, 65535, 123456789]) {
    const line = accessLine({ status: n, bytes: n })
    t.match(line, `"status":${n},"ip":`, `${n}`)
    t.match(line, `,"ms":0.42,"bytes":${n}}`, `${n}`)
    const parsed = JSON.parse(line)
    t.equal(parsed.status, n)
    t.equal(parsed.bytes, n)
  }
})

t.test('session handles: copied as is when plain, JSON-quoted otherwise, always round-trip', async (t) => {
  const plain = 'Zp3-_aZ09xyzABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz01'
  t.match(accessLine({ session: plain }), `,"ip":"127.0.0.1","session":"${plain}","ms":`)
  const handles = [
    plain,
    '',
    'a"b',
    'a\\b',
    'a\u0001b',
    '\u001f',
    '\u007f',
    'é',
    'abc😀',
    '\ud800',
    'x'.repeat(128),
    'x'.repeat(129),
    'y'.repeat(500),
    `${'z'.repeat(200)}"\\\u0001é😀`,
    '</script>\u2028',
  ]
  for (const [k, session] of handles.entries()) {
    const line = accessLine({ session })
    // A lone surrogate is written escaped (`\ud800`), as JSON.stringify writes it, and read back as is.
    t.equal(JSON.parse(line).session, session, `handle ${k}`)
    t.ok(line.includes(`,"session":${JSON.stringify(session)},"ms":0.42,"bytes":57}`), `handle ${k} as text`)
  }
  // All the handles in one buffer: each line whole, in order.
  const { log, lines } = capture()
  for (const session of handles) log.access({ ...access, session })
  log.flush()
  t.same(
    lines().map((l) => JSON.parse(l).session),
    handles,
  )
})

t.test('an access line longer than the buffer is written on its own, after the lines before it', async (t) => {
  // The buffer holds max(maxPending, 8192) bytes: 65 536 by default.
  for (const [options, length] of [
    [{}, 70_000],
    [{ maxPending: 8192 }, 20_000],
  ] as const) {
    const { log, out } = chunks(options)
    const ip = `10.0.0.1, ${'9'.repeat(length)}`
    log.access({ ...access, ip: '10.0.0.1' })
    log.access({ ...access, ip: '10.0.0.2', session: null })
    log.access({ ...access, ip, session: 'a"b', status: 404, bytes: 123456789 })
    log.access({ ...access, ip: '10.0.0.3' })
    log.flush()
    t.equal(out.length, 3, `${length}: three writes`)
    const texts = out.map((chunk) => chunk.toString())
    for (const text of texts) t.ok(text.endsWith('\n'), 'whole lines')
    t.same(texts[0]?.split('\n').filter(Boolean).map((l) => JSON.parse(l).ip), ['10.0.0.1', '10.0.0.2'])
    t.equal(texts[1]?.split('\n').length, 2, 'one line')
    t.same(JSON.parse(texts[1] as string), {
      time: '2026-01-02T03:04:05.678Z',
      level: 'info',
      kind: 'access',
      method: 'GET',
      route: '/sessions/:handle',
      status: 404,
      ms: 0.42,
      bytes: 123456789,
      session: 'a"b',
      ip,
    })
    t.same(JSON.parse(texts[2] as string).ip, '10.0.0.3')
    // Same text as a line short enough for the buffer, but for the address.
    const short = accessLine({ ip: 'IP', session: 'a"b', status: 404, bytes: 123456789 })
    t.equal(texts[1], `${short.replace('"ip":"IP"', `"ip":"${ip}"`)}\n`)
  }
})

t.test('a text line longer than the buffer is written on its own, after the lines before it', async (t) => {
  const { log, out } = chunks()
  const big = 'é'.repeat(30_000)
  log.access(access)
  log.log('info', 'big', { field: big })
  log.access({ ...access, ip: '::1' })
  log.event({ type: 'login.failed', time: TIME, reason: 'bad-password', userAgent: 'u'.repeat(30_000) })
  log.log('info', 'after')
  log.flush()
  const texts = out.map((chunk) => chunk.toString())
  t.equal(texts.length, 5)
  for (const text of texts) t.ok(text.endsWith('\n') && text.indexOf('\n') === text.length - 1, 'one whole line a write')
  const lines = texts.map((text) => JSON.parse(text))
  t.same(lines.map((l) => l.kind), ['access', 'message', 'access', 'audit', 'message'])
  t.same(lines[1], { time: '2026-01-02T03:04:05.678Z', level: 'info', kind: 'message', message: 'big', field: big })
  t.equal(lines[2].ip, '::1')
  t.equal(lines[3].userAgent, 'u'.repeat(30_000))
  t.equal(lines[4].message, 'after')
})

t.test('a full buffer is written at once, whole lines, in order', async (t) => {
  const { log, out, lines } = chunks()
  for (let i = 0; i < 2000; i++) {
    log.access({ ...access, bytes: i })
    if (i % 10 === 0) log.log('info', 'tick', { i, pad: 'p'.repeat(i) })
  }
  t.ok(out.length >= 3, `${out.length} writes before the flush`)
  log.flush()
  for (const chunk of out) {
    t.ok(Buffer.byteLength(chunk) <= 65_536, 'no more than the buffer')
    t.ok(String(chunk).endsWith('\n'), 'ends with a newline')
  }
  const all = lines().map((l) => JSON.parse(l))
  t.equal(all.length, 2200)
  t.same(
    all.filter((l) => l.kind === 'access').map((l) => l.bytes),
    Array.from({ length: 2000 }, (_, i) => i),
  )
  t.same(
    all.filter((l) => l.kind === 'message').map((l) => l.i),
    Array.from({ length: 200 }, (_, i) => i * 10),
  )
  // Each tick follows its access line.
  t.same(all.slice(0, 3).map((l) => l.kind), ['access', 'message', 'access'])
})

t.test('written text never changes afterwards, though the logger reuses its buffer', async (t) => {
  // A few lines, then more written over the same bytes of the buffer.
  const few = chunks()
  few.log.access({ ...access, ip: '10.0.0.1' })
  few.log.log('info', 'first')
  few.log.flush()
  t.equal(few.out.length, 1)
  const first = few.out[0] as string
  const text = first.toString()
  few.log.access({ ...access, ip: '10.9.9.9', session: 'overwritten?' })
  few.log.log('warn', 'second, and longer than the first lines were')
  few.log.flush()
  t.equal(few.out.length, 2)
  t.equal(first.toString(), text, 'the first chunk is unchanged')
  t.same(text.split('\n').filter(Boolean).map((l) => JSON.parse(l).ip ?? JSON.parse(l).message), ['10.0.0.1', 'first'])
  t.match(few.out[1]?.toString(), /overwritten\?.*\n.*second, and longer/)

  // A full buffer, written at once.
  const full = chunks()
  let i = 0
  while (full.out.length === 0) full.log.access({ ...access, bytes: i++ })
  const handed = full.out[0] as string
  t.ok(Buffer.byteLength(handed) >= 65_536 / 2, 'more than half the buffer')
  const handedText = handed.toString()
  const handedCount = handedText.split('\n').length - 1
  // Written when the next line might not fit: that line and the rest of its batch (the lines of
  // up to 256 waiting records are written together) go to the new buffer.
  t.ok(handedCount >= i - 256 && handedCount <= i, `${handedCount} of ${i} lines`)
  for (let j = 0; j < 2 * i; j++) full.log.access({ ...access, bytes: 999_999_999, session: 'S'.repeat(40), ip: '::ffff:192.0.2.1' })
  full.log.flush()
  t.ok(full.out.length >= 3)
  t.equal(handed.toString(), handedText, 'the full buffer\'s text is unchanged')
  t.same(
    handedText.split('\n').filter(Boolean).map((l) => JSON.parse(l).bytes),
    Array.from({ length: handedCount }, (_, k) => k),
  )
  t.same(
    full.lines().slice(handedCount, i).map((l) => JSON.parse(l).bytes),
    Array.from({ length: i - handedCount }, (_, k) => handedCount + k),
    'the rest follow, in order',
  )
  // A few lines again, after a full buffer.
  full.log.log('info', 'small')
  full.log.flush()
  const small = full.out.at(-1) as string
  const smallText = small.toString()
  full.log.log('info', 'again')
  full.log.flush()
  t.equal(small.toString(), smallText)
  t.equal(JSON.parse(smallText).message, 'small')
})

t.test('maxPending: at least 1 byte (every line written at once), at most 16 MiB', async (t) => {
  for (const maxPending of [0, -5, 1]) {
    const { log, out } = chunks({ maxPending })
    log.access(access)
    t.equal(out.length, 1, `${maxPending}: written at once`)
    log.log('info', 'now')
    log.event({ type: 'logout', time: TIME })
    t.equal(out.length, 3)
    t.same(
      out.map((chunk) => JSON.parse(chunk.toString()).kind),
      ['access', 'message', 'audit'],
    )
  }
  // NaN is the default, 64 KiB: a line waits.
  const nan = chunks({ maxPending: NaN })
  nan.log.access(access)
  t.same(nan.out, [], 'NaN: the default')
  nan.log.flush()
  t.equal(nan.out.length, 1)
  // Beyond 16 MiB (or even an unallocatable size) is 16 MiB: everything waits for the flush.
  for (const maxPending of [2 ** 40, Infinity]) {
    const { log, out, lines } = chunks({ maxPending })
    for (let i = 0; i < 5000; i++) log.access({ ...access, bytes: i })
    t.equal(out.length, 0, `${maxPending}: nothing written before the flush`)
    log.flush()
    t.equal(out.length, 1)
    t.same(
      lines().map((l) => JSON.parse(l).bytes),
      Array.from({ length: 5000 }, (_, i) => i),
    )
  }
})

t.test('time stamps of access lines after other lines, in the same and other milliseconds', async (t) => {
  const A = Date.UTC(2026, 0, 2, 3, 4, 5, 678)
  const B = Date.UTC(2026, 0, 2, 3, 4, 9, 7)
  const C = Date.UTC(2026, 0, 2, 3, 4, 9, 70)
  const D = Date.UTC(2027, 5, 6, 7, 8, 9, 10)
  let now = A
  const { log, lines } = chunks({ now: () => now })
  const iso = (time: number) => new Date(time).toISOString()
  log.event({ type: 'logout', time: A })
  log.access(access) // A, after an audit line of the same millisecond
  log.event({ type: 'logout', time: B })
  log.access(access) // A again, after an audit line of another second
  now = B
  log.access(access) // B, after an access line of another millisecond
  now = C
  log.log('info', 'tick') // C
  log.access(access) // C, same second as B
  log.event({ type: 'logout', time: D })
  now = A
  log.access(access) // A, after an audit line of another year
  log.event({ type: 'logout', time: A })
  log.access(access) // A
  log.flush()
  t.same(
    lines().map((l) => [JSON.parse(l).kind, JSON.parse(l).time]),
    [
      ['audit', iso(A)],
      ['access', iso(A)],
      ['audit', iso(B)],
      ['access', iso(A)],
      ['access', iso(B)],
      ['message', iso(C)],
      ['access', iso(C)],
      ['audit', iso(D)],
      ['access', iso(A)],
      ['audit', iso(A)],
      ['access', iso(A)],
    ],
  )
})

t.test('an access line longer than the buffer is written as a short one would be', async (t) => {
  const { log, out } = chunks({ maxPending: 8192 })
  const ip = '9'.repeat(20_000)
  for (const [ms, bytes] of [
    [0.42, 57],
    [0.4234, 5],
    [NaN, -1],
    [Infinity, 1.5],
  ] as const) {
    log.access({ ...access, ip, ms, bytes })
    log.access({ ...access, ip: 'IP', ms, bytes })
  }
  log.flush()
  const texts = out.map(String)
  t.equal(texts.length, 8, 'each long line on its own, each short one after it')
  const same = (k: number) => texts[k] === (texts[k + 1] as string).replace('"ip":"IP"', `"ip":"${ip}"`)
  t.ok(same(0), 'ms 0.42, bytes 57')
  t.ok(same(2), 'ms 0.4234 is written 0.42')
  t.ok(same(4), 'ms NaN and bytes -1 are written 0')
  t.ok(same(6), 'ms Infinity is written 0, bytes 1.5 as 1')
})

t.test('access lines repeat runs of the line before them, each still exactly as if written alone', async (t) => {
  let now = TIME
  const { log, out, lines } = chunks({ now: () => now })
  const want: string[] = []
  const put = (r: Partial<AccessRecord>) => {
    const record = { ...access, ...r }
    log.access(record)
    const line = expectedAccess(record, now)
    if (line.level === 'info') want.push(JSON.stringify(line))
  }
  put({})
  put({ ms: 12.5, bytes: 3 }) // same millisecond, route, client and session: only the numbers differ
  put({ ms: 1, bytes: 1234567, session: null }) // same millisecond and route, another session
  put({ ip: '::1', session: null }) // same millisecond and route, another client
  put({ ip: '::1', session: null, status: 404 }) // another status, same client and session
  now = TIME + 1
  put({ ip: '::1', session: null, status: 404, bytes: 8 }) // another millisecond, same route and client
  log.log('info', 'between')
  want.push(JSON.stringify({ time: new Date(now).toISOString(), level: 'info', kind: 'message', message: 'between' }))
  put({ ip: '::1', session: null, status: 404, bytes: 9 }) // a text line between: the runs are still there
  put({ ip: '::1', session: null, status: 404, bytes: 10, route: '/healthz' }) // skipped (debug)
  put({ ip: '::1', session: null, status: 404, bytes: 11 }) // repeats the line before the skipped one
  log.flush()
  t.equal(out.length, 1)
  put({ ip: '::1', session: null, status: 404, bytes: 12 }) // after a flush: nothing to repeat
  put({ ip: '::1', session: null, status: 404, bytes: 13 }) // repeats the line after the flush
  put({ ip: '::1', session: 'a"b\\c\u0001é😀', bytes: 14 }) // a handle that needs quoting...
  put({ ip: '::1', session: 'a"b\\c\u0001é😀', bytes: 15 }) // ... repeated
  put({ ip: '::2', session: 'a"b\\c\u0001é😀', bytes: 16 }) // same handle, another client
  log.flush()
  t.equal(out.length, 2)
  t.same(lines(), want)
  t.ok((out[1] as string).startsWith(want[9] as string), 'the second write starts with the line after the flush')

  // Around a line too long for the buffer (written alone, after a flush): the lines after it are
  // written afresh, and whole.
  const long = chunks({ maxPending: 8192 })
  const ip = '9'.repeat(20_000)
  long.log.access(access)
  long.log.access({ ...access, ip })
  long.log.access(access)
  long.log.access({ ...access, bytes: 1 })
  long.log.flush()
  const line = JSON.stringify(expectedAccess(access, TIME))
  t.same(long.out, [`${line}\n`, `${JSON.stringify(expectedAccess({ ...access, ip }, TIME))}\n`, `${line}\n${JSON.stringify(expectedAccess({ ...access, bytes: 1 }, TIME))}\n`])
})

t.test('property: random access, audit and message lines and flushes; every line exactly as expected', async (t) => {
  const rand = prng(0x5e551011)
  const pick = <T>(pool: readonly T[]): T => pool[Math.floor(rand() * pool.length)] as T
  // The same millisecond, the next one, and one in the next second.
  const clocks = [TIME, TIME + 1, TIME + 400]
  const methods = ['GET', 'POST']
  const routes = ['/sessions/:handle', null]
  const statuses = [200, 304, NaN]
  const ips = ['127.0.0.1', '::ffff:192.0.2.1']
  const sessions = [null, 'Zp3aaaaaaaaaaaaa', 'a"b\\c\u0001é']
  const ms = (): number => {
    const x = rand()
    if (x < 0.08) return NaN
    if (x < 0.12) return Infinity
    if (x < 0.2) return -pick([0.004, 0.006, 0.5, 3, 1e300])
    if (x < 0.25) return 0
    if (x < 0.6) return Math.floor(rand() * 1e5) / 100
    return rand() * 1000
  }
  const bytes = (): number => {
    const x = rand()
    if (x < 0.08) return NaN
    if (x < 0.16) return -pick([1, 0.5, 1e9])
    if (x < 0.3) return rand() * 100
    return Math.floor(rand() * 1e6)
  }
  let now = TIME
  const out: string[] = []
  const log = new Logger({ now: () => now, write: (text) => out.push(text), maxPending: 700 })
  const want: object[] = []
  const wantAccess: string[] = []
  let r: AccessRecord = { ...access }
  // A model of the pending buffer: its last access line (null when nothing is pending), and
  // whether that line was the first since the last write.
  let previous: { time: number; r: AccessRecord; first: boolean } | null = null
  let writes = 0
  const seen = { sameRun: 0, newRun: 0, sameIdent: 0, newIdent: 0, sameRunAfterFlush: 0, sameIdentAfterFlush: 0, flushes: 0 }
  for (let i = 0; i < 2000; i++) {
    if (rand() < 0.3) now = pick(clocks)
    const x = rand()
    if (x < 0.05) {
      log.flush()
      seen.flushes++
    } else if (x < 0.08) {
      const e: SecurityEvent =
        rand() < 0.5
          ? { type: 'login.failed', time: pick(clocks), reason: 'bad-password', ip: pick(ips), userAgent: 'curl/8 "q"' }
          : { type: 'session.created', time: pick(clocks), handle: pick(sessions) }
      log.event(e)
      const { type, time, ...fields } = e
      want.push({ time: new Date(time).toISOString(), level: EVENT_LEVELS[type], kind: 'audit', event: type, ...fields })
    } else if (x < 0.1) {
      log.log('info', 'tick', { i })
      want.push({ time: new Date(now).toISOString(), level: 'info', kind: 'message', message: 'tick', i })
    } else {
      // Each field often as in the line before, for runs of equal pieces.
      const keep = () => rand() < 0.6
      r = {
        method: keep() ? r.method : pick(methods),
        route: keep() ? r.route : pick(routes),
        status: keep() ? r.status : pick(statuses),
        ms: ms(),
        bytes: bytes(),
        ip: keep() ? r.ip : pick(ips),
        session: keep() ? r.session : pick(sessions),
      }
      log.access(r)
      const line = expectedAccess(r, now)
      want.push(line)
      wantAccess.push(JSON.stringify(line))
      if (previous !== null) {
        const p = previous.r
        const sameRun = previous.time === now && p.method === r.method && p.route === r.route && Object.is(p.status, r.status)
        const sameIdent = p.ip === r.ip && p.session === r.session
        seen[sameRun ? 'sameRun' : 'newRun']++
        seen[sameIdent ? 'sameIdent' : 'newIdent']++
        if (previous.first && sameRun) seen.sameRunAfterFlush++
        if (previous.first && sameIdent) seen.sameIdentAfterFlush++
      }
      previous = { time: now, r, first: previous === null }
    }
    if (x < 0.05 || out.length !== writes) {
      writes = out.length
      previous = null
    }
  }
  log.flush()
  t.ok(out.length > 100, `${out.length} writes`)
  t.ok(
    out.every((chunk) => chunk.endsWith('\n')),
    'every write is whole lines',
  )
  const all = out.join('').split('\n').filter(Boolean)
  t.strictSame(
    all.map((l) => JSON.parse(l)),
    want,
    'every line, in order',
  )
  const accessTexts = all.filter((l) => JSON.parse(l).kind === 'access')
  t.equal(accessTexts.length, wantAccess.length)
  t.same(accessTexts, wantAccess, 'access lines as text: the expected objects, stringified')
  t.ok(
    accessTexts.every((l) => JSON.stringify(Object.keys(JSON.parse(l))) === JSON.stringify(ACCESS_KEYS)),
    'keys in the written order',
  )
  // The sequence exercised every case of reuse, and of none.
  for (const [name, count] of Object.entries(seen)) t.ok(count >= 10, `${name}: ${count}`)
})

t.test('at: the time stamp from the end of the response, the clock read once a second of it', async (t) => {
  let now = TIME
  let reads = 0
  const { log, lines } = chunks({ now: () => (reads++, now) })
  const times: number[] = []
  const put = (at?: number) => {
    log.access(at === undefined ? access : { ...access, at })
  }
  put(5000.25)
  t.equal(reads, 1, 'the clock is read for the first line')
  times.push(TIME)
  // The wall clock moves (or is stepped) meanwhile: within a second of monotonic time the offset
  // read at 5000.25 still holds.
  now = TIME + 60_000
  const offset = TIME - 5000.25
  put(5400)
  t.equal(Math.floor(5400 + offset), TIME + 399, '399.75 ms on, floored')
  times.push(TIME + 399)
  put(6000.2) // the last instant of that second
  t.equal(Math.floor(6000.2 + offset), TIME + 999)
  times.push(TIME + 999)
  t.equal(reads, 1, 'not read again within the second')
  put(6000.25) // a second on: read again, and the step shows
  t.equal(reads, 2)
  times.push(TIME + 60_000)
  now = TIME + 120_000
  put(6500)
  t.equal(Math.floor(6500 + (TIME + 60_000 - 6000.25)), TIME + 60_499)
  times.push(TIME + 60_499)
  t.equal(reads, 2)
  put(4000) // before the instant the offset was read at: read again
  t.equal(reads, 3)
  times.push(TIME + 120_000)
  now = TIME + 180_000
  put() // no `at`: the clock, read for this line
  t.equal(reads, 4)
  times.push(TIME + 180_000)
  put(4999.5) // the offset read at 4000 still holds: a line without `at` does not move it
  t.equal(reads, 4)
  times.push(TIME + 120_999)
  // A skipped line (a probe at info) reads no clock, and moves no offset.
  log.access({ ...access, route: '/healthz', at: 90_000 })
  t.equal(reads, 4)
  put(4999.75)
  times.push(TIME + 120_999)
  t.equal(reads, 4)
  log.flush()
  t.same(
    lines(),
    times.map((time) => JSON.stringify(expectedAccess(access, time))),
    'the time stamps; `at` itself is no field of the line',
  )

  // Without `at`, the clock is read for every line.
  let clock = TIME
  let clockReads = 0
  const plain = chunks({ now: () => (clockReads++, clock) })
  const steps = [0, 0, 1, 400, 399, 86_400_000]
  for (const step of steps) {
    clock = TIME + step
    plain.log.access(access)
  }
  plain.log.flush()
  t.equal(clockReads, steps.length)
  t.same(
    plain.lines().map((l) => JSON.parse(l).time),
    steps.map((step) => new Date(TIME + step).toISOString()),
  )

  // Pretty lines take the same time stamp.
  let prettyNow = TIME
  const pretty = chunks({ format: 'pretty', now: () => prettyNow })
  pretty.log.access({ ...access, at: 5000.25 })
  prettyNow = TIME + 60_000
  pretty.log.access({ ...access, at: 5400 })
  pretty.log.flush()
  t.same(
    pretty.lines().map((l) => l.slice(0, 12)),
    [new Date(TIME).toISOString().slice(11, 23), new Date(TIME + 399).toISOString().slice(11, 23)],
  )
})

t.test('the access-line prefix cache is bounded: it starts over past 4096 method, route and status triples', async (t) => {
  const { log, out, lines } = capture({ level: 'debug', maxPending: 16 << 20 })
  const record = (k: number): AccessRecord => ({
    ...access,
    method: k % 2 === 0 ? 'GET' : 'POST',
    route: k % 5 === 0 ? null : k % 5 === 1 ? '/healthz' : `/r/${k % 5}`,
    status: 100 + k,
    bytes: k,
  })
  // 4901 distinct triples (statuses 100 to 5000): the 4097th (k = 4096) finds the cache full.
  const ks = Array.from({ length: 4901 }, (_, k) => k)
  // After the start over: the first triple and the one before the start over (both dropped),
  // the one that started it over, the one after, the last one, and the first ones again.
  const again = [0, 4095, 4096, 4097, 4900, 0, 1, 1]
  const all = [...ks, ...again]
  for (const k of all) log.access(record(k))
  log.flush()
  t.equal(out.length, 1)
  const want = all.map((k) => JSON.stringify(expectedAccess(record(k), TIME)))
  const got = lines()
  t.equal(got.length, all.length)
  t.same(got.slice(4094, 4099), want.slice(4094, 4099), 'around the start over')
  t.same(got.slice(-again.length), want.slice(-again.length), 'triples from before and after the start over')
  t.same(
    got.slice(-again.length).map((l) => [JSON.parse(l).status, JSON.parse(l).level]),
    again.map((k) => [100 + k, k % 5 === 1 ? 'debug' : 'info']),
  )
  t.ok(
    got.every((l, i) => l === want[i]),
    'every line',
  )
})

t.test('levels of access lines follow each line\'s own route, never the line before', async (t) => {
  const records: AccessRecord[] = [
    { ...access },
    { ...access, route: '/healthz' }, // after an info line of the same method and status
    { ...access, route: '/healthz', bytes: 1 }, // the same triple again
    { ...access, bytes: 2 }, // an info line right after a probe
    { ...access, route: '/metrics' },
    { ...access, route: null },
    { ...access, route: '/metrics', status: 503 },
    { ...access, route: '/healthz', method: 'HEAD' },
    { ...access, route: '/healthz/' }, // not a probe route
    { ...access, route: '/METRICS' },
    { ...access, route: '/healthz', bytes: 3 },
    { ...access, status: 503, bytes: 4 },
    { ...access, route: '/metrics', status: 503, bytes: 5 },
    { ...access, status: 503, bytes: 6 },
  ]
  const levels = records.map((r) => (r.route === '/healthz' || r.route === '/metrics' ? 'debug' : 'info'))
  t.equal(levels.filter((l) => l === 'debug').length, 7)
  for (const level of ['debug', 'info', 'warn'] as const) {
    const { log, lines } = capture({ level })
    for (const r of records) log.access(r)
    log.flush()
    const want = records.map((r) => expectedAccess(r, TIME)).filter((l) => log.enabled(l.level))
    t.same(
      lines(),
      want.map((l) => JSON.stringify(l)),
      level,
    )
    t.equal(lines().length, { debug: 14, info: 7, warn: 0 }[level])
  }
})

t.test('the prefix memo starts empty: even the first record with an empty method, no route and status -1 gets its whole line', async (t) => {
  const line = accessLine({ method: '', route: null, status: -1, session: null })
  t.strictSame(JSON.parse(line), { time: '2026-01-02T03:04:05.678Z', level: 'info', kind: 'access', method: '', route: null, status: 0, ms: 0.42, bytes: 57, ip: '127.0.0.1', session: null })
})

t.test('an `at` that is not a finite number falls back to reading the clock', async (t) => {
  for (const at of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
    t.equal(JSON.parse(accessLine({ at })).time, '2026-01-02T03:04:05.678Z', String(at))
  }
})

t.test('atomic: whole lines in writes of at most PIPE_BUF bytes, the same text as one write', async (t) => {
  const lines = (log: Logger, userAgent: string, longIp: string): void => {
    for (let i = 0; i < 400; i++) {
      log.access({ ...access, bytes: i, ip: `10.0.${i % 7}.1`, session: i % 3 === 0 ? null : `h${i}` })
      if (i % 50 === 0) log.event({ type: 'login.failed', time: TIME, reason: 'bad-password', userId: String(i), ip: '::1', userAgent })
      // A line longer than PIPE_BUF can only be written alone.
      if (i === 123) log.access({ ...access, ip: longIp })
    }
    log.flush()
  }
  for (const [userAgent, longIp] of [
    ['curl/8', `10.9.9.9, ${'1'.repeat(6000)}`],
    // Multi-byte text: pieces are cut in bytes, at line ends, never inside a character.
    ['Mözilla/5.0 — 日本語 🙂'.repeat(20), `10.9.9.9, ${'2'.repeat(PIPE_BUF)}`],
  ]) {
    const plain = capture({ maxPending: 1 << 20 })
    lines(plain.log, userAgent as string, longIp as string)
    const atomic = capture({ atomic: true, maxPending: 1 << 20 })
    lines(atomic.log, userAgent as string, longIp as string)
    t.equal(plain.out.length, 1, 'not atomic: one write of the whole buffer')
    t.equal(atomic.out.join(''), plain.out.join(''), 'the same text, in order')
    const sizes = atomic.out.map((piece) => Buffer.byteLength(piece))
    t.ok(atomic.out.length > 10, `${atomic.out.length} pieces`)
    for (const [i, piece] of atomic.out.entries()) {
      const size = sizes[i] as number
      t.ok(piece.endsWith('\n'), 'a piece ends a line')
      if (size > PIPE_BUF) t.equal(piece.indexOf('\n'), piece.length - 1, 'a piece over PIPE_BUF is one line, alone')
      // Each piece is as big as it can be: the next line would not have fitted.
      const next = atomic.out[i + 1]
      if (size <= PIPE_BUF && next !== undefined) t.ok(size + Buffer.byteLength(next.slice(0, next.indexOf('\n') + 1)) > PIPE_BUF, 'full')
    }
    t.equal(sizes.filter((s) => s > PIPE_BUF).length, 1, 'only the one long line is over PIPE_BUF')
  }
  // A flush of at most PIPE_BUF bytes is one write, as without `atomic`.
  const small = capture({ atomic: true })
  small.log.access(access)
  small.log.access(access)
  small.log.flush()
  t.equal(small.out.length, 1)
})

t.test('atomic on stdout: one piece in the stream at a time, in order, none lost', async (t) => {
  /** A stream whose writes complete at once, or (`slow`) only a turn of the event loop later. */
  const stream = (slow: () => boolean) => {
    const taken: string[] = []
    let inFlight = 0
    let most = 0
    const w = new Writable({
      decodeStrings: false,
      write(chunk: string, _encoding, done) {
        inFlight++
        most = Math.max(most, inFlight)
        const finish = (): void => {
          taken.push(chunk)
          inFlight--
          done()
        }
        if (slow()) setImmediate(finish)
        else finish()
      },
    })
    return { w, taken, most: () => most }
  }
  // More than 1024: the queue is compacted as it drains, and stays in order.
  const pieces = Array.from({ length: 1500 }, (_, i) => `{"n":${i}}\n`)

  // Always slow (a full pipe): each piece waits for the one before it; the stream never holds two.
  const full = stream(() => true)
  const write = new AtomicWriter(full.w).write
  for (const piece of pieces) write(piece)
  t.equal(full.taken.length, 0, 'only the first is in the stream')
  t.equal(full.w.writableLength, pieces[0]?.length)
  await new Promise<void>((resolve) => {
    const check = () => (full.taken.length === pieces.length ? resolve() : setImmediate(check))
    check()
  })
  t.same(full.taken, pieces, 'all of them, in order')
  t.equal(full.most(), 1, 'never two in the stream at once (never one writev of several)')

  // Sometimes slow: pieces go at once while the stream takes them, and wait only behind a slow one.
  let n = 0
  const mixed = stream(() => n++ % 7 === 3)
  const writeMixed = new AtomicWriter(mixed.w).write
  for (const [i, piece] of pieces.entries()) {
    writeMixed(piece)
    if (i % 40 === 0) await new Promise((resolve) => setImmediate(resolve))
  }
  await new Promise<void>((resolve) => {
    const check = () => (mixed.taken.length === pieces.length ? resolve() : setImmediate(check))
    check()
  })
  t.same(mixed.taken, pieces)
  t.equal(mixed.most(), 1)

  // Never slow (a pipe with room, a file): every piece is written at once, nothing waits.
  const fast = stream(() => false)
  const writeFast = new AtomicWriter(fast.w).write
  for (const piece of pieces) writeFast(piece)
  t.same(fast.taken, pieces, 'written during the calls')

  // Someone else's bytes in the stream (console.log on stdout): ours wait for their own write.
  const shared = stream(() => true)
  shared.w.write('someone else\n')
  const writeShared = new AtomicWriter(shared.w).write
  writeShared('a\n')
  writeShared('b\n')
  await new Promise<void>((resolve) => {
    const check = () => (shared.taken.length === 3 ? resolve() : setImmediate(check))
    check()
  })
  t.same(shared.taken, ['someone else\n', 'a\n', 'b\n'])

  // A stream that has failed (EPIPE) still calls back: the queue drains instead of growing.
  const broken = stream(() => true)
  broken.w.on('error', () => {})
  broken.w.destroy(new Error('EPIPE'))
  const handed: string[] = []
  const realWrite = broken.w.write.bind(broken.w) as (chunk: string, done: () => void) => boolean
  broken.w.write = ((chunk: string, done: () => void) => (handed.push(chunk), realWrite(chunk, done))) as typeof broken.w.write
  const writeBroken = new AtomicWriter(broken.w).write
  for (const piece of pieces) writeBroken(piece)
  for (let i = 0; i < 2 * pieces.length && handed.length < pieces.length; i++) await new Promise((resolve) => setImmediate(resolve))
  t.same(handed, pieces, 'every piece handed over (and dropped by the stream): nothing kept waiting')
  t.same(broken.taken, [], 'nothing written')
})

t.test('atomic: the default sink is stdout, through one-piece-at-a-time writes', async (t) => {
  const log = new Logger({ atomic: true, now: () => TIME })
  // Under tap, stdout is a pipe: the stream path, as `npm start | …` takes.
  const written: Buffer[] = []
  const original = process.stdout.write
  process.stdout.write = ((chunk: Buffer, done?: () => void) => {
    written.push(chunk)
    if (typeof done === 'function') process.nextTick(done)
    return true
  }) as typeof process.stdout.write
  try {
    for (let i = 0; i < 100; i++) log.access({ ...access, bytes: i })
    log.flush()
  } finally {
    process.stdout.write = original
  }
  t.ok(written.length > 1, `${written.length} writes`)
  t.ok(written.every((piece) => piece.length <= PIPE_BUF && piece.at(-1) === 0x0a))
  t.same(written.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l).bytes), Array.from({ length: 100 }, (_, i) => i))
})

t.test('drained: pending lines written, then waits until the output has taken them, within a time limit', async (t) => {
  /** A stream that takes each write only when `release()` is called. */
  const held = () => {
    const taken: string[] = []
    const waiting: (() => void)[] = []
    const w = new Writable({
      decodeStrings: false,
      write(chunk: string, _encoding, done) {
        waiting.push(() => {
          taken.push(chunk)
          done()
        })
      },
    })
    const release = (): void => {
      for (const go of waiting.splice(0)) go()
    }
    return { w, taken, release }
  }
  for (const atomic of [false, true]) {
    const out = held()
    const log = new Logger({ stream: out.w, atomic, now: () => TIME })
    for (let i = 0; i < 100; i++) log.access({ ...access, bytes: i })
    t.equal(await log.drained(30), false, `atomic ${atomic}: the stream still holds lines when the time runs out`)
    t.ok(out.taken.length === 0)
    const pump = setInterval(out.release, 5)
    t.equal(await log.drained(10_000), true, 'then taken: drained')
    clearInterval(pump)
    t.same(out.taken.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l).bytes), Array.from({ length: 100 }, (_, i) => i), 'every line, in order')
  }
  // A function sink takes lines as it is called: drained at once.
  const { log, lines } = capture()
  log.access(access)
  t.equal(await log.drained(0), true)
  t.equal(lines().length, 1)
})

t.test('fd: a file or /dev/null is written straight from the buffer, the same text as any sink', async (t) => {
  const dir = t.testdir({})
  const lines = (log: Logger): void => {
    for (let i = 0; i < 1000; i++) log.access({ ...access, bytes: i, session: i % 2 === 0 ? null : `h${i}` })
    log.event({ type: 'login.failed', time: TIME, reason: 'bad-password', userId: '2', ip: '::1', userAgent: 'é'.repeat(50) })
    // Longer than the buffer: an access line and a text line written alone.
    log.access({ ...access, ip: `10.0.0.1, ${'7'.repeat(70_000)}` })
    log.log('info', 'x'.repeat(70_000))
    log.access(access)
    log.flush()
  }
  const expected = capture()
  lines(expected.log)
  const file = join(dir, 'log.jsonl')
  const fd = openSync(file, 'w')
  t.teardown(() => closeSync(fd))
  const log = new Logger({ fd, now: () => TIME })
  lines(log)
  t.equal(readFileSync(file, 'utf8'), expected.out.join(''))
  t.equal(await log.drained(0), true, 'nothing is ever left waiting')
})

t.test('fd: a failed write drops those lines, says so once on stderr, and never throws', async (t) => {
  const fd = openSync(join(t.testdir({}), 'closed.log'), 'w')
  closeSync(fd)
  const errors: unknown[] = []
  const original = console.error
  console.error = (...args: unknown[]) => void errors.push(args.join(' '))
  try {
    const log = new Logger({ fd })
    log.log('info', 'one')
    t.doesNotThrow(() => log.flush())
    log.log('info', 'two')
    t.doesNotThrow(() => log.flush())
  } finally {
    console.error = original
  }
  t.equal(errors.length, 1, 'reported once')
  t.match(errors[0], /log lines dropped.*EBADF/)
})

t.test('writtenInPlace: files and /dev/null, not pipes or closed descriptors', async (t) => {
  const fd = openSync(join(t.testdir({}), 'f'), 'w')
  const devNull = openSync('/dev/null', 'w')
  t.teardown(() => {
    closeSync(fd)
    closeSync(devNull)
  })
  t.equal(writtenInPlace(fd), true, 'a regular file')
  t.equal(writtenInPlace(devNull), true, '/dev/null')
  t.equal(writtenInPlace(1), false, 'a pipe (tap reads this process\'s stdout)')
  t.equal(writtenInPlace(2 ** 30), false, 'no such descriptor')
})
