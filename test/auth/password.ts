import { hash } from '@node-rs/bcrypt'
import fc from 'fast-check'
import t from 'tap'
import {
  MAX_PASSWORD_BYTES,
  MIN_PASSWORD_LENGTH,
  createDummyHash,
  hashPassword,
  isBcryptHash,
  passwordProblem,
  verifyPassword,
} from '../../lib/auth/password.js'
import { ErrorCodes } from '../../lib/errors.js'

// Cost 4 (the minimum) keeps each hash at about a millisecond; the policy does not depend on it.
const COST = 4

t.test('round trip: the right password verifies, a wrong one does not', async (t) => {
  const stored = await hashPassword('correct horse battery staple', COST)
  t.match(stored, /^\$2b\$04\$[./A-Za-z0-9]{53}$/)
  t.ok(isBcryptHash(stored))
  t.equal(await verifyPassword('correct horse battery staple', stored), true)
  t.equal(await verifyPassword('correct horse battery stapler', stored), false)
  t.equal(await verifyPassword('Correct horse battery staple', stored), false)
  t.not(await hashPassword('correct horse battery staple', COST), stored, 'a fresh salt each time')
})

t.test('every byte counts: bcrypt’s 72-byte truncation does not apply', async (t) => {
  const prefix = 'p'.repeat(72)
  const stored = await hashPassword(`${prefix}AAAAAAAA`, COST)
  t.equal(await verifyPassword(`${prefix}AAAAAAAA`, stored), true)
  t.equal(await verifyPassword(`${prefix}BBBBBBBB`, stored), false, '80 bytes, same first 72')
  t.equal(await verifyPassword(prefix, stored), false, 'the 72-byte prefix alone')
  // Control: plain bcrypt would accept it, which is why we pre-hash.
  const { compare } = await import('@node-rs/bcrypt')
  t.equal(await compare(`${prefix}BBBBBBBB`, await hash(`${prefix}AAAAAAAA`, COST)), true)
})

t.test('a NUL inside the password is an ordinary character', async (t) => {
  const stored = await hashPassword('abcd\0efgh', COST)
  t.equal(await verifyPassword('abcd\0efgh', stored), true)
  t.equal(await verifyPassword('abcd\0efgX', stored), false)
  t.equal(await verifyPassword('abcd', stored), false, 'not cut at the NUL')
})

t.test('NFC and NFD spellings of the same text are the same password', async (t) => {
  const nfc = 'caf\u00e9-cr\u00e8me'
  const nfd = 'cafe\u0301-cre\u0300me'
  t.not(nfc, nfd)
  const stored = await hashPassword(nfd, COST)
  t.equal(await verifyPassword(nfc, stored), true)
  t.equal(await verifyPassword(nfd, stored), true)
  t.equal(await verifyPassword('cafe-creme', stored), false)
})

t.test('passwordProblem', async (t) => {
  const cases: Array<[unknown, boolean, boolean]> = [
    // [input, refused for login, refused as a new password]
    [undefined, true, true],
    [12345678, true, true],
    [['password'], true, true],
    ['', true, true],
    ['x'.repeat(MAX_PASSWORD_BYTES), false, false],
    ['x'.repeat(MAX_PASSWORD_BYTES + 1), true, true],
    ['é'.repeat(MAX_PASSWORD_BYTES / 2 + 1), true, true], // 2 bytes each in UTF-8
    ['abc\ud800defgh', true, true],
    ['abcdefgh\udc00', true, true],
    ['x', false, true],
    ['1234567', false, true],
    ['12345678', false, false],
    ['😀😀😀😀😀😀😀😀', false, false], // 8 code points, 16 UTF-16 units
    ['e\u0301'.repeat(4) + 'abc', false, true], // 11 code points, but 7 once NFC-composed
    ['        ', false, false], // spaces are characters
  ]
  for (const [input, refused, refusedNew] of cases) {
    const label = typeof input === 'string' ? JSON.stringify(input.slice(0, 20)) : String(input)
    t.equal(passwordProblem(input) !== null, refused, `login: ${label}`)
    t.equal(passwordProblem(input, { forNew: true }) !== null, refusedNew, `new: ${label}`)
  }
  t.type(passwordProblem(''), 'string')
  t.equal(MIN_PASSWORD_LENGTH, 8)
})

