/**
 * User enumeration through POST /login: an unknown email and a wrong password for a real account
 * must be indistinguishable in status, body, headers (all but Date) and time (OWASP Authentication
 * Cheat Sheet, "Authentication and Error Messages"; lib/server/routes.ts verifies unknown emails
 * against a dummy hash of the same cost).
 *
 * Time is compared as a ratio of medians of interleaved attempts, never as an absolute number,
 * with bcrypt at its production cost (10) so that the hash dominates scheduling noise. The
 * throttle must not decide any answer: every attempt uses its own account and, with TRUST_PROXY,
 * its own client address (5 attempts per account and client, 50 failures per client per window).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { hashPassword } from '../../lib/auth/password.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { comparableHeaders } from '../fixtures/server-suite.js'
import { send, watch, type Reply } from '../fixtures/adversarial.js'
import { JOHN } from '../fixtures/http-client.js'

const w = watch(t)
const COST = 10
const WARMUP = 4
const PAIRS = 36
const ROUNDS = WARMUP + PAIRS

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2
}

t.test('unknown email and wrong password: same answer, same time', async (t) => {
  const dir = await mkdtemp(join(tmpdir(), 'sessionkit-enum-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const members = Array.from({ length: ROUNDS + 1 }, (_, i) => ({ email: `member${i}@example.com`, password: `member-password-${i}` }))
  const entries = await Promise.all([
    hashPassword(JOHN.password, COST).then((passwordHash) => ({ id: 'john', email: JOHN.email, name: 'John', role: 'user', passwordHash })),
    ...members.map(async (m, i) => ({ id: `m${i}`, email: m.email, name: `Member ${i}`, role: 'user', passwordHash: await hashPassword(m.password, COST) })),
  ])
  const file = join(dir, 'users.json')
  await writeFile(file, JSON.stringify(entries))
  const server = await w.start(t, { USERS_FILE: file, TRUST_PROXY: 'true', BCRYPT_COST: String(COST) }, { store: new MemoryStore() })

  let client = 0
  const attempt = async (email: string, password: string, from?: string): Promise<{ reply: Reply; ms: number }> => {
    client++
    const headers = { 'x-forwarded-for': from ?? `10.1.${client >> 8}.${client & 255}` }
    const started = performance.now()
    const reply = await send(server.url, 'POST', '/login', { json: { email, password }, headers })
    return { reply, ms: performance.now() - started }
  }
  const wrongMs: number[] = []
  const unknownMs: number[] = []
  const replies: Reply[] = []
  for (let i = 0; i < ROUNDS; i++) {
    const wrong = () => attempt((members[i] as { email: string }).email, `not-the-password-${i}`)
    const unknown = () => attempt(`nobody${i}@example.com`, `not-the-password-${i}`)
    // ABBA order, so a drift in machine load hits both sides alike.
    const [a, b] = i % 2 === 0 ? [await wrong(), await unknown()] : [await unknown(), await wrong()]
    const [w8, u8] = i % 2 === 0 ? [a, b] : [b, a]
    replies.push(w8.reply, u8.reply)
    if (i >= WARMUP) {
      wrongMs.push(w8.ms)
      unknownMs.push(u8.ms)
    }
  }
  const first = replies[0] as Reply
  t.equal(first.status, 401)
  t.same(first.json, { error: 'Invalid credentials' })
  t.same(first.setCookie, [], 'no cookie either way')
  const differing = replies.filter((r) => r.status !== first.status || r.text !== first.text || JSON.stringify(comparableHeaders(r.headers)) !== JSON.stringify(comparableHeaders(first.headers)))
  t.equal(differing.length, 0, `all ${replies.length} answers identical in status, body and headers (but Date)`)

  const mw = median(wrongMs)
  const mu = median(unknownMs)
  const ratio = Math.max(mw, mu) / Math.min(mw, mu)
  t.comment(`median over ${PAIRS} attempts each: wrong password ${mw.toFixed(1)} ms, unknown email ${mu.toFixed(1)} ms, ratio ${ratio.toFixed(3)}`)
  t.ok(ratio <= 1.2, `medians within 20 % of each other (ratio ${ratio.toFixed(3)})`)

  // Lockout does not tell them apart either: the 6th attempt from one client is 429 for both.
  const lastMember = members[ROUNDS] as { email: string }
  const locked: Reply[] = []
  for (const [email, from] of [[lastMember.email, '10.9.0.1'], ['nobody-locked@example.com', '10.9.0.2']] as const) {
    for (let i = 0; i < 5; i++) t.equal((await attempt(email, `guess-${i}-password`, from)).reply.status, 401)
    locked.push((await attempt(email, 'guess-6-password', from)).reply)
  }
  const [member, nobody] = locked as [Reply, Reply]
  t.same([member.status, member.json], [429, { error: 'Too many login attempts' }], 'a real account: 429 after 5 attempts')
  t.same([nobody.status, nobody.json], [member.status, member.json], 'an unknown email: the same 429')
  const withoutRetry = (r: Reply) => {
    const h = comparableHeaders(r.headers)
    delete h['retry-after']
    return h
  }
  t.same(withoutRetry(nobody), withoutRetry(member), 'the same headers (Retry-After aside: it counts down)')
  t.ok(Math.abs(Number(member.headers.get('retry-after')) - Number(nobody.headers.get('retry-after'))) <= 1, 'Retry-After within a second')
  await w.verify(t, server)
})
