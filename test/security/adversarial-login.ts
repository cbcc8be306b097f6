/**
 * Adversarial login bodies against the real server, table-driven with one exact status each;
 * then a model-based property over arbitrary JSON bodies.
 *
 * The policies the expected statuses come from:
 * - lib/http.ts: `Content-Type` must be application/json (415); bodies over 16 KiB are 413,
 *   decided from Content-Length before reading or while streaming; the body must arrive within
 *   10 s (408); empty, non-UTF-8 or malformed JSON is 400; `requireFields` copies only declared
 *   own fields of the declared primitive types (400 otherwise), so `__proto__` cannot pollute.
 * - lib/auth/password.ts: passwords are refused before bcrypt when longer than 1024 UTF-8 bytes or
 *   not well-formed Unicode (400); NUL is an ordinary character; bcrypt gets
 *   base64(SHA-256(NFC(password))), so every byte counts past bcrypt's 72 and canonically
 *   equivalent spellings are one password, but compatibility variants (NFKC) are not.
 * - node's HTTP parser answers 400 for a body framed twice (Content-Length and
 *   Transfer-Encoding) or a bad Content-Length, the request-smuggling inputs.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import fc from 'fast-check'
import t from 'tap'
import { hashPassword, MAX_PASSWORD_BYTES, passwordProblem } from '../../lib/auth/password.js'
import { MemoryStore } from '../../lib/stores/memory.js'
import { rawRequest, send, sessionCookie, streamRequest, watch } from '../fixtures/adversarial.js'
import { ADMIN, JOHN } from '../fixtures/http-client.js'

const w = watch(t)
const COST = 4
const MB = 1024 * 1024

// An 80-byte ASCII password, and the 72-byte prefix bcrypt alone would stop at.
const FIRST_72 = 'seventy-two-bytes-then-eight-more:'.padEnd(72, '*')
const PW_80 = `${FIRST_72}tail-one`
const UNICODE = 'pässwörd-ÅΩ-1'.normalize('NFC')
const LIGATURE = '\ufb01ne-password-1' // "ﬁ" (U+FB01), which NFKC, not NFC, turns into "fi"
const users = [
  { id: '1', email: ADMIN.email, name: 'Ada Admin', role: 'admin', password: ADMIN.password },
  { id: '2', email: JOHN.email, name: 'John', role: 'user', password: JOHN.password },
  { id: '3', email: 'long@example.com', name: 'Long', role: 'user', password: PW_80 },
  { id: '4', email: 'unicode@example.com', name: 'Unicode', role: 'user', password: UNICODE },
  { id: '5', email: 'ligature@example.com', name: 'Ligature', role: 'user', password: LIGATURE },
]

/** A USERS_FILE with the users above, hashed by lib/auth/password.ts. */
async function usersFile(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'sessionkit-adv-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const entries = await Promise.all(
    users.map(async ({ password, ...u }) => ({ ...u, passwordHash: await hashPassword(password, COST) })),
  )
  const file = join(dir, 'users.json')
  await writeFile(file, JSON.stringify(entries))
  return file
}

const file = await usersFile()

interface LoginCase {
  name: string
  status: number
  /** Raw JSON text (for bodies JSON.stringify cannot make, like an own `__proto__` key). */
  raw?: string
  json?: unknown
  contentType?: string | null
  /** Extra checks with the reply (e.g. privilege after a successful login). */
  after?: (cookie: string | undefined) => Promise<void>
}

