/**
 * No lost updates and no resurrection, with requests interleaved on purpose: two requests load
 * the same version, then both commit.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import t from 'tap'
import { createSessionManager } from '../lib/manager.js'
import { MemoryStore } from '../lib/stores/memory.js'
import type { Store } from '../lib/store.js'
import { SECRET_A, spyStore, withOverrides } from './fixtures/session-app.js'

/** A minimal request/response pair: the engine only reads headers and the socket address. */
function fakeReq(cookie?: string): IncomingMessage {
  const headers: Record<string, string> = { 'user-agent': 'test' }
  if (cookie !== undefined) headers.cookie = cookie
  return { headers, socket: { remoteAddress: '127.0.0.1' } } as unknown as IncomingMessage
}

function fakeRes(): ServerResponse & { cookies(): string[] } {
  const headers = new Map<string, unknown>()
  return {
    headersSent: false,
    getHeader: (n: string) => headers.get(n.toLowerCase()),
    setHeader(n: string, v: unknown) {
      headers.set(n.toLowerCase(), v)
      return this
    },
    hasHeader: (n: string) => headers.has(n.toLowerCase()),
    cookies() {
      const v = headers.get('set-cookie')
      return v === undefined ? [] : Array.isArray(v) ? (v as string[]) : [String(v)]
    },
  } as unknown as ServerResponse & { cookies(): string[] }
}

async function seed(store: Store) {
  const manager = createSessionManager({ secrets: [SECRET_A], store })
  const s = await manager.load(fakeReq())
  s.set('base', 1)
  s.setUser('u1')
  const res = fakeRes()
  await manager.commit(s, res)
  const line = res.cookies()[0] ?? ''
  return { manager, cookie: line.slice(0, line.indexOf(';')) }
}

t.test('two concurrent requests changing different keys both survive', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { manager, cookie } = await seed(store)
  const a = await manager.load(fakeReq(cookie))
  const b = await manager.load(fakeReq(cookie))
  a.set('fromA', 'a')
  b.set('fromB', 'b')
  b.delete('base')
  await Promise.all([manager.commit(a, fakeRes()), manager.commit(b, fakeRes())])
  const after = await manager.load(fakeReq(cookie))
  t.same(after.toJSON(), { fromA: 'a', fromB: 'b' })
  t.equal(after.userId, 'u1', 'binding kept through the retry')
})

t.test('a conflicting write keeps the other request\'s remember/user changes', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { manager, cookie } = await seed(store)
  const a = await manager.load(fakeReq(cookie))
  const b = await manager.load(fakeReq(cookie))
  a.setRemember(true)
  await manager.commit(a, fakeRes())
  b.set('cart', ['x'])
  await manager.commit(b, fakeRes())
  const after = await manager.load(fakeReq(cookie))
  t.equal(after.remember, true)
  t.same(after.get('cart'), ['x'])
})

t.test('many concurrent writers on distinct keys: nothing lost', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { manager, cookie } = await seed(store)
  const sessions = await Promise.all(Array.from({ length: 8 }, () => manager.load(fakeReq(cookie))))
  sessions.forEach((s, i) => s.set(`k${i}`, i))
  await Promise.all(sessions.map((s) => manager.commit(s, fakeRes())))
  const after = (await manager.load(fakeReq(cookie))).toJSON()
  for (let i = 0; i < 8; i++) t.equal(after[`k${i}`], i)
})

t.test('no resurrection: a request in flight when the session is destroyed writes nothing', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { manager, cookie } = await seed(store)
  const spy = spyStore(store)
  const m = createSessionManager({ secrets: [SECRET_A], store: spy.store })
  const inFlight = await m.load(fakeReq(cookie))
  const regenerating = await m.load(fakeReq(cookie))
  const logout = await m.load(fakeReq(cookie))
  logout.destroy()
  await m.commit(logout, fakeRes())

  inFlight.set('late', true)
  const res = fakeRes()
  await m.commit(inFlight, res)
  t.match(res.cookies()[0], /^sid=; Max-Age=0/, 'the late writer is told the session is over')

  regenerating.regenerate()
  const res2 = fakeRes()
  await m.commit(regenerating, res2)
  t.match(res2.cookies()[0], /^sid=; Max-Age=0/)
  t.equal(spy.count('create'), 0, 'regenerate of a destroyed session creates nothing')
  t.same(await manager.listSessions('u1'), [], 'index empty')
  t.equal((await manager.load(fakeReq(cookie))).isNew, true)
})

