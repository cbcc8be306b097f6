import t from 'tap'
import fc from 'fast-check'
import * as nodeCrypto from 'node:crypto'
import { createHmac, randomBytes } from 'node:crypto'
import {
  createSigner,
  sign,
  unsign,
  MIN_SECRET_BYTES,
  SIGNATURE_LENGTH,
  type Secret,
  type Signer,
  type Unsigned,
} from '../lib/signature.js'

const CURRENT = 'current-secret-0123456789abcdefghijklmnop'
const OLD = 'old-secret-0123456789abcdefghijklmnopqrstu'
const RETIRED = 'retired-secret-0123456789abcdefghijklmnopq'
const SECRETS = [CURRENT, OLD] as const
const signer = createSigner(SECRETS)
const SECRET_INVALID = { name: 'TypeError', code: 'ERR_SECRET_INVALID' }
const VALUE_INVALID = { name: 'TypeError', code: 'ERR_SIGN_VALUE_INVALID' }

/** Replace the character at `i` (negative counts from the end). */
function replaceAt(s: string, i: number, c: string): string {
  const j = i < 0 ? s.length + i : i
  return s.slice(0, j) + c + s.slice(j + 1)
}
/** A different base64url character from `c`. */
const other = (c: string): string => (c === 'A' ? 'B' : 'A')

const value = 's:abcDEF123-_'
const signed = sign(value, CURRENT)
const sig = signed.slice(-SIGNATURE_LENGTH)
const lastIndex = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(
  sig.slice(-1),
)
// The 43rd character's low 2 bits are padding: the next alphabet entry decodes to the same bytes.
const nonCanonical = replaceAt(
  signed,
  -1,
  'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[lastIndex + 1] as string,
)
// A signed string whose signature has a '-' or '_', rewritten in the standard base64 alphabet.
let standardB64 = ''
for (let i = 0; standardB64 === ''; i++) {
  const s = sign(`v${i}`, CURRENT)
  if (/[-_]/.test(s)) standardB64 = s.replace(/-/g, '+').replace(/_/g, '/')
}
// A character whose latin1 encoding is the original byte ('A' → 'Ł' U+0141 → 0x41).
const wide = replaceAt(
  signed,
  -2,
  String.fromCharCode(0x100 + signed.charCodeAt(signed.length - 2)),
)

t.test('sign: format and known answers', async t => {
  t.equal(signed.length, value.length + 1 + SIGNATURE_LENGTH)
  t.equal(signed.slice(0, value.length + 1), value + '.')
  t.match(sig, /^[A-Za-z0-9_-]{43}$/)
  t.equal(sign(value, CURRENT), signed, 'deterministic')
  t.equal(signer.sign(value), signed, 'signer uses the first secret')
  // RFC 4231 test cases 6 and 7 (the only ones with a key of at least 32 bytes: 131 × 0xaa).
  const key = Buffer.alloc(131, 0xaa)
  const hex = (h: string): string => Buffer.from(h, 'hex').toString('base64url')
  const case6 = 'Test Using Larger Than Block-Size Key - Hash Key First'
  t.equal(
    sign(case6, key),
    `${case6}.${hex('60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54')}`,
  )
  const case7 =
    'This is a test using a larger than block-size key and a larger than block-size data. ' +
    'The key needs to be hashed before being used by the HMAC algorithm.'
  t.equal(
    sign(case7, key),
    `${case7}.${hex('9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2')}`,
  )
})

