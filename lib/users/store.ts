/**
 * The user store contract, beside the session store contract (lib/store.ts). Every user store
 * (memory, Redis, Redis Cluster) implements {@link UserStore}; one conformance suite
 * (`test/fixtures/user-store-conformance.ts`) holds them all to it.
 *
 * Ground rules:
 * - Emails are compared normalised ({@link normalizeEmail}: trimmed, lower-cased), and each email
 *   belongs to at most one user at any moment, across every process sharing the store.
 * - Every change that affects what a session may do — password, role, disabled, delete — adds 1
 *   to the user's {@link User.credentialVersion}. Sessions record the version they were made with
 *   and die when it moves (ASVS 5.0 7.4.1). A name change does not move it: renaming someone must
 *   not log them out everywhere.
 * - Cross-user rules are atomic in the store, never checked-then-acted in a process: a taken email
 *   and "the last enabled admin" (who cannot be demoted, disabled or deleted, or nobody could
 *   administer users any more) are typed answers, not exceptions.
 * - `null` / `{ ok: false, reason }` are normal answers. A promise rejects only for a system
 *   failure (connection refused, timeout), with a `StoreError` (lib/errors.ts), or for a
 *   programmer error (a TypeError with a code).
 * - Returned users are frozen copies: nobody can change the store by mutating an answer.
 */

export type Role = 'admin' | 'user'

export interface User {
  /** Stable identifier, bound to sessions (1–64 of `A-Z a-z 0-9 _ -`). */
  readonly id: string
  /** Login name, normalised (trimmed, lower-cased). */
  readonly email: string
  /** Display name (1–100 printable characters). */
  readonly name: string
  readonly role: Role
  /** A disabled user cannot log in and their sessions end. */
  readonly disabled: boolean
  /** bcrypt hash made by `hashPassword` (lib/auth/password.ts). */
  readonly passwordHash: string
  /** 1 at creation, +1 at every password, role or disabled change. */
  readonly credentialVersion: number
}

/** What may leave the server: everything but the hash and the version. */
export interface PublicUser {
  id: string
  email: string
  name: string
  role: Role
  disabled: boolean
}

/** A user to create. `id` is generated when absent (imports keep their file's ids). */
export interface NewUser {
  id?: string
  email: string
  name: string
  role: Role
  passwordHash: string
  disabled?: boolean
}

/** Fields {@link UserStore.update} may change; absent ones stay. */
export interface UserPatch {
  name?: string
  role?: Role
  disabled?: boolean
}

export type CreateResult =
  | { ok: true; user: User }
  /** Another user has this email. */
  | { ok: false; reason: 'taken' }
  /** A user with this id exists (only when the caller chose the id). */
  | { ok: false; reason: 'exists' }

export type ChangeResult =
  | { ok: true; user: User }
  | { ok: false; reason: 'missing' }
  /** The change would leave no enabled admin. */
  | { ok: false; reason: 'last-admin' }

export type DeleteResult = { ok: true } | { ok: false; reason: 'missing' | 'last-admin' }

export interface UserPage {
  /** Users in id order (byte-wise). */
  users: User[]
  /** Pass as `after` for the next page; `null` on the last page. */
  next: string | null
}

export interface UserStore {
  /** `'memory'` or `'redis'`. */
  readonly kind: string
  /**
   * The user with this id from process memory, when this store keeps it there *coherently*: a
   * user, `null` (no such user), or `undefined` (not in memory right now: call {@link byId}).
   * Synchronous, for the lookup every authenticated request makes (lib/users/cache.ts). What it
   * answers is never older than what the store promises: the memory store *is* its memory; the
   * Redis store keeps what it read under Redis's client tracking (lib/users/redis.ts).
   */
  peek(id: string): User | null | undefined
  /** The user with this id, or `null`, from the store itself (never an older copy in memory). */
  byId(id: string): Promise<User | null>
  /** The user with this email (normalised before the lookup), or `null`. */
  byEmail(email: string): Promise<User | null>
  /** Up to `limit` (default 100, at most 1000) users with an id after `after`, in id order. */
  list(options?: { after?: string | null; limit?: number }): Promise<UserPage>
  /** How many users there are (the metrics' users gauge): one cheap call, not a listing. */
  count(): Promise<number>
  /** Create a user with credential version 1. The email is normalised. */
  create(user: NewUser): Promise<CreateResult>
  /** Change name, role, disabled. Role or disabled changes bump the credential version. */
  update(id: string, patch: UserPatch): Promise<ChangeResult>
  /** Replace the password hash and bump the credential version. Never 'last-admin'. */
  setPasswordHash(id: string, passwordHash: string): Promise<ChangeResult>
  /** Delete the user (their email becomes free). */
  delete(id: string): Promise<DeleteResult>
  /** Release what the store owns. Idempotent. */
  close(): Promise<void>
}

/** Trim and lower-case, the one normalisation of emails for lookups and keys. */
export function normalizeEmail(email: string): string {
  return email.trim().toLowerCase()
}

/** The copy of `user` that may be sent to a client. */
export function toPublic(user: User): PublicUser {
  return { id: user.id, email: user.email, name: user.name, role: user.role, disabled: user.disabled }
}

/** Whether `user` counts for "at least one enabled admin". */
export function isEnabledAdmin(user: Pick<User, 'role' | 'disabled'>): boolean {
  return user.role === 'admin' && !user.disabled
}

export const DEFAULT_PAGE = 100
export const MAX_PAGE = 1000
