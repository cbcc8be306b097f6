/**
 * Who is signed in on this request: the guards (lib/auth/guards.ts) over the user cache, plus what
 * the guards cannot do themselves — end a session whose user is gone, disabled, or whose
 * credentials changed since the session was bound (ASVS 5.0 7.4.1, 7.4.2). Such a session can never
 * become valid again (credential versions only grow), so it is destroyed and its cookie cleared
 * instead of being refused on every request until it expires.
 *
 * A user read that has to go to the store (not in memory) gets what is left of the request's store
 * budget (`storeTimeoutMs`, counted from when the router started on the request; see
 * {@link BUDGET_FROM}), not a deadline of its own: during an outage or a failover, a session read
 * that answered late and a user read that would time out after it must not add up to two budgets.
 * Past the budget the request answers 503 with Retry-After, as for any store failure.
 */
import { performance } from 'node:perf_hooks' // not the global: see lib/router.ts
import { requireAdmin, requireAuth, SessionEnded } from '../auth/guards.js'
import { HttpError } from '../http.js'
import type { SessionManager } from '../manager.js'
import type { Session } from '../session.js'
import type { UserCache } from '../users/cache.js'
import type { User } from '../users/store.js'
import { withDeadline } from '../deadline.js'
import { ErrorCodes, StoreError } from '../errors.js'
import { BUDGET_FROM, storeFailure, type BudgetedSession } from './context.js'

export type SignedIn = (session: Session, options?: { admin?: boolean }) => User | Promise<User>

export function signedInGuard(sessions: SessionManager, users: UserCache): SignedIn {
  const onStoreFailure = storeFailure(sessions.options.retryAfterSeconds)
  const budgetMs = sessions.options.storeTimeoutMs
  // The session being checked: set right before the guard runs, read by `byId`, which the guard
  // calls synchronously (lib/auth/guards.ts), so no other request's session can be in between.
  let checking: BudgetedSession | undefined
  const lookup = {
    byId: (id: string) => {
      const found = users.byId(id)
      if (!(found instanceof Promise)) return found
      const from = checking?.[BUDGET_FROM]
      const left = from === undefined ? budgetMs : budgetMs - (performance.now() - from)
      // A failed lookup is an outage (503), never "logged out".
      return withinBudget(found, left).catch(onStoreFailure)
    },
  }
  const ended = async (session: Session, err: unknown): Promise<never> => {
    if (!(err instanceof SessionEnded)) throw err
    if (sessions.events.active) {
      sessions.events.emit('session.revoked', { handle: session.handle, userId: session.userId, reason: 'credential-version', count: 1 })
    }
    session.destroy()
    let setCookie: string | null = null
    try {
      setCookie = (await sessions.save(session)).setCookie
    } catch {
      // The record could not be deleted now: it stays refused on every request (its version is
      // behind for good) and expires on its own.
    }
    const headers: Record<string, string> = { 'Cache-Control': 'no-store', Vary: 'Cookie' }
    if (setCookie !== null) headers['Set-Cookie'] = setCookie
    throw new HttpError(401, 'Not authenticated', { headers })
  }
  return (session, options = {}) => {
    // Left set afterwards: only `byId` reads it, and only inside the guard's call below.
    checking = session
    try {
      const found = options.admin === true ? requireAdmin(session, lookup) : requireAuth(session, lookup)
      return found instanceof Promise ? found.catch((err: unknown) => ended(session, err)) : found
    } catch (err) {
      return ended(session, err)
    }
  }
}

/** `read`, or a `STORE_TIMEOUT` StoreError once `leftMs` have passed (at once when none are left). */
export function withinBudget<T>(read: Promise<T>, leftMs: number): Promise<T> {
  return withDeadline(read, leftMs, () => new StoreError(ErrorCodes.STORE_TIMEOUT, 'the request spent its store budget'))
}
