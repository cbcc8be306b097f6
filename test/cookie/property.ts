// Property tests (fast-check): the parsers never throw on anything, readCookie agrees with
// parseCookie, serializeCookie only ever produces RFC 6265bis set-cookie-strings, and what it
// writes reads back.
import t from 'tap'
import fc from 'fast-check'
import { isDeepStrictEqual } from 'node:util'
import { MAX_COOKIE_PAIRS, parseCookie, readCookie } from '../../lib/cookie/parse.js'
import { MAX_AGE_LIMIT_SECONDS, serializeCookie, type CookieSerializeOptions } from '../../lib/cookie/serialize.js'
import { parseSetCookie, type SetCookieAttributes } from '../../lib/cookie/set-cookie.js'

const runs = { numRuns: 2000 }

// --- the grammar, as a regular expression -----------------------------------------------------

// RFC 9110 §5.6.2: token = 1*tchar
const token = "[!#$%&'*+\\-.^_`|~0-9A-Za-z]+"
// RFC 6265bis §4.1.1: cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE )
//                     cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
const cookieOctet = '[\\x21\\x23-\\x2B\\x2D-\\x3A\\x3C-\\x5B\\x5D-\\x7E]'
const cookiePair = `${token}=(?:${cookieOctet}*|"${cookieOctet}*")`
// expires-av = "Expires=" sane-cookie-date; sane-cookie-date = IMF-fixdate (RFC 9110 §5.6.7):
// day-name "," SP day SP month SP year SP hour ":" minute ":" second SP "GMT"
const imfFixdate = '(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), [0-9]{2} (?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [0-9]{4} [0-9]{2}:[0-9]{2}:[0-9]{2} GMT'
// max-age-av = "Max-Age=" non-zero-digit *DIGIT, plus our one documented departure: "0" to
// delete (RFC 6265bis §5.6.2 reads delta ≤ 0 as "expire now"; see serializeCookie).
const maxAgeAv = 'Max-Age=(?:[1-9][0-9]*|0)'
// domain-av = "Domain=" domain-value; domain-value = <subdomain> (RFC 1034 §3.5, RFC 1123 §2.1),
// with the leading "." user agents ignore (jshttp/cookie#173).
const label = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?'
const domainAv = `Domain=\\.?${label}(?:\\.${label})*`
// path-av = "Path=" path-value; path-value = *av-octet; av-octet = %x20-3A / %x3C-7E
const pathAv = 'Path=[\\x20-\\x3A\\x3C-\\x7E]*'
// samesite-av = "SameSite=" samesite-value; samesite-value = "Strict" / "Lax" / "None"
const sameSiteAv = 'SameSite=(?:Strict|Lax|None)'
// extension-av = *av-octet would accept almost anything (a broken Domain would pass as an
// extension), so it is pinned to the two extensions we emit: Partitioned (CHIPS) and Priority.
const extensionAv = '(?:Partitioned|Priority=(?:Low|Medium|High))'
const cookieAv = `(?:Expires=${imfFixdate}|${maxAgeAv}|${domainAv}|${pathAv}|Secure|HttpOnly|${sameSiteAv}|${extensionAv})`
// set-cookie-string = cookie-pair *( ";" SP cookie-av )
const SET_COOKIE_STRING = new RegExp(`^${cookiePair}(?:; ${cookieAv})*$`)

// --- arbitraries ------------------------------------------------------------------------------

const chars = (from: number, to: number, except = ''): string[] =>
  Array.from({ length: to - from + 1 }, (_, i) => String.fromCharCode(from + i)).filter((c) => !except.includes(c))

const tchar = fc.constantFrom(...chars(0x21, 0x7e, '"(),/:;<=>?@[\\]{}'))
const cookieOctetChar = fc.constantFrom(...chars(0x21, 0x7e, '",;\\'))
const avOctetChar = fc.constantFrom(...chars(0x20, 0x7e, ';'))
/** Any UTF-16 code unit, lone surrogates included. */
const codeUnit = fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c))
/** The characters that matter to a Cookie header parser, and a few letters and hex digits. */
const cookieSyntax = fc.constantFrom(';', '=', ' ', '\t', '%', '"', 'a', 'b', 'E', 'F', '0', '2', '_')

const anyString = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  fc.string({ unit: codeUnit, maxLength: 200 }),
  fc.string({ unit: cookieSyntax, maxLength: 300 }),
)
/** Headers made of many pairs, some past the MAX_COOKIE_PAIRS cap. */
const manyPairs = fc
  .array(fc.tuple(fc.string({ unit: cookieSyntax, maxLength: 3 }), fc.string({ unit: cookieSyntax, maxLength: 3 })), { maxLength: 400 })
  .map((pairs) => pairs.map(([n, v]) => `${n}=${v}`).join(';'))
const header = fc.oneof(anyString, manyPairs)

const name = fc.string({ unit: tchar, minLength: 1, maxLength: 16 }).filter((n) => !/^__(?:secure|host|http)-/i.test(n))
const rawValue = fc.string({ unit: cookieOctetChar, maxLength: 64 })
const rawValueWithoutPercent = rawValue.filter((v) => !v.includes('%'))
const domain = fc.tuple(fc.boolean(), fc.domain()).map(([dot, d]) => (dot ? '.' + d : d)).filter((d) => d.length <= 254)
const path = fc.string({ unit: avOctetChar, maxLength: 32 }).map((p) => '/' + p).filter((p) => !p.endsWith(' '))
const options: fc.Arbitrary<CookieSerializeOptions> = fc
  .record(
    {
      maxAge: fc.oneof(fc.integer({ min: -1e6, max: MAX_AGE_LIMIT_SECONDS }), fc.double({ min: -1e6, max: MAX_AGE_LIMIT_SECONDS, noNaN: true })),
      expires: fc.date({ min: new Date(Date.UTC(1601, 0, 1)), max: new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)), noInvalidDate: true }),
      domain,
      path,
      httpOnly: fc.boolean(),
      secure: fc.boolean(),
      partitioned: fc.boolean(),
      priority: fc.constantFrom('Low', 'Medium', 'High', 'low', 'medium', 'high'),
      sameSite: fc.constantFrom('Strict', 'Lax', 'None', 'strict', 'lax', 'none'),
    } as const,
    { requiredKeys: [] },
  )
  // SameSite=None and Partitioned need Secure: valid options only.
  .map((o) => (o.partitioned === true || o.sameSite?.toLowerCase() === 'none' ? { ...o, secure: true } : o))

