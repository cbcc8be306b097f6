import t from 'tap'
import { ErrorCodes, StoreError } from '../../lib/errors.js'
import { HttpError } from '../../lib/http.js'
import { storeFailure } from '../../lib/server/context.js'

function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

t.test('storeFailure turns store errors into 503 and lets everything else through', async (t) => {
  const handle = storeFailure(7)
  const cause = new StoreError(ErrorCodes.STORE_TIMEOUT, 'slow')
  const err = thrown(() => handle(cause))
  t.type(err, HttpError)
  t.match(err, { status: 503, expose: true, headers: { 'Retry-After': '7' }, message: 'Session store unavailable' })
  t.equal((err as HttpError).cause, cause)
  const busy = thrown(() => handle(new StoreError(ErrorCodes.STORE_CONFLICT, 'contention')))
  t.match(busy, { status: 503, message: 'Session is busy, retry' })
  const bug = new TypeError('not a store problem')
  t.equal(thrown(() => handle(bug)), bug, 'a programmer error stays itself (→ 500, logged)')
})

t.test('reply() waits for a session the handler did not await', async (t) => {
  const { createServer } = await import('node:http')
  const { Router } = await import('../../lib/router.js')
  const { createSessionManager } = await import('../../lib/manager.js')
  const { MemoryStore } = await import('../../lib/stores/memory.js')
  const { contextFactory } = await import('../../lib/server/context.js')
  const sessions = createSessionManager({ secrets: ['r'.repeat(32)], store: new MemoryStore() })
  t.teardown(() => sessions.close())
  const router = new Router({ createContext: contextFactory(sessions) })
  router.get('/', (ctx) => {
    void ctx.session()
    return ctx.reply(200, { ok: true })
  })
  router.get('/plain', (ctx) => ctx.reply(200, { plain: true }))
  const server = createServer(router.handler())
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())))
  const { port } = server.address() as { port: number }
  const res = await fetch(`http://127.0.0.1:${port}/`)
  t.same(await res.json(), { ok: true })
  t.equal(res.headers.get('vary'), null, 'an untouched session makes nothing private')
  const plain = await fetch(`http://127.0.0.1:${port}/plain`)
  t.same(await plain.json(), { plain: true }, 'a reply that never asked for the session')
})
