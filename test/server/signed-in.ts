// The user lookup of a signed-in request spends what is left of the request's store budget
// (lib/server/signed-in.ts): a late session read followed by a user read that hangs answers 503
// within one storeTimeoutMs, not two.
import type { IncomingMessage } from 'node:http'
import t, { type Test } from 'tap'
import { HttpError } from '../../lib/http.js'
import { createSessionManager } from '../../lib/manager.js'
import { BUDGET_FROM, type BudgetedSession } from '../../lib/server/context.js'
import { signedInGuard, withinBudget } from '../../lib/server/signed-in.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { UserCache } from '../../lib/users/cache.js'
import { MemoryUserStore } from '../../lib/users/memory.js'
import type { User } from '../../lib/users/store.js'

const BUDGET_MS = 400
const request = { headers: {}, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage

/** A user store that is not in memory and whose reads answer only when `answer` is called. */
async function setup(t: Test) {
  const users = new MemoryUserStore()
  const created = await users.create({ email: 'ann@example.com', name: 'Ann', passwordHash: '$2b$04$' + 'x'.repeat(53), role: 'user' })
  if (!created.ok) throw new Error('setup: user not created')
  const user = created.user
  const pending: Array<(u: User | null) => void> = []
  // Not in memory: every lookup goes to the store, whose reads wait for `answer`.
  const store = Object.assign(Object.create(users) as MemoryUserStore, {
    peek: (): User | null | undefined => undefined,
    byId: () => new Promise<User | null>((resolve) => pending.push(resolve)),
  })
  const sessions = createSessionManager({ secrets: ['a'.repeat(32)], store: new MemoryStore(), storeTimeoutMs: BUDGET_MS })
  t.teardown(() => sessions.close())
  const signedIn = signedInGuard(sessions, new UserCache(store))
  const session = (await sessions.load(request)).setUser(user.id, user.credentialVersion) as BudgetedSession
  return { user, session, signedIn, answer: (u: User | null) => pending.splice(0).forEach((r) => r(u)) }
}

async function refused(t: Test, p: Promise<unknown>): Promise<number> {
  const started = performance.now()
  // The budget's timer is unref'd (a server's sockets keep the process alive); this test has none.
  const alive = setInterval(() => {}, 1000)
  const err = await p.then(() => null, (e: unknown) => e)
  clearInterval(alive)
  t.ok(err instanceof HttpError, 'refused with an HttpError')
  t.equal((err as HttpError).status, 503, '503: an outage, not "logged out"')
  t.equal((err as HttpError).headers['Retry-After'], '1', 'with Retry-After')
  return performance.now() - started
}

t.test('a session read that took most of the budget leaves the user read only the rest', async (t) => {
  const { session, signedIn } = await setup(t)
  session[BUDGET_FROM] = performance.now() - (BUDGET_MS - 100)
  const ms = await refused(t, Promise.resolve(signedIn(session)))
  t.ok(ms < BUDGET_MS - 50, `503 after ${Math.round(ms)} ms, not a whole ${BUDGET_MS} ms budget more`)
})

t.test('a spent budget answers 503 at once', async (t) => {
  const { session, signedIn } = await setup(t)
  session[BUDGET_FROM] = performance.now() - BUDGET_MS - 1
  const ms = await refused(t, Promise.resolve(signedIn(session, { admin: true })))
  t.ok(ms < BUDGET_MS / 2, `503 after ${Math.round(ms)} ms`)
})

t.test('without a start (a session not loaded through the context) the whole budget applies', async (t) => {
  const { session, signedIn } = await setup(t)
  const ms = await refused(t, Promise.resolve(signedIn(session)))
  t.ok(ms >= BUDGET_MS - 20, `503 after ${Math.round(ms)} ms`)
})

t.test('a user read that answers within the budget signs the request in', async (t) => {
  const { user, session, signedIn, answer } = await setup(t)
  session[BUDGET_FROM] = performance.now()
  const found = signedIn(session)
  answer(user)
  t.equal((await found).id, user.id)
})

t.test('withinBudget passes a rejection on unchanged, and swallows one it no longer waits for', async (t) => {
  const boom = new Error('boom')
  await t.rejects(withinBudget(Promise.reject(boom), 100), boom)
  await t.rejects(withinBudget(Promise.reject(boom), 0), { name: 'StoreError', code: 'ERR_STORE_TIMEOUT' })
})