// --- properties -------------------------------------------------------------------------------

t.test('parseCookie never throws and returns trimmed names with string values', async (t) => {
  fc.assert(
    fc.property(header, (h) => {
      const record = parseCookie(h)
      const keys = Object.keys(record)
      if (keys.length > MAX_COOKIE_PAIRS) return false
      return keys.every((k) =>
        k.length > 0 && !/^[ \t]|[ \t]$|[;=]/.test(k) && typeof record[k] === 'string')
    }),
    runs,
  )
  t.pass('held for every generated header')
})

t.test('readCookie agrees with parseCookie', async (t) => {
  fc.assert(
    fc.property(header, anyString, (h, other) => {
      const record = parseCookie(h)
      const names = [...Object.keys(record), other, ` ${other}`, '', 'a', 'a ', '_']
      return names.every((n) => readCookie(h, n) === record[n])
    }),
    runs,
  )
  t.pass('held for every generated header and name')
})

t.test('parseSetCookie never throws', async (t) => {
  fc.assert(
    fc.property(header, (line) => {
      const parsed = parseSetCookie(line)
      return parsed === null || (parsed.name.length > 0 && typeof parsed.value === 'string')
    }),
    runs,
  )
  t.pass('held for every generated line')
})

t.test('serializeCookie output matches the set-cookie-string grammar', async (t) => {
  fc.assert(
    fc.property(name, rawValue, options, (n, v, o) => {
      const line = serializeCookie(n, v, o)
      if (!SET_COOKIE_STRING.test(line)) return false
      // Servers SHOULD NOT send an attribute twice (RFC 6265bis §4.1.1).
      const attributeNames = line.split('; ').slice(1).map((av) => av.split('=')[0])
      return new Set(attributeNames).size === attributeNames.length
    }),
    runs,
  )
  t.pass('held for every generated cookie')
  // The grammar itself rejects what it should, so the property above means something.
  for (const bad of ['a=b; Path=/x; Path', 'a=b;Secure', 'a b=c', 'a="b', 'a=b; Domain=-x.com', 'a=b; Max-Age=01',
    'a=b; Expires=Sun, 6 Nov 1994 08:49:37 GMT', 'a=b; Foo=bar', 'a=b; SameSite=lax']) {
    t.notOk(SET_COOKIE_STRING.test(bad), `grammar rejects ${JSON.stringify(bad)}`)
  }
})

t.test('Expires is exactly toUTCString()', async (t) => {
  fc.assert(
    fc.property(
      fc.date({ min: new Date(Date.UTC(1601, 0, 1)), max: new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)), noInvalidDate: true }),
      (d) => serializeCookie('a', 'b', { expires: d }) === `a=b; Expires=${d.toUTCString()}`,
    ),
    runs,
  )
  t.pass('held for every date in 1601-9999')
})

t.test('a serialized pair parses back to its value', async (t) => {
  fc.assert(
    fc.property(name, rawValueWithoutPercent, (n, v) => {
      const pair = serializeCookie(n, v)
      return parseCookie(pair)[n] === v && readCookie(pair, n) === v
    }),
    runs,
  )
  fc.assert(
    fc.property(name, fc.string({ unit: 'grapheme', maxLength: 64 }), (n, v) => {
      const pair = serializeCookie(n, v, { encode: encodeURIComponent })
      return parseCookie(pair)[n] === v && readCookie(pair, n) === v
    }),
    runs,
  )
  fc.assert(
    fc.property(name, fc.string({ unit: 'binary', maxLength: 64 }), (n, v) => {
      const pair = serializeCookie(n, v, { encode: encodeURIComponent })
      return parseCookie(pair)[n] === v
    }),
    runs,
  )
  t.pass('raw values without "%" and encodeURIComponent-encoded values round-trip')
})

t.test('parseSetCookie reads back every attribute serializeCookie writes', async (t) => {
  fc.assert(
    fc.property(name, rawValueWithoutPercent, options, (n, v, o) => {
      const expected: SetCookieAttributes = {
        secure: o.secure === true,
        httpOnly: o.httpOnly === true,
        partitioned: o.partitioned === true,
      }
      if (o.maxAge !== undefined) expected.maxAge = Math.max(0, Math.floor(o.maxAge))
      if (o.expires !== undefined) expected.expires = new Date(Math.floor(o.expires.getTime() / 1000) * 1000)
      if (o.domain !== undefined) expected.domain = o.domain
      if (o.path !== undefined) expected.path = o.path
      if (o.priority !== undefined) expected.priority = (o.priority[0]!.toUpperCase() + o.priority.slice(1).toLowerCase()) as SetCookieAttributes['priority']
      if (o.sameSite !== undefined) expected.sameSite = (o.sameSite[0]!.toUpperCase() + o.sameSite.slice(1).toLowerCase()) as SetCookieAttributes['sameSite']
      return isDeepStrictEqual(parseSetCookie(serializeCookie(n, v, o)), { name: n, value: v, attributes: expected })
    }),
    runs,
  )
  t.pass('held for every generated cookie')
})
