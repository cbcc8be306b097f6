/**
 * The auth server's log: one JSON object per line on stdout (or `LOG_FORMAT=pretty` for a human at
 * a terminal). Two kinds of line:
 *
 *   {"time":"…","level":"info","kind":"access","method":"GET","route":"/sessions/:handle",
 *    "status":200,"ip":"127.0.0.1","session":"Zp3…","ms":0.42,"bytes":57}
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
 * cost of logging); {@link Logger.flush} writes what is pending, and runs at shutdown and exit;
 * {@link Logger.drained} waits at shutdown until the output has taken it. Workers sharing one
 * stdout write atomic pieces (`atomic`, {@link AtomicWriter}), so their lines never interleave.
 *
 * The buffer is bytes, reused for the life of the logger: a file or /dev/null is written straight
 * from it, a pipe gets a copy. An access line is written into it from cached pieces (the time
 * stamp of the current millisecond, the part fixed by route and method, the client's address) and
 * digits, never built as a string: no per-request strings, number-to-text conversion or growing
 * string of pending lines for the garbage collector. A request only leaves its record's fields;
 * the lines are written in batches (see {@link Logger.access}). What each step saved per request
 * is in bench/RESULTS.md ("Logs + metrics").
 *
 * Many processes: everything kept here (the pending bytes, the piece caches, the clock offset, the
 * pieces waiting for stdout) is how this process formats and writes its own lines; no other worker
 * or instance reads it or needs to. What they share is the output, and `atomic` is for that.
 */
import { fstatSync, writeSync } from 'node:fs'
import { performance } from 'node:perf_hooks'
import { isatty } from 'node:tty'
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
  /**
   * When the response ended, as `performance.now()`: the line's time stamp is derived from it (no
   * second clock read per line). Default (or not a finite number): the logger's clock, read now.
   */
  at?: number
}

/** The cached start of access lines for one method, route and status (see `Logger.#prefix`). */
interface AccessPrefix {
  readonly method: string
  readonly route: string | null
  readonly status: number
  readonly level: LogLevel
  readonly rank: number
  /** `","level":…,"status":…` as bytes. */
  readonly bytes: Buffer
}

/** The previous access line in the pending buffer: which pieces it had, and where. */
interface LastLine {
  /** Its pieces (head null: nothing to reuse, e.g. after a flush). */
  head: Buffer | null
  middle: Buffer | null
  ipPiece: Buffer | null
  session: string | null
  /** Where it starts in the buffer, and where its fixed part (everything before `,"ms":`) ends. */
  start: number
  fixedEnd: number
}

/** Routes whose access lines are `debug`: health probes and scrapes, every few seconds. */
const PROBES = new Set(['/healthz', '/metrics'])

export interface LoggerOptions {
  /** Lines below this level are not written (LOG_LEVEL). Default `info`. */
  level?: LogLevel
  /** `json`, one object per line; `pretty` for a terminal (LOG_FORMAT). Default `json`. */
  format?: LogFormat
  /** Where lines go: called with whole lines as text (tests, custom sinks). Default: stdout. */
  write?: (text: string) => void
  /**
   * A descriptor of a regular file or of a device such as /dev/null, written with fs.writeSync
   * straight from the logger's buffer. Default: 1 when stdout is one of those (`npm start > file`);
   * otherwise (a pipe, a socket, a terminal) lines go to `stream`.
   */
  fd?: number
  /** The stream lines go to when neither `write` nor `fd` applies. Default: process.stdout. */
  stream?: OutputStream
  /** Clock (tests). */
  now?: () => number
  /** Write pending lines at least this often (ms). Default 20. */
  flushMs?: number
  /** Write at once when this many bytes are pending (1 to 16 MiB). Default 65 536. */
  maxPending?: number
  /**
   * Other processes write to the same output (cluster workers and their primary on one stdout):
   * write whole lines in pieces of at most {@link PIPE_BUF} bytes, and (on the default stdout
   * sink) hand over the next piece only once the output has taken the previous one whole. POSIX
   * makes a write of at most PIPE_BUF bytes to a pipe atomic (all of it or, non-blocking, none),
   * so the OS never splits a piece and lines of two processes never interleave; a bigger write can
   * be taken in part, and the rest, written later, lands after another process's bytes. Only a
   * single line longer than PIPE_BUF (a trusted proxy's X-Forwarded-For of kilobytes) is written
   * alone in one bigger write. Default false: one process alone on its output writes in
   * `maxPending` chunks, for fewer writes.
   */
  atomic?: boolean
}

