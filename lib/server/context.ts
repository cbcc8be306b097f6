/**
 * The per-request context of the auth server: the router's base context plus a lazily loaded
 * session and a `reply` that commits the session before the response head is written.
 *
 * Store failures become `503` + `Retry-After` here, in one place, with no Set-Cookie: a user whose
 * Redis blinked must not be logged out (a 401 or a fresh ID would do exactly that). Every request
 * passes the CSRF check (lib/server/csrf.ts) before its handler runs.
 */
import type { ServerResponse } from 'node:http'
import { ErrorCodes, isStoreError, SessionLimitError } from '../errors.js'
import { HttpError, sendJson } from '../http.js'
import type { CommitResult, SessionManager } from '../manager.js'
import type { RequestContext } from '../router.js'
import type { Session } from '../session.js'
import { checkCsrf, type OriginPolicy } from './csrf.js'

/**
 * When the router started on the request (`performance.now()`, the context's `startedAt`), left on
 * its session: the request's store budget (the manager's `storeTimeoutMs`) runs from there, so the
 * user lookup after a slow session read gets only what is left (lib/server/signed-in.ts) and a
 * request that meets a failing store answers 503 within one budget, not one per store it reads.
 */
export const BUDGET_FROM = Symbol('sessionkit.budgetFrom')
export type BudgetedSession = Session & { [BUDGET_FROM]?: number }

export interface AppContext extends RequestContext {
  /** The session once {@link AppContext.session} has loaded it, else null (the access line's handle). */
  loadedSession: Session | null
  /** The request's session, loaded on first call (a request that never asks costs nothing). */
  session(): Promise<Session>
  /**
   * Commit the session (if loaded), then send `body` as JSON. Synchronous when nothing is stored.
   * `headers`: extra response headers as a flat name, value list.
   */
  reply(status: number, body: unknown, headers?: readonly string[]): Promise<void> | void
}

/**
 * Turn a store failure into the 503 the client sees, and a login past the per-user session limit
 * (policy `refuse`) into 429; rethrow anything else.
 */
export function storeFailure(retryAfterSeconds: number): (err: unknown) => never {
  return (err) => {
    if (err instanceof SessionLimitError) throw new HttpError(429, 'Too many active sessions', { cause: err })
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

/** Build the `createContext` hook for the router. */
export function contextFactory(sessions: SessionManager, originPolicy: OriginPolicy = {}): (base: RequestContext) => AppContext {
  const onStoreFailure = storeFailure(sessions.options.retryAfterSeconds)
  return (base) => {
    checkCsrf(base.req, originPolicy)
    let loaded: Promise<Session> | null = null
    let session: Session | null = null
    const ctx = base as AppContext
    ctx.loadedSession = null
    const load = (): Promise<Session> =>
      sessions.load(base.req).then((s) => {
        ;(s as BudgetedSession)[BUDGET_FROM] = base.startedAt
        return (ctx.loadedSession = session = s)
      }, onStoreFailure)
    ctx.session = () => (loaded ??= load())
    ctx.reply = (status, body, headers) => {
      if (loaded === null) return sendJson(base.res, status, body, headers)
      // A handler that replies without awaiting its session: wait for it, then commit.
      if (session === null) return loaded.then(() => ctx.reply(status, body, headers))
      const send = ({ setCookie, private: isPrivate }: CommitResult): void => {
        const extra: string[] = headers === undefined ? [] : [...headers]
        if (setCookie !== null) extra.push('Set-Cookie', setCookie)
        // The response depends on the cookie: no shared cache may serve it to anyone else.
        if (isPrivate) extra.push('Vary', 'Cookie', 'Cache-Control', 'no-store')
        sendJson(base.res, status, body, extra)
      }
      // Read-only requests commit synchronously: no promise, no extra tick.
      const result = sessions.save(session)
      return result instanceof Promise ? result.then(send, onStoreFailure) : send(result)
    }
    return ctx
  }
}
