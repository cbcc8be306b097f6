/**
 * Adversarial Cookie headers against the real server (GET /dashboard: 200 for John's session,
 * 401 for anything else), table-driven with one exact status per case, on the memory store and
 * once on Redis; then a model-based property over arbitrary header bytes. Every request goes over
 * a raw socket, so the bytes are exactly the ones in the table (fetch would refuse NUL, DEL and
 * duplicate lines).
 *
 * The policies the expected statuses come from:
 * - lib/cookie/parse.ts `readCookie`: the first `sid` pair wins; OWS is trimmed; one pair of DQUOTEs is
 *   stripped; values are %-decoded, a bad escape leaves the raw value; segments without "=" are
 *   skipped; at most MAX_COOKIE_PAIRS (256) pairs are read.
 * - lib/signature.ts: the signature is the last 43 characters after a ".", compared as canonical
 *   base64url text; anything else is not a session.
 * - Node's HTTP parser (llhttp, strict): CTL bytes other than HTAB, bare CR/LF and obs-fold in a
 *   header are answered 400 before any of our code runs; headers over 16 KiB are answered 431;
 *   repeated `Cookie` lines are joined with "; " (node:http `message.headers`).
 */
import { randomBytes } from 'node:crypto'
import fc from 'fast-check'
import t, { type Test } from 'tap'
import { MAX_COOKIE_PAIRS, readCookie } from '../../lib/cookie/parse.js'
import { generateSessionId } from '../../lib/id.js'
import { sign, SIGNATURE_LENGTH } from '../../lib/signature.js'
import type { Store } from '../../lib/store.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { RedisStore } from '../../lib/stores/redis.js'
import { rawRequest, send, sessionCookie, watch, type RawHeaders } from '../fixtures/adversarial.js'
import { ADMIN, JOHN } from '../fixtures/http-client.js'
import { testRedis } from '../fixtures/redis-client.js'

const SECRET = 'adversarial-cookie-suite-secret-0123456789'
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const w = watch(t)

/** Sessions the table works with: `sid=` values, and their ID and signature parts. */
interface Keys {
  john: string
  admin: string
  id: string
  sig: string
  adminId: string
  adminSig: string
}