t.test('login body table', async (t) => {
  const server = await w.start(t, { USERS_FILE: file, SESSION_SECRET: 'adversarial-login-secret-0123456789abcdef' }, { store: new MemoryStore() })
  const url = server.url
  const json = { 'content-type': 'application/json' }
  // Starts first and runs alongside the table: the body reader's 10 s deadline is the wait.
  const neverEnds = streamRequest(server.port, '/login', [['Content-Type', 'application/json']], {
    totalBytes: Infinity,
    chunked: true,
    stallAfterBytes: 1024,
  })

  const notAdmin = (what: string) => async (cookie: string | undefined) => {
    t.ok(cookie, `${what}: logged in`)
    const admin = await send(url, 'GET', '/admin/users', { headers: { cookie: cookie ?? '' } })
    t.same([admin.status, admin.json], [403, { error: 'Forbidden' }], `${what}: still not admin`)
  }
  const cases: LoginCase[] = [
    // Wrong types: never a query operator, never coerced.
    { name: 'email as array', json: { email: [JOHN.email], password: JOHN.password }, status: 400 },
    { name: 'email as object', json: { email: { $gt: '' }, password: JOHN.password }, status: 400 },
    { name: 'email null', json: { email: null, password: JOHN.password }, status: 400 },
    { name: 'email as number', json: { email: 42, password: JOHN.password }, status: 400 },
    { name: 'email true', json: { email: true, password: JOHN.password }, status: 400 },
    { name: 'password {"$ne":null}', json: { email: JOHN.email, password: { $ne: null } }, status: 400 },
    { name: 'password {"$gt":""}', json: { email: JOHN.email, password: { $gt: '' } }, status: 400 },
    { name: 'password as array', json: { email: JOHN.email, password: [JOHN.password] }, status: 400 },
    { name: 'password null', json: { email: JOHN.email, password: null }, status: 400 },
    { name: 'password as number', json: { email: JOHN.email, password: 12345678 }, status: 400 },
    { name: 'password missing', json: { email: JOHN.email }, status: 400 },
    { name: 'rememberMe "true" (a string)', json: { ...JOHN, rememberMe: 'true' }, status: 400 },
    { name: 'rememberMe null', json: { ...JOHN, rememberMe: null }, status: 400 },
    { name: 'body null', raw: 'null', status: 400 },
    { name: 'body []', raw: '[]', status: 400 },
    { name: 'body [credentials]', json: [JOHN], status: 400 },
    { name: 'body a string', raw: '"john@example.com"', status: 400 },
    { name: 'body a number', raw: '42', status: 400 },
    { name: 'deeply nested arrays (5,000 levels)', raw: `{"email":${'['.repeat(5000)}${']'.repeat(5000)},"password":"x"}`, status: 400 },
    // Broken bodies.
    { name: 'truncated JSON', raw: '{"email":"john@example.com","passw', status: 400 },
    { name: 'empty body', raw: '', status: 400 },
    { name: 'not UTF-8', raw: '{"email":"\xff"}', status: 400 },
    { name: 'duplicate keys: the last wins (JSON.parse)', raw: `{"email":"nobody@example.com","email":"${JOHN.email}","password":"${JOHN.password}"}`, status: 200 },
    { name: 'a UTF-8 BOM first is ignored', raw: `\ufeff${JSON.stringify(JOHN)}`, status: 200 },
    // Content types.
    { name: 'text/plain', raw: JSON.stringify(JOHN), contentType: 'text/plain', status: 415 },
    { name: 'form-urlencoded', raw: 'email=john%40example.com&password=john-password-1', contentType: 'application/x-www-form-urlencoded', status: 415 },
    { name: 'multipart/form-data', raw: '--x\r\n\r\n--x--', contentType: 'multipart/form-data; boundary=x', status: 415 },
    { name: 'no Content-Type', raw: JSON.stringify(JOHN), contentType: null, status: 415 },
    { name: 'application/jsonx', raw: JSON.stringify(JOHN), contentType: 'application/jsonx', status: 415 },
    { name: 'Application/JSON; charset=UTF-8', raw: JSON.stringify(JOHN), contentType: 'Application/JSON; charset=UTF-8', status: 200 },
    // Privilege by payload: none.
    {
      name: '{"__proto__":{"role":"admin"}} + John',
      raw: `{"__proto__":{"role":"admin"},"email":"${JOHN.email}","password":"${JOHN.password}"}`,
      status: 200,
      after: notAdmin('__proto__'),
    },
    {
      name: '{"constructor":{"prototype":{"role":"admin"}}} + John',
      raw: `{"constructor":{"prototype":{"role":"admin"}},"email":"${JOHN.email}","password":"${JOHN.password}"}`,
      status: 200,
      after: notAdmin('constructor.prototype'),
    },
    { name: 'extra fields role/userId/id + John', json: { ...JOHN, role: 'admin', userId: '1', id: '1' }, status: 200, after: notAdmin('extra fields') },
    // Passwords: NUL is a character; length is capped in bytes before bcrypt.
    { name: 'NUL appended to the right password', json: { email: JOHN.email, password: `${JOHN.password}\u0000` }, status: 401 },
    { name: 'NUL then the right password', json: { email: JOHN.email, password: `\u0000${JOHN.password}` }, status: 401 },
    { name: 'password of one NUL', json: { email: JOHN.email, password: '\u0000' }, status: 401 },
    { name: 'right password, then a success', json: JOHN, status: 200 },
    { name: 'lone surrogate password', raw: `{"email":"${JOHN.email}","password":"\\ud800"}`, status: 400 },
    { name: '1 MB password (body limit)', json: { email: JOHN.email, password: 'p'.repeat(MB) }, status: 413 },
    { name: '~2 KB password (length cap)', json: { email: JOHN.email, password: 'p'.repeat(2048) }, status: 400 },
    { name: `${MAX_PASSWORD_BYTES + 1}-byte password`, json: { email: JOHN.email, password: 'p'.repeat(MAX_PASSWORD_BYTES + 1) }, status: 400 },
    { name: `${MAX_PASSWORD_BYTES}-byte password (accepted, wrong)`, json: { email: JOHN.email, password: 'p'.repeat(MAX_PASSWORD_BYTES) }, status: 401 },
    { name: '513 × "é": 513 characters but 1,026 bytes', json: { email: JOHN.email, password: 'é'.repeat(513) }, status: 400 },
    // bcrypt's 72-byte limit does not apply to us.
    { name: '80-byte password', json: { email: 'long@example.com', password: PW_80 }, status: 200 },
    { name: 'its first 72 bytes + 8 others', json: { email: 'long@example.com', password: `${FIRST_72}tail-two` }, status: 401 },
    { name: 'its first 72 bytes alone', json: { email: 'long@example.com', password: FIRST_72 }, status: 401 },
    // Unicode: NFC (RFC 8265 OpaqueString), so canonical equivalents match, compatibility ones not.
    { name: 'Unicode password, NFC as stored', json: { email: 'unicode@example.com', password: UNICODE }, status: 200 },
    { name: 'Unicode password typed as NFD', json: { email: 'unicode@example.com', password: UNICODE.normalize('NFD') }, status: 200 },
    { name: 'Å and Ω typed as ANGSTROM SIGN and OHM SIGN', json: { email: 'unicode@example.com', password: 'pässwörd-\u212b\u2126-1' }, status: 200 },
    { name: 'ligature password as stored', json: { email: 'ligature@example.com', password: LIGATURE }, status: 200 },
    { name: 'ligature password typed as "fi" (NFKC would match)', json: { email: 'ligature@example.com', password: 'fine-password-1' }, status: 401 },
    // Emails.
    { name: 'email in other case and padded', json: { email: '  JOHN@Example.COM ', password: JOHN.password }, status: 200 },
    { name: 'email with a NUL', json: { email: `${JOHN.email}\u0000`, password: JOHN.password }, status: 401 },
    { name: 'email of 255 characters', json: { email: `${'a'.repeat(243)}@example.com`, password: JOHN.password }, status: 400 },
  ]

  for (const c of cases) {
    const headers: Record<string, string> = {}
    if (c.contentType !== null) headers['content-type'] = c.contentType ?? 'application/json'
    const body = c.raw !== undefined ? Buffer.from(c.raw, c.raw.includes('\xff') ? 'latin1' : 'utf8') : JSON.stringify(c.json)
    const res = await send(url, 'POST', '/login', { headers, body })
    t.equal(res.status, c.status, c.name)
    t.match(res.json, c.status === 200 ? { message: 'Logged in successfully' } : { error: String }, `${c.name}: JSON answer`)
    if (c.after !== undefined) await c.after(res.status === 200 ? sessionCookie(res) : undefined)
  }

  // Refused before bcrypt, so not counted either: ten oversized tries do not lock the account.
  for (let i = 0; i < 10; i++) {
    const res = await send(url, 'POST', '/login', { json: { email: ADMIN.email, password: 'p'.repeat(2048) } })
    t.equal(res.status, 400, `oversized password ${i + 1}: 400`)
  }
  t.equal((await send(url, 'POST', '/login', { json: ADMIN })).status, 200, 'the admin is not throttled by them')

  // Framing, over a raw socket.
  const framing: Array<[string, Array<[string, string]>, string, number]> = [
    ['Content-Length and Transfer-Encoding both', [['Content-Length', '5'], ['Transfer-Encoding', 'chunked']], '0\r\n\r\n', 400],
    ['Content-Length not a number', [['Content-Length', 'abc']], '', 400],
    ['two different Content-Lengths', [['Content-Length', '2'], ['Content-Length', '3']], '{}', 400],
    ['negative Content-Length', [['Content-Length', '-1']], '', 400],
  ]
  for (const [name, headers, body, status] of framing) {
    const res = await rawRequest(server.port, 'POST', '/login', [['Content-Type', 'application/json'], ...headers], body)
    t.equal(res.status, status, name)
    t.ok(res.closed, `${name}: connection closed`)
  }

  // 10 MB: answered 413 long before it is all sent, and the connection is closed.
  for (const chunked of [false, true]) {
    const name = chunked ? '10 MB chunked body' : '10 MB body with Content-Length'
    const res = await streamRequest(server.port, '/login', [['Content-Type', 'application/json']], { totalBytes: 10 * MB, chunked })
    t.equal(res.status, 413, name)
    t.match(res.head, /\r\nConnection: close/i, `${name}: Connection: close`)
    t.ok(res.closed, `${name}: connection closed`)
    t.ok(res.sentBytes < 10 * MB, `${name}: answered after ${res.sentBytes} of ${10 * MB} bytes`)
  }

  const stalled = await neverEnds
  t.equal(stalled.status, 408, 'chunked body that never ends: 408')
  t.ok(stalled.closed, 'chunked body that never ends: connection closed')
  t.ok(cases.length + framing.length + 3 >= 40, `${cases.length + framing.length + 3} login cases`)
  await w.verify(t, server)
})

