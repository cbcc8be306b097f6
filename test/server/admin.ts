/**
 * User administration over HTTP (memory store; the same endpoints run on Redis and Cluster in
 * test/users/multi-instance-*.ts), login hygiene, and how a session whose user changed ends.
 */
import t from 'tap'
import { hashPassword } from '../../lib/auth/password.js'
import { StoreError } from '../../lib/errors.js'
import { startServer } from '../../lib/server/app.js'
import { loadConfig } from '../../lib/server/config.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { MemoryUserStore } from '../../lib/users/memory.js'
import type { User, UserStore } from '../../lib/users/store.js'
import { ADMIN, Client, JOHN } from '../fixtures/http-client.js'
import { observeHook } from '../fixtures/observe-hook.js'

const ADA = { id: '1', email: ADMIN.email, name: 'Ada Admin', role: 'admin', disabled: false, passwordHash: await hashPassword(ADMIN.password, 4), credentialVersion: 1 } as const
const JOHNNY = { id: '2', email: JOHN.email, name: 'John', role: 'user', disabled: false, passwordHash: await hashPassword(JOHN.password, 4), credentialVersion: 1 } as const

async function boot(t: Tap, store = new MemoryStore(), users = new MemoryUserStore([ADA, JOHNNY])) {
  const server = await startServer(loadConfig({ PORT: '0', BCRYPT_COST: '4', ...observeHook.env }), { ...observeHook.overrides, store, users })
  t.teardown(() => server.close())
  observeHook.onStart?.(server)
  const admin = new Client(server.url)
  await admin.login(ADMIN.email, ADMIN.password)
  return { server, admin, users, client: () => new Client(server.url) }
}
type Tap = { teardown(fn: () => unknown): void }

t.test('create: 201 with the public user; 409 on a taken email; 400 on bad fields', async (t) => {
  const { admin, client } = await boot(t)
  const created = await admin.post('/admin/users', { email: ' New@Example.com', name: 'New', role: 'user', password: 'new-password-1' })
  t.equal(created.status, 201)
  t.match(created.body, { message: /^User [\w-]+ created$/, user: { email: 'new@example.com', name: 'New', role: 'user', disabled: false } })
  t.notMatch(JSON.stringify(created.body), /\$2[aby]\$|credentialVersion/, 'no hash, no version')
  t.equal((await client().post('/login', { email: 'new@example.com', password: 'new-password-1' })).status, 200)
  const taken = await admin.post('/admin/users', { email: 'NEW@example.com', name: 'Other', role: 'user', password: 'new-password-1' })
  t.same([taken.status, taken.body], [409, { error: 'Email already in use' }])
  for (const [body, error] of [
    [{ email: 'x', name: 'X', role: 'user', password: 'new-password-1' }, /email/],
    [{ email: 'x@y.z', name: '', role: 'user', password: 'new-password-1' }, /name/],
    [{ email: 'x@y.z', name: 'X', role: 'root', password: 'new-password-1' }, /role/],
    [{ email: 'x@y.z', name: 'X', role: 'user', password: 'short' }, /./],
    [{ email: 'x@y.z', name: 'X', role: 'user' }, /password must be a string/],
  ] as const) {
    const res = await admin.post('/admin/users', body)
    t.equal(res.status, 400, JSON.stringify(body))
    t.match(res.body.error, error)
  }
})

t.test('only admins: 401 anonymous, 403 users', async (t) => {
  const { client } = await boot(t)
  const john = client()
  await john.login(JOHN.email, JOHN.password)
  for (const [method, path] of [['GET', '/admin/users'], ['POST', '/admin/users'], ['PATCH', '/admin/users/2'], ['POST', '/admin/users/2/password'], ['DELETE', '/admin/users/2']] as const) {
    const json = method === 'GET' || method === 'DELETE' ? undefined : { email: 'a@b.c', name: 'A', role: 'user', password: 'new-password-1' }
    t.equal((await client().request(method, path, json === undefined ? {} : { json })).status, 401, `${method} ${path} anonymous`)
    t.equal((await john.request(method, path, json === undefined ? {} : { json })).status, 403, `${method} ${path} as a user`)
  }
})

