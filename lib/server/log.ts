/**
 * The auth server's log: one JSON object per line on stdout (or `LOG_FORMAT=pretty` for a human at
 * a terminal). Two kinds of line:
 *
 *   {"time":"…","level":"info","kind":"access","method":"GET","route":"/sessions/:handle",
 *    "status":200,"ms":0.42,"bytes":57,"session":"Zp3…","ip":"127.0.0.1"}
 *   {"time":"…","level":"warn","kind":"audit","event":"login.failed","reason":"bad-password",
 *    "userId":"2","ip":"127.0.0.1","userAgent":"curl/8.5.0"}
 *
 * What never reaches a line (OWASP ASVS 5.0 16.2.5; OWASP Logging Cheat Sheet, "Data to exclude"):
 * cookie values, session IDs or their storage keys, passwords, request bodies, query strings and
 * raw paths (a path can carry an ID; the route pattern cannot). Sessions appear by handle only.
 * Lines are built from named fields here, never by dumping a request, so nothing leaks by accident.
 *
 * Levels: `debug` < `info` < `warn` < `error` < `silent`. Access lines are `info` (probes of
 * /healthz and /metrics are `debug`, or they would drown the rest); audit lines take their level
 * from the event (see EVENT_LEVELS). Unexpected errors (500s, shutdown failures) keep going to
 * stderr through console.error, as before.
 *
 * Lines are buffered and written every 20 ms (one write(2) for many requests, which is most of the
 * cost of logging); {@link Logger.flush} writes what is pending, and runs at shutdown and exit.
 *
 * The buffer is bytes, reused for the life of the logger (each write hands over one string copied
 * out of it). An access line is written into it from cached pieces (the time stamp of the current
 * millisecond, the part fixed by route and method, the client's address) and digits, never built
 * as a string: no per-request strings, number-to-text conversion or growing string of pending
 * lines for the garbage collector. What that saved per request is in bench/RESULTS.md
 * ("Logs + metrics").
 */
import type { SecurityEvent, SecurityEventType } from '../events.js'

export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent'
export type LogFormat = 'json' | 'pretty'

export const LOG_LEVELS: readonly LogLevel[] = ['debug', 'info', 'warn', 'error', 'silent']
const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 }

/** The level of each event's audit line. */
export const EVENT_LEVELS: Record<SecurityEventType, Exclude<LogLevel, 'silent'>> = {
  'session.created': 'info',
  'session.regenerated': 'info',
  'session.destroyed': 'info',
  'session.revoked': 'info',
  'session.expired': 'info',
  'session.write-conflict': 'info',
  'session.old-secret': 'info',
  'store.failure': 'error',
  'login.succeeded': 'info',
  'login.failed': 'warn',
  logout: 'info',
  'password.changed': 'info',
  'user.created': 'info',
  'user.updated': 'info',
  'user.disabled': 'warn',
  'user.deleted': 'warn',
}

/** One request, as the access line reports it. */
export interface AccessRecord {
  method: string
  /** The matched route pattern (`/sessions/:handle`), or null when no route matched. */
  route: string | null
  status: number
  ms: number
  bytes: number
  /** The session's handle, or null. */
  session: string | null
  ip: string
}

/** Routes whose access lines are `debug`: health probes and scrapes, every few seconds. */
const PROBES = new Set(['/healthz', '/metrics'])

export interface LoggerOptions {
  /** Lines below this level are not written (LOG_LEVEL). Default `info`. */
  level?: LogLevel
  /** `json`, one object per line; `pretty` for a terminal (LOG_FORMAT). Default `json`. */
  format?: LogFormat
  /** Where lines go: called with whole lines. Default: process.stdout. */
  write?: (text: string) => void
  /** Clock (tests). */
  now?: () => number
  /** Write pending lines at least this often (ms). Default 20. */
  flushMs?: number
  /** Write at once when this many bytes are pending (1 to 16 MiB). Default 65 536. */
  maxPending?: number
}

const enc = (text: string): Buffer => Buffer.from(text, 'utf8')
const MS = enc(',"ms":')
const BYTES = enc(',"bytes":')
const SESSION = enc(',"session":')
const NULL = enc('null')
/** The pending buffer's size: room for a few hundred access lines, whatever maxPending says. */
const MIN_CAPACITY = 8192
const MAX_PENDING = 16 << 20
/** Longest session handle copied byte by byte; anything longer goes through JSON.stringify. */
const MAX_PLAIN_HANDLE = 128
/** Room an access line needs besides its cached pieces and handle: digits, quotes, names. */
const ACCESS_SLACK = 128

