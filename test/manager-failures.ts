/**
 * Store failure fails closed, fast: 503 + Retry-After, no Set-Cookie, the cookie left alone;
 * never 401, never a new ID, never a hang. Requests without a cookie are unaffected.
 */
import t from 'tap'
import { createSessionManager } from '../lib/manager.js'
import { MemoryStore } from '../lib/stores/memory.js'
import type { Store } from '../lib/store.js'
import { cookiePair, SECRET_A, startApp, withOverrides } from './fixtures/session-app.js'

/** A network-like store (not `local`) whose reads we can break or stall on demand. */
function flakyStore(inner: MemoryStore) {
  const state = { mode: 'ok' as 'ok' | 'reject' | 'hang' }
  const store: Store = withOverrides(inner, {
    local: false,
    get: (key: string) => {
      if (state.mode === 'reject') return Promise.reject(new Error('ECONNREFUSED'))
      if (state.mode === 'hang') return new Promise(() => {})
      return inner.get(key)
    },
  })
  return { store, state }
}

t.test('store errors and stalls answer 503 fast, without touching the cookie', async (t) => {
  const inner = new MemoryStore()
  const { store, state } = flakyStore(inner)
  const manager = createSessionManager({ secrets: [SECRET_A], store, storeTimeoutMs: 150, retryAfterSeconds: 3 })
  t.teardown(() => manager.close())
  const app = await startApp(manager, (session, _req, url) => {
    if (url.pathname === '/set') session.set('k', 'v')
    return { value: session.get('k') ?? null }
  })
  t.teardown(() => app.close())
  const cookie = cookiePair((await app.request('/set')).setCookie[0])

  for (const mode of ['reject', 'hang'] as const) {
    state.mode = mode
    const started = performance.now()
    const r = await app.request('/get', { cookie })
    const elapsed = performance.now() - started
    t.equal(r.status, 503, `${mode}: 503, not 401`)
    t.equal(r.headers.get('retry-after'), '3')
    t.same(r.setCookie, [], `${mode}: no Set-Cookie, no new ID`)
    t.same(r.body, { error: mode === 'hang' ? 'ERR_STORE_TIMEOUT' : 'ERR_STORE_UNAVAILABLE' })
    t.ok(elapsed < 1500, `${mode}: answered in ${Math.round(elapsed)} ms`)
    const anon = await app.request('/get')
    t.equal(anon.status, 200, `${mode}: a request without a cookie is unaffected`)
  }
  state.mode = 'ok'
  t.same((await app.request('/get', { cookie })).body, { value: 'v' }, 'same cookie works again, data intact')
})

t.test('a failing write is a StoreError with its cause', async (t) => {
  const inner = new MemoryStore()
  t.teardown(() => inner.close())
  const broken = new Error('READONLY')
  const store = withOverrides(inner, { local: false, create: () => Promise.reject(broken) })
  const manager = createSessionManager({ secrets: [SECRET_A], store })
  const session = await manager.load({ headers: {}, socket: {} } as never)
  session.set('a', 1)
  const res = { headersSent: false, getHeader: () => undefined, setHeader: () => undefined, hasHeader: () => false }
  await t.rejects(manager.commit(session, res as never), { name: 'StoreError', code: 'ERR_STORE_UNAVAILABLE', cause: broken })
})

t.test('StoreErrors from the store pass through unchanged', async (t) => {
  const inner = new MemoryStore()
  await inner.close()
  const store = withOverrides(inner, { local: false })
  const manager = createSessionManager({ secrets: [SECRET_A], store })
  await t.rejects(manager.ping(), { name: 'StoreError', code: 'ERR_STORE_UNAVAILABLE' })
})