t.test('list pages with a cursor; bad limits are 400', async (t) => {
  const { admin } = await boot(t)
  const first = await admin.get('/admin/users?limit=1')
  t.same(first.body, { users: [{ id: '1', email: ADMIN.email, name: 'Ada Admin', role: 'admin', disabled: false }], next: '1' })
  const second = await admin.get('/admin/users?limit=1&after=1')
  t.same(second.body.users.map((u: User) => u.id), ['2'])
  for (const limit of ['0', '1001', 'x', '1.5']) t.equal((await admin.get(`/admin/users?limit=${limit}`)).status, 400, `limit=${limit}`)
})

t.test('patch: name, role, disabled; 404, 400, 409 for the last admin; sessions end on credential changes', async (t) => {
  const { admin, client } = await boot(t)
  const john = client()
  await john.login(JOHN.email, JOHN.password)
  const renamed = await admin.patch('/admin/users/2', { name: 'Johnny' })
  t.same(renamed.body, { message: 'User 2 updated', user: { id: '2', email: JOHN.email, name: 'Johnny', role: 'user', disabled: false }, ended: 0 })
  t.equal((await john.get('/dashboard')).status, 200, 'a rename ends no session')
  const disabled = await admin.patch('/admin/users/2', { disabled: true })
  t.equal(disabled.body.ended, 1, "disabling deleted john's session")
  t.equal((await john.get('/dashboard')).status, 401)
  const refused = await client().post('/login', { email: JOHN.email, password: JOHN.password })
  t.same([refused.status, refused.body], [401, { error: 'Invalid credentials' }], 'a disabled user: the wrong-password answer')
  t.equal((await admin.patch('/admin/users/2', { disabled: false, role: 'admin' })).status, 200)
  t.same((await admin.patch('/admin/users/nobody', { name: 'X' })).status, 404)
  t.same((await admin.patch('/admin/users/bad%20id', { name: 'X' })).status, 404, 'an impossible id')
  t.same((await admin.patch('/admin/users/2', {})).status, 400, 'nothing to change')
  t.same((await admin.patch('/admin/users/2', { role: 'root' })).status, 400)
  t.same((await admin.patch('/admin/users/2', { name: '\u0000' })).status, 400)
  t.same((await admin.patch('/admin/users/2', { disabled: 'yes' })).status, 400)
  // Ada demotes herself while John is an admin: allowed; her session is rebound and stays.
  const self = await admin.patch('/admin/users/1', { role: 'user' })
  t.equal(self.status, 200)
  t.equal((await admin.get('/dashboard')).status, 200, "the admin's own session survives her own role change")
  t.equal((await admin.get('/admin/users')).status, 403, 'and she is a user now')
  const johnAdmin = client()
  await johnAdmin.login(JOHN.email, JOHN.password)
  for (const patch of [{ role: 'user' }, { disabled: true }]) {
    const last = await johnAdmin.patch('/admin/users/2', patch)
    t.same([last.status, last.body], [409, { error: 'The last enabled admin cannot be demoted, disabled or deleted' }])
  }
  t.same((await johnAdmin.request('DELETE', '/admin/users/2')).status, 409)
})

t.test('reset password: every session of the user ends; delete; revoke', async (t) => {
  const { admin, client } = await boot(t)
  const john = client()
  await john.login(JOHN.email, JOHN.password)
  const reset = await admin.post('/admin/users/2/password', { password: 'reset-password-1' })
  t.same(reset.body, { message: 'Password of user 2 reset', ended: 1 })
  t.equal((await john.get('/dashboard')).status, 401)
  t.equal((await client().post('/login', { email: JOHN.email, password: JOHN.password })).status, 401)
  t.equal((await admin.post('/admin/users/2/password', { password: 'short' })).status, 400)
  t.equal((await admin.post('/admin/users/nobody/password', { password: 'reset-password-1' })).status, 404)
  const again = client()
  await again.login(JOHN.email, 'reset-password-1')
  t.same((await admin.post('/admin/users/2/revoke-sessions')).body, { message: 'Sessions revoked', ended: 1 })
  await again.login(JOHN.email, 'reset-password-1')
  const deleted = await admin.request('DELETE', '/admin/users/2')
  t.same(deleted.body, { message: 'User 2 deleted', ended: 1 })
  t.equal((await again.get('/dashboard')).status, 401)
  t.equal((await admin.request('DELETE', '/admin/users/2')).status, 404)
  t.equal((await admin.post('/admin/users/2/revoke-sessions')).status, 404)
})

