/**
 * A tiny router for node:http: method + path with `:param` segments, JSON error replies.
 *
 * Matching works on the raw request path (query string cut off, still percent-encoded): literal
 * segments compare byte for byte, `:param` segments match one non-empty segment and are decoded
 * with decodeURIComponent afterwards (`%2F` yields a `/` inside the param).
 * Trailing slash policy: strict. `/a/` and `/a` are different paths (RFC 3986 §6.2.3 does not
 * make them equivalent), so `/a/` is 404 unless registered itself; nothing redirects.
 * Static routes win over param routes; param routes are tried in registration order.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
// The module's binding, not the global: node defines global `performance` as a lazy accessor, and
// reading it costs about as much as the clock read itself (~200 instructions by callgrind, per call).
import { performance } from 'node:perf_hooks'
import { ErrorCodes, typeError } from './errors.js'
import { HttpError, sendJson } from './http.js'

/** What every handler receives. */
export interface RequestContext {
  readonly req: IncomingMessage
  readonly res: ServerResponse
  /** Decoded `:param` values by name. */
  readonly params: Readonly<Record<string, string>>
  /** The raw request path: no query string, still percent-encoded. */
  readonly path: string
  /** The query string, parsed on first access. */
  readonly query: URLSearchParams
  /**
   * When the router started on this request (`performance.now()`): the one clock read the request
   * path shares (store budget, access line, latency histogram).
   */
  readonly startedAt: number
}

/** A route handler. It must end the response; its return value is ignored. */
export type Handler<C> = (ctx: C) => unknown

/** Options of {@link Router}. */
export interface RouterOptions<C> {
  /**
   * Extend the base context, e.g. with a loaded session. Runs after matching, only for matched
   * routes; a throw or rejection is handled like a handler's. Add to `base` (Object.assign) rather
   * than spreading it, so that `query` stays lazy. Default: none (handlers get `base`).
   */
  createContext?: (base: RequestContext) => C | Promise<C>
  /**
   * Told once per request, after its handler (or the error reply) has run: the matched route's
   * pattern (`null` when none matched), when the router started on it (`performance.now()`), and
   * the context (`null` when none was built). For access logs and metrics: the route is known
   * here, so nothing has to match it again or listen on every response. Must not throw.
   */
  observe?: (req: IncomingMessage, res: ServerResponse, route: string | null, startedAt: number, ctx: C | null) => void
}

/** Result of {@link Router.match}; `route` is the pattern as registered (`/sessions/:handle`). */
export type RouteMatch<C> =
  | { status: 200; handler: Handler<C>; params: Record<string, string>; route: string }
  | { status: 400 } // a param holds a malformed %-escape
  | { status: 404 }
  | { status: 405; allow: string }

interface ParamRoute<C> {
  /** The path as registered, e.g. `/sessions/:handle` (logs and metrics name routes by it). */
  pattern: string
  shape: string
  segments: string[]
  names: (string | null)[]
  handlers: Map<string, Handler<C>>
}

const PARAM = /^:([A-Za-z_][A-Za-z0-9_]*)$/
const ABSOLUTE_FORM = /^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/]*\/?/
const NO_PARAMS: Record<string, string> = Object.freeze(Object.create(null))

/**
 * Routes requests to handlers. Generic over the context type `C`; a custom `C` needs
 * `createContext`. Errors thrown by handlers become JSON replies: {@link HttpError} → its status
 * and message; anything else → 500 `{"error":"Internal server error"}`, logged with
 * console.error, never with a stack trace in the body (OWASP Error Handling Cheat Sheet).
 */
export class Router<C extends RequestContext = RequestContext> {
  readonly #static = new Map<string, Map<string, Handler<C>>>()
  readonly #params = new Map<number, ParamRoute<C>[]>()
  readonly #createContext: ((base: RequestContext) => C | Promise<C>) | undefined
  readonly #observe: RouterOptions<C>['observe']

