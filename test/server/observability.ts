// The router's observe hook as the server builds it (lib/server/observability.ts): one access line
// per request, recorded when the handler has replied, or when the response closes if the reply
// was still on its way.
import { EventEmitter } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import t from 'tap'
import { SecurityEvents } from '../../lib/events.js'
import { loadConfig } from '../../lib/server/config.js'
import type { AppContext } from '../../lib/server/context.js'
import { Logger } from '../../lib/server/log.js'
import { Observability } from '../../lib/server/observability.js'
import { MemoryStore } from '../../lib/stores/memory.js'

function observability(log: Logger | null) {
  return new Observability({
    config: loadConfig({}),
    events: new SecurityEvents(),
    store: new MemoryStore(),
    log,
    clientIp: () => '192.0.2.7',
    countUsers: () => 0,
  })
}

const request = (sent: number) => ({ method: 'GET', socket: { bytesWritten: sent } }) as unknown as IncomingMessage
const response = (ended: boolean) => Object.assign(new EventEmitter(), { writableEnded: ended, statusCode: 200 }) as unknown as ServerResponse

t.test('nothing to observe: no hook, so the router adds nothing per request', async (t) => {
  t.equal(observability(null).observer(), undefined)
  t.equal(observability(new Logger({ level: 'silent' })).observer(), undefined)
})

t.test('a replied request is logged at once, with its route and session handle', async (t) => {
  const lines: string[] = []
  const observe = observability(new Logger({ write: (text) => lines.push(text), maxPending: 1 })).observer()
  if (observe === undefined) throw new Error('expected a hook')
  const ctx = { loadedSession: { handle: 'h-123' } } as unknown as AppContext
  observe(request(250), response(true), '/dashboard', performance.now(), ctx)
  t.equal(lines.length, 1)
  t.match(JSON.parse(lines[0] as string), { kind: 'access', method: 'GET', route: '/dashboard', status: 200, bytes: 250, session: 'h-123', ip: '192.0.2.7' })
})

t.test('a reply still on its way is logged when the response closes', async (t) => {
  const lines: string[] = []
  const observe = observability(new Logger({ write: (text) => lines.push(text), maxPending: 1 })).observer()
  if (observe === undefined) throw new Error('expected a hook')
  const res = response(false)
  observe(request(90), res, null, performance.now(), null)
  t.equal(lines.length, 0, 'not before the response is done')
  res.emit('close')
  t.equal(lines.length, 1)
  t.match(JSON.parse(lines[0] as string), { route: null, bytes: 90, session: null })
})