export class Logger {
  readonly level: LogLevel
  readonly format: LogFormat
  readonly #rank: number
  readonly #write: (text: string) => void
  readonly #now: () => number
  readonly #maxPending: number
  readonly #flushMs: number
  readonly #capacity: number
  /** Pending lines, UTF-8, in `#buf[0, #used)`. */
  readonly #buf: Buffer
  #used = 0
  #timer: NodeJS.Timeout | null = null
  /** The second last formatted (ms since the epoch, floored) and its ISO text up to the dot. */
  #isoSecond = -1
  #isoPrefix = ''
  /**
   * `{"time":"…`, the start of an access line, as bytes, for the time stamp `#headTime`: the one
   * per-millisecond cache (access lines share milliseconds under load; other lines are rare).
   */
  #headTime = -1
  #head = enc('')
  /** Access lines' fixed middles as bytes, by route pattern (null: none matched), then method. */
  readonly #middles = new Map<string | null, Map<string, Buffer>>()
  /** Access lines' ends by client address: `,"ip":"…"}` and the newline, as bytes. */
  readonly #ipTails = new Map<string, Buffer>()

  constructor(options: LoggerOptions = {}) {
    this.level = options.level ?? 'info'
    this.format = options.format ?? 'json'
    this.#rank = RANK[this.level]
    this.#write = options.write ?? ((text) => void process.stdout.write(text))
    this.#now = options.now ?? Date.now
    const wanted = options.maxPending ?? 65_536
    this.#maxPending = Number.isNaN(wanted) ? 65_536 : Math.min(Math.max(1, Math.floor(wanted)), MAX_PENDING)
    this.#flushMs = options.flushMs ?? 20
    this.#capacity = Math.max(this.#maxPending, MIN_CAPACITY)
    this.#buf = Buffer.allocUnsafe(this.#capacity)
  }

  /** True if lines of `level` are written. */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#rank
  }

  /** An access line for one request. */
  access(r: AccessRecord): void {
    const level = r.route !== null && PROBES.has(r.route) ? 'debug' : 'info'
    if (RANK[level] < this.#rank) return
    const time = this.#now()
    if (this.format === 'pretty') {
      const who = r.session === null ? '' : ` session=${r.session}`
      this.#line(`${clock(time)} ${tag(level)} ${r.method} ${r.route ?? '(no route)'} ${r.status} ${r.ms}ms ${r.bytes}B ip=${r.ip}${who}`)
      return
    }
    // The hot path of logging: bytes from cached pieces and digits, every string JSON-quoted.
    if (time !== this.#headTime) {
      this.#headTime = time
      this.#head = enc(`{"time":"${this.#isoTime(time)}`)
    }
    const head = this.#head
    const middle = this.#middle(level, r.method, r.route)
    const tail = this.#ipTail(r.ip)
    const session = r.session
    // JSON-quoted, a character takes at most 6 bytes (`\u001f`).
    const most = head.length + middle.length + tail.length + ACCESS_SLACK + (session === null ? 0 : 6 * session.length)
    if (this.#used + most > this.#capacity) {
      this.flush()
      if (most > this.#capacity) {
        // Only a client address of kilobytes (X-Forwarded-For, trusted) makes a line this long:
        // it is written alone, from a buffer of its own.
        const own = Buffer.allocUnsafe(most)
        this.#write(own.toString('utf8', 0, accessLine(own, 0, head, middle, r, tail)))
        return
      }
    }
    this.#used = accessLine(this.#buf, this.#used, head, middle, r, tail)
    this.#pended()
  }

  /**
   * The part of an access line fixed by its method and route (the level follows from the route),
   * from the level to `"status":`, built once per pair: routes are the router's patterns, methods
   * those the HTTP parser accepts, so the cache stays small.
   */
  #middle(level: LogLevel, method: string, route: string | null): Buffer {
    let byMethod = this.#middles.get(route)
    if (byMethod === undefined) this.#middles.set(route, (byMethod = new Map()))
    let middle = byMethod.get(method)
    if (middle === undefined) {
      middle = enc(`","level":"${level}","kind":"access","method":${JSON.stringify(method)},"route":${route === null ? 'null' : JSON.stringify(route)},"status":`)
      byMethod.set(method, middle)
    }
    return middle
  }

  /** The end of an access line for a client address, built once per address. */
  #ipTail(ip: string): Buffer {
    let tail = this.#ipTails.get(ip)
    if (tail === undefined) {
      // Bounded: client addresses are the only open-ended set; start over rather than grow.
      if (this.#ipTails.size >= 4096) this.#ipTails.clear()
      this.#ipTails.set(ip, (tail = enc(`,"ip":${JSON.stringify(ip)}}\n`)))
    }
    return tail
  }

  /** `toISOString()`, with the date part formatted once a second (every line needs a stamp). */
  #isoTime(time: number): string {
    const ms = time % 1000
    const second = time - ms
    if (second !== this.#isoSecond) {
      this.#isoSecond = second
      this.#isoPrefix = new Date(second).toISOString().slice(0, 20)
    }
    return `${this.#isoPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`
  }

  /** An audit line for one security event. */
  event(e: SecurityEvent): void {
    const level = EVENT_LEVELS[e.type]
    if (RANK[level] < this.#rank) return
    const { type, time, ...fields } = e
    this.#entry(level, time, 'audit', { event: type, ...fields })
  }

  /** A free-form line (start-up, shutdown, cluster notes). */
  log(level: Exclude<LogLevel, 'silent'>, message: string, fields: Record<string, unknown> = {}): void {
    if (RANK[level] < this.#rank) return
    this.#entry(level, this.#now(), 'message', { message, ...fields })
  }

  /** Write what is pending now (shutdown, tests). */
  flush(): void {
    if (this.#timer !== null) {
      clearTimeout(this.#timer)
      this.#timer = null
    }
    const used = this.#used
    if (used === 0) return
    this.#used = 0
    // Handed over as text (one string per write, copied out), and the buffer kept for the next
    // lines: the sink may hold on to the text (a stream queues it), never to our bytes.
    this.#write(this.#buf.toString('utf8', 0, used))
  }

  #entry(level: LogLevel, time: number, kind: string, fields: Record<string, unknown>): void {
    if (this.format === 'pretty') {
      const text = Object.entries(fields)
        .filter(([, v]) => v !== undefined && v !== null && v !== '')
        .map(([k, v]) => (k === 'event' || k === 'message' ? String(v) : `${k}=${pretty(v)}`))
        .join(' ')
      this.#line(`${clock(time)} ${tag(level)} ${text}`)
      return
    }
    this.#line(JSON.stringify({ time: this.#isoTime(time), level, kind, ...fields }))
  }

  /** Add one line given as text (audit, message and pretty lines). */
  #line(text: string): void {
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const most = text.length * 3 + 1
    if (this.#used + most > this.#capacity) {
      this.flush()
      if (most > this.#capacity) {
        this.#write(`${text}\n`)
        return
      }
    }
    const p = this.#used + this.#buf.write(text, this.#used)
    this.#buf[p] = 0x0a
    this.#used = p + 1
    this.#pended()
  }

  /** A line was added: write now if enough is pending, else within `flushMs`. */
  #pended(): void {
    if (this.#used >= this.#maxPending) this.flush()
    // unref: pending lines never keep a process alive; exit and shutdown flush them.
    else this.#timer ??= setTimeout(() => this.flush(), this.#flushMs).unref()
  }
}