/**
 * True when `fd` is a regular file or a device that is not a terminal (/dev/null): writes to it
 * complete synchronously, as node's own stdout does for them. Not for pipes and sockets (node
 * makes them non-blocking, so a synchronous write can fail with EAGAIN) or terminals.
 */
export function writtenInPlace(fd: number): boolean {
  try {
    const stat = fstatSync(fd)
    return stat.isFile() || (stat.isCharacterDevice() && !isatty(fd))
  } catch {
    return false
  }
}

/** What the logger needs of a stream (process.stdout, a file stream). */
export type OutputStream = NodeJS.WritableStream & { readonly writableLength: number }

/**
 * The size up to which a write to a pipe is atomic: 4096 on Linux (pipe(7)); POSIX guarantees at
 * least 512, and Linux, macOS and the BSDs all give 4096 or more.
 */
export const PIPE_BUF = 4096

const enc = (text: string): Buffer => Buffer.from(text, 'utf8')
/** The pending buffer's size: room for a few hundred access lines, whatever maxPending says. */
const MIN_CAPACITY = 8192
const MAX_PENDING = 16 << 20
/** Longest session handle copied byte by byte; anything longer goes through JSON.stringify. */
const MAX_PLAIN_HANDLE = 128
/** Cached access-line middles (method × route × status) kept before the cache starts over. */
const MAX_PREFIXES = 4096
/** Room an access line needs besides its cached pieces and handle: digits, quotes, names. */
const ACCESS_SLACK = 128
/** Most access records kept before they are written as lines (see {@link Logger.access}). */
const MAX_DEFERRED = 256

export class Logger {
  readonly level: LogLevel
  readonly format: LogFormat
  readonly #rank: number
  /** Hands `buf[start, end)` (whole lines) to the output; `buf` is reused after the call. */
  readonly #out: (buf: Buffer, start: number, end: number) => void
  /** True when everything written has left the process (see {@link drained}). */
  readonly #idle: () => boolean
  readonly #now: () => number
  readonly #maxPending: number
  readonly #flushMs: number
  readonly #capacity: number
  readonly #atomic: boolean
  /** Pending lines, UTF-8, in `#buf[0, #used)`. */
  readonly #buf: Buffer
  #used = 0
  /** A write to `fd` has failed (reported once). */
  #writeFailed = false
  #timer: NodeJS.Timeout | null = null
  /** The second last formatted (ms since the epoch, floored) and its ISO text up to the dot. */
  #isoSecond = -1
  #isoPrefix = ''
  /**
   * `{"time":"…`, the start of an access line, as bytes, for the time stamp `#headTime`: the one
   * per-millisecond cache (access lines share milliseconds under load; other lines are rare).
   */
  #headTime = -1
  /** Wall clock minus `performance.now()`, as read at monotonic time `#offsetFrom` ({@link #wallTime}). */
  #offset = 0
  #offsetFrom = Number.NaN
  #head = enc('')
  /** Where the previous access line's reusable runs are in `#buf` (see {@link #accessLine}). */
  readonly #last: LastLine = { head: null, middle: null, ipPiece: null, session: null, start: 0, fixedEnd: 0 }
  /** Access lines' fixed middles by status, method and route (see {@link #prefix}). */
  readonly #prefixes = new Map<string | null, Map<string, Map<number, AccessPrefix>>>()
  #prefixCount = 0
  /**
   * Access records not yet written as lines (see {@link access}), field by field, `#deferred` of
   * them: the prefix, client address and session, and (time, ms, bytes) in `#dNumbers`.
   */
  readonly #deferMax: number
  #deferred = 0
  readonly #dPrefix: AccessPrefix[]
  readonly #dIp: string[]
  readonly #dSession: (string | null)[]
  readonly #dNumbers: Float64Array
  // NaN: a status no record can match (NaN !== NaN), so the first line always looks its triple up.
  #lastPrefix: AccessPrefix = { method: '', route: null, status: Number.NaN, level: 'info', rank: RANK.info, bytes: enc('') }
  /** Access lines' client-address pieces, `,"ip":"…","session":`, as bytes, by address. */
  readonly #ipPieces = new Map<string, Buffer>()
  #lastIp: string | null = null
  #lastIpPiece = enc('')

