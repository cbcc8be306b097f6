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
  /** Where text goes. Default: process.stdout. */
  write?: (text: string) => void
  /** Clock (tests). */
  now?: () => number
  /** Write pending lines at least this often (ms). Default 20. */
  flushMs?: number
  /** Write at once when this many characters are pending. Default 65 536. */
  maxPending?: number
}

export class Logger {
  readonly level: LogLevel
  readonly format: LogFormat
  readonly #rank: number
  readonly #write: (text: string) => void
  readonly #now: () => number
  readonly #maxPending: number
  readonly #flushMs: number
  #pending = ''
  #timer: NodeJS.Timeout | null = null
  /** The second last formatted (ms since the epoch, floored) and its ISO text up to the dot. */
  #isoSecond = -1
  #isoPrefix = ''
  /** The last time stamp formatted, and its text. */
  #lastTime = -1
  #iso = ''
  /** Access lines' fixed middles, by route pattern (null: none matched), then method. */
  readonly #middles = new Map<string | null, Map<string, string>>()
  /** JSON-quoted methods, routes and IPs: a few dozen distinct values, quoted once each. */
  readonly #quoted = new Map<string, string>()

  constructor(options: LoggerOptions = {}) {
    this.level = options.level ?? 'info'
    this.format = options.format ?? 'json'
    this.#rank = RANK[this.level]
    this.#write = options.write ?? ((text) => void process.stdout.write(text))
    this.#now = options.now ?? Date.now
    this.#maxPending = options.maxPending ?? 65_536
    this.#flushMs = options.flushMs ?? 20
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
    // Built by hand from known fields (the hot path of logging); every string is JSON-quoted.
    this.#line(
      `{"time":"${this.#isoTime(time)}${this.#middle(level, r.method, r.route)}${r.status},"ms":${r.ms},"bytes":${r.bytes},` +
        `"session":${r.session === null ? 'null' : JSON.stringify(r.session)},"ip":${this.#quote(r.ip)}}`,
    )
  }

  /**
   * The part of an access line fixed by its method and route (the level follows from the route),
   * from the level to `"status":`, built once per pair: routes are the router's patterns, methods
   * those the HTTP parser accepts, so the cache stays small.
   */
  #middle(level: LogLevel, method: string, route: string | null): string {
    let byMethod = this.#middles.get(route)
    if (byMethod === undefined) this.#middles.set(route, (byMethod = new Map()))
    let middle = byMethod.get(method)
    if (middle === undefined) {
      middle = `","level":"${level}","kind":"access","method":${JSON.stringify(method)},"route":${route === null ? 'null' : JSON.stringify(route)},"status":`
      byMethod.set(method, middle)
    }
    return middle
  }

  /** `toISOString()`, with the date part formatted once a second (every line needs a stamp). */
  #isoTime(time: number): string {
    // Many lines share a millisecond under load.
    if (time === this.#lastTime) return this.#iso
    this.#lastTime = time
    const ms = time % 1000
    const second = time - ms
    if (second !== this.#isoSecond) {
      this.#isoSecond = second
      this.#isoPrefix = new Date(second).toISOString().slice(0, 20)
    }
    return (this.#iso = `${this.#isoPrefix}${ms < 10 ? '00' : ms < 100 ? '0' : ''}${ms}Z`)
  }

  #quote(text: string): string {
    let quoted = this.#quoted.get(text)
    if (quoted === undefined) {
      // Bounded: client IPs are the only open-ended set; start over rather than grow.
      if (this.#quoted.size >= 4096) this.#quoted.clear()
      this.#quoted.set(text, (quoted = JSON.stringify(text)))
    }
    return quoted
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
    if (this.#pending === '') return
    const text = this.#pending
    this.#pending = ''
    this.#write(text)
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

  #line(text: string): void {
    this.#pending += `${text}\n`
    if (this.#pending.length >= this.#maxPending) this.flush()
    // unref: pending lines never keep a process alive; exit and shutdown flush them.
    else this.#timer ??= setTimeout(() => this.flush(), this.#flushMs).unref()
  }
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