// [name, input, expected] — run against both createSigner(...).unsign and unsign(..., SECRETS).
const cases: [string, unknown, Unsigned | null][] = [
  ['valid', signed, { value, secretIndex: 0 }],
  ['signed with the old secret', sign(value, OLD), { value, secretIndex: 1 }],
  ['signed with a retired secret', sign(value, RETIRED), null],
  ['value containing dots', sign('a.b.c.', CURRENT), { value: 'a.b.c.', secretIndex: 0 }],
  ['empty value', sign('', CURRENT), { value: '', secretIndex: 0 }],
  ['non-ASCII value', sign('café ☕ 𝄞', CURRENT), { value: 'café ☕ 𝄞', secretIndex: 0 }],
  ['tampered value', replaceAt(signed, 0, 'S'), null],
  ['value with a character added', 'x' + signed, null],
  [
    'tampered signature (first char)',
    replaceAt(signed, value.length + 1, other(sig[0] as string)),
    null,
  ],
  ['tampered signature (last char)', replaceAt(signed, -1, other(sig.slice(-1))), null],
  ['non-canonical last character (same decoded bytes)', nonCanonical, null],
  ['non-ASCII character that latin1 would truncate to the right byte', wide, null],
  ['standard base64 alphabet (+ and / for - and _)', standardB64, null],
  ['truncated signature (42 chars)', signed.slice(0, -1), null],
  ['1-character signature', value + '.A', null],
  ['empty signature', value + '.', null],
  ['signature only, no value and no dot', sig, null],
  ['no dot', value + sig, null],
  ['dot replaced', replaceAt(signed, value.length, '_'), null],
  ['empty string', '', null],
  ['just a dot', '.', null],
  ['44 dots', '.'.repeat(44), null],
  ['extra byte after the signature', signed + 'x', null],
  ['padding after the signature', signed + '=', null],
  ['signature appended twice', signed + '.' + sig, null],
  ['whitespace after the signature', signed + ' ', null],
  [
    'lone surrogate value sharing the MAC of U+FFFD',
    sign('\uFFFD', CURRENT).replace('\uFFFD', '\uD800'),
    null,
  ],
  ['undefined', undefined, null],
  ['null', null, null],
  ['number', 42, null],
  ['object', { toString: () => signed }, null],
  ['Buffer of a valid signed string', Buffer.from(signed), null],
  ['array holding a valid signed string', [signed], null],
]

for (const [form, unsignFn] of [
  ['createSigner().unsign', (s: unknown) => signer.unsign(s as string)],
  ['unsign(signed, secrets)', (s: unknown) => unsign(s as string, SECRETS)],
] as const) {
  t.test(`${form}: table`, async t => {
    for (const [name, input, expected] of cases) {
      t.strictSame(unsignFn(input), expected, name)
    }
  })
}

t.test('rotation', async t => {
  const oldOnly = createSigner([OLD])
  const oldSigned = oldOnly.sign('user-42')
  t.strictSame(createSigner([CURRENT, OLD]).unsign(oldSigned), { value: 'user-42', secretIndex: 1 })
  t.strictSame(createSigner([RETIRED, CURRENT, OLD]).unsign(oldSigned), {
    value: 'user-42',
    secretIndex: 2,
  })
  t.equal(createSigner([CURRENT]).unsign(oldSigned), null, 'retired once dropped from the list')
  t.equal(
    createSigner([CURRENT, OLD]).sign('user-42'),
    sign('user-42', CURRENT),
    'signs with the first',
  )
})

t.test('Buffer secrets', async t => {
  const key = randomBytes(32)
  const bufSigner = createSigner([key])
  const s = bufSigner.sign('v')
  t.strictSame(bufSigner.unsign(s), { value: 'v', secretIndex: 0 })
  t.equal(sign('v', key), s)
  t.strictSame(unsign(s, [CURRENT, key]), { value: 'v', secretIndex: 1 })
  t.equal(sign('v', Buffer.from(CURRENT)), sign('v', CURRENT), 'a string key is its UTF-8 bytes')
  key.fill(0)
  t.strictSame(
    bufSigner.unsign(s),
    { value: 'v', secretIndex: 0 },
    'caller zeroing its Buffer does not change the signer',
  )
})