t.test('hashPassword refuses bad input and costs', async (t) => {
  for (const pw of ['', 'short', 'x'.repeat(MAX_PASSWORD_BYTES + 1), 42 as unknown as string]) {
    await t.rejects(hashPassword(pw, COST), { name: 'TypeError', code: ErrorCodes.PASSWORD_INVALID })
  }
  for (const cost of [3, 32, 10.5, Number.NaN, '10' as unknown as number]) {
    await t.rejects(hashPassword('long enough', cost), { name: 'RangeError', code: ErrorCodes.OPTION_INVALID })
  }
})

t.test('verifyPassword answers false, never rejects, for bad input', async (t) => {
  const stored = await hashPassword('long enough', COST)
  t.equal(await verifyPassword('x'.repeat(MAX_PASSWORD_BYTES + 1), stored), false, 'too long')
  t.equal(await verifyPassword(undefined, stored), false, 'not a string')
  t.equal(await verifyPassword('', stored), false, 'empty')
  const malformed: unknown[] = [
    undefined,
    null,
    42,
    '',
    'long enough',
    stored.slice(0, -1),
    `${stored}x`,
    stored.replace('$2b$', '$2x$'),
    stored.replace('$04$', '$32$'),
    stored.replace('$04$', '$4$'),
    `${stored.slice(0, -1)}!`,
  ]
  for (const bad of malformed) t.equal(await verifyPassword('long enough', bad), false, String(bad))
  // $2a$ and $2y$ differ from $2b$ only in how they treated non-ASCII bytes; our input is ASCII.
  t.equal(await verifyPassword('long enough', stored.replace('$2b$', '$2a$')), true)
  t.equal(await verifyPassword('long enough', stored.replace('$2b$', '$2y$')), true)
  t.equal(await verifyPassword('long enough', '$2b$04$' + '.'.repeat(53)), false, 'well-formed, wrong')
})

t.test('verifyPassword turns a throwing bcrypt binding into false', async (t) => {
  const { bcryptPool } = await import('../../lib/auth/bcrypt-pool.js')
  const mocked = await t.mockImport<typeof import('../../lib/auth/password.js')>('../../lib/auth/password.js', {
    '../../lib/auth/bcrypt-pool.js': {
      bcryptPool: {
        hash: (input: string, cost: number) => bcryptPool.hash(input, cost),
        verify: async () => {
          throw new Error('native failure')
        },
      },
    },
  })
  const stored = await mocked.hashPassword('long enough', COST)
  t.equal(await mocked.verifyPassword('long enough', stored), false)
})

t.test('createDummyHash: a valid hash that no password matches', async (t) => {
  const dummy = await createDummyHash(COST)
  t.ok(isBcryptHash(dummy))
  t.equal(await verifyPassword('', dummy), false)
  t.equal(await verifyPassword('password', dummy), false)
  t.not(await createDummyHash(COST), dummy)
  await t.rejects(createDummyHash(99), { code: ErrorCodes.OPTION_INVALID })
  t.match(await createDummyHash(), /^\$2b\$10\$/, 'default cost 10')
})

t.test('property: any acceptable password verifies against its own hash only', async (t) => {
  // Few runs: each one is two bcrypt hashes at cost 4.
  await fc.assert(
    fc.asyncProperty(fc.string({ unit: 'grapheme', minLength: 8, maxLength: 40 }), fc.string(), async (pw, other) => {
      fc.pre(passwordProblem(pw, { forNew: true }) === null && other.normalize('NFC') !== pw.normalize('NFC'))
      const stored = await hashPassword(pw, COST)
      return (await verifyPassword(pw, stored)) && !(await verifyPassword(other, stored))
    }),
    { numRuns: 25 },
  )
  t.pass('property held')
})
