/**
 * The rules for user fields, in one place: the admin API, the CLI, `USERS_FILE` and the stores all
 * check with these, so a user that one of them accepts is a user every other one accepts.
 */
import { isBcryptHash } from '../auth/password.js'
import { ErrorCodes, typeError } from '../errors.js'
import { normalizeEmail, type NewUser, type Role, type UserPatch } from './store.js'

const ID = /^[\w-]{1,64}$/
// Deliberately loose (one @, no spaces): the address is a login name here, never mailed, so
// RFC 5321 validation would only refuse real addresses. 254: RFC 5321 §4.5.3.1 path limit.
const EMAIL = /^[^\s@]+@[^\s@]+$/
export const MAX_EMAIL_LENGTH = 254
// Control characters (newlines, escapes) in a display name only ever serve log or HTML injection.
const CONTROL = /[\u0000-\u001f\u007f]/

/** A problem with `id`, or null. */
export function idProblem(id: unknown): string | null {
  return typeof id === 'string' && ID.test(id) ? null : 'id must be 1–64 characters of A-Z a-z 0-9 _ -'
}

/** A problem with `email` (before normalisation), or null. */
export function emailProblem(email: unknown): string | null {
  if (typeof email !== 'string') return 'email must be an address like name@example.com'
  const e = normalizeEmail(email)
  return EMAIL.test(e) && e.length <= MAX_EMAIL_LENGTH ? null : 'email must be an address like name@example.com'
}

/** A problem with a display name (before trimming), or null. */
export function nameProblem(name: unknown): string | null {
  const n = typeof name === 'string' ? name.trim() : ''
  return n !== '' && n.length <= 100 && !CONTROL.test(n) ? null : 'name must be 1–100 printable characters'
}

export function roleProblem(role: unknown): string | null {
  return role === 'admin' || role === 'user' ? null : 'role must be "admin" or "user"'
}

export function isRole(role: unknown): role is Role {
  return roleProblem(role) === null
}

function fail(problem: string | null): void {
  if (problem !== null) throw typeError(ErrorCodes.USER_INVALID, problem)
}

/** A store's check of a user to create; returns it normalised. Throws `ERR_USER_INVALID`. */
export function checkNewUser(user: NewUser): Omit<Required<NewUser>, 'id'> & { id: string | undefined } {
  if (typeof user !== 'object' || user === null) fail('user must be an object')
  if (user.id !== undefined) fail(idProblem(user.id))
  fail(emailProblem(user.email))
  fail(nameProblem(user.name))
  fail(roleProblem(user.role))
  if (user.disabled !== undefined && typeof user.disabled !== 'boolean') fail('disabled must be a boolean')
  if (!isBcryptHash(user.passwordHash)) throw typeError(ErrorCodes.PASSWORD_INVALID, 'passwordHash must be a bcrypt hash')
  return {
    id: user.id,
    email: normalizeEmail(user.email),
    name: user.name.trim(),
    role: user.role,
    passwordHash: user.passwordHash,
    disabled: user.disabled ?? false,
  }
}

/** A store's check of a patch; returns it with the name trimmed. Throws `ERR_USER_INVALID`. */
export function checkPatch(patch: UserPatch): UserPatch {
  if (typeof patch !== 'object' || patch === null) fail('patch must be an object')
  const out: UserPatch = {}
  if (patch.name !== undefined) {
    fail(nameProblem(patch.name))
    out.name = patch.name.trim()
  }
  if (patch.role !== undefined) {
    fail(roleProblem(patch.role))
    out.role = patch.role
  }
  if (patch.disabled !== undefined) {
    if (typeof patch.disabled !== 'boolean') fail('disabled must be a boolean')
    out.disabled = patch.disabled
  }
  return out
}

/** Throws `ERR_PASSWORD_INVALID` unless `hash` is a bcrypt hash. */
export function checkHash(hash: unknown): asserts hash is string {
  if (!isBcryptHash(hash)) throw typeError(ErrorCodes.PASSWORD_INVALID, 'passwordHash must be a bcrypt hash')
}

/** Ids made by the stores: 96 random bits, URL-safe (fits {@link idProblem}). */
export function newUserId(random: (n: number) => Buffer): string {
  return random(12).toString('base64url')
}
