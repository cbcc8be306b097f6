/**
 * The auth server's endpoints: the login system of an express-session tutorial (login, logout,
 * dashboard, profile, admin, cart), plus what that tutorial lacks: session lists and revocation,
 * password change, health. Every handler is a few lines; the security lives in the layers below
 * (session engine, guards, throttle, password hashing) and is explained there.
 */
import { requireAdmin, requireAuth } from '../auth/guards.js'
import { passwordProblem, verifyPassword, hashPassword } from '../auth/password.js'
import type { LoginThrottle } from '../auth/throttle.js'
import { clientIp, HttpError, readJsonBody, requireFields, sendJson } from '../http.js'
import type { SessionManager } from '../manager.js'
import type { Router } from '../router.js'
import { auditor } from './audit.js'
import { storeFailure, type AppContext } from './context.js'
import type { UserDirectory } from './users.js'

export interface RouteDeps {
  sessions: SessionManager
  users: UserDirectory
  throttle: LoginThrottle
  /** bcrypt hash of a random password: unknown emails are compared against it (same timing). */
  dummyHash: string
  bcryptCost: number
  trustProxy: boolean
  /** What `/healthz` reports as the store. */
  storeKind: string
}

/** RFC 5321 §4.5.3.1: a path (address) is at most 254 octets in practice. */
const MAX_EMAIL_LENGTH = 254
const MAX_CART_ITEMS = 100
const MAX_ITEM_LENGTH = 100

