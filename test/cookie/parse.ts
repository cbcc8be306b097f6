// parseCookie and readCookie on fixed vectors. Every row also checks that readCookie(header, k)
// equals parseCookie(header)[k] for each expected name and a few absent ones.
import t from 'tap'
import { MAX_COOKIE_PAIRS, parseCookie, readCookie } from '../../lib/cookie/parse.js'

/** A test name for any string: JSON-quoted, everything outside printable ASCII escaped (TAP is line-based). */
const show = (s: string): string =>
  JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))

type Row = readonly [what: string, header: string, entries: ReadonlyArray<readonly [string, string]>]

const rows: Row[] = [
  // RFC 6265bis §3.1 examples ("Cookie: SID=31d4d96e407aad42; lang=en-US").
  ['RFC example, two cookies', 'SID=31d4d96e407aad42; lang=en-US', [['SID', '31d4d96e407aad42'], ['lang', 'en-US']]],
  ['RFC example, one cookie', 'SID=31d4d96e407aad42', [['SID', '31d4d96e407aad42']]],

  // Shape of the header.
  ['empty header', '', []],
  ['only separators', ';;; ;', []],
  ['empty value', 'a=', [['a', '']]],
  ['trailing ;', 'a=1;', [['a', '1']]],
  ['trailing ; and spaces', 'a=1 ; ', [['a', '1']]],
  ['empty pairs between', 'a=1;;b=2', [['a', '1'], ['b', '2']]],
  ['no space after ;', 'a=1;b=2', [['a', '1'], ['b', '2']]],
  ['comma is not a separator (RFC 6265bis)', 'a=1,b=2', [['a', '1,b=2']]],

  // Skipped segments: no "=", or an empty name (documented departure from RFC 6265bis §5.6).
  ['pair without = alone', 'a', []],
  ['pair without = is skipped', 'a=1; flag; c=3', [['a', '1'], ['c', '3']]],
  ['lone =', '=', []],
  ['empty name', '=v', []],
  ['blank name', ' \t=v; a=1', [['a', '1']]],

  // OWS (SP / HTAB) around names and values is trimmed, nothing else is.
  ['spaces and tabs', ' \t a \t = \t 1 \t ; b=2', [['a', '1'], ['b', '2']]],
  ['inner space kept in name', 'a b=1', [['a b', '1']]],
  ['inner space kept in value', 'a=1 2', [['a', '1 2']]],
  ['newline is not OWS', 'a=\nb\n', [['a', '\nb\n']]],

  // Names: first wins, case-sensitive, "=" inside the value.
  ['duplicate: first wins', 'a=1; a=2', [['a', '1']]],
  ['duplicate after trimming', 'a=1;  a =2', [['a', '1']]],
  ['empty first value still wins', 'a=; a=2', [['a', '']]],
  ['names are case-sensitive', 'A=1; a=2', [['A', '1'], ['a', '2']]],
  ['= inside value', 'a=b=c', [['a', 'b=c']]],
  ['value starting with =', 'a==b', [['a', '=b']]],
  ['names are not decoded', 'a%20b=1', [['a%20b', '1']]],

  // %-decoding only when "%" is present; a malformed escape leaves the raw value.
  ['escaped space', 'a=%20b', [['a', ' b']]],
  ['escaped UTF-8', 'a=%E2%9C%93', [['a', '✓']]],
  ['lone %', 'a=%', [['a', '%']]],
  ['truncated escape', 'a=%E0%A4%A', [['a', '%E0%A4%A']]],
  ['invalid UTF-8 byte', 'a=%FF', [['a', '%FF']]],
  ['non-hex escape', 'a=%zz', [['a', '%zz']]],
  ['trailing %', 'a=100%', [['a', '100%']]],
  ['encoded surrogate', 'a=%ED%A0%80', [['a', '%ED%A0%80']]],
  ['non-ASCII passes through', 'a=héllo', [['a', 'héllo']]],

  // One pair of surrounding DQUOTEs is stripped (RFC 6265bis cookie-value), before decoding.
  ['quoted value', 'a="b"', [['a', 'b']]],
  ['quoted empty value', 'a=""', [['a', '']]],
  ['lone quote', 'a="', [['a', '"']]],
  ['opening quote only', 'a="b', [['a', '"b']]],
  ['closing quote only', 'a=b"', [['a', 'b"']]],
  ['quotes inside kept', 'a=b"c"d', [['a', 'b"c"d']]],
  ['only one pair stripped', 'a=""b""', [['a', '"b"']]],
  ['spaces inside quotes kept', 'a=" b "', [['a', ' b ']]],
  ['OWS outside quotes trimmed', 'a = "b" ', [['a', 'b']]],
  ['quoted then decoded', 'a="%41"', [['a', 'A']]],
  ['encoded quotes are data', 'a=%22b%22', [['a', '"b"']]],

  // Keys that would be special on an ordinary object.
  ['prototype-ish names', '__proto__=1; constructor=2; toString=3; hasOwnProperty=4',
    [['__proto__', '1'], ['constructor', '2'], ['toString', '3'], ['hasOwnProperty', '4']]],
]