interface CookieCase {
  name: string
  /** One `Cookie:` line per entry (none: no Cookie header). */
  cookies?: string[]
  headers?: RawHeaders
  path?: string
  status: number
  /** For a 200: whose dashboard it must be. Default: John's. */
  as?: string
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/** The same 32 bytes, another spelling: flip a spare low bit of the 43rd character. */
function nonCanonical(b64: string): string {
  const last = BASE64URL.indexOf(b64.slice(-1))
  return b64.slice(0, -1) + BASE64URL[last ^ 1]
}

const percentAll = (s: string): string => s.replace(/./g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`)

function table(k: Keys): CookieCase[] {
  const V = k.john
  const fill = (n: number) => 'a=; '.repeat(n)
  return [
    { name: 'baseline: the valid cookie', cookies: [`sid=${V}`], status: 200 },
    { name: 'baseline: no Cookie header', status: 401 },
    // Duplicates: the first pair wins, whatever follows (RFC 6265bis §4.2.2; jshttp/cookie#60).
    { name: 'duplicate: valid first, garbage second', cookies: [`sid=${V}; sid=garbage`], status: 200 },
    { name: 'duplicate: garbage first, valid second', cookies: [`sid=garbage; sid=${V}`], status: 401 },
    { name: 'duplicate: John first, admin second → John', cookies: [`sid=${V}; sid=${k.admin}`], status: 200 },
    { name: 'duplicate: admin first, John second → admin', cookies: [`sid=${k.admin}; sid=${V}`], status: 200, as: ADMIN.email },
    { name: 'duplicate: empty first, valid second', cookies: [`sid=; sid=${V}`], status: 401 },
    // Two header lines: node joins them with "; " in order, so the same first-wins rule applies.
    { name: 'two Cookie lines: valid, then garbage', cookies: [`sid=${V}`, 'sid=garbage'], status: 200 },
    { name: 'two Cookie lines: garbage, then valid', cookies: ['sid=garbage', `sid=${V}`], status: 401 },
    { name: 'two Cookie lines: other cookie, then valid', cookies: ['theme=dark', `sid=${V}`], status: 200 },
    // Prototype keys are ordinary names: nothing inherited, nothing polluted (checked at the end).
    { name: '__proto__/constructor/toString before the session', cookies: [`__proto__=x; constructor=y; toString=z; sid=${V}`], status: 200 },
    { name: '__proto__/constructor/toString after the session', cookies: [`sid=${V}; __proto__=x; constructor=y; toString=z`], status: 200 },
    { name: 'prototype keys only', cookies: ['__proto__=x; constructor=y; toString=z; hasOwnProperty=w'], status: 401 },
    // Malformed %-escapes leave the raw value, which is then not a valid signed ID.
    { name: 'lone %', cookies: ['sid=%'], status: 401 },
    { name: 'truncated UTF-8 escape', cookies: ['sid=%E0%A4%A'], status: 401 },
    { name: 'escape of a lone surrogate', cookies: ['sid=%ED%A0%80'], status: 401 },
    { name: 'valid value + "%"', cookies: [`sid=${V}%`], status: 401 },
    { name: 'valid value + "%zz"', cookies: [`sid=${V}%zz`], status: 401 },
    // Values are %-decoded before verification: an encoded spelling of the real value is that value.
    { name: 'valid value with its "." as %2E', cookies: [`sid=${V.replace('.', '%2E')}`], status: 200 },
    { name: 'valid value, every character %-encoded', cookies: [`sid=${percentAll(V)}`], status: 200 },
    // Quotes: one surrounding pair is stripped (lib/cookie/scan.ts readValue), nothing more.
    { name: 'quoted valid value', cookies: [`sid="${V}"`], status: 200 },
    { name: 'doubly quoted valid value', cookies: [`sid=""${V}""`], status: 401 },
    { name: 'opening quote only', cookies: [`sid="${V}`], status: 401 },
    { name: 'closing quote only', cookies: [`sid=${V}"`], status: 401 },
    // Tampering with either half.
    { name: 'valid ID + garbage, valid signature', cookies: [`sid=${k.id}x.${k.sig}`], status: 401 },
    { name: 'valid value + garbage after the signature', cookies: [`sid=${V}x`], status: 401 },
    { name: 'garbage + valid signature', cookies: [`sid=garbage.${k.sig}`], status: 401 },
    { name: 'empty ID + valid signature', cookies: [`sid=.${k.sig}`], status: 401 },
    { name: 'signature truncated by one character', cookies: [`sid=${k.id}.${k.sig.slice(0, -1)}`], status: 401 },
    { name: 'signature truncated to half', cookies: [`sid=${k.id}.${k.sig.slice(0, 21)}`], status: 401 },
    { name: '1-character signature', cookies: [`sid=${k.id}.x`], status: 401 },
    { name: 'empty signature', cookies: [`sid=${k.id}.`], status: 401 },
    { name: 'unsigned live ID', cookies: [`sid=${k.id}`], status: 401 },
    { name: 'signature with a spare bit flipped (same bytes, other text)', cookies: [`sid=${k.id}.${nonCanonical(k.sig)}`], status: 401 },
    { name: "admin's ID with John's signature", cookies: [`sid=${k.adminId}.${k.sig}`], status: 401 },
    { name: "John's ID with admin's signature", cookies: [`sid=${k.id}.${k.adminSig}`], status: 401 },
    { name: 'signature repeated', cookies: [`sid=${V}.${k.sig}`], status: 401 },
    { name: 'signature upper-cased', cookies: [`sid=${k.id}.${k.sig.toUpperCase()}`], status: k.sig === k.sig.toUpperCase() ? 200 : 401 },
    { name: 'a live ID signed with another secret', cookies: [`sid=${sign(k.id, `${SECRET}-other`)}`], status: 401 },
    // Bytes: node's parser refuses CTLs (except HTAB) in header values before we see them.
    { name: 'NUL byte in the value', cookies: [`sid=${V}\0`], status: 400 },
    { name: 'DEL byte in the value', cookies: [`sid=\x7f${V}`], status: 400 },
    { name: 'SOH control byte', cookies: [`x=\x01; sid=${V}`], status: 400 },
    { name: 'bare CR inside the header', cookies: [`x=1\rsid=${V}`], status: 400 },
    { name: 'obs-fold continuation line', cookies: [`x=1\r\n sid=${V}`], status: 400 },
    { name: 'obs-text byte (0xE9) in another cookie', cookies: [`x=\xe9; sid=${V}`], status: 200 },
    { name: 'obs-text byte (0xE9) after the session value', cookies: [`sid=${V}\xe9`], status: 401 },
    { name: 'HTAB around the value (OWS)', cookies: [`sid=\t${V}\t`], status: 200 },
    { name: 'spaces around name and value (OWS)', cookies: [`  sid  =  ${V}  `], status: 200 },
    // Degenerate headers.
    { name: 'empty Cookie header', cookies: [''], status: 401 },
    { name: '";;;"', cookies: [';;;'], status: 401 },
    { name: '"="', cookies: ['='], status: 401 },
    { name: '"sid" without "="', cookies: ['sid'], status: 401 },
    { name: '"sid=" with no value', cookies: ['sid='], status: 401 },
    { name: 'nameless pair "=<valid>"', cookies: [`=${V}`], status: 401 },
    { name: 'name in another case "SID"', cookies: [`SID=${V}`], status: 401 },
    { name: 'comma-separated (RFC 2965 style)', cookies: [`sid=${V},theme=dark`], status: 401 },
    { name: '4 KiB of garbage as the value', cookies: [`sid=${'A'.repeat(4096)}`], status: 401 },
    // Size: node's 16 KiB header limit answers 431; within it, the pair cap decides.
    { name: 'Cookie header over 16 KiB', cookies: [`x=${'y'.repeat(17_000)}`], status: 431 },
    { name: '3,000 tiny pairs, then the session', cookies: [`${fill(3000)}sid=${V}`], status: 401 },
    { name: 'the session, then 3,000 tiny pairs', cookies: [`sid=${V}; ${fill(3000)}`], status: 200 },
    { name: `session as pair ${MAX_COOKIE_PAIRS} (the last one read)`, cookies: [`${fill(MAX_COOKIE_PAIRS - 1)}sid=${V}`], status: 200 },
    { name: `session as pair ${MAX_COOKIE_PAIRS + 1} (past the cap)`, cookies: [`${fill(MAX_COOKIE_PAIRS)}sid=${V}`], status: 401 },
    { name: '10,000 ";" (segments without "=" are not pairs), then the session', cookies: [`${';'.repeat(10_000)}sid=${V}`], status: 200 },
    // The ID anywhere but the cookie is ignored (no session in URLs: OWASP Session Management).
    { name: 'ID in the query string', path: `/dashboard?sid=${encodeURIComponent(V)}`, status: 401 },
    { name: 'ID as a path parameter', path: `/dashboard;sid=${V}`, status: 404 },
    { name: 'ID in X-Session-Id', headers: [['X-Session-Id', V]], status: 401 },
    { name: 'ID as Authorization: Bearer', headers: [['Authorization', `Bearer ${V}`]], status: 401 },
    { name: 'ID in a Set-Cookie request header', headers: [['Set-Cookie', `sid=${V}`]], status: 401 },
    { name: 'ID in Cookie2', headers: [['Cookie2', `sid=${V}`]], status: 401 },
  ]
}