export function registerRoutes(router: Router<AppContext>, deps: RouteDeps): void {
  const { sessions, users, throttle } = deps
  const onStoreFailure = storeFailure(sessions.options.retryAfterSeconds)
  const events = sessions.events
  const audit = auditor(events, deps.trustProxy)

  router.post('/login', async (ctx) => {
    const body = requireFields(await readJsonBody(ctx.req), { email: 'string', password: 'string', rememberMe: 'boolean?' })
    if (body.email.length > MAX_EMAIL_LENGTH) throw new HttpError(400, 'email is too long')
    // Refused before bcrypt runs: a 1 MB password must not cost a hash (DoS).
    const problem = passwordProblem(body.password)
    if (problem !== null) throw new HttpError(400, problem)
    const session = await ctx.session()
    const client = clientIp(ctx.req, { trustProxy: deps.trustProxy })
    const verdict = await throttle.check(body.email, client).catch(onStoreFailure)
    if (!verdict.allowed) {
      if (events.active) audit(ctx.req, 'login.failed', { userId: users.byEmail(body.email)?.id ?? null, reason: 'throttled' })
      throw new HttpError(429, 'Too many login attempts', { headers: { 'Retry-After': String(verdict.retryAfterSeconds) } })
    }
    // Unknown email and wrong password take the same path and the same bcrypt time, and get the
    // same answer (OWASP Authentication Cheat Sheet, "Authentication and Error Messages").
    const user = users.byEmail(body.email)
    const ok = await verifyPassword(body.password, user?.passwordHash ?? deps.dummyHash)
    if (user === undefined || !ok) {
      await throttle.recordFailure(body.email, client).catch(onStoreFailure)
      if (events.active) {
        audit(ctx.req, 'login.failed', { userId: user?.id ?? null, reason: user === undefined ? 'unknown-user' : 'bad-password' })
      }
      throw new HttpError(401, 'Invalid credentials')
    }
    await throttle.recordSuccess(body.email).catch(onStoreFailure)
    // New ID at the privilege change (session fixation), data such as the cart kept.
    session.regenerate().setUser(user.id).setRemember(body.rememberMe === true)
    await ctx.reply(200, { message: 'Logged in successfully', user: { id: user.id, email: user.email, name: user.name } })
    if (events.active) audit(ctx.req, 'login.succeeded', { handle: session.handle, userId: user.id, remember: body.rememberMe === true })
  })

  router.post('/logout', async (ctx) => {
    const session = await ctx.session()
    const { handle, userId } = session
    session.destroy()
    await ctx.reply(200, { message: 'Logged out successfully' })
    if (events.active && userId !== null) audit(ctx.req, 'logout', { handle, userId })
  })

  router.get('/dashboard', async (ctx) => {
    const user = requireAuth(await ctx.session(), users)
    await ctx.reply(200, { message: 'Welcome to dashboard', userId: user.id, email: user.email })
  })

  router.get('/profile', async (ctx) => {
    const user = requireAuth(await ctx.session(), users)
    await ctx.reply(200, { user: users.toPublic(user) })
  })

  router.get('/admin/users', async (ctx) => {
    requireAdmin(await ctx.session(), users)
    await ctx.reply(200, { users: users.list() })
  })

  router.post('/admin/users/:id/revoke-sessions', async (ctx) => {
    requireAdmin(await ctx.session(), users)
    const target = users.byId(ctx.params.id as string)
    if (target === undefined) throw new HttpError(404, 'User not found')
    const ended = await sessions.revokeUserSessions(target.id, undefined, 'admin-revoked').catch(onStoreFailure)
    await ctx.reply(200, { message: 'Sessions revoked', ended })
  })

  router.get('/cart', async (ctx) => {
    const session = await ctx.session()
    await ctx.reply(200, { cart: session.get<string[]>('cart') ?? [] })
  })

  router.post('/cart', async (ctx) => {
    const { item } = requireFields(await readJsonBody(ctx.req), { item: 'string' })
    if (item.length === 0 || item.length > MAX_ITEM_LENGTH) {
      throw new HttpError(400, `item must be 1 to ${MAX_ITEM_LENGTH} characters`)
    }
    const session = await ctx.session()
    if ((session.get<string[]>('cart') ?? []).length >= MAX_CART_ITEMS) {
      throw new HttpError(400, `a cart holds at most ${MAX_CART_ITEMS} items`)
    }
    // Works for anonymous visitors: the first write creates their session (saveUninitialized=false).
    // update(), not get + set: two tabs adding at once both land (the append is re-run on conflict).
    // (slice: if a concurrent append won the race at the cap, the oldest item makes room.)
    const next = session.update<string[]>('cart', (cart = []) => [...cart, item].slice(-MAX_CART_ITEMS))
    await ctx.reply(200, { cart: next })
  })

  router.get('/sessions', async (ctx) => {
    const session = await ctx.session()
    const user = requireAuth(session, users)
    const list = await sessions.listSessions(user.id, session).catch(onStoreFailure)
    await ctx.reply(200, {
      sessions: list.map((s) => ({
        handle: s.handle,
        createdAt: new Date(s.createdAt).toISOString(),
        lastSeenAt: new Date(s.lastSeenAt).toISOString(),
        userAgent: s.userAgent,
        ip: s.ip,
        current: s.current,
      })),
    })
  })

  router.delete('/sessions/:handle', async (ctx) => {
    const session = await ctx.session()
    const user = requireAuth(session, users)
    const handle = ctx.params.handle as string
    if (handle === session.handle) {
      // Ending the current session is a logout: destroy it and clear the cookie.
      session.destroy()
    } else if (!(await sessions.revokeSession(user.id, handle).catch(onStoreFailure))) {
      throw new HttpError(404, 'Session not found')
    }
    await ctx.reply(200, { message: 'Session ended' })
  })

  router.post('/sessions/revoke-others', async (ctx) => {
    const session = await ctx.session()
    const user = requireAuth(session, users)
    const ended = await sessions.revokeUserSessions(user.id, session).catch(onStoreFailure)
    await ctx.reply(200, { message: 'Other sessions ended', ended })
  })

  router.post('/password', async (ctx) => {
    const body = requireFields(await readJsonBody(ctx.req), { currentPassword: 'string', newPassword: 'string' })
    const session = await ctx.session()
    const user = requireAuth(session, users)
    const problem = passwordProblem(body.currentPassword) ?? passwordProblem(body.newPassword, { forNew: true })
    if (problem !== null) throw new HttpError(400, problem)
    const client = clientIp(ctx.req, { trustProxy: deps.trustProxy })
    // A stolen session must not become an oracle for guessing the password: same throttle.
    const verdict = await throttle.check(user.email, client).catch(onStoreFailure)
    if (!verdict.allowed) {
      throw new HttpError(429, 'Too many attempts', { headers: { 'Retry-After': String(verdict.retryAfterSeconds) } })
    }
    if (!(await verifyPassword(body.currentPassword, user.passwordHash))) {
      await throttle.recordFailure(user.email, client).catch(onStoreFailure)
      throw new HttpError(403, 'Current password is incorrect')
    }
    await throttle.recordSuccess(user.email).catch(onStoreFailure)
    await users.setPasswordHash(user.id, await hashPassword(body.newPassword, deps.bcryptCost))
    // OWASP: after a password change, end every other session and renew this one's ID.
    const ended = await sessions.revokeUserSessions(user.id, session, 'password-changed').catch(onStoreFailure)
    session.regenerate()
    await ctx.reply(200, { message: 'Password changed', ended })
    if (events.active) audit(ctx.req, 'password.changed', { handle: session.handle, userId: user.id, by: 'self' })
  })

  router.get('/healthz', async (ctx) => {
    try {
      await sessions.ping()
    } catch {
      sendJson(ctx.res, 503, { error: 'Session store unavailable' }, {
        'Retry-After': String(sessions.options.retryAfterSeconds),
        'Cache-Control': 'no-store',
      })
      return
    }
    sendJson(ctx.res, 200, { ok: true, store: deps.storeKind }, { 'Cache-Control': 'no-store' })
  })
}
