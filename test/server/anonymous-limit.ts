// anonymousSessionLimit as a unit: off at 0; keyed per client (/64); Retry-After at least 1 s.
import type { IncomingMessage } from 'node:http'
import t from 'tap'
import { anonymousSessionLimit } from '../../lib/server/anonymous-limit.js'
import type { ConsumeResult, CounterLimit } from '../../lib/store.js'

const req = (ip: string) => ({ headers: {}, socket: { remoteAddress: ip } }) as unknown as IncomingMessage
const clientIp = (r: IncomingMessage) => r.socket.remoteAddress ?? ''

t.test('limit 0 turns it off', async (t) => {
  const store = { consume: async (): Promise<ConsumeResult> => ({ allowed: true }) }
  t.equal(anonymousSessionLimit(store, { limit: 0, windowMs: 1000, clientIp }), undefined)
})

t.test('one counter per client, IPv6 by /64; a refusal is a 429 with Retry-After ≥ 1', async (t) => {
  const seen: CounterLimit[][] = []
  let answer: ConsumeResult = { allowed: true }
  const store = {
    consume: async (counters: readonly CounterLimit[]) => {
      seen.push([...counters])
      return answer
    },
  }
  const admit = anonymousSessionLimit(store, { limit: 3, windowMs: 60_000, clientIp }) as (r: IncomingMessage) => Promise<void>
  await admit(req('2001:db8:1:2::1'))
  await admit(req('2001:DB8:1:2::ffff'))
  await admit(req('192.0.2.1'))
  t.equal(seen[0]?.[0]?.key, seen[1]?.[0]?.key, 'same /64, same counter')
  t.not(seen[0]?.[0]?.key, seen[2]?.[0]?.key)
  t.match(seen[0]?.[0], { limit: 3, windowMs: 60_000 })
  t.match(seen[0]?.[0]?.key, /^anon:[\w-]{43}$/, 'a hash, never the address')
  answer = { allowed: false, blocked: 0, resetMs: 0 }
  t.match(await admit(req('192.0.2.1')).catch((err: unknown) => err), { status: 429, headers: { 'Retry-After': '1' } })
  answer = { allowed: false, blocked: 0, resetMs: 59_001 }
  t.match(await admit(req('192.0.2.1')).catch((err: unknown) => err), { status: 429, headers: { 'Retry-After': '60' } })
})