const absent = ['missing', 'A', 'a ', ' a', 'toString', 'constructor', '__proto__', 'valueOf', 'b=', '']

t.test('parseCookie and readCookie vectors', async (t) => {
  for (const [what, header, entries] of rows) {
    const record = parseCookie(header)
    t.same(Object.entries(record), entries, `${what}: ${show(header)}`)
    const expected = new Map(entries)
    for (const name of [...expected.keys(), ...absent]) {
      t.equal(readCookie(header, name), expected.get(name), `${what}: readCookie ${show(name)}`)
      t.equal(record[name], expected.get(name), `${what}: record[${show(name)}]`)
    }
  }
})

t.test('the record inherits nothing', async (t) => {
  const record = parseCookie('a=1')
  for (const key of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) {
    t.equal(record[key], undefined, key)
    t.notOk(key in record, `${key} is not inherited`)
  }
  const parent = Object.getPrototypeOf(record) as object
  t.equal(Object.getPrototypeOf(parent), null, 'the prototype chain ends right after one empty object')
  t.same(Reflect.ownKeys(parent), [], 'the shared parent is empty')
  t.ok(Object.isFrozen(parent), 'the shared parent is frozen')
  t.equal(Object.getPrototypeOf(parseCookie('b=2')), parent, 'one shared parent')
})

t.test('__proto__ and friends are ordinary own keys', async (t) => {
  const record = parseCookie('__proto__=x; constructor=y; polluted=z')
  t.ok(Object.hasOwn(record, '__proto__'))
  t.equal(record['__proto__'], 'x')
  t.equal(record.constructor, 'y')
  t.equal(Object.getPrototypeOf(Object.getPrototypeOf(record)), null, 'prototype not replaced')
  t.equal(({} as Record<string, unknown>).polluted, undefined, 'Object.prototype untouched')
  t.equal(Object.getPrototypeOf({}), Object.prototype)
})

t.test('a non-string header is an empty header', async (t) => {
  for (const header of [undefined, null, 42, ['a=1']]) {
    t.same(Object.entries(parseCookie(header as unknown as string)), [], String(header))
    t.equal(readCookie(header as unknown as string, 'a'), undefined, String(header))
  }
})

t.test('readCookie with an empty name finds nothing', async (t) => {
  t.equal(readCookie('=v; a=1', ''), undefined)
  t.equal(readCookie('', ''), undefined)
})

t.test('bounded: at most MAX_COOKIE_PAIRS pairs are read', async (t) => {
  t.equal(MAX_COOKIE_PAIRS, 256)

  const repeated = 'a=;'.repeat(5000)
  t.same(Object.entries(parseCookie(repeated)), [['a', '']], '5000 × "a=;" is one empty cookie')
  t.equal(readCookie(repeated, 'a'), '')

  const hidden = repeated + 'b=1'
  t.equal(parseCookie(hidden).b, undefined, 'a pair after the cap is not read')
  t.equal(readCookie(hidden, 'b'), undefined, 'readCookie applies the same cap')

  const distinct = Array.from({ length: 300 }, (_, i) => `c${i}=${i}`).join('; ')
  const record = parseCookie(distinct)
  t.equal(Object.keys(record).length, 256)
  t.equal(record.c255, '255', 'the 256th pair is read')
  t.equal(record.c256, undefined, 'the 257th is not')
  t.equal(readCookie(distinct, 'c255'), '255')
  t.equal(readCookie(distinct, 'c256'), undefined)

  const edge = 'x=;'.repeat(255) + 'last=1'
  t.equal(parseCookie(edge).last, '1', 'exactly 256 pairs: all read')
  t.equal(readCookie(edge, 'last'), '1')

  const emptyNames = '=x;'.repeat(256) + 'a=1'
  t.equal(parseCookie(emptyNames).a, undefined, 'empty-named pairs count')
  t.equal(readCookie(emptyNames, 'a'), undefined)

  for (const filler of [';'.repeat(5000), 'flag;'.repeat(5000), ' \t;'.repeat(3000)]) {
    t.equal(parseCookie(filler + 'a=1').a, '1', 'segments without "=" do not count')
    t.equal(readCookie(filler + 'a=1', 'a'), '1')
  }
})

