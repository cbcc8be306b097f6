/**
 * The per-request context of the auth server: the router's base context plus a lazily loaded
 * session and a `reply` that commits the session before the response head is written.
 *
 * Store failures become `503` + `Retry-After` here, in one place, with no Set-Cookie: a user whose
 * Redis blinked must not be logged out (a 401 or a fresh ID would do exactly that).
 */
import type { OutgoingHttpHeaders } from 'node:http'
import { ErrorCodes, isStoreError } from '../errors.js'
import { HttpError, sendJson } from '../http.js'
import type { SessionManager } from '../manager.js'
import type { RequestContext } from '../router.js'
import type { Session } from '../session.js'

export interface AppContext extends RequestContext {
  /** The request's session, loaded on first call (a request that never asks costs nothing). */
  session(): Promise<Session>
  /** Commit the session (if loaded), then send `body` as JSON. */
  reply(status: number, body: unknown, headers?: OutgoingHttpHeaders): Promise<void>
}

/** Turn a store failure into the 503 the client sees; rethrow anything else. */
export function storeFailure(retryAfterSeconds: number): (err: unknown) => never {
  return (err) => {
    if (isStoreError(err)) {
      // A write that lost every compare-and-set round is contention, not an outage: say so.
      const busy = err.code === ErrorCodes.STORE_CONFLICT
      throw new HttpError(503, busy ? 'Session is busy, retry' : 'Session store unavailable', {
        expose: true,
        headers: { 'Retry-After': String(retryAfterSeconds) },
        cause: err,
      })
    }
    throw err
  }
}

/**
 * CSRF defence for unsafe methods, by the browser's own request metadata (OWASP CSRF Prevention
 * Cheat Sheet, "Fetch Metadata" and "Verifying Origin with Standard Headers"). SameSite=Lax on the
 * cookie is the first layer; this is the second. Requests with neither header (curl, autocannon,
 * server-to-server) pass: they are not a browser riding on a victim's cookies.
 */
export function checkCsrf(ctx: RequestContext): void {
  const method = ctx.req.method
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return
  const site = ctx.req.headers['sec-fetch-site']
  // `same-site` is refused too: a sibling subdomain is another party (RFC 6265bis §8.8.1).
  if (site === 'cross-site' || site === 'same-site') throw new HttpError(403, 'Cross-site request refused')
  const origin = ctx.req.headers.origin
  if (origin === undefined) return
  let host: string | null = null
  try {
    host = new URL(origin).host
  } catch {
    // `Origin: null` (sandboxed frames, some redirects) and junk are not our origin.
  }
  if (host === null || host !== ctx.req.headers.host) throw new HttpError(403, 'Cross-origin request refused')
}

/** Build the `createContext` hook for the router. */
export function contextFactory(sessions: SessionManager): (base: RequestContext) => AppContext {
  const onStoreFailure = storeFailure(sessions.options.retryAfterSeconds)
  return (base) => {
    checkCsrf(base)
    let loaded: Promise<Session> | null = null
    const ctx = base as AppContext
    ctx.session = () => (loaded ??= sessions.load(base.req).catch(onStoreFailure))
    ctx.reply = async (status, body, headers) => {
      if (loaded !== null) await sessions.commit(await loaded, base.res).catch(onStoreFailure)
      sendJson(base.res, status, body, headers)
    }
    return ctx
  }
}