  constructor(...[options]: RequestContext extends C ? [RouterOptions<C>?] : [RouterOptions<C> & { createContext: unknown }]) {
    this.#createContext = options?.createContext
    this.#observe = options?.observe
  }

  get(path: string, handler: Handler<C>): this { return this.add('GET', path, handler) }
  post(path: string, handler: Handler<C>): this { return this.add('POST', path, handler) }
  put(path: string, handler: Handler<C>): this { return this.add('PUT', path, handler) }
  delete(path: string, handler: Handler<C>): this { return this.add('DELETE', path, handler) }
  patch(path: string, handler: Handler<C>): this { return this.add('PATCH', path, handler) }

  /**
   * Register `handler` for `method` and `path`. HEAD is answered by the GET handler unless one is
   * registered for HEAD itself.
   * @throws TypeError `ERR_ROUTE_INVALID`: path not starting with `/`, containing `?` or `#`, bad
   * or repeated param name, or the same method and path shape registered twice.
   */
  add(method: string, path: string, handler: Handler<C>): this {
    if (typeof path !== 'string' || !path.startsWith('/') || /[?#]/.test(path)) {
      throw typeError(ErrorCodes.ROUTE_INVALID, `route path must start with / and have no ? or #: ${String(path)}`)
    }
    const segments = path.split('/')
    const names = segments.map((s) => (s.startsWith(':') ? (PARAM.exec(s)?.[1] ?? '') : null))
    if (names.includes('')) throw typeError(ErrorCodes.ROUTE_INVALID, `bad param name in route ${path}`)
    const named = names.filter((n) => n !== null)
    if (new Set(named).size !== named.length) {
      throw typeError(ErrorCodes.ROUTE_INVALID, `repeated param name in route ${path}`)
    }
    let handlers: Map<string, Handler<C>>
    if (named.length === 0) {
      handlers = this.#static.get(path) ?? new Map()
      this.#static.set(path, handlers)
    } else {
      const shape = names.map((n, i) => (n === null ? segments[i] : ':')).join('/')
      const list = this.#params.get(segments.length) ?? []
      this.#params.set(segments.length, list)
      let route = list.find((r) => r.shape === shape)
      if (route === undefined) list.push((route = { pattern: path, shape, segments, names, handlers: new Map() }))
      else if (route.names.join() !== names.join()) {
        throw typeError(ErrorCodes.ROUTE_INVALID, `route ${path} conflicts with param names of ${route.segments.join('/')}`)
      }
      handlers = route.handlers
    }
    if (handlers.has(method)) throw typeError(ErrorCodes.ROUTE_INVALID, `route ${method} ${path} registered twice`)
    handlers.set(method, handler)
    return this
  }

  /** Find the handler for `method` and a raw path (no query string). Never throws. */
  match(method: string, path: string): RouteMatch<C> {
    const fixed = this.#static.get(path)
    const direct = fixed && pick(fixed, method)
    if (direct) return { status: 200, handler: direct, params: NO_PARAMS, route: path }
    const allowed = new Set(fixed?.keys())
    const parts = path.split('/')
    for (const route of this.#params.get(parts.length) ?? []) {
      if (!matches(route, parts)) continue
      const handler = pick(route.handlers, method)
      if (handler === undefined) {
        for (const m of route.handlers.keys()) allowed.add(m)
        continue
      }
      const params = decodeParams(route.names, parts)
      return params ? { status: 200, handler, params, route: route.pattern } : { status: 400 }
    }
    if (allowed.size === 0) return { status: 404 }
    if (allowed.has('GET')) allowed.add('HEAD')
    return { status: 405, allow: [...allowed].sort().join(', ') }
  }

  /** Answer one request. Never rejects: failures become JSON error replies. */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    // url and method are always set on requests from http.Server (node:http docs).
    const observe = this.#observe
    const startedAt = performance.now()
    const url = req.url as string
    const q = url.indexOf('?')
    const path = routingPath(url, q)
    let route: string | null = null
    let built: C | null = null
    try {
      const found = this.match(req.method as string, path)
      if (found.status === 400) throw new HttpError(400, 'Malformed URL parameter')
      if (found.status === 404) throw new HttpError(404, 'Not found')
      if (found.status === 405) throw new HttpError(405, 'Method not allowed', { headers: { Allow: found.allow } })
      route = found.route
      const base = new BaseContext(req, res, found.params, path, q === -1 ? '' : url.slice(q + 1), startedAt)
      let ctx = this.#createContext ? this.#createContext(base) : (base as unknown as C)
      // Await only what is a promise: every await costs a microtask tick on the hot path.
      if (ctx instanceof Promise) ctx = await ctx
      built = ctx as C
      const done = found.handler(built)
      if (done instanceof Promise) await done
    } catch (err) {
      sendError(req, res, path, err)
    }
    if (observe !== undefined) observe(req, res, route, startedAt, built)
  }

