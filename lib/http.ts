/**
 * HTTP plumbing for handlers: JSON replies, a bounded JSON body reader, a field validator, and
 * the client address. Every error reply has exactly one shape: `{"error": "<message>"}`.
 */
import type { IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http'
import { STATUS_CODES } from 'node:http'
import type { Socket } from 'node:net'
import { ErrorCodes, rangeError, typeError } from './errors.js'

/** Options of {@link HttpError}. */
export interface HttpErrorOptions {
  /** Extra response headers, e.g. `{ 'Retry-After': '30' }`. Default: none. */
  headers?: OutgoingHttpHeaders
  /**
   * Whether `message` may be shown to the client. Default: `status < 500`. When false the body
   * carries only the generic status text and the router logs the error (OWASP Error Handling
   * Cheat Sheet: no internals in responses).
   */
  expose?: boolean
  /** The underlying error, kept for logs only. */
  cause?: unknown
  /**
   * A machine-readable code sent next to the message, `{"error": "…", "code": "…"}`, for clients
   * that must react to one specific refusal (e.g. `REAUTH_REQUIRED`). Default: none.
   */
  code?: string
}

/** An error a handler throws to answer `status` with `{"error": message}`. */
export class HttpError extends Error {
  /** HTTP status, an integer in 400–599. */
  readonly status: number
  readonly headers: Readonly<OutgoingHttpHeaders>
  readonly expose: boolean
  /** Sent as `code` in the body when exposed (see {@link HttpErrorOptions.code}). */
  readonly code: string | undefined
  /** @throws RangeError `ERR_OPTION_INVALID` when `status` is not an integer in 400–599. */
  constructor(status: number, message: string, options: HttpErrorOptions = {}) {
    if (!Number.isInteger(status) || status < 400 || status > 599) {
      throw rangeError(ErrorCodes.OPTION_INVALID, `HttpError status must be 400-599: ${status}`)
    }
    super(message, { cause: options.cause })
    this.name = 'HttpError'
    this.status = status
    this.headers = options.headers ?? {}
    this.expose = options.expose ?? status < 500
    this.code = options.code
  }

  /** The text the client may see: `message` when exposed, otherwise the generic status text. */
  get publicMessage(): string {
    if (this.expose) return this.message
    return this.status === 500 ? 'Internal server error' : (STATUS_CODES[this.status] ?? 'Error')
  }
}

const JSON_TYPE = 'application/json; charset=utf-8'

/**
 * Send `body` as JSON. Headers given here win over the defaults (a caller may send
 * `application/problem+json`); Content-Length is always the UTF-8 byte length. For a HEAD request
 * the headers are the same as for GET and no body is written (RFC 9110 §9.3.2).
 * `undefined` (which JSON.stringify cannot represent) is sent as `null`. `headers` may instead be
 * a flat `[name, value, …]` list, added after the defaults as is (the fast path; e.g. Set-Cookie
 * and Vary from the session engine) — it cannot override them.
 */
export function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers?: OutgoingHttpHeaders | readonly string[],
): void {
  const json = JSON.stringify(body) ?? 'null'
  const length = String(Buffer.byteLength(json))
  if (headers === undefined || Array.isArray(headers)) {
    // Fast path: the whole head in one writeHead call with a flat [name, value, …] list, which
    // node:http serializes directly (no per-header setHeader bookkeeping). Every reply on the
    // authenticated hot path goes this way.
    const list = ['Content-Type', JSON_TYPE, 'X-Content-Type-Options', 'nosniff', 'Content-Length', length]
    if (headers !== undefined) list.push(...(headers as readonly string[]))
    res.writeHead(status, list)
  } else {
    res.setHeader('Content-Type', JSON_TYPE)
    // Never let a browser sniff a JSON answer into HTML or script (OWASP Secure Headers Project).
    res.setHeader('X-Content-Type-Options', 'nosniff')
    for (const [name, value] of Object.entries(headers)) {
      if (value !== undefined) res.setHeader(name, value)
    }
    res.setHeader('Content-Length', length)
    res.writeHead(status)
  }
  res.end(res.req.method === 'HEAD' ? undefined : json)
}

/** Options of {@link readJsonBody}. */
export interface ReadJsonBodyOptions {
  /** Largest accepted body in bytes. Default: 16 KiB (16384). */
  limitBytes?: number
  /**
   * Deadline for the whole body in ms, counted from the call: a client trickling bytes (slowloris,
   * CWE-400) gets 408 instead of holding a socket and a buffer. Default: 10000.
   */
  timeoutMs?: number
}

// We stop reading these bodies; keep-alive would need the rest drained first, so the connection
// is closed once the reply is flushed (node calls `socket.destroySoon()` for `Connection: close`),
// gently: see lingerOnClose.
const CLOSE = { Connection: 'close' } as const