t.test('property: any JSON login body gets exactly the status the validation rules predict', async (t) => {
  // TRUST_PROXY and a new X-Forwarded-For per run: the per-client failure limit stays out of it.
  const server = await w.start(t, { USERS_FILE: file, TRUST_PROXY: 'true' }, { store: new MemoryStore() })
  const expected = (body: unknown): number => {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) return 400
    const b = body as Record<string, unknown>
    const own = (k: string) => (Object.hasOwn(b, k) ? b[k] : undefined)
    const email = own('email')
    const password = own('password')
    const remember = own('rememberMe')
    if (typeof email !== 'string' || typeof password !== 'string') return 400
    if (remember !== undefined && typeof remember !== 'boolean') return 400
    if (email.length > 254 || passwordProblem(password) !== null) return 400
    return 401 // no generated email is a user's
  }
  const surrogate = fc.integer({ min: 0xd800, max: 0xdfff }).map((c) => String.fromCharCode(c))
  const text = fc.oneof(
    fc.string(),
    fc.string({ unit: 'binary' }),
    fc.string({ unit: fc.oneof(fc.string({ minLength: 1, maxLength: 1 }), surrogate) }),
    fc.string({ minLength: 240, maxLength: 270 }),
    fc.string({ minLength: 1000, maxLength: 1100 }),
  )
  const field = fc.oneof(text, fc.jsonValue({ maxDepth: 2 }))
  const body = fc.oneof(
    { weight: 4, arbitrary: fc.record({ email: field, password: field, rememberMe: fc.oneof(fc.boolean(), fc.jsonValue({ maxDepth: 1 })) }, { requiredKeys: [] }) },
    { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  )
  let run = 0
  const seen = new Set<number>()
  await fc.assert(
    fc.asyncProperty(body, async (generated) => {
      run++
      // A unique email per run, so the per-account limit (5 attempts) never decides.
      const b = typeof generated === 'object' && generated !== null && !Array.isArray(generated) && typeof (generated as { email?: unknown }).email === 'string'
        ? { ...generated, email: `${run}-${(generated as { email: string }).email}` }
        : generated
      const wire = JSON.stringify(b) ?? 'null'
      const want = expected(JSON.parse(wire))
      const res = await send(server.url, 'POST', '/login', {
        headers: { 'content-type': 'application/json', 'x-forwarded-for': `10.${(run >> 16) & 255}.${(run >> 8) & 255}.${run & 255}` },
        body: wire,
      })
      seen.add(res.status)
      if (res.status !== want) throw new Error(`body ${wire.slice(0, 200)}: got ${res.status}, expected ${want}`)
    }),
    { numRuns: 120 },
  )
  t.same([...seen].sort(), [400, 401], 'both outcomes were exercised')
  await w.verify(t, server)
})
