/**
 * Who is signed in on this request: the guards (lib/auth/guards.ts) over the user cache, plus what
 * the guards cannot do themselves — end a session whose user is gone, disabled, or whose
 * credentials changed since the session was bound (ASVS 5.0 7.4.1, 7.4.2). Such a session can never
 * become valid again (credential versions only grow), so it is destroyed and its cookie cleared
 * instead of being refused on every request until it expires.
 */
import { requireAdmin, requireAuth, SessionEnded } from '../auth/guards.js'
import { HttpError } from '../http.js'
import type { SessionManager } from '../manager.js'
import type { Session } from '../session.js'
import type { UserCache } from '../users/cache.js'
import type { User } from '../users/store.js'
import { storeFailure } from './context.js'

export type SignedIn = (session: Session, options?: { admin?: boolean }) => User | Promise<User>

export function signedInGuard(sessions: SessionManager, users: UserCache): SignedIn {
  const onStoreFailure = storeFailure(sessions.options.retryAfterSeconds)
  const lookup = {
    byId: (id: string) => {
      const found = users.byId(id)
      // A failed lookup is an outage (503), never "logged out".
      return found instanceof Promise ? found.catch(onStoreFailure) : found
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
    try {
      const found = options.admin === true ? requireAdmin(session, lookup) : requireAuth(session, lookup)
      return found instanceof Promise ? found.catch((err: unknown) => ended(session, err)) : found
    } catch (err) {
      return ended(session, err)
    }
  }
}