  constructor(options: LoggerOptions = {}) {
    this.level = options.level ?? 'info'
    this.format = options.format ?? 'json'
    this.#rank = RANK[this.level]
    this.#atomic = options.atomic ?? false
    const write = options.write
    const fd = options.fd ?? (write === undefined && options.stream === undefined && writtenInPlace(1) ? 1 : undefined)
    if (write !== undefined) {
      this.#out = (buf, start, end) => write(buf.toString('utf8', start, end))
      // A function takes each line when called: nothing is left waiting.
      this.#idle = () => true
    } else if (fd !== undefined) {
      // What node's own stdout does for a file (synchronous writes), without turning the bytes
      // into a string and back, or copying them: the buffer is written before the call returns.
      // One write of a file is never split by another process's (Linux holds the file position
      // for the whole write), so `atomic` has nothing to do here.
      this.#out = (buf, start, end) => this.#writeFd(fd, buf, start, end)
      this.#idle = () => true
    } else {
      // A stream may hold on to what it is given (a pipe whose reader is behind): a copy.
      const stream = options.stream ?? process.stdout
      if (this.#atomic) {
        const writer = new AtomicWriter(stream)
        this.#out = (buf, start, end) => writer.write(Buffer.from(buf.subarray(start, end)))
        this.#idle = () => writer.idle
      } else {
        this.#out = (buf, start, end) => void stream.write(Buffer.from(buf.subarray(start, end)))
        this.#idle = () => stream.writableLength === 0
      }
    }
    this.#now = options.now ?? Date.now
    const wanted = options.maxPending ?? 65_536
    this.#maxPending = Number.isNaN(wanted) ? 65_536 : Math.min(Math.max(1, Math.floor(wanted)), MAX_PENDING)
    this.#flushMs = options.flushMs ?? 20
    this.#capacity = Math.max(this.#maxPending, MIN_CAPACITY)
    this.#buf = Buffer.allocUnsafe(this.#capacity)
    // Records of lines that could not fill maxPending anyway: one a line when it is tiny.
    this.#deferMax = Math.max(1, Math.min(MAX_DEFERRED, Math.floor(this.#maxPending / 256)))
    this.#dPrefix = new Array<AccessPrefix>(this.#deferMax).fill(this.#lastPrefix)
    this.#dIp = new Array<string>(this.#deferMax).fill('')
    this.#dSession = new Array<string | null>(this.#deferMax).fill(null)
    this.#dNumbers = new Float64Array(3 * this.#deferMax)
  }