t.test('readCookie finds a name only where it is a whole pair name', async (t) => {
  const rows: Array<[header: string, name: string, value: string | undefined]> = [
    ['x=sid; sid=1', 'sid', '1'], // first in a value
    ['xsid=0; sid=1', 'sid', '1'], // the end of a longer name
    ['sidx=0; sid=1', 'sid', '1'], // the start of a longer name
    ['a sid=0; sid=1', 'sid', '1'], // "a sid" is one name
    ['sid; sid=1', 'sid', '1'], // a segment without "="
    [' \tsid \t= 1', 'sid', '1'],
    ['a=1; sid =2; sid=3', 'sid', '2'],
    ['a=1; sid', 'sid', undefined], // at the very end, no "="
    ['a=1', 'a=1', undefined], // names parseCookie can never produce
    ['a=1;b=2', '1;b', undefined],
    [' a=1', ' a', undefined],
    ['a =1', 'a ', undefined],
  ]
  for (const [header, name, value] of rows) {
    t.equal(readCookie(header, name), value, `${show(header)} ${show(name)}`)
    t.equal(parseCookie(header)[name], value, `parseCookie agrees on ${show(header)}`)
  }
})

t.test('readCookie keeps the cap wherever the name is (2 characters per pair at least)', async (t) => {
  const rows: Array<[what: string, header: string, value: string | undefined]> = [
    ['pair 256, looked up directly', '=;'.repeat(255) + 'sid=1', '1'],
    ['pair 257, found by walking the pairs', '=;'.repeat(256) + 'sid=1', undefined],
    ['pair 2, far into the header', 'pad=' + 'v'.repeat(600) + '; x=sid; sid=1', '1'],
    ['pair 301, far into the header', '=;'.repeat(300) + 'sid=1', undefined],
  ]
  for (const [what, header, value] of rows) {
    t.equal(readCookie(header, 'sid'), value, what)
    t.equal(parseCookie(header).sid, value, `parseCookie agrees: ${what}`)
  }
})

t.test('the reused scanner carries nothing from one call to the next', async (t) => {
  // Each module reuses one scanner (lib/cookie/scan.ts); a scan left early must not leak.
  t.equal(readCookie('a=1; b=2; c=3', 'a'), '1', 'a look-up that stops at its first pair')
  t.same(Object.entries(parseCookie('d=4; e=5')), [['d', '4'], ['e', '5']], 'the next parse starts afresh')
  t.equal(readCookie('=;'.repeat(300) + 'b=2', 'a'), undefined, 'a walk that reads every pair')
  t.equal(readCookie('b=2', 'b'), '2', 'the next look-up starts afresh')
  // Where the scanner last looked for "%" is per header too.
  t.equal(parseCookie('a=' + 'v'.repeat(100)).a?.length, 100, 'a long header without "%"')
  t.equal(readCookie('d=%41', 'd'), 'A', 'the next value is still decoded (looked up)')
  t.equal(parseCookie('a=' + 'v'.repeat(100)).a?.length, 100, 'again')
  t.equal(parseCookie('d=%41').d, 'A', 'the next value is still decoded (parsed)')
})

t.test('large headers give the expected result (linear scan)', async (t) => {
  const noEquals = 'x'.repeat(200_000) + ';'.repeat(200_000)
  t.same(Object.entries(parseCookie(noEquals)), [])
  const equalsOnly = '='.repeat(200_000)
  t.same(Object.entries(parseCookie(equalsOnly)), [])
  const longValue = 'a=' + 'v'.repeat(200_000) + '; b=2'
  t.equal(parseCookie(longValue).b, '2')
  t.equal(readCookie(longValue, 'b'), '2')
})
