/**
 * User administration, for admins only: list, create, change (name, role, disabled), reset a
 * password, delete, revoke sessions. JSON in and out, validated like every other body; replies say
 * what was done to whom, for the audit trail.
 *
 * Every change goes through the user store, whose rules are atomic across processes (a taken
 * email → 409; the last enabled admin cannot be demoted, disabled or deleted → 409). A change of
 * password, role or disabled bumps the user's credential version, which ends their sessions on
 * every instance at the next request (lib/auth/guards.ts); the records are also deleted here.
 */
import { passwordProblem, hashPassword } from '../auth/password.js'
import { HttpError, readJsonBody, requireFields } from '../http.js'
import type { SessionManager } from '../manager.js'
import type { Router } from '../router.js'
import type { Session } from '../session.js'
import type { UserCache } from '../users/cache.js'
import { MAX_PAGE, toPublic, type ChangeResult, type User, type UserPatch } from '../users/store.js'
import { emailProblem, idProblem, isRole, nameProblem, roleProblem } from '../users/validate.js'
import type { Audit } from './audit.js'
import { storeFailure, type AppContext } from './context.js'
import type { SignedIn } from './signed-in.js'

export interface AdminDeps {
  sessions: SessionManager
  users: UserCache
  signedIn: SignedIn
  bcryptCost: number
  /** The gate of a sensitive action (routes.ts): signed in, admin, and a recent password proof. */
  sensitive: (ctx: AppContext, options: { admin: true }) => Promise<{ session: Session; user: User }>
  /** Security events of user administration (lib/server/audit.ts). */
  audit: Audit
}

const LAST_ADMIN = 'The last enabled admin cannot be demoted, disabled or deleted'

function check(problem: string | null): void {
  if (problem !== null) throw new HttpError(400, problem)
}

/** The user id in the path: only ids a store could hold reach it. */
function targetId(params: Readonly<Record<string, string>>): string {
  const id = params.id as string
  if (idProblem(id) !== null) throw new HttpError(404, 'User not found')
  return id
}

function changed(result: ChangeResult): Extract<ChangeResult, { ok: true }> {
  if (result.ok) return result
  if (result.reason === 'missing') throw new HttpError(404, 'User not found')
  throw new HttpError(409, LAST_ADMIN)
}