/** The session values and their parts, from two real logins. */
async function keys(url: string): Promise<Keys> {
  const john = sessionCookie(await send(url, 'POST', '/login', { json: JOHN })).slice('sid='.length)
  const admin = sessionCookie(await send(url, 'POST', '/login', { json: ADMIN })).slice('sid='.length)
  const split = (v: string) => [v.slice(0, -SIGNATURE_LENGTH - 1), v.slice(-SIGNATURE_LENGTH)] as const
  const [id, sig] = split(john)
  const [adminId, adminSig] = split(admin)
  return { john, admin, id, sig, adminId, adminSig }
}

async function runTable(t: Test, store: Store): Promise<number> {
  const server = await w.start(t, { SESSION_SECRET: SECRET }, { store })
  const k = await keys(server.url)
  const cases = table(k)
  for (const c of cases) {
    const headers: RawHeaders = [...(c.cookies ?? []).map((v): [string, string] => ['Cookie', v]), ...(c.headers ?? [])]
    const res = await rawRequest(server.port, 'GET', c.path ?? '/dashboard', headers)
    t.equal(res.status, c.status, c.name)
    if (c.status === 200) t.equal((JSON.parse(res.body) as { email: string }).email, c.as ?? JOHN.email, `${c.name}: the right user`)
    if (c.status === 400 || c.status === 431) t.ok(res.closed, `${c.name}: connection closed`)
  }
  t.equal((await rawRequest(server.port, 'GET', '/dashboard', [['Cookie', `sid=${k.john}`]])).status, 200, 'John is still logged in')
  await w.verify(t, server)
  return cases.length
}

