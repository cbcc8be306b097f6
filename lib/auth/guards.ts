/**
 * requireAuth / requireAdmin: who is making this request, or an HTTP error that says why not.
 *
 * The session holds only the user's id; the user record is looked up on every request, so a
 * deleted user or a changed role takes effect at once (OWASP Authorization Cheat Sheet: "enforce
 * authorization checks on every request").
 */
import { HttpError } from '../http.js'
import type { Session } from '../session.js'

export interface Principal {
  id: string
  role: string
}

/** Something that finds users by id (the user directory). */
export interface UserLookup<U extends Principal> {
  byId(id: string): U | undefined
}

/** The logged-in user and their session, or 401 `{"error":"Not authenticated"}`. */
export function requireAuth<U extends Principal>(session: Session, users: UserLookup<U>): U {
  const id = session.userId
  const user = id === null ? undefined : users.byId(id)
  if (user === undefined) throw new HttpError(401, 'Not authenticated')
  return user
}

/** As {@link requireAuth}, then 403 `{"error":"Forbidden"}` unless the user's role is `role`. */
export function requireRole<U extends Principal>(session: Session, users: UserLookup<U>, role: string): U {
  const user = requireAuth(session, users)
  if (user.role !== role) throw new HttpError(403, 'Forbidden')
  return user
}

/** {@link requireRole} for `admin`. */
export function requireAdmin<U extends Principal>(session: Session, users: UserLookup<U>): U {
  return requireRole(session, users, 'admin')
}
