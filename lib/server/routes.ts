/**
 * The auth server's endpoints: the login system of an express-session tutorial (login, logout,
 * dashboard, profile, admin, cart), plus what that tutorial lacks: session lists and revocation,
 * password change, health. Every handler is a few lines; the security lives in the layers below
 * (session engine, guards, throttle, password hashing) and is explained there.
 */
import { requireRecentAuth } from '../auth/guards.js'
import { passwordProblem, verifyPassword, hashPassword } from '../auth/password.js'
import type { LoginThrottle } from '../auth/throttle.js'
import type { LoginFailureReason } from '../events.js'
import { clientIp, HttpError, readJsonBody, requireFields, sendJson } from '../http.js'
import type { SessionManager } from '../manager.js'
import type { Router } from '../router.js'
import type { Session } from '../session.js'
import type { UserCache } from '../users/cache.js'
import { toPublic, type User } from '../users/store.js'
import { MAX_EMAIL_LENGTH } from '../users/validate.js'
import { registerAdminRoutes } from './admin-routes.js'
import { auditor } from './audit.js'
import { storeFailure, type AppContext } from './context.js'
import { signedInGuard } from './signed-in.js'

export interface RouteDeps {
  sessions: SessionManager
  users: UserCache
  throttle: LoginThrottle
  /** bcrypt hash of a random password: unknown emails are compared against it (same timing). */
  dummyHash: string
  bcryptCost: number
  trustProxy: boolean
  /** What `/healthz` reports as the store. */
  storeKind: string
  /** `Clear-Site-Data` value sent when this browser logs out. */
  clearSiteData: string
  /** How old the password proof may be for a sensitive action (else 401 REAUTH_REQUIRED). */
  reauthMaxAgeMs: number
}

const MAX_CART_ITEMS = 100
const MAX_ITEM_LENGTH = 100

/** The outcome of a login's password check: the user, or why it failed (for the audit line). */
type LoginAttempt = { ok: true; user: User } | { ok: false; user: User | null; reason: LoginFailureReason }

/**
 * Login hygiene: a session that belonged to another user carries nothing into this one (their
 * cart is theirs). An anonymous visitor's data (a cart filled before logging in) is kept.
 */
function forgetOtherUser(session: Session, userId: string): void {
  if (session.userId === null || session.userId === userId) return
  for (const key of Object.keys(session.toJSON())) session.delete(key)
}