t.test('a stale session is ended: 401, cookie cleared, record deleted', async (t) => {
  const store = new MemoryStore()
  const { client, users } = await boot(t, store)
  const john = client()
  await john.login(JOHN.email, JOHN.password)
  const cookie = john.cookieHeader()
  await users.update('2', { role: 'admin' })
  const res = await john.get('/profile')
  t.equal(res.status, 401)
  t.match(res.setCookie[0], /^sid=; Max-Age=0/, 'the cookie is cleared')
  t.equal(store.stats().sessions, 1, "only the admin's session is left")
  t.equal((await john.get('/profile', { headers: { cookie } })).status, 401, 'replaying it: still 401')
})

t.test('a user disabled in the store (not through the API) is refused at the next request', async (t) => {
  const { client, users } = await boot(t)
  const john = client()
  await john.login(JOHN.email, JOHN.password)
  await users.update('2', { disabled: true })
  t.equal((await john.get('/dashboard')).status, 401)
})

t.test('/password when the user vanished from the store behind the cache: 401', async (t) => {
  const store = new MemoryUserStore([ADA, JOHNNY])
  // Memory that is never told: it keeps serving John while the store no longer has him.
  const john0 = await store.byId('2')
  const silent: UserStore = {
    kind: 'memory', peek: (id) => (id === '2' ? john0 : store.peek(id)),
    byId: (id) => store.byId(id), byEmail: (e) => store.byEmail(e), list: (o) => store.list(o), count: () => store.count(), create: (u) => store.create(u),
    update: (id, p) => store.update(id, p), setPasswordHash: (id, h) => store.setPasswordHash(id, h), delete: (id) => store.delete(id),
    close: () => store.close(),
  }
  const { client } = await boot(t, new MemoryStore(), silent as unknown as MemoryUserStore)
  const john = client()
  await john.login(JOHN.email, JOHN.password)
  t.equal((await john.get('/dashboard')).status, 200)
  await store.delete('2')
  const res = await john.post('/password', { currentPassword: JOHN.password, newPassword: 'another-password-1' })
  t.equal(res.status, 401)
})

t.test('a stale session whose deletion fails still gets 401', async (t) => {
  const store = new MemoryStore()
  const { client, users } = await boot(t, store)
  const john = client()
  await john.login(JOHN.email, JOHN.password)
  await users.setPasswordHash('2', await hashPassword('other-password-1', 4))
  store.destroy = async () => {
    throw new StoreError('ERR_STORE_UNAVAILABLE', 'down')
  }
  const res = await john.get('/dashboard')
  t.same([res.status, res.body, res.setCookie], [401, { error: 'Not authenticated' }, []])
})

t.test('/password refuses a session bound before a change made elsewhere', async (t) => {
  const { client, users } = await boot(t)
  const john = client()
  await john.login(JOHN.email, JOHN.password)
  // The store changes behind the cache's back (as another process would, before its message).
  const before = await users.byId('2')
  await users.setPasswordHash('2', (before as User).passwordHash)
  const res = await john.post('/password', { currentPassword: JOHN.password, newPassword: 'another-password-1' })
  t.equal(res.status, 401)
})

t.test('login hygiene: A → B starts empty; an anonymous cart survives login', async (t) => {
  const { client } = await boot(t)
  const browser = client()
  await browser.post('/cart', { item: 'anonymous-book' })
  await browser.login(JOHN.email, JOHN.password)
  t.same((await browser.get('/cart')).body, { cart: ['anonymous-book'] }, 'the anonymous cart is kept at login')
  await browser.post('/cart', { item: 'johns-book' })
  await browser.login(JOHN.email, JOHN.password)
  t.same((await browser.get('/cart')).body, { cart: ['anonymous-book', 'johns-book'] }, 'the same user logging in again keeps it')
  await browser.login(ADMIN.email, ADMIN.password)
  t.same((await browser.get('/cart')).body, { cart: [] }, "the admin does not see john's cart")
})

t.test('a user store that fails at start-up stops the server from starting', async (t) => {
  const store = new MemoryStore()
  await t.rejects(startServer(loadConfig({ PORT: '0', BCRYPT_COST: '4', USERS_FILE: '/nonexistent/users.json' }), { store }), { name: 'ConfigError' })
  t.equal(store.stats().sessions, 0)
  await t.rejects(store.get('x'), { code: 'ERR_STORE_UNAVAILABLE' }, 'the session store was closed')
})
