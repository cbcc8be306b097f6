import t from 'tap'
import fc from 'fast-check'
import * as nodeCrypto from 'node:crypto'
import { createHash } from 'node:crypto'
import {
  generateSessionId,
  hashSessionId,
  isWellFormedSessionId,
  sessionHandle,
  SESSION_HANDLE_LENGTH,
  SESSION_ID_BYTES,
  SESSION_ID_LENGTH,
} from '../lib/id.js'

const BASE64URL = /^[A-Za-z0-9_-]+$/

t.test('generateSessionId: 43 base64url characters encoding 32 bytes', async t => {
  const id = generateSessionId()
  t.equal(id.length, SESSION_ID_LENGTH)
  t.match(id, BASE64URL)
  const bytes = Buffer.from(id, 'base64url')
  t.equal(bytes.length, SESSION_ID_BYTES)
  t.equal(bytes.toString('base64url'), id, 'canonical encoding')
  t.ok(isWellFormedSessionId(id))
})

t.test('generateSessionId: unique across several pool refills', async t => {
  // 1000 IDs = 7+ refills of the 128-ID pool. A pool that was not refilled, or that handed out
  // zeroed bytes, would repeat an ID (all zeros is 'AAAA…').
  const ids = new Set<string>()
  for (let i = 0; i < 1000; i++) ids.add(generateSessionId())
  t.equal(ids.size, 1000)
  t.notOk(ids.has('A'.repeat(SESSION_ID_LENGTH)))
  for (const id of ids) if (!isWellFormedSessionId(id)) t.fail(`malformed id ${id}`)
})

t.test('generateSessionId: bytes are not constant at any position', async t => {
  // Every byte position takes more than one value across 256 IDs: catches a slice that
  // reads the same pool offset twice, or bytes left zero. (Chance of a false failure for
  // one position: 256^-255.)
  const seen = Array.from({ length: SESSION_ID_BYTES }, () => new Set<number>())
  for (let i = 0; i < 256; i++) {
    const bytes = Buffer.from(generateSessionId(), 'base64url')
    for (let j = 0; j < SESSION_ID_BYTES; j++) seen[j]?.add(bytes[j] as number)
  }
  t.ok(seen.every(s => s.size > 1))
})

const A42 = 'A'.repeat(42)
const wellFormedCases: [string, unknown, boolean][] = [
  ['generated shape, last char A', A42 + 'A', true],
  ['uses - and _', '-_' + 'a'.repeat(40) + 'w', true],
  ['last char 8 (index 60, multiple of 4)', A42 + '8', true],
  ['last char B: non-canonical (low bits set)', A42 + 'B', false],
  ['last char _: non-canonical', A42 + '_', false],
  ['42 characters', A42, false],
  ['44 characters', A42 + 'AA', false],
  ['standard base64 +', '+' + 'A'.repeat(42), false],
  ['standard base64 /', '/' + 'A'.repeat(42), false],
  ['padding =', 'A'.repeat(41) + 'A=', false],
  ['dot', '.' + 'A'.repeat(42), false],
  ['non-ASCII', 'Ł' + 'A'.repeat(42), false],
  ['space', ' ' + 'A'.repeat(42), false],
  ['trailing newline', A42 + 'A\n', false],
  ['empty', '', false],
  ['undefined', undefined, false],
  ['null', null, false],
  ['number', 42, false],
  ['Buffer', Buffer.alloc(43, 0x41), false],
  ['array', [A42 + 'A'], false],
]

t.test('isWellFormedSessionId', async t => {
  for (const [name, input, expected] of wellFormedCases) {
    t.equal(isWellFormedSessionId(input), expected, name)
  }
})

t.test('isWellFormedSessionId accepts exactly the canonical encodings of 32 bytes', async t => {
  fc.assert(
    fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), bytes => {
      return isWellFormedSessionId(Buffer.from(bytes).toString('base64url'))
    }),
  )
  // Any 43-character base64url string is well formed iff decoding and re-encoding gives it back.
  const b64url = fc.constantFrom(
    ...'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_',
  )
  fc.assert(
    fc.property(fc.string({ unit: b64url, minLength: 43, maxLength: 43 }), s => {
      const canonical = Buffer.from(s, 'base64url').toString('base64url') === s
      return isWellFormedSessionId(s) === canonical
    }),
  )
  t.pass('properties held')
})

t.test('isWellFormedSessionId never throws on arbitrary input', async t => {
  fc.assert(
    fc.property(fc.anything(), v => {
      return isWellFormedSessionId(v) === false || typeof v === 'string'
    }),
  )
  t.pass('property held')
})

t.test('hashSessionId: SHA-256, base64url', async t => {
  // FIPS 180-2 test vector: SHA-256("abc") = ba7816bf…f20015ad.
  const abc = Buffer.from(
    'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    'hex',
  ).toString('base64url')
  t.equal(hashSessionId('abc'), abc)
  const id = generateSessionId()
  const key = hashSessionId(id)
  t.equal(key.length, 43)
  t.match(key, BASE64URL)
  t.not(key, id, 'the store key is not the ID')
  t.equal(hashSessionId(id), key, 'deterministic')
  t.not(hashSessionId(generateSessionId()), key)
})

t.test('sessionHandle: 16 chars of SHA-256("handle:" + storageKey)', async t => {
  const key = hashSessionId(generateSessionId())
  const handle = sessionHandle(key)
  t.equal(handle.length, SESSION_HANDLE_LENGTH)
  t.match(handle, BASE64URL)
  t.equal(
    handle,
    createHash('sha256').update(`handle:${key}`).digest('base64url').slice(0, 16),
  )
  t.equal(sessionHandle(key), handle, 'deterministic')
  t.not(sessionHandle(hashSessionId(generateSessionId())), handle)
  t.notOk(key.startsWith(handle), 'not a prefix of the storage key')
  t.notOk(hashSessionId(key).startsWith(handle), 'domain-separated from hashSessionId')
})

t.test('without crypto.hash (Node < 20.12) hashing uses createHash, same output', async t => {
  const { hash: _hash, ...withoutHash } = nodeCrypto
  const legacy = { ...withoutHash, hash: undefined }
  const mod = await t.mockImport<typeof import('../lib/id.js')>('../lib/id.js', {
    'node:crypto': { ...legacy, default: legacy },
  })
  const id = generateSessionId()
  t.equal(mod.hashSessionId(id), hashSessionId(id))
  t.equal(mod.sessionHandle('k'), sessionHandle('k'))
  t.ok(mod.isWellFormedSessionId(mod.generateSessionId()))
})