export function registerRoutes(router: Router<AppContext>, deps: RouteDeps): void {
  const { sessions, users, throttle } = deps
  const onStoreFailure = storeFailure(sessions.options.retryAfterSeconds)
  const events = sessions.events
  const audit = auditor(events, deps.trustProxy)
  const signedIn = signedInGuard(sessions, users)
  const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString())

  /**
   * The gate of every sensitive action (OWASP ASVS 5.0 7.5.1–7.5.3): a signed-in user (401), an
   * admin if asked (403), who proved the password within `reauthMaxAgeMs` (401 REAUTH_REQUIRED;
   * the page then asks for it and retries). One line per route.
   */
  async function sensitive(ctx: AppContext, options: { admin?: boolean } = {}): Promise<{ session: Session; user: User }> {
    const session = await ctx.session()
    const user = await signedIn(session, options)
    requireRecentAuth(session, deps.reauthMaxAgeMs, sessions.options.now)
    return { session, user }
  }
  registerAdminRoutes(router, { sessions, users, signedIn, bcryptCost: deps.bcryptCost, sensitive, audit })

  /**
   * One password attempt at `account` under the login throttle (lib/auth/throttle.ts): counted
   * before bcrypt runs, refused with 429 `tooMany` and `Retry-After` (after `onRefused`) when over
   * a limit, else `attempt` verifies the password and its `ok` is recorded as a success or a
   * failure. An attempt that throws (a stale session) records nothing: it stays counted.
   */
  async function throttledAttempt<T extends { ok: boolean }>(ctx: AppContext, account: string, tooMany: string,
    attempt: () => Promise<T>, onRefused?: () => void): Promise<T> {
    const client = clientIp(ctx.req, { trustProxy: deps.trustProxy })
    const verdict = await throttle.check(account, client).catch(onStoreFailure)
    if (!verdict.allowed) {
      onRefused?.()
      throw new HttpError(429, tooMany, { headers: { 'Retry-After': String(verdict.retryAfterSeconds) } })
    }
    const result = await attempt()
    await (result.ok ? throttle.recordSuccess(account, client) : throttle.recordFailure(account, client)).catch(onStoreFailure)
    return result
  }

  /**
   * Check `password` against the user's current hash (from the store, not the cache: a change made
   * elsewhere a moment ago counts), throttled exactly like a login, so a stolen session is no
   * password-guessing oracle. Throws 429 when throttled, 401 when the session's credentials are
   * no longer the user's, 403 `wrongMessage` when wrong.
   */
  async function provePassword(ctx: AppContext, session: Session, user: User, password: string, wrongMessage: string): Promise<void> {
    const { ok } = await throttledAttempt(ctx, user.email, 'Too many attempts', async () => {
      const current = await users.fresh(user.id).catch(onStoreFailure)
      if (current === null || current.credentialVersion !== session.credentialVersion) throw new HttpError(401, 'Not authenticated')
      return { ok: await verifyPassword(password, current.passwordHash) }
    })
    if (!ok) throw new HttpError(403, wrongMessage)
  }

  router.post('/login', async (ctx) => {
    const body = requireFields(await readJsonBody(ctx.req), { email: 'string', password: 'string', rememberMe: 'boolean?' })
    if (body.email.length > MAX_EMAIL_LENGTH) throw new HttpError(400, 'email is too long')
    // Refused before bcrypt runs: a 1 MB password must not cost a hash (DoS).
    const problem = passwordProblem(body.password)
    if (problem !== null) throw new HttpError(400, problem)
    const session = await ctx.session()
    const login = await throttledAttempt(ctx, body.email, 'Too many login attempts', async (): Promise<LoginAttempt> => {
      // The user is read from the store (not the cache) BEFORE the hash is checked, and the
      // session is bound to the credential version read here: a password change that lands while
      // bcrypt runs makes this session dead on its first request (lib/auth/guards.ts).
      const user = await users.byEmail(body.email).catch(onStoreFailure)
      // Unknown email, wrong password and disabled user take the same path and the same bcrypt
      // time, and get the same answer (OWASP Authentication Cheat Sheet, "Authentication and
      // Error Messages").
      const ok = await verifyPassword(body.password, user?.passwordHash ?? deps.dummyHash)
      if (user === null) return { ok: false, user, reason: 'unknown-user' }
      if (!ok || user.disabled) return { ok: false, user, reason: ok ? 'disabled' : 'bad-password' }
      return { ok: true, user }
    }, () => {
      // No user lookup here: this is the path an attack hammers, and it must stay cheap.
      if (events.active) audit(ctx.req, 'login.failed', { userId: null, reason: 'throttled' })
    })
    if (!login.ok) {
      if (events.active) audit(ctx.req, 'login.failed', { userId: login.user?.id ?? null, reason: login.reason })
      throw new HttpError(401, 'Invalid credentials')
    }
    const user = login.user
    forgetOtherUser(session, user.id)
    // New ID at the privilege change (session fixation), an anonymous cart kept; the password was
    // just proved (authenticatedAt). At the per-user session limit the commit in reply() ends the
    // least recently used session, or answers 429 under SESSION_LIMIT_POLICY=refuse.
    session.regenerate({ authenticated: true }).setUser(user.id, user.credentialVersion).setRemember(body.rememberMe === true)
    await ctx.reply(200, { message: 'Logged in successfully', user: { id: user.id, email: user.email, name: user.name } })
    if (events.active) audit(ctx.req, 'login.succeeded', { handle: session.handle, userId: user.id, remember: body.rememberMe === true })
  })

  // W3C Clear-Site-Data (ASVS 5.0 14.3.1): the browser also drops what the site cached or stored
  // for this user; "cookies" only when configured, as it clears every cookie of the site.
  const cleared = ['Clear-Site-Data', deps.clearSiteData]

  // Prove the password again for a sensitive action: a new session ID (ASVS 5.0 7.2.4: the old
  // one ends), the data and the binding kept, authenticatedAt now.
  router.post('/reauth', async (ctx) => {
    const { password } = requireFields(await readJsonBody(ctx.req), { password: 'string' })
    const problem = passwordProblem(password)
    if (problem !== null) throw new HttpError(400, problem)
    const session = await ctx.session()
    const user = await signedIn(session)
    await provePassword(ctx, session, user, password, 'Password is incorrect')
    session.regenerate({ authenticated: true })
    await ctx.reply(200, { message: 'Re-authenticated' })
  })

  // How long the session has left, read without extending it (no touch, no Set-Cookie): a page
  // polling this must not keep an idle session alive. `now` is the server's clock, so the page
  // can count down without trusting its own. Signed in means what the guards mean: the user
  // exists, is enabled, and the session's credential version is theirs.
  router.get('/session', async (ctx) => {
    const status = await sessions.peek(ctx.req).catch(onStoreFailure)
    const found = status?.userId == null ? null : await Promise.resolve(users.byId(status.userId)).catch(onStoreFailure)
    const user = found !== null && !found.disabled && found.credentialVersion === status?.credentialVersion ? found : null
    sendJson(ctx.res, 200, {
      authenticated: user !== null,
      ...(user === null ? {} : { user: toPublic(user) }),
      idleExpiresAt: iso(status?.idleExpiresAt ?? null),
      absoluteExpiresAt: iso(status?.absoluteExpiresAt ?? null),
      remember: status?.remember ?? false,
      authenticatedAt: iso(status?.authenticatedAt ?? null),
      now: iso(sessions.options.now()),
    }, ['Cache-Control', 'no-store', 'Vary', 'Cookie'])
  })

  // "Stay signed in": refresh the idle clock now, even within the touch interval.
  router.post('/session/refresh', async (ctx) => {
    const session = await ctx.session()
    await signedIn(session)
    session.touch()
    await ctx.reply(200, { message: 'Session refreshed' })
  })

  router.post('/logout', async (ctx) => {
    const session = await ctx.session()
    const { handle, userId } = session
    session.destroy()
    await ctx.reply(200, { message: 'Logged out successfully' }, cleared)
    if (events.active && userId !== null) audit(ctx.req, 'logout', { handle, userId })
  })

  // Ends the other sessions too, so it is as sensitive as /sessions/revoke-others.
  router.post('/logout/everywhere', async (ctx) => {
    const { session, user } = await sensitive(ctx)
    const handle = session.handle
    const ended = await sessions.revokeUserSessions(user.id, session, 'user-revoked').catch(onStoreFailure)
    session.destroy()
    await ctx.reply(200, { message: 'Logged out everywhere', ended: ended + 1 }, cleared)
    // A rare route: emit() itself does nothing without listeners, so no listener check here.
    audit(ctx.req, 'logout', { handle, userId: user.id })
  })

  router.get('/dashboard', async (ctx) => {
    // The hot path: a cached user answers synchronously, so no await (no extra tick) for it.
    const found = signedIn(await ctx.session())
    const user = found instanceof Promise ? await found : found
    await ctx.reply(200, { message: 'Welcome to dashboard', userId: user.id, email: user.email })
  })

  router.get('/profile', async (ctx) => {
    const found = signedIn(await ctx.session())
    const user = found instanceof Promise ? await found : found
    await ctx.reply(200, { user: { id: user.id, email: user.email, name: user.name, role: user.role } })
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
    const user = await signedIn(session)
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
    const user = await signedIn(session)
    const handle = ctx.params.handle as string
    const current = handle === session.handle
    if (current) {
      // Ending the current session is a logout: destroy it and clear the cookie.
      session.destroy()
    } else {
      // Ending another session is sensitive (a thief could end the owner's); one's own is not.
      await sensitive(ctx)
      if (!(await sessions.revokeSession(user.id, handle).catch(onStoreFailure))) throw new HttpError(404, 'Session not found')
    }
    await ctx.reply(200, { message: 'Session ended' }, current ? cleared : undefined)
  })

  router.post('/sessions/revoke-others', async (ctx) => {
    const { session, user } = await sensitive(ctx)
    const ended = await sessions.revokeUserSessions(user.id, session).catch(onStoreFailure)
    await ctx.reply(200, { message: 'Other sessions ended', ended })
  })

  router.post('/password', async (ctx) => {
    const body = requireFields(await readJsonBody(ctx.req), { currentPassword: 'string', newPassword: 'string' })
    const { session, user } = await sensitive(ctx)
    const problem = passwordProblem(body.currentPassword) ?? passwordProblem(body.newPassword, { forNew: true })
    if (problem !== null) throw new HttpError(400, problem)
    await provePassword(ctx, session, user, body.currentPassword, 'Current password is incorrect')
    const hash = await hashPassword(body.newPassword, deps.bcryptCost)
    const changed = await users.setPasswordHash(user.id, hash).catch(onStoreFailure)
    /* c8 ignore next -- deleted between the check above and this change: as if before it */
    if (!changed.ok) throw new HttpError(401, 'Not authenticated')
    // OWASP: after a password change, end every other session and renew this one's ID. The other
    // sessions are dead already (their credential version is behind); deleting them is hygiene,
    // and this one is bound to the new version.
    const ended = await sessions.revokeUserSessions(user.id, session, 'password-changed').catch(onStoreFailure)
    session.regenerate({ authenticated: true }).setUser(user.id, changed.user.credentialVersion)
    await ctx.reply(200, { message: 'Password changed', ended })
    if (events.active) audit(ctx.req, 'password.changed', { handle: session.handle, userId: user.id, by: user.id })
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