/** Longest a refused client may keep sending after our reply before its connection is closed. */
export const LINGER_MS = 2000
/** A refused client that sends nothing for this long after our reply has its connection closed. */
export const LINGER_IDLE_MS = 500

/**
 * Close `socket`, when its reply is flushed, with a lingering close (RFC 9112 §9.6: close the
 * write half first, and go on reading until the client closes its own). For a `Connection: close`
 * reply node calls `socket.destroySoon()`: FIN, then the socket is closed at once. A client still
 * sending the body we refused then writes to a closed socket; the kernel answers with RST, and a
 * client whose kernel gets the RST before it has read our reply loses the reply (the same race
 * is reported against many servers: nodejs/node#9085, Rocket #2783, honojs/node-server#327).
 * Without this, 9 of 40 clients writing a 10 MB body to /login as fast as they could read no 413
 * at all, only EPIPE.
 *
 * So this socket's `destroySoon` sends FIN and keeps the socket reading (node's parser discards
 * the rest of the body we refused) until the client closes its side, which a client does once it
 * has read the reply and the FIN; or it sends nothing for {@link LINGER_IDLE_MS}; or
 * {@link LINGER_MS} have passed. Bounded both ways: a client that never stops sending costs at
 * most LINGER_MS of reading. Set as the socket's own method, on refused requests only: node's
 * sockets otherwise keep one shape. A Node release that closes some other way keeps its own
 * close, as before this.
 */
export function lingerOnClose(socket: Socket): void {
  socket.destroySoon = lingeringDestroySoon
}

/** The refusal of a body we stop reading (415, 413, 408): its reply closes the connection, lingering. */
function refusal(req: IncomingMessage, status: number, message: string): HttpError {
  lingerOnClose(req.socket)
  return new HttpError(status, message, { headers: CLOSE })
}

function lingeringDestroySoon(this: Socket): void {
  // The write half: FIN once the reply is flushed (a no-op on a socket already ended).
  this.end()
  const timer = setTimeout(() => this.destroy(), LINGER_MS)
  timer.unref()
  this.once('close', () => clearTimeout(timer))
  // Node's server also destroys an idle socket on its own 'timeout' listener; either way it closes.
  this.setTimeout(LINGER_IDLE_MS, () => this.destroy())
}

/**
 * True for `application/json` with any parameters, media type case-insensitive (RFC 9110
 * §8.3.1). A charset parameter is ignored: JSON is UTF-8 (RFC 8259 §8.1). Requiring this type also
 * blocks form-based CSRF, since a cross-site `<form>` cannot send it without a CORS preflight
 * (OWASP CSRF Prevention Cheat Sheet).
 */
export function isJsonContentType(header: string | undefined): boolean {
  if (header === undefined) return false
  const semi = header.indexOf(';')
  return (semi === -1 ? header : header.slice(0, semi)).trim().toLowerCase() === 'application/json'
}

/**
 * Read and parse a JSON request body with a size limit and a deadline.
 * Rejects with {@link HttpError}: 415 wrong/missing Content-Type; 413 over `limitBytes` (decided
 * from Content-Length before reading when declared, else while streaming); 408 deadline passed;
 * 400 empty, not UTF-8, malformed JSON, or the client went away. 415/413/408 close the connection
 * once the reply is sent, after the client has had the time to read it ({@link lingerOnClose}).
 * Call once per request.
 */
export function readJsonBody(req: IncomingMessage, options: ReadJsonBodyOptions = {}): Promise<unknown> {
  const { limitBytes = 16 * 1024, timeoutMs = 10_000 } = options
  if (!isJsonContentType(req.headers['content-type'])) {
    return Promise.reject(refusal(req, 415, 'Content-Type must be application/json'))
  }
  // Node's parser has already rejected a non-numeric or conflicting Content-Length (400).
  if (Number(req.headers['content-length'] ?? 0) > limitBytes) {
    return Promise.reject(refusal(req, 413, 'Request body too large'))
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    let size = 0
    const cleanup = (): void => {
      clearTimeout(timer)
      req.off('data', onData).off('end', onEnd).off('error', onAbort).off('close', onAbort)
    }
    const fail = (err: HttpError): void => {
      cleanup()
      // Discard whatever still arrives, until the connection closes (lingerOnClose).
      req.resume()
      reject(err)
    }
    const onData = (chunk: Buffer): void => {
      size += chunk.length
      if (size > limitBytes) fail(refusal(req, 413, 'Request body too large'))
      else chunks.push(chunk)
    }
    const onEnd = (): void => {
      cleanup()
      try {
        resolve(parseJsonBody(Buffer.concat(chunks, size)))
      } catch (err) {
        reject(err)
      }
    }
    // 'close' before 'end' (or 'error'): the client disconnected; nobody will read the reply.
    const onAbort = (): void => fail(new HttpError(400, 'Request aborted'))
    const timer = setTimeout(() => fail(refusal(req, 408, 'Request body timeout')), timeoutMs)
    timer.unref()
    req.on('data', onData).on('end', onEnd).on('error', onAbort).on('close', onAbort)
  })
}

