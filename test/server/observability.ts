// The router's observe hook as the server builds it (lib/server/observability.ts): one access line
// per request, recorded when the handler has replied, or when the response closes if the reply
// was still on its way.
import { EventEmitter, once } from 'node:events'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { connect } from 'node:net'
import t from 'tap'
import { SecurityEvents } from '../../lib/events.js'
import { startServer } from '../../lib/server/app.js'
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

t.test('a connection: bytes are what each response sent; its address is read once, or per request with TRUST_PROXY', async (t) => {
  for (const trustProxy of [false, true]) {
    const lines: string[] = []
    let reads = 0
    const observed = new Observability({
      config: loadConfig(trustProxy ? { TRUST_PROXY: 'true' } : {}),
      events: new SecurityEvents(),
      store: new MemoryStore(),
      log: new Logger({ write: (text) => lines.push(text), maxPending: 1 }),
      clientIp: () => `192.0.2.${++reads}`,
      countUsers: () => 0,
    })
    const observe = observed.observer()
    if (observe === undefined) throw new Error('expected a hook')
    const socket = { bytesWritten: 0 }
    const req = { method: 'GET', socket } as unknown as IncomingMessage
    for (const total of [120, 120 + 75, 120 + 75 + 300]) {
      socket.bytesWritten = total
      observe(req, response(true), '/dashboard', performance.now(), null)
    }
    const parsed = lines.map((l) => JSON.parse(l) as { bytes: number; ip: string })
    t.same(parsed.map((l) => l.bytes), [120, 75, 300], `${trustProxy}: each response's own bytes`)
    t.same(parsed.map((l) => l.ip), trustProxy ? ['192.0.2.1', '192.0.2.2', '192.0.2.3'] : ['192.0.2.1', '192.0.2.1', '192.0.2.1'], `${trustProxy}: address reads`)
  }
})

/** Send raw requests one after the other on one keep-alive connection; resolve to each reply's byte count. */
async function exchange(port: number, requests: string[]): Promise<number[]> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  const sizes: number[] = []
  let pending = Buffer.alloc(0)
  try {
    for (const request of requests) {
      socket.write(request)
      for (;;) {
        const headEnd = pending.indexOf('\r\n\r\n')
        const length = headEnd === -1 ? null : /\r\ncontent-length: *(\d+)/i.exec(pending.subarray(0, headEnd).toString('latin1'))
        if (headEnd !== -1 && length !== null && pending.length >= headEnd + 4 + Number(length[1])) {
          const size = headEnd + 4 + Number(length[1])
          sizes.push(size)
          pending = pending.subarray(size)
          break
        }
        const [chunk] = (await once(socket, 'data')) as [Buffer]
        pending = Buffer.concat([pending, chunk])
      }
    }
  } finally {
    socket.destroy()
  }
  return sizes
}

t.test('the real server: access lines carry the bytes each response on a connection sent, and the right address', async (t) => {
  for (const trustProxy of [false, true]) {
    const lines: string[] = []
    const log = new Logger({ level: 'debug', write: (text) => lines.push(text) })
    const running = await startServer(loadConfig({ PORT: '0', HOST: '127.0.0.1', ...(trustProxy ? { TRUST_PROXY: 'true' } : {}) }), { store: new MemoryStore(), logger: log })
    t.teardown(() => running.close())
    const sizes = await exchange(running.port, [
      'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 192.0.2.10\r\n\r\n',
      'GET /no-such-page HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 192.0.2.20\r\n\r\n',
      'GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Forwarded-For: 192.0.2.30\r\n\r\n',
    ])
    log.flush()
    const access = lines.join('').split('\n').filter(Boolean).map((l) => JSON.parse(l) as { kind: string; route: string | null; bytes: number; ip: string }).filter((l) => l.kind === 'access')
    t.same(access.map((l) => l.route), ['/healthz', null, '/healthz'], `${trustProxy}: one line per request`)
    t.same(access.map((l) => l.bytes), sizes, `${trustProxy}: bytes as received, head and body`)
    t.ok(sizes[1] !== sizes[0], 'the responses differ in size')
    t.same(access.map((l) => l.ip), trustProxy ? ['192.0.2.10', '192.0.2.20', '192.0.2.30'] : ['127.0.0.1', '127.0.0.1', '127.0.0.1'], `${trustProxy}: address`)
  }
})
