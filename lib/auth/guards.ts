/**
 * requireAuth / requireAdmin: who is making this request, or an HTTP error that says why not.
 *
 * The session holds only the user's id and the credential version it was bound with; the user
 * is looked up on every request (from memory, lib/users/cache.ts), so a deleted or disabled user,
 * a changed password or a changed role ends the session at once (OWASP Authorization Cheat Sheet:
 * "enforce authorization checks on every request"; ASVS 5.0 7.4.1: sessions end when the
 * credentials change).
 */
import { HttpError } from '../http.js'
import type { Session } from '../session.js'

export interface Principal {
  id: string
  role: string
  /** A disabled user is not authenticated. */
  disabled?: boolean
  /**
   * Bumped by every credential change (password, role, disabled). When given, a session bound
   * with another version is no longer this user's.
   */
  credentialVersion?: number
}

/** Something that finds users by id: synchronously when it can (a cache hit), or by a promise. */
export interface UserLookup<U extends Principal> {
  byId(id: string): U | null | undefined | Promise<U | null | undefined>
}

/**
 * The 401 for a session that was bound to a user who is gone, disabled, or whose credentials
 * changed since: the caller should end the session (it can never be valid again — versions only
 * grow), not merely refuse this request.
 */
export class SessionEnded extends HttpError {
  constructor() {
    super(401, 'Not authenticated')
  }
}

function check<U extends Principal>(session: Session, user: U | null | undefined): U {
  if (user == null || user.disabled === true) throw new SessionEnded()
  if (user.credentialVersion !== undefined && user.credentialVersion !== session.credentialVersion) throw new SessionEnded()
  return user
}

/**
 * The logged-in user, or 401 `{"error":"Not authenticated"}` (a {@link SessionEnded} when the
 * session was bound to a user it no longer belongs to). Synchronous when the lookup is.
 */
export function requireAuth<U extends Principal>(session: Session, users: UserLookup<U>): U | Promise<U> {
  const id = session.userId
  if (id === null) throw new HttpError(401, 'Not authenticated')
  const found = users.byId(id)
  return found instanceof Promise ? found.then((user) => check(session, user)) : check(session, found)
}

function role<U extends Principal>(user: U, wanted: string): U {
  if (user.role !== wanted) throw new HttpError(403, 'Forbidden')
  return user
}

/** As {@link requireAuth}, then 403 `{"error":"Forbidden"}` unless the user's role is `wanted`. */
export function requireRole<U extends Principal>(session: Session, users: UserLookup<U>, wanted: string): U | Promise<U> {
  const user = requireAuth(session, users)
  return user instanceof Promise ? user.then((u) => role(u, wanted)) : role(user, wanted)
}

/** {@link requireRole} for `admin`. */
export function requireAdmin<U extends Principal>(session: Session, users: UserLookup<U>): U | Promise<U> {
  return requireRole(session, users, 'admin')
}
