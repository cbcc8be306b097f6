/**
 * requireAuth / requireAdmin: who is making this request, or an HTTP error that says why not;
 * requireRecentAuth: has that user proved their password recently enough for a sensitive action.
 *
 * The session holds only the user's id; the user record is looked up on every request, so a
 * deleted user or a changed role takes effect at once (OWASP Authorization Cheat Sheet: "enforce
 * authorization checks on every request").
 */
import { ErrorCodes, typeError } from '../errors.js'
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

/** The `code` of the 401 {@link requireRecentAuth} answers: the client should ask for the password. */
export const REAUTH_REQUIRED = 'REAUTH_REQUIRED'

/**
 * Demand a recent proof of the password before a sensitive action (changing the password, ending
 * other sessions, changing users): OWASP ASVS 5.0 7.5.1–7.5.3. Passes if the session's
 * `authenticatedAt` (set by `regenerate({ authenticated: true })` at login or re-authentication) is
 * at most `maxAgeMs` old; otherwise throws 401
 * `{"error":"Re-authentication required","code":"REAUTH_REQUIRED"}`. A session with no proof at
 * all, or one dated in the future (a clock gone backwards), is not recent. Check who the user is
 * first (requireAuth): this guard only dates the proof.
 */
export function requireRecentAuth(session: Session, maxAgeMs: number, now: () => number = Date.now): void {
  if (!Number.isInteger(maxAgeMs) || maxAgeMs < 0) {
    throw typeError(ErrorCodes.OPTION_INVALID, `maxAgeMs must be a non-negative integer, got ${String(maxAgeMs)}`)
  }
  const at = session.authenticatedAt
  const age = at === null ? Infinity : now() - at
  if (!(age >= 0 && age <= maxAgeMs)) {
    throw new HttpError(401, 'Re-authentication required', { code: REAUTH_REQUIRED })
  }
}
