/**
 * The freshness suite on the memory store, then what GET /session says about a session whose user
 * changed behind it (disabled, or a new password elsewhere): not signed in, and nothing destroyed
 * or extended by asking.
 */
import t from 'tap'
import { hashPassword } from '../../lib/auth/password.js'
import { startServer } from '../../lib/server/app.js'
import { loadConfig } from '../../lib/server/config.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { MemoryUserStore } from '../../lib/users/memory.js'
import { storageKeyOf } from '../fixtures/faults.js'
import { freshnessSuite } from '../fixtures/freshness-suite.js'
import { Client, JOHN } from '../fixtures/http-client.js'

await freshnessSuite(t, { name: 'memory', makeStore: () => new MemoryStore() })

t.test('GET /session: a disabled user or a changed password is not signed in', async (t) => {
  const hash = await hashPassword(JOHN.password, 4)
  const users = new MemoryUserStore([{ id: '2', email: JOHN.email, name: 'John', role: 'user', disabled: false, passwordHash: hash, credentialVersion: 1 }])
  const store = new MemoryStore()
  const server = await startServer(loadConfig({ PORT: '0', BCRYPT_COST: '4' }), { store, users })
  t.teardown(() => server.close())

  const john = new Client(server.url)
  await john.login(JOHN.email, JOHN.password)
  t.match((await john.get('/session')).body, { authenticated: true, user: { id: '2' } })
  await users.update('2', { disabled: true })
  const disabled = await john.get('/session')
  t.match(disabled.body, { authenticated: false, idleExpiresAt: String }, 'disabled: not signed in')
  t.notOk('user' in disabled.body, 'and no user')
  t.not(await store.get(storageKeyOf(john) as string), null, 'asking destroyed nothing')

  await users.update('2', { disabled: false })
  const again = new Client(server.url)
  await again.login(JOHN.email, JOHN.password)
  t.match((await again.get('/session')).body, { authenticated: true })
  await users.setPasswordHash('2', await hashPassword('another-password-1', 4))
  t.match((await again.get('/session')).body, { authenticated: false }, 'a password changed elsewhere: not signed in')
})