t.test('Cookie header table, memory store', async (t) => {
  const n = await runTable(t, new MemoryStore())
  t.ok(n >= 40, `${n} cases`)
})

t.test('Cookie header table, Redis store', async (t) => {
  const prefix = `t-adv-${randomBytes(6).toString('hex')}:`
  await testRedis(t, redisUrl, prefix)
  await runTable(t, new RedisStore({ url: redisUrl, prefix }))
})

t.test('property: any Cookie header bytes get exactly 400, or 200 iff the first sid pair is a session', async (t) => {
  const server = await w.start(t, { SESSION_SECRET: SECRET }, { store: new MemoryStore() })
  const k = await keys(server.url)
  // Node answers 400 for CTLs other than HTAB; it trims SP/HTAB around a header value.
  const CTL = /[\x00-\x08\x0a-\x1f\x7f]/
  const expected = (header: string): number => {
    if (CTL.test(header)) return 400
    // John's and the admin's cookies are both sessions (`sid=` then the admin token makes the latter).
    const sid = readCookie(header.replace(/^[ \t]+|[ \t]+$/g, ''), 'sid')
    return sid === k.john || sid === k.admin ? 200 : 401
  }
  const byte = fc.integer({ min: 0, max: 255 }).filter((c) => c !== 0x0a && c !== 0x0d).map((c) => String.fromCharCode(c))
  const token = fc.constantFrom('sid=', 'sid', '=', ';', '; ', ' ', '\t', '"', '%', '%2E', '.', ',', '__proto__=', k.john, k.id, k.sig, k.admin, `sid=${k.john}`)
  const header = fc.array(fc.oneof(token, fc.string({ unit: byte, maxLength: 24 })), { maxLength: 10 }).map((parts) => parts.join(''))
  let authenticated = 0
  await fc.assert(
    fc.asyncProperty(header, async (h) => {
      const res = await rawRequest(server.port, 'GET', '/dashboard', [['Cookie', h]])
      if (res.status === 200) authenticated++
      if (res.status !== expected(h)) throw new Error(`Cookie ${JSON.stringify(h)}: got ${res.status}, expected ${expected(h)}`)
    }),
    // The examples make sure the 200 branch is exercised on every run, whatever the seed.
    { numRuns: 150, examples: [[`sid=${k.john}`], [`a=1; sid=${k.john}; sid=x`], [` sid=${k.john}\t`]] },
  )
  t.ok(authenticated > 0, `some runs were authenticated (${authenticated})`)
  await w.verify(t, server)
})

t.test('a signed ID that was never issued is not a session', async (t) => {
  const server = await w.start(t, { SESSION_SECRET: SECRET }, { store: new MemoryStore() })
  const forged = `sid=${sign(generateSessionId(), SECRET)}`
  const res = await rawRequest(server.port, 'GET', '/dashboard', [['Cookie', forged]])
  t.equal(res.status, 401)
  t.notMatch(res.head, /set-cookie/i, 'nothing is issued for it')
  await w.verify(t, server)
})