  /** A listener for `http.createServer`. */
  handler(): (req: IncomingMessage, res: ServerResponse) => void {
    return (req, res) => void this.handle(req, res)
  }
}

/**
 * The base context, as a class: one hidden class for every request and the lazy `query` getter on
 * the prototype (an object literal with its own getter is much slower to create).
 */
class BaseContext implements RequestContext {
  #query: URLSearchParams | undefined
  readonly #search: string
  constructor(
    readonly req: IncomingMessage,
    readonly res: ServerResponse,
    readonly params: Readonly<Record<string, string>>,
    readonly path: string,
    search: string,
    readonly startedAt: number,
  ) {
    this.#search = search
  }

  get query(): URLSearchParams {
    return (this.#query ??= new URLSearchParams(this.#search))
  }
}

/** The path a request URL is routed on: no query string, origin-form. */
export function routingPath(url: string, q = url.indexOf('?')): string {
  const path = q === -1 ? url : url.slice(0, q)
  // RFC 9112 §3.2.2: a server must accept the absolute-form ("GET http://host/p"); route on /p.
  return path.startsWith('/') ? path : path.replace(ABSOLUTE_FORM, '/')
}

function pick<C>(handlers: Map<string, Handler<C>>, method: string): Handler<C> | undefined {
  return handlers.get(method) ?? (method === 'HEAD' ? handlers.get('GET') : undefined)
}

function matches<C>(route: ParamRoute<C>, parts: string[]): boolean {
  for (let i = 0; i < parts.length; i++) {
    const name = route.names[i]
    if (name === null ? parts[i] !== route.segments[i] : parts[i] === '') return false
  }
  return true
}

function decodeParams(names: (string | null)[], parts: string[]): Record<string, string> | null {
  const params: Record<string, string> = Object.create(null)
  for (const [i, name] of names.entries()) {
    if (name === null) continue
    try {
      params[name] = decodeURIComponent(parts[i] as string)
    } catch {
      return null // URIError: a malformed %-escape is the client's fault, not a crash
    }
  }
  return params
}

function sendError(req: IncomingMessage, res: ServerResponse, path: string, err: unknown): void {
  const http = err instanceof HttpError ? err : undefined
  if (http === undefined || !http.expose || res.headersSent) {
    console.error(`sessionkit: ${req.method} ${path} failed:`, err)
  }
  // Already answered (or answering): never write twice. A reply cut short mid-body is destroyed so
  // the client sees an error instead of waiting for bytes that will never come.
  if (res.headersSent || res.destroyed) {
    if (!res.writableEnded) res.destroy()
    return
  }
  try {
    const body: { error: string; code?: string } = { error: http?.publicMessage ?? 'Internal server error' }
    if (http?.expose === true && http.code !== undefined) body.code = http.code
    sendJson(res, http?.status ?? 500, body, http?.headers)
  } catch (sendErr) {
    // e.g. an HttpError header value with a newline (setHeader throws ERR_INVALID_CHAR)
    console.error('sessionkit: could not send the error reply:', sendErr)
    res.destroy()
  }
}