t.test('secret validation', async t => {
  const atMin = 'k'.repeat(MIN_SECRET_BYTES)
  t.doesNotThrow(() => sign('v', atMin), '32 bytes is enough')
  t.doesNotThrow(() => sign('v', Buffer.alloc(MIN_SECRET_BYTES, 1)))
  t.doesNotThrow(() => sign('v', '€'.repeat(11)), '11 × 3 UTF-8 bytes = 33')
  const bad: [string, unknown][] = [
    ['31-byte string', atMin.slice(1)],
    ['31-byte Buffer', Buffer.alloc(31, 1)],
    ['10 × € = 30 bytes though 10 characters', '€'.repeat(10)],
    ['empty string', ''],
    ['undefined', undefined],
    ['null', null],
    ['number', 12345678901234567890123456789012],
    ['Uint8Array (not a Buffer)', new Uint8Array(32)],
    ['array of a secret', [atMin]],
  ]
  for (const [name, secret] of bad) {
    t.throws(() => sign('v', secret as Secret), SECRET_INVALID, `sign: ${name}`)
    t.throws(() => createSigner([secret as Secret]), SECRET_INVALID, `createSigner: ${name}`)
    t.throws(
      () => createSigner([CURRENT, secret as Secret]),
      SECRET_INVALID,
      `createSigner, index 1: ${name}`,
    )
    t.throws(() => unsign(signed, [secret as Secret]), SECRET_INVALID, `unsign: ${name}`)
  }
  t.throws(() => createSigner([]), SECRET_INVALID, 'empty list')
  t.throws(() => createSigner(CURRENT as unknown as Secret[]), SECRET_INVALID, 'not an array')
  t.throws(() => createSigner(undefined as unknown as Secret[]), SECRET_INVALID, 'undefined list')
  t.throws(() => unsign(signed, []), SECRET_INVALID, 'unsign: empty list')
  t.throws(
    () => unsign(undefined as unknown as string, [atMin.slice(1)]),
    SECRET_INVALID,
    'unsign checks secrets before looking at the input',
  )
})

t.test('sign refuses values it cannot sign unambiguously', async t => {
  for (const [name, v] of [
    ['undefined', undefined],
    ['number', 1],
    ['Buffer', Buffer.from('v')],
    ['lone high surrogate', '\uD800'],
    ['lone low surrogate', 'a\uDC00b'],
  ] as const) {
    t.throws(() => sign(v as string, CURRENT), VALUE_INVALID, `sign: ${name}`)
    t.throws(() => signer.sign(v as string), VALUE_INVALID, `signer.sign: ${name}`)
  }
  t.doesNotThrow(() => sign('\uD83D\uDE00', CURRENT), 'a surrogate pair is fine')
})

t.test('the signer is frozen', async t => {
  t.ok(Object.isFrozen(signer))
  t.throws(() => {
    ;(signer as { sign: Signer['sign'] }).sign = () => 'forged'
  }, TypeError)
})

t.test('long values (past the reusable scratch buffer) sign like short ones', async t => {
  // 4096 UTF-16 units fit the scratch buffer even at 3 UTF-8 bytes each; 4097 take the other path.
  const long = ['x', '€'].flatMap(c => [c.repeat(4096), c.repeat(4097)]).concat('𝄞'.repeat(3000))
  for (const v of long) {
    const expected = `${v}.${createHmac('sha256', CURRENT).update(v).digest('base64url')}`
    t.equal(signer.sign(v), expected, `${v.length} units of ${v[0]}`)
    t.strictSame(signer.unsign(expected), { value: v, secretIndex: 0 })
  }
})

t.test('without crypto.hash (Node < 20.12) the same construction runs over createHash', async t => {
  // The module reads crypto.hash from the default export; named exports are mocked alike.
  const { hash: _hash, ...withoutHash } = nodeCrypto
  const legacy = { ...withoutHash, hash: undefined }
  const mod = await t.mockImport<typeof import('../lib/signature.js')>('../lib/signature.js', {
    'node:crypto': { ...legacy, default: legacy },
  })
  const longKey = Buffer.alloc(131, 0xaa) // longer than the block: hashed first
  t.equal(mod.sign(value, CURRENT), signed)
  t.equal(mod.sign('v', longKey), sign('v', longKey))
  t.strictSame(mod.unsign(signed, SECRETS), { value, secretIndex: 0 })
})