/** Write one access line at `p` from its cached pieces and `r`'s numbers; returns where it ends. */
function accessLine(b: Buffer, p: number, head: Buffer, middle: Buffer, r: AccessRecord, tail: Buffer): number {
  b.set(head, p)
  p += head.length
  b.set(middle, p)
  p = digits(b, p + middle.length, r.status)
  b.set(MS, p)
  p = hundredths(b, p + MS.length, r.ms)
  b.set(BYTES, p)
  p = digits(b, p + BYTES.length, r.bytes)
  b.set(SESSION, p)
  p += SESSION.length
  if (r.session === null) {
    b.set(NULL, p)
    p += NULL.length
  } else p = quoted(b, p, r.session)
  b.set(tail, p)
  return p + tail.length
}

/** Write the decimal digits of `n` (an integer ≥ 0; anything else is written as 0) at `p`. */
function digits(b: Buffer, p: number, n: number): number {
  if (!(n >= 0 && n <= Number.MAX_SAFE_INTEGER)) n = 0
  n = Math.floor(n)
  let end = p + 1
  for (let x = n; x >= 10; x = Math.floor(x / 10)) end++
  for (let q = end - 1; q >= p; q--) {
    const d = n % 10
    b[q] = 0x30 + d
    n = (n - d) / 10
  }
  return end
}

/**
 * Write `ms` rounded to hundredths as a JSON number, the way JavaScript prints it (`0.42`, `0.2`,
 * `3`), at `p`.
 */
function hundredths(b: Buffer, p: number, ms: number): number {
  const h = Math.round(ms * 100)
  const cents = h >= 0 && h <= Number.MAX_SAFE_INTEGER ? h % 100 : 0
  p = digits(b, p, (h - cents) / 100)
  if (cents === 0) return p
  b[p++] = 0x2e
  b[p++] = 0x30 + Math.floor(cents / 10)
  if (cents % 10 !== 0) b[p++] = 0x30 + (cents % 10)
  return p
}

/**
 * Write `text` JSON-quoted at `p`. A handle is a short run of printable ASCII (base64url), copied
 * byte by byte; anything else (a custom store's handle) goes through JSON.stringify.
 */
function quoted(b: Buffer, p: number, text: string): number {
  const n = text.length
  if (n <= MAX_PLAIN_HANDLE) {
    let q = p + 1
    let i = 0
    for (; i < n; i++) {
      const c = text.charCodeAt(i)
      if (c < 0x20 || c > 0x7e || c === 0x22 || c === 0x5c) break
      b[q++] = c
    }
    if (i === n) {
      b[p] = 0x22
      b[q] = 0x22
      return q + 1
    }
  }
  return p + b.write(JSON.stringify(text), p)
}

function clock(time: number): string {
  return new Date(time).toISOString().slice(11, 23)
}

function tag(level: LogLevel): string {
  return level.toUpperCase().padEnd(5)
}

/** A value for a pretty line: bare when it is a plain word, JSON-quoted otherwise. */
function pretty(v: unknown): string {
  const text = typeof v === 'string' ? v : JSON.stringify(v)
  return /^[\w.:/@+-]+$/.test(text) ? text : JSON.stringify(text)
}
