import t from 'tap'
import { SECURITY_EVENT_TYPES, SecurityEvents, type SecurityEvent } from '../lib/events.js'

t.test('typed and catch-all listeners, in order, with time from the injected clock', async (t) => {
  const events = new SecurityEvents({ now: () => 42 })
  const seen: string[] = []
  t.equal(events.active, false)
  const offTyped = events.on('login.failed', (e) => seen.push(`typed ${e.reason}`))
  t.equal(events.active, true)
  const offAny = events.onAny((e) => seen.push(`any ${e.type} ${e.time}`))
  events.emit('login.failed', { reason: 'bad-password', userId: '2' })
  events.emit('logout', { handle: 'h' })
  t.same(seen, ['typed bad-password', 'any login.failed 42', 'any logout 42'])
  offTyped()
  t.equal(events.active, true, 'still one listener')
  offAny()
  t.equal(events.active, false)
  events.emit('logout', {})
  t.equal(seen.length, 3, 'nothing delivered with no listener')
  offAny()
  t.equal(events.active, false, 'removing twice is harmless')
})

t.test('a throwing listener is isolated: the others run, the hook hears of it', async (t) => {
  const failures: Array<[unknown, SecurityEvent]> = []
  const events = new SecurityEvents({ onListenerError: (err, e) => failures.push([err, e]) })
  const seen: string[] = []
  events.onAny(() => {
    throw new Error('sink down')
  })
  events.onAny((e) => seen.push(e.type))
  events.emit('session.created', {})
  t.same(seen, ['session.created'])
  t.equal(failures.length, 1)
  t.match(failures[0], [{ message: 'sink down' }, { type: 'session.created' }])
})

t.test('the default hook logs to console.error; the default clock is Date.now', async (t) => {
  const events = new SecurityEvents()
  const logged: unknown[][] = []
  const original = console.error
  console.error = (...args: unknown[]) => void logged.push(args)
  t.teardown(() => void (console.error = original))
  let time = 0
  events.on('logout', (e) => {
    time = e.time
    throw new Error('x')
  })
  const before = Date.now()
  events.emit('logout', {})
  t.ok(time >= before && time <= Date.now())
  t.match(String(logged[0]?.[0]), /logout listener failed/)
})

t.test('every event type is listed once', async (t) => {
  t.equal(new Set(SECURITY_EVENT_TYPES).size, SECURITY_EVENT_TYPES.length)
  t.ok(Object.isFrozen(SECURITY_EVENT_TYPES))
})