// --- properties -----------------------------------------------------------------------------

// Any UTF-16 code unit, so lone surrogates appear too.
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map(c => String.fromCharCode(c))
const anyString = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  fc.string({ unit: codeUnit }),
  fc.string(),
)
const wellFormed = fc.oneof(
  fc.string({ unit: 'binary' }),
  fc.string({ unit: 'grapheme' }),
  fc.string(),
)
const secret = fc.oneof(
  fc.uint8Array({ minLength: 32, maxLength: 80 }).map(b => Buffer.from(b)),
  fc.string({ unit: 'binary', minLength: 32, maxLength: 64 }),
)

t.test('property: unsign(sign(v, s), [s]) returns v', async t => {
  fc.assert(
    fc.property(wellFormed, secret, (v, s) => {
      const out = unsign(sign(v, s), [s])
      return out !== null && out.value === v && out.secretIndex === 0
    }),
  )
  t.pass('property held')
})

t.test('property: the signature is HMAC-SHA256 as crypto.createHmac computes it', async t => {
  const anyKey = fc.oneof(
    fc.uint8Array({ minLength: 32, maxLength: 200 }).map(b => Buffer.from(b)), // > 64: hashed first
    fc.string({ unit: 'binary', minLength: 32, maxLength: 80 }),
  )
  fc.assert(
    fc.property(wellFormed, anyKey, (v, k) => {
      return sign(v, k) === `${v}.${createHmac('sha256', k).update(v, 'utf8').digest('base64url')}`
    }),
  )
  t.pass('property held')
})

t.test('property: sign accepts a string iff it is well-formed UTF-16', async t => {
  fc.assert(
    fc.property(fc.string({ unit: codeUnit }), v => {
      // Well-formed: every surrogate is half of a high-low pair.
      const wellFormedV = /^(?:[^\uD800-\uDFFF]|[\uD800-\uDBFF][\uDC00-\uDFFF])*$/.test(v)
      let threw = false
      try {
        sign(v, CURRENT)
      } catch {
        threw = true
      }
      return threw === !wellFormedV
    }),
  )
  t.pass('property held')
})

t.test('property: no forgery by truncation or extension', async t => {
  fc.assert(
    fc.property(
      wellFormed,
      fc.nat(),
      fc.string({ unit: 'binary', minLength: 1 }),
      (v, cut, suffix) => {
        const s = signer.sign(v)
        const truncated = s.slice(0, cut % s.length) // 0 … length-1 characters kept
        return signer.unsign(truncated) === null && signer.unsign(s + suffix) === null
      },
    ),
  )
  t.pass('property held')
})

t.test('property: changing any one character breaks the signature', async t => {
  fc.assert(
    fc.property(wellFormed, fc.nat(), codeUnit, (v, at, c) => {
      const s = signer.sign(v)
      const i = at % s.length
      const mutated = replaceAt(s, i, c)
      return mutated === s ? signer.unsign(mutated) !== null : signer.unsign(mutated) === null
    }),
  )
  t.pass('property held')
})

t.test('property: random input never verifies and never throws', async t => {
  const b64url = fc.constantFrom(
    ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
  )
  // Shaped like a signed value, so the HMAC is actually computed and compared.
  const shaped = fc
    .tuple(anyString, fc.string({ unit: b64url, minLength: 43, maxLength: 43 }))
    .map(([v, s]) => `${v}.${s}`)
  fc.assert(
    fc.property(fc.oneof(anyString, shaped, fc.anything()), input => {
      return signer.unsign(input as string) === null && unsign(input as string, SECRETS) === null
    }),
  )
  t.pass('property held')
})
