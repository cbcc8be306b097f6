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
    t.match(line, `,"ms":${JSON.stringify(rounded)},`, `ms ${ms} as text`)
  }
})

t.test('ms, status and bytes that are not numbers ≥ 0 are written as 0, the line still JSON', async (t) => {
  for (const bad of [-1, -0.42, -0.001, -1e300, NaN, Infinity, -Infinity, 2 ** 60]) {
    const line = accessLine({ status: bad, ms: bad, bytes: bad })
    const parsed = JSON.parse(line)
    t.same([parsed.status, parsed.ms, parsed.bytes], [0, 0, 0], `${bad}`)
    t.match(line, '"status":0,"ms":0,"bytes":0,', `${bad} as text`)
  }
  // Fractions of an integer field are dropped; the largest safe integer is written whole.
  const line = accessLine({ status: 200.7, bytes: 1.5 })
  t.match(line, '"status":200,"ms":0.42,"bytes":1,')
  t.equal(JSON.parse(accessLine({ bytes: Number.MAX_SAFE_INTEGER })).bytes, Number.MAX_SAFE_INTEGER)
})

t.test('status and bytes: digits of every magnitude', async (t) => {
  for (const n of [0, 7, 10, 99, 100, 404, 65535, 123456789]) {
    const line = accessLine({ status: n, bytes: n })
    t.match(line, `"status":${n},"ms":0.42,"bytes":${n},"session":`, `${n}`)
    const parsed = JSON.parse(line)
    t.equal(parsed.status, n)
    t.equal(parsed.bytes, n)
  }
})

t.test('session handles: copied as is when plain, JSON-quoted otherwise, always round-trip', async (t) => {
  const plain = 'Zp3-_aZ09xyzABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz01'
  t.match(accessLine({ session: plain }), `,"session":"${plain}","ip":"127.0.0.1"}`)
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
    t.ok(line.includes(`,"session":${JSON.stringify(session)},"ip":`), `handle ${k} as text`)
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
  // Written when the next line might not fit: that line (and maybe more) waits in the new buffer.
  t.ok(handedCount >= i - 1 && handedCount <= i, `${handedCount} of ${i} lines`)
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
