import t from 'tap'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { createSessionManager } from '../lib/manager.js'
import { MemoryStore } from '../lib/stores/memory.js'
import { SECRET_A } from './fixtures/session-app.js'

const store = new MemoryStore()
t.teardown(() => store.close())
const manager = createSessionManager({ secrets: [SECRET_A], store })
const req = { headers: {}, socket: {} } as unknown as IncomingMessage
function res(sent = false): ServerResponse {
  const h = new Map<string, unknown>()
  return {
    headersSent: sent,
    getHeader: (n: string) => h.get(n.toLowerCase()),
    setHeader: (n: string, v: unknown) => h.set(n.toLowerCase(), v),
    hasHeader: (n: string) => h.has(n.toLowerCase()),
  } as unknown as ServerResponse
}

t.test('get / has / set / delete / toJSON', async (t) => {
  const s = await manager.load(req)
  t.equal(s.isNew, true)
  t.equal(s.handle, null)
  t.equal(s.createdAt, null)
  t.equal(s.get('a'), undefined)
  t.equal(s.has('a'), false)
  s.set('a', { n: 1 }).set('b', [1, 2])
  t.same(s.get('a'), { n: 1 })
  t.equal(s.has('b'), true)
  s.set('b', undefined)
  t.equal(s.has('b'), false, 'set(undefined) deletes')
  s.delete('missing')
  t.same(s.toJSON(), { a: { n: 1 } })
})

t.test('prototype keys are ordinary keys', async (t) => {
  const s = await manager.load(req)
  t.equal(s.get('toString'), undefined)
  t.equal(s.has('constructor'), false)
  s.set('__proto__', { polluted: true })
  s.set('constructor', 'c')
  const r = res()
  await manager.commit(s, r)
  const cookie = String(r.getHeader('set-cookie')).split(';')[0] ?? ''
  const again = await manager.load({ headers: { cookie }, socket: {} } as unknown as IncomingMessage)
  t.same(again.get('__proto__'), { polluted: true })
  t.equal(again.get('constructor'), 'c')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
  t.ok(again.handle !== null && again.createdAt !== null)
})

t.test('misuse throws coded TypeErrors', async (t) => {
  const s = await manager.load(req)
  t.throws(() => s.setUser(''), { code: 'ERR_SESSION_DATA_INVALID' })
  t.throws(() => s.setUser(5 as unknown as string), { code: 'ERR_SESSION_DATA_INVALID' })
  t.throws(() => s.setUser('u', -1), { code: 'ERR_SESSION_DATA_INVALID' })
  t.throws(() => s.setUser('u', 1.5), { code: 'ERR_SESSION_DATA_INVALID' })
  t.throws(() => s.setRemember('yes' as unknown as boolean), { code: 'ERR_SESSION_DATA_INVALID' })
  s.set('big', 10n)
  await t.rejects(manager.commit(s, res()), { name: 'TypeError', code: 'ERR_SESSION_DATA_INVALID' })
  t.throws(() => s.set('x', 1), { code: 'ERR_SESSION_STATE' }, 'committed')
  t.throws(() => s.destroy(), { code: 'ERR_SESSION_STATE' })
  await t.rejects(manager.commit(s, res()), { code: 'ERR_SESSION_STATE' }, 'twice')

  const late = await manager.load(req)
  await t.rejects(manager.commit(late, res(true)), { code: 'ERR_SESSION_STATE' }, 'after the head was sent')

  const gone = await manager.load(req)
  gone.destroy().destroy()
  t.throws(() => gone.set('x', 1), { code: 'ERR_SESSION_STATE' })
  t.throws(() => gone.regenerate(), { code: 'ERR_SESSION_STATE' })
  const r = res()
  await manager.commit(gone, r)
  t.equal(r.getHeader('set-cookie'), undefined, 'destroying a never-stored session sends nothing')
})

t.test('user binding and remember flag are tracked without parsing data', async (t) => {
  const s = await manager.load(req)
  t.equal(s.userId, null)
  t.equal(s.remember, false)
  s.setUser('u').setUser('u').setRemember(true).setRemember(true)
  t.equal(s.userId, 'u')
  t.equal(s.remember, true)
  const r = res()
  await manager.commit(s, r)
  t.match(String(r.getHeader('set-cookie')), /Max-Age=2592000/)
  t.same((await manager.listSessions('u')).length, 1)
})

t.test('the credential version is bound with the user and survives a reload', async (t) => {
  const s = await manager.load(req)
  t.equal(s.credentialVersion, 0)
  s.setUser('cv', 4)
  t.equal(s.credentialVersion, 4)
  const r = res()
  await manager.commit(s, r)
  const cookie = String(r.getHeader('set-cookie')).split(';')[0] ?? ''
  const again = await manager.load({ headers: { cookie }, socket: {} } as unknown as IncomingMessage)
  t.equal(again.credentialVersion, 4, 'read back from the store')
  again.setUser('cv', 5)
  await manager.commit(again, res())
  const third = await manager.load({ headers: { cookie }, socket: {} } as unknown as IncomingMessage)
  t.equal(third.credentialVersion, 5, 'same user, new version: written')
  third.setUser(null, 3)
  t.equal(third.credentialVersion, 0, 'unbinding resets it')
})

t.test('rebinding a stored session moves it between users\' indexes', async (t) => {
  const s = await manager.load(req)
  s.setUser('first')
  const r = res()
  await manager.commit(s, r)
  const cookie = String(r.getHeader('set-cookie')).split(';')[0] ?? ''
  const again = await manager.load({ headers: { cookie }, socket: {} } as unknown as IncomingMessage)
  again.setUser('second')
  await manager.commit(again, res())
  t.equal((await manager.listSessions('first')).length, 0)
  t.equal((await manager.listSessions('second')).length, 1)
})