  /** True if lines of `level` are written. */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#rank
  }

  /**
   * An access line for one request. The record's fields are kept, and the lines of up to 256
   * records are written together (when that many are waiting, before any other line, and at every
   * flush, so within `flushMs`): formatting a line right after a request has run finds the
   * logger's code and data cold in the CPU's caches, and a line then cost ~3× its time in a batch
   * (the paired bench, bench/RESULTS.md). The record itself is not kept.
   */
  access(r: AccessRecord): void {
    const prefix = this.#prefix(r.method, r.route, r.status)
    if (prefix.rank < this.#rank) return
    const time = Number.isFinite(r.at) ? this.#wallTime(r.at as number) : this.#now()
    if (this.format === 'pretty') {
      const who = r.session === null ? '' : ` session=${r.session}`
      this.#line(`${clock(time)} ${tag(prefix.level)} ${r.method} ${r.route ?? '(no route)'} ${r.status} ${r.ms}ms ${r.bytes}B ip=${r.ip}${who}`)
      return
    }
    const i = this.#deferred
    this.#dPrefix[i] = prefix
    this.#dIp[i] = r.ip
    this.#dSession[i] = r.session
    const n = this.#dNumbers
    n[3 * i] = time
    n[3 * i + 1] = r.ms
    n[3 * i + 2] = r.bytes
    this.#deferred = i + 1
    if (i + 1 >= this.#deferMax) this.#writeDeferred()
    this.#armTimer()
  }

  /** Write the waiting access records' lines into the buffer (writing it out whenever it fills). */
  #writeDeferred(): void {
    const count = this.#deferred
    this.#deferred = 0
    const n = this.#dNumbers
    for (let i = 0; i < count; i++) {
      // The hot path of logging: bytes from cached pieces and digits, every string JSON-quoted.
      const time = n[3 * i] as number
      if (time !== this.#headTime) {
        this.#headTime = time
        this.#head = enc(`{"time":"${this.#isoTime(time)}`)
      }
      const head = this.#head
      const middle = (this.#dPrefix[i] as AccessPrefix).bytes
      const ipPiece = this.#ipPiece(this.#dIp[i] as string)
      const session = this.#dSession[i] as string | null
      const ms = n[3 * i + 1] as number
      const bytes = n[3 * i + 2] as number
      // JSON-quoted, a character takes at most 6 bytes (`\u001f`).
      const most = head.length + middle.length + ipPiece.length + ACCESS_SLACK + (session === null ? 0 : 6 * session.length)
      if (this.#used + most > this.#capacity) {
        this.#writeOut()
        if (most > this.#capacity) {
          // Only a client address of kilobytes (X-Forwarded-For, trusted) makes a line this long:
          // it is written alone, from a buffer of its own (nothing to repeat from, nothing to keep).
          const own = Buffer.allocUnsafe(most)
          const end = this.#accessLine(own, 0, head, middle, ms, bytes, ipPiece, session)
          this.#forgetLast()
          this.#out(own, 0, end)
          continue
        }
      }
      this.#used = this.#accessLine(this.#buf, this.#used, head, middle, ms, bytes, ipPiece, session)
      if (this.#used >= this.#maxPending) this.#writeOut()
    }
  }

  /**
   * Write one access line at `p`: its fixed part, `{"time":…,"status":N` (head and middle, cached)
   * and `,"ip":…,"session":` (cached per client) with the handle, then the two numbers that differ
   * from line to line, `,"ms":…,"bytes":…}` and a newline. Under load most lines repeat the fixed
   * part of the line before them, still in the buffer (same millisecond, route and status, same
   * client and session: a keep-alive connection), and it is then copied from there in one call;
   * otherwise the head and middle are copied from there when only the client differs, or set from
   * their cached pieces. Each copy is a call into V8's C++ (~200 instructions however few the
   * bytes), so the numbers come last, where they do not split the run. Returns where the line ends.
   */
  #accessLine(b: Buffer, p: number, head: Buffer, middle: Buffer, ms: number, bytes: number, ipPiece: Buffer, session: string | null): number {
    const last = this.#last
    const start = p
    // The pieces are stored in `last` only when they change: storing a reference costs a write
    // barrier, a call per line.
    if (head === last.head && middle === last.middle) {
      if (ipPiece === last.ipPiece && session === last.session) {
        b.copyWithin(p, last.start, last.fixedEnd)
        p += last.fixedEnd - last.start
      } else {
        const n = head.length + middle.length
        b.copyWithin(p, last.start, last.start + n)
        p = ident(b, p + n, ipPiece, session)
        last.ipPiece = ipPiece
        last.session = session
      }
    } else {
      b.set(head, p)
      b.set(middle, p + head.length)
      p = ident(b, p + head.length + middle.length, ipPiece, session)
      last.head = head
      last.middle = middle
      last.ipPiece = ipPiece
      last.session = session
    }
    last.start = start
    last.fixedEnd = p
    return numbers(b, p, ms, bytes)
  }

  /** Nothing in the pending buffer is to be repeated (it was written out, or the line was not in it). */
  #forgetLast(): void {
    this.#last.head = null
  }

  /**
   * The part of an access line fixed by its method, route and status (the level follows from the
   * route), from the level to the status, built once per triple: routes are the router's patterns,
   * methods those the HTTP parser accepts and statuses those the code sends, so the cache stays
   * small (and is bounded anyway). The last triple is kept apart: under load most requests repeat
   * it, and it is then found without a lookup.
   */
  #prefix(method: string, route: string | null, status: number): AccessPrefix {
    const last = this.#lastPrefix
    if (last.method === method && last.route === route && last.status === status) return last
    let byMethod = this.#prefixes.get(route)
    if (byMethod === undefined) this.#prefixes.set(route, (byMethod = new Map()))
    let byStatus = byMethod.get(method)
    if (byStatus === undefined) byMethod.set(method, (byStatus = new Map()))
    let found = byStatus.get(status)
    if (found === undefined) {
      // Bounded even if a custom handler invented statuses: start over rather than grow.
      if (this.#prefixCount >= MAX_PREFIXES) {
        this.#prefixes.clear()
        this.#prefixCount = 0
        this.#prefixes.set(route, (byMethod = new Map()))
        byMethod.set(method, (byStatus = new Map()))
      }
      this.#prefixCount++
      const level: LogLevel = route !== null && PROBES.has(route) ? 'debug' : 'info'
      const bytes = enc(`","level":"${level}","kind":"access","method":${JSON.stringify(method)},"route":${route === null ? 'null' : JSON.stringify(route)},"status":${statusText(status)}`)
      found = { method, route, status, level, rank: RANK[level], bytes }
      byStatus.set(status, found)
    }
    return (this.#lastPrefix = found)
  }

  /** The client-address piece of an access line, built once per address. */
  #ipPiece(ip: string): Buffer {
    // Consecutive requests often come from one client (a keep-alive connection): no lookup then.
    if (ip === this.#lastIp) return this.#lastIpPiece
    let piece = this.#ipPieces.get(ip)
    if (piece === undefined) {
      // Bounded: client addresses are the only open-ended set; start over rather than grow.
      if (this.#ipPieces.size >= 4096) this.#ipPieces.clear()
      this.#ipPieces.set(ip, (piece = enc(`,"ip":${JSON.stringify(ip)},"session":`)))
    }
    this.#lastIp = ip
    this.#lastIpPiece = piece
    return piece
  }

  /**
   * The wall-clock time (ms since the epoch) of the monotonic instant `at` (`performance.now()`).
   * The offset between the two clocks is read again once a second of monotonic time, so a step of
   * the wall clock (NTP, an operator) shows in the lines within a second, for one wall-clock read a
   * second instead of one a line; between reads the two clocks drift apart by at most a slewing
   * NTP's 0.5 ms a second.
   */
  #wallTime(at: number): number {
    if (!(at >= this.#offsetFrom && at < this.#offsetFrom + 1000)) {
      this.#offsetFrom = at
      this.#offset = this.#now() - at
    }
    return Math.floor(at + this.#offset)
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
    this.#writeDeferred()
    this.#writeOut()
  }

  /** Hand the buffer's lines to the output. */
  #writeOut(): void {
    const used = this.#used
    if (used === 0) return
    this.#used = 0
    this.#forgetLast()
    // Handed over as bytes; the buffer is kept for the next lines (a sink that keeps them copies).
    const buf = this.#buf
    if (!this.#atomic || used <= PIPE_BUF) {
      this.#out(buf, 0, used)
      return
    }
    // Whole lines, at most PIPE_BUF bytes a piece (every line in the buffer ends with a newline).
    for (let start = 0; start < used; ) {
      let end = start + PIPE_BUF
      if (end >= used) end = used
      else {
        const newline = buf.lastIndexOf(0x0a, end - 1)
        // No line ends within PIPE_BUF: this one line is longer, and goes alone.
        end = (newline >= start ? newline : buf.indexOf(0x0a, end)) + 1
      }
      this.#out(buf, start, end)
      start = end
    }
  }

  /**
   * Write what is pending, then wait until the output has taken all of it, for at most `timeoutMs`:
   * at shutdown, before `process.exit()`, which drops whatever the stream still holds (a pipe whose
   * reader is behind). Resolves true once everything is out, false if the time ran out first.
   */
  async drained(timeoutMs: number): Promise<boolean> {
    this.flush()
    const deadline = performance.now() + timeoutMs
    while (!this.#idle()) {
      if (performance.now() >= deadline) return false
      await new Promise((resolve) => setTimeout(resolve, 10))
    }
    return true
  }

  /**
   * Write `buf[start, end)` to `fd`, all of it. A failed write (a full disk, a closed descriptor)
   * drops those lines and is reported once on stderr: the server keeps serving without its log
   * rather than stopping on it.
   */
  #writeFd(fd: number, buf: Buffer, start: number, end: number): void {
    try {
      // A file takes the whole write unless it fails; the loop is for the rare short write.
      while (start < end) start += writeSync(fd, buf, start, end - start)
    } catch (err) {
      if (!this.#writeFailed) console.error(`sessionkit: log lines dropped: cannot write to the log (${(err as Error).message})`)
      this.#writeFailed = true
    }
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
    // Lines stay in order: the access lines waiting go first.
    if (this.#deferred > 0) this.#writeDeferred()
    // UTF-8 takes at most 3 bytes per UTF-16 code unit.
    const most = text.length * 3 + 1
    if (this.#used + most > this.#capacity) {
      this.#writeOut()
      if (most > this.#capacity) {
        const own = Buffer.from(`${text}\n`, 'utf8')
        this.#out(own, 0, own.length)
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
    else this.#armTimer()
  }

  /** Write what is pending within `flushMs`, unless a flush is already due. */
  #armTimer(): void {
    // unref: pending lines never keep a process alive; exit and shutdown flush them.
    this.#timer ??= setTimeout(() => this.flush(), this.#flushMs).unref()
  }
}

/**
 * Writes to `stream` one piece at a time: a piece is handed to the stream only when the stream
 * holds nothing of ours, so each reaches write(2) alone and whole. Why it matters: while a write
 * waits (a full pipe: the reader is behind), a stream queues the next ones and later writes them
 * together in one writev(2), bigger than PIPE_BUF, which the OS may then take in part. Pieces
 * given meanwhile wait here, in order, as they would in the stream's own queue (unbounded either
 * way: a log line is not dropped because the reader is slow). A stream that fails (EPIPE) still
 * calls back, so the queue drains and is dropped, as the stream drops writes after a failure.
 */
export class AtomicWriter {
  readonly #stream: OutputStream
  readonly #queue: (string | Uint8Array)[] = []
  #head = 0
  /** The callback of the write the stream could not take at once, until it has. */
  #holder: (() => void) | null = null

  constructor(stream: OutputStream) {
    this.#stream = stream
  }

  /** Write `chunk` (whole lines, at most PIPE_BUF bytes for the write to be atomic). */
  readonly write = (chunk: string | Uint8Array): void => {
    if (this.#holder === null) this.#send(chunk)
    else this.#queue.push(chunk)
  }

  /** Nothing waits here, and the stream holds nothing: every piece has gone to the OS. */
  get idle(): boolean {
    return this.#holder === null && this.#stream.writableLength === 0
  }

  #send(chunk: string | Uint8Array): void {
    const done = (): void => {
      if (this.#holder !== done) return
      this.#holder = null
      this.#pump()
    }
    this.#stream.write(chunk, done)
    // Taken at once (the usual case: the kernel had room) leaves nothing in the stream.
    if (this.#stream.writableLength > 0) this.#holder = done
  }

  #pump(): void {
    const queue = this.#queue
    while (this.#holder === null && this.#head < queue.length) this.#send(queue[this.#head++] as string | Uint8Array)
    if (this.#head === queue.length) {
      queue.length = 0
      this.#head = 0
    } else if (this.#head >= 1024) {
      queue.splice(0, this.#head)
      this.#head = 0
    }
  }
}

/** Write `,"ms":` + ms + `,"bytes":` + bytes + `}` and the newline at `p`; returns where it ends. */
function numbers(b: Buffer, p: number, ms: number, bytes: number): number {
  // ,"ms":
  b[p] = 0x2c
  b[p + 1] = 0x22
  b[p + 2] = 0x6d
  b[p + 3] = 0x73
  b[p + 4] = 0x22
  b[p + 5] = 0x3a
  p = hundredths(b, p + 6, ms)
  // ,"bytes":
  b[p] = 0x2c
  b[p + 1] = 0x22
  b[p + 2] = 0x62
  b[p + 3] = 0x79
  b[p + 4] = 0x74
  b[p + 5] = 0x65
  b[p + 6] = 0x73
  b[p + 7] = 0x22
  b[p + 8] = 0x3a
  p = digits(b, p + 9, bytes)
  // }\n
  b[p] = 0x7d
  b[p + 1] = 0x0a
  return p + 2
}

/** Write the client piece and the session handle (or null) at `p`. */
function ident(b: Buffer, p: number, ipPiece: Buffer, session: string | null): number {
  b.set(ipPiece, p)
  p += ipPiece.length
  if (session === null) {
    // null
    b[p] = 0x6e
    b[p + 1] = 0x75
    b[p + 2] = 0x6c
    b[p + 3] = 0x6c
    return p + 4
  }
  return quoted(b, p, session)
}

/** A status as `digits` writes numbers (node only sends integers from 100 to 999). */
function statusText(status: number): string {
  return status >= 0 && status <= Number.MAX_SAFE_INTEGER ? String(Math.floor(status)) : '0'
}

/** Below this (every real status, byte count and duration), numbers are written in int32 arithmetic. */
const INT32_LIMIT = 2 ** 31

/** Write the decimal digits of `n` (an integer ≥ 0; anything else is written as 0) at `p`. */
function digits(b: Buffer, p: number, n: number): number {
  if (n >= 0 && n < INT32_LIMIT) {
    // `| 0` floors (n ≥ 0) and keeps V8 in int32, where each division by 10 compiles to a
    // multiplication; in doubles each step is a division and a floor (~300 instructions a line).
    let x = n | 0
    let end = p + 1
    for (let y = x; y >= 10; y = (y / 10) | 0) end++
    for (let q = end - 1; q > p; q--) {
      const y = (x / 10) | 0
      b[q] = 0x30 + x - y * 10
      x = y
    }
    b[p] = 0x30 + x
    return end
  }
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
  if (h >= 0 && h < INT32_LIMIT) {
    // As below, in int32 arithmetic (see digits).
    const x = h | 0
    const whole = (x / 100) | 0
    const hundredth = x - whole * 100
    p = digits(b, p, whole)
    if (hundredth === 0) return p
    const tenth = (hundredth / 10) | 0
    b[p] = 0x2e
    b[p + 1] = 0x30 + tenth
    if (hundredth === tenth * 10) return p + 2
    b[p + 2] = 0x30 + hundredth - tenth * 10
    return p + 3
  }
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