export function registerAdminRoutes(router: Router<AppContext>, deps: AdminDeps): void {
  const { sessions, users, signedIn, audit } = deps
  const events = sessions.events
  const onStoreFailure = storeFailure(sessions.options.retryAfterSeconds)
  const admin = async (ctx: AppContext) => {
    const session = await ctx.session()
    return { session, me: await signedIn(session, { admin: true }) }
  }
  // Every change (not the listing) also needs a recent password proof (ASVS 5.0 7.5.3).
  const change = async (ctx: AppContext) => {
    const { session, user } = await deps.sensitive(ctx, { admin: true })
    return { session, me: user }
  }

  router.get('/admin/users', async (ctx) => {
    await admin(ctx)
    const after = ctx.query.get('after')
    const rawLimit = ctx.query.get('limit')
    const limit = rawLimit === null ? 100 : Number(rawLimit)
    if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE) throw new HttpError(400, `limit must be an integer from 1 to ${MAX_PAGE}`)
    const page = await users.store.list({ after, limit }).catch(onStoreFailure)
    await ctx.reply(200, { users: page.users.map(toPublic), next: page.next })
  })

  router.post('/admin/users', async (ctx) => {
    const body = requireFields(await readJsonBody(ctx.req), { email: 'string', name: 'string', role: 'string', password: 'string' })
    const { me } = await change(ctx)
    check(emailProblem(body.email) ?? nameProblem(body.name) ?? roleProblem(body.role) ?? passwordProblem(body.password, { forNew: true }))
    const passwordHash = await hashPassword(body.password, deps.bcryptCost)
    const role = body.role as 'admin' | 'user'
    const result = await users.create({ email: body.email, name: body.name, role, passwordHash }).catch(onStoreFailure)
    if (!result.ok) throw new HttpError(409, 'Email already in use')
    await ctx.reply(201, { message: `User ${result.user.id} created`, user: toPublic(result.user) })
    if (events.active) audit(ctx.req, 'user.created', { userId: result.user.id, by: me.id })
  })

  router.patch('/admin/users/:id', async (ctx) => {
    const body = requireFields(await readJsonBody(ctx.req), { name: 'string?', role: 'string?', disabled: 'boolean?' })
    const { session, me } = await change(ctx)
    const id = targetId(ctx.params)
    const patch: UserPatch = {}
    if (body.name !== undefined) {
      check(nameProblem(body.name))
      patch.name = body.name
    }
    if (body.role !== undefined) {
      if (!isRole(body.role)) check(roleProblem(body.role))
      patch.role = body.role as 'admin' | 'user'
    }
    if (body.disabled !== undefined) patch.disabled = body.disabled
    if (Object.keys(patch).length === 0) throw new HttpError(400, 'Nothing to change: give name, role or disabled')
    const before = await users.fresh(id).catch(onStoreFailure)
    const { user } = changed(await users.update(id, patch).catch(onStoreFailure))
    let ended = 0
    if (before !== null && before.credentialVersion !== user.credentialVersion) {
      // Role or disabled changed: the user's sessions are dead (version behind); delete them. An
      // admin changing their own role keeps this session, bound to the new version.
      const keep = id === me.id && !user.disabled ? session : undefined
      ended = await sessions.revokeUserSessions(id, keep, 'admin-revoked').catch(onStoreFailure)
      if (keep !== undefined) session.regenerate().setUser(id, user.credentialVersion)
    }
    await ctx.reply(200, { message: `User ${id} updated`, user: toPublic(user), ended })
    // Disabling is the change an operator watches for; anything else (name, role, re-enabling) is
    // an update.
    if (events.active) audit(ctx.req, patch.disabled === true ? 'user.disabled' : 'user.updated', { userId: id, by: me.id })
  })

  router.post('/admin/users/:id/password', async (ctx) => {
    const { password } = requireFields(await readJsonBody(ctx.req), { password: 'string' })
    const { me } = await change(ctx)
    const id = targetId(ctx.params)
    check(passwordProblem(password, { forNew: true }))
    const passwordHash = await hashPassword(password, deps.bcryptCost)
    changed(await users.setPasswordHash(id, passwordHash).catch(onStoreFailure))
    // Every session of that user ends, the admin's own included if they reset their own password.
    const ended = await sessions.revokeUserSessions(id, undefined, 'password-changed').catch(onStoreFailure)
    await ctx.reply(200, { message: `Password of user ${id} reset`, ended })
    if (events.active) audit(ctx.req, 'password.changed', { userId: id, by: me.id })
  })

  router.delete('/admin/users/:id', async (ctx) => {
    const { me } = await change(ctx)
    const id = targetId(ctx.params)
    const result = await users.delete(id).catch(onStoreFailure)
    if (!result.ok) throw new HttpError(result.reason === 'missing' ? 404 : 409, result.reason === 'missing' ? 'User not found' : LAST_ADMIN)
    const ended = await sessions.revokeUserSessions(id, undefined, 'admin-revoked').catch(onStoreFailure)
    await ctx.reply(200, { message: `User ${id} deleted`, ended })
    if (events.active) audit(ctx.req, 'user.deleted', { userId: id, by: me.id })
  })

  router.post('/admin/users/:id/revoke-sessions', async (ctx) => {
    await change(ctx)
    const id = targetId(ctx.params)
    const target = await users.fresh(id).catch(onStoreFailure)
    if (target === null) throw new HttpError(404, 'User not found')
    const ended = await sessions.revokeUserSessions(target.id, undefined, 'admin-revoked').catch(onStoreFailure)
    await ctx.reply(200, { message: 'Sessions revoked', ended })
  })
}