t.test('no resurrection: a touch racing a logout creates nothing', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { cookie } = await seed(store)
  const m = createSessionManager({ secrets: [SECRET_A], store, touchIntervalMs: 0 })
  const reader = await m.load(fakeReq(cookie))
  const logout = await m.load(fakeReq(cookie))
  logout.destroy()
  await m.commit(logout, fakeRes())
  reader.get('base')
  const res = fakeRes()
  await m.commit(reader, res)
  t.match(res.cookies()[0], /^sid=; Max-Age=0/)
  t.equal((await m.load(fakeReq(cookie))).isNew, true)
})

t.test('regenerate racing a logout between create and destroy: the new session is removed', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { cookie } = await seed(store)
  let logoutNow: (() => Promise<void>) | null = null
  const racing = withOverrides(store, {
    create: async (key: string, record: Parameters<Store['create']>[1]) => {
      const ok = await store.create(key, record)
      if (logoutNow !== null) await logoutNow()
      return ok
    },
  })
  const m = createSessionManager({ secrets: [SECRET_A], store: racing })
  const logout = await m.load(fakeReq(cookie))
  logout.destroy()
  logoutNow = () => m.commit(logout, fakeRes())
  const login = await m.load(fakeReq(cookie))
  login.regenerate().setUser('u1')
  const res = fakeRes()
  await m.commit(login, res)
  t.match(res.cookies()[0], /^sid=; Max-Age=0/)
  t.same(await store.listByUser('u1'), [], 'no session left behind')
})

t.test('a write that keeps conflicting gives up with STORE_CONFLICT', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { cookie } = await seed(store)
  const conflicted = withOverrides(store, { write: async () => 'conflict' })
  const m = createSessionManager({ secrets: [SECRET_A], store: conflicted, maxWriteRetries: 2 })
  const s = await m.load(fakeReq(cookie))
  s.set('x', 1)
  await t.rejects(m.commit(s, fakeRes()), { name: 'StoreError', code: 'ERR_STORE_CONFLICT' })
})

t.test('a conflict whose reload finds the session gone drops the write', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { cookie } = await seed(store)
  const vanishing = withOverrides(store, {
    write: async (key: string) => {
      await store.destroy(key)
      return 'conflict'
    },
  })
  const m = createSessionManager({ secrets: [SECRET_A], store: vanishing })
  const s = await m.load(fakeReq(cookie))
  s.set('x', 1)
  const res = fakeRes()
  await m.commit(s, res)
  t.match(res.cookies()[0], /^sid=; Max-Age=0/)
})

t.test('commit keeps Set-Cookie and Vary headers the handler set', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const m = createSessionManager({ secrets: [SECRET_A], store })
  for (const [before, vary] of [
    ['a=1', 'Accept-Encoding'],
    [['a=1', 'b=2'], ['Accept-Encoding', 'Origin']],
    [undefined, 'Cookie, Accept'],
    [undefined, '*'],
  ] as const) {
    const s = await m.load(fakeReq())
    s.set('k', 1)
    const res = fakeRes()
    if (before !== undefined) res.setHeader('Set-Cookie', before as string | string[])
    res.setHeader('Vary', vary as string | string[])
    res.setHeader('Cache-Control', 'private, max-age=0')
    await m.commit(s, res)
    const cookies = res.cookies()
    t.equal(cookies.length, before === undefined ? 1 : Array.isArray(before) ? 3 : 2)
    t.match(cookies.at(-1), /^sid=/)
    const v = String(res.getHeader('vary'))
    t.ok(/cookie|\*/i.test(v))
    t.equal(v.match(/cookie/gi)?.length ?? 0, v.includes('*') ? 0 : 1, 'Cookie listed once')
    t.equal(res.getHeader('cache-control'), 'private, max-age=0', 'handler choice respected')
  }
})

t.test('update(): concurrent appends to the same key both land', async (t) => {
  const store = new MemoryStore()
  t.teardown(() => store.close())
  const { manager, cookie } = await seed(store)
  const sessions = await Promise.all(Array.from({ length: 6 }, () => manager.load(fakeReq(cookie))))
  const seen = sessions.map((s, i) => s.update<number[]>('list', (list = []) => [...list, i]))
  t.same(seen, [[0], [1], [2], [3], [4], [5]], 'each request sees its own first application')
  await Promise.all(sessions.map((s) => manager.commit(s, fakeRes())))
  const after = await manager.load(fakeReq(cookie))
  t.same([...(after.get<number[]>('list') ?? [])].sort(), [0, 1, 2, 3, 4, 5], 'no append lost')
})