const utf8 = new TextDecoder('utf-8', { fatal: true })

/**
 * Parse raw body bytes as JSON. Pure: returns the value or throws {@link HttpError} 400 (empty,
 * invalid UTF-8, malformed JSON); never anything else. A leading BOM is ignored (RFC 8259 §8.1).
 */
export function parseJsonBody(bytes: Uint8Array): unknown {
  if (bytes.length === 0) throw new HttpError(400, 'Request body is empty')
  let text: string
  try {
    text = utf8.decode(bytes)
  } catch {
    throw new HttpError(400, 'Request body is not valid UTF-8')
  }
  try {
    return JSON.parse(text)
  } catch {
    throw new HttpError(400, 'Malformed JSON')
  }
}

type Base = 'string' | 'number' | 'boolean'
/** A field's type; a trailing `?` makes it optional (absent is fine; `null` is not). */
export type FieldSpec = Base | `${Base}?`
type TypeOf<S> = S extends `string${string}` ? string : S extends `number${string}` ? number : boolean
type Simplify<T> = { [K in keyof T]: T[K] }
/** The object {@link requireFields} returns for schema `S`. */
export type Fields<S extends Record<string, FieldSpec>> = Simplify<
  { [K in keyof S as S[K] extends `${string}?` ? never : K]: TypeOf<S[K]> } & {
    [K in keyof S as S[K] extends `${string}?` ? K : never]?: TypeOf<S[K]>
  }
>

const SPEC = /^(string|number|boolean)(\??)$/

/**
 * Check a parsed body against `schema` and return ONLY the declared fields, copied onto a fresh
 * object; other keys are dropped. Only own properties are read, and values are primitives, so a
 * `{"__proto__": {...}}` payload (JSON.parse makes it an own key) can neither be returned nor
 * change a prototype (prototype pollution, CWE-1321). Numbers must be finite (`1e400` parses to
 * Infinity).
 * @throws HttpError 400 `"Request body must be a JSON object"` or `"<field> must be a <type>"`.
 * @throws TypeError `ERR_OPTION_INVALID` for a schema entry that is not a {@link FieldSpec}.
 */
export function requireFields<const S extends Record<string, FieldSpec>>(body: unknown, schema: S): Fields<S> {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new HttpError(400, 'Request body must be a JSON object')
  }
  const out: Record<string, unknown> = {}
  for (const [field, spec] of Object.entries(schema)) {
    const m = SPEC.exec(spec)
    if (m === null) throw typeError(ErrorCodes.OPTION_INVALID, `requireFields: bad type for ${field}: ${String(spec)}`)
    const type = m[1] as Base
    const value: unknown = Object.hasOwn(body, field) ? (body as Record<string, unknown>)[field] : undefined
    if (value === undefined && m[2] === '?') continue
    if (typeof value !== type || (type === 'number' && !Number.isFinite(value))) {
      throw new HttpError(400, `${field} must be a ${type}`)
    }
    out[field] = value
  }
  return out as Fields<S>
}

/** Options of {@link clientIp}. */
export interface ClientIpOptions {
  /**
   * Behind exactly one reverse proxy you control, use the address it appended to
   * X-Forwarded-For. Default: false (the header is client-controlled and ignored).
   */
  trustProxy?: boolean
}

/**
 * The client's IP address, for logs and login throttling; `''` when the socket is already gone.
 * With `trustProxy`, the LAST X-Forwarded-For hop is used, not the first: a proxy appends the
 * peer it saw, while everything to its left came from the client and can be forged to dodge
 * per-IP limits (MDN X-Forwarded-For "Security and privacy concerns"; CWE-348). With one proxy
 * that overwrites the header the two are the same.
 */
export function clientIp(req: IncomingMessage, options: ClientIpOptions = {}): string {
  // The header is read only when it is trusted: this runs for every logged request.
  const xff = options.trustProxy === true ? req.headers['x-forwarded-for'] : undefined
  if (xff !== undefined) {
    const hops = String(xff) // node joins repeated X-Forwarded-For lines with ', '
    const last = hops.slice(hops.lastIndexOf(',') + 1).trim()
    if (last !== '') return last
  }
  return req.socket.remoteAddress ?? ''
}
