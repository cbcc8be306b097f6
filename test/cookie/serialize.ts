// serializeCookie: valid inputs and their exact output, then every way it must refuse.
import t from 'tap'
import {
  MAX_AGE_LIMIT_SECONDS,
  MAX_COOKIE_PAIR_BYTES,
  serializeCookie,
  type CookieSerializeOptions,
} from '../../lib/cookie/serialize.js'
import { ErrorCodes } from '../../lib/errors.js'

/** A test name for any string: JSON-quoted, everything outside printable ASCII escaped (TAP is line-based). */
const show = (s: string): string =>
  JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))

/** Options as a JavaScript caller might pass them, wrong types included. */
type LooseOptions = Record<string, unknown>
const loose = (o: LooseOptions) => o as CookieSerializeOptions

const nov1994 = new Date('Sun, 06 Nov 1994 08:49:37 GMT')
const tchars = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
const cookieOctets = Array.from({ length: 0x7f }, (_, c) => String.fromCharCode(c))
  .filter((ch) => ch > ' ' && ch < '\x7f' && !'",;\\'.includes(ch))
  .join('')
const label63 = 'a'.repeat(63)

type Valid = readonly [what: string, name: string, value: string, options: CookieSerializeOptions | undefined, expected: string]

const valid: Valid[] = [
  // RFC 6265bis §3.1 examples. Our fixed order puts HttpOnly before Secure.
  ['RFC: session cookie', 'SID', '31d4d96e407aad42', { path: '/', secure: true, httpOnly: true },
    'SID=31d4d96e407aad42; Path=/; HttpOnly; Secure'],
  ['RFC: domain cookie', 'lang', 'en-US', { path: '/', domain: 'example.com' },
    'lang=en-US; Domain=example.com; Path=/'],
  ['RFC: delete with a past Expires', 'lang', '', { expires: nov1994 },
    'lang=; Expires=Sun, 06 Nov 1994 08:49:37 GMT'],
  ['RFC: persistent', 'lang', 'en-US', { expires: new Date('Wed, 09 Jun 2021 10:18:14 GMT') },
    'lang=en-US; Expires=Wed, 09 Jun 2021 10:18:14 GMT'],

  ['no options', 'a', 'b', undefined, 'a=b'],
  ['empty options', 'a', '', {}, 'a='],
  ['every attribute, documented order', 'n', 'v',
    { sameSite: 'None', priority: 'High', partitioned: true, secure: true, httpOnly: true, expires: nov1994, path: '/p', domain: '.example.com', maxAge: 3600 },
    'n=v; Max-Age=3600; Domain=.example.com; Path=/p; Expires=Sun, 06 Nov 1994 08:49:37 GMT; HttpOnly; Secure; Partitioned; Priority=High; SameSite=None'],
  ['false flags send nothing', 'a', 'b', { httpOnly: false, secure: false, partitioned: false }, 'a=b'],
  ['every tchar in a name', tchars, 'v', undefined, `${tchars}=v`],
  ['every cookie-octet in a value', 'a', cookieOctets, undefined, `a=${cookieOctets}`],
  ['__proto__ is a token', '__proto__', 'x', undefined, '__proto__=x'],

  // maxAge: seconds, floored; ≤ 0 becomes Max-Age=0; 400 days allowed.
  ['maxAge floored', 'a', 'b', { maxAge: 1.9 }, 'a=b; Max-Age=1'],
  ['maxAge 0', 'a', 'b', { maxAge: 0 }, 'a=b; Max-Age=0'],
  ['maxAge -0', 'a', 'b', { maxAge: -0 }, 'a=b; Max-Age=0'],
  ['maxAge negative', 'a', 'b', { maxAge: -1 }, 'a=b; Max-Age=0'],
  ['maxAge fraction below 1', 'a', 'b', { maxAge: 0.5 }, 'a=b; Max-Age=0'],
  ['maxAge very negative', 'a', 'b', { maxAge: -1e300 }, 'a=b; Max-Age=0'],
  ['maxAge at the 400-day cap', 'a', 'b', { maxAge: MAX_AGE_LIMIT_SECONDS }, 'a=b; Max-Age=34560000'],
  ['maxAge cap plus a fraction', 'a', 'b', { maxAge: MAX_AGE_LIMIT_SECONDS + 0.5 }, 'a=b; Max-Age=34560000'],

  // expires: IMF-fixdate, seconds truncated; 1601 to 9999.
  ['expires drops milliseconds', 'a', 'b', { expires: new Date(Date.UTC(2030, 1, 1, 0, 0, 0, 999)) },
    'a=b; Expires=Fri, 01 Feb 2030 00:00:00 GMT'],
  ['expires first instant of 1601', 'a', 'b', { expires: new Date(Date.UTC(1601, 0, 1)) },
    'a=b; Expires=Mon, 01 Jan 1601 00:00:00 GMT'],
  ['expires last instant of 9999', 'a', 'b', { expires: new Date(Date.UTC(9999, 11, 31, 23, 59, 59, 999)) },
    'a=b; Expires=Fri, 31 Dec 9999 23:59:59 GMT'],
  ['expires before 1970', 'a', 'b', { expires: new Date(Date.UTC(1969, 11, 31, 23, 59, 58, 500)) },
    'a=b; Expires=Wed, 31 Dec 1969 23:59:58 GMT'],
  ['expires on a leap day', 'a', 'b', { expires: new Date(Date.UTC(2000, 1, 29, 12, 5, 9)) },
    'a=b; Expires=Tue, 29 Feb 2000 12:05:09 GMT'],

  // domain and path.
  ['single-label domain', 'a', 'b', { domain: 'localhost' }, 'a=b; Domain=localhost'],
  ['IPv4 as digit labels', 'a', 'b', { domain: '127.0.0.1' }, 'a=b; Domain=127.0.0.1'],
  ['hyphen inside a label', 'a', 'b', { domain: 'a-b.Example.COM' }, 'a=b; Domain=a-b.Example.COM'],
  ['63-character label', 'a', 'b', { domain: `${label63}.com` }, `a=b; Domain=${label63}.com`],
  ['253-character domain', 'a', 'b', { domain: `${label63}.${label63}.${label63}.${'a'.repeat(61)}` },
    `a=b; Domain=${label63}.${label63}.${label63}.${'a'.repeat(61)}`],
  ['leading dot', 'a', 'b', { domain: '.example.com' }, 'a=b; Domain=.example.com'],
  ['root path', 'a', 'b', { path: '/' }, 'a=b; Path=/'],
  ['path with av-octets', 'a', 'b', { path: '/a b/~!@$%^&*()=+,"' }, 'a=b; Path=/a b/~!@$%^&*()=+,"'],
  ['path of 1024 characters', 'a', 'b', { path: '/' + 'p'.repeat(1023) }, `a=b; Path=/${'p'.repeat(1023)}`],

  // Keywords: case-insensitive in, canonical out.
  ['sameSite lax', 'a', 'b', { sameSite: 'lax' }, 'a=b; SameSite=Lax'],
  ['sameSite LAX', 'a', 'b', loose({ sameSite: 'LAX' }), 'a=b; SameSite=Lax'],
  ['sameSite Strict', 'a', 'b', { sameSite: 'Strict' }, 'a=b; SameSite=Strict'],
  ['sameSite strict', 'a', 'b', { sameSite: 'strict' }, 'a=b; SameSite=Strict'],
  ['sameSite none + secure', 'a', 'b', { sameSite: 'none', secure: true }, 'a=b; Secure; SameSite=None'],
  ['priority Low', 'a', 'b', { priority: 'Low' }, 'a=b; Priority=Low'],
  ['priority MEDIUM', 'a', 'b', loose({ priority: 'MEDIUM' }), 'a=b; Priority=Medium'],
  ['priority high', 'a', 'b', { priority: 'high' }, 'a=b; Priority=High'],
  ['priority Medium', 'a', 'b', { priority: 'Medium' }, 'a=b; Priority=Medium'],
  ['partitioned + secure', 'a', 'b', { partitioned: true, secure: true }, 'a=b; Secure; Partitioned'],

  // encode: output validated and sent.
  ['encode', 'a', 'x y;z,é', { encode: encodeURIComponent }, 'a=x%20y%3Bz%2C%C3%A9'],
  ['encode identity on a valid value', 'a', 'b', { encode: (v) => v }, 'a=b'],

  // Size: name + value of exactly 4096 bytes.
  ['4096 bytes', 'a', 'x'.repeat(4095), undefined, `a=${'x'.repeat(4095)}`],
  ['4096-byte name, empty value', 'n'.repeat(4096), '', undefined, `${'n'.repeat(4096)}=`],

  // Prefixes met, matched case-insensitively.
  ['__Secure- with secure', '__Secure-a', 'b', { secure: true }, '__Secure-a=b; Secure'],
  ['__secure- lower case', '__secure-a', 'b', { secure: true }, '__secure-a=b; Secure'],
  ['__Host- rules', '__Host-a', 'b', { secure: true, path: '/' }, '__Host-a=b; Path=/; Secure'],
  ['__HOST- upper case', '__HOST-a', 'b', { secure: true, path: '/' }, '__HOST-a=b; Path=/; Secure'],
  ['__Http- rules', '__Http-a', 'b', { secure: true, httpOnly: true }, '__Http-a=b; HttpOnly; Secure'],
  ['__Host-Http- rules', '__Host-Http-a', 'b', { secure: true, httpOnly: true, path: '/' },
    '__Host-Http-a=b; Path=/; HttpOnly; Secure'],
  ['other __ names are free', '__other', 'b', undefined, '__other=b'],
  ['__ alone', '__', 'b', undefined, '__=b'],
  ['_ alone', '_', 'b', undefined, '_=b'],
  ['_Host- is not a prefix', '_Host-a', 'b', undefined, '_Host-a=b'],
]

t.test('valid cookies serialize exactly', async (t) => {
  for (const [what, name, value, options, expected] of valid) {
    t.equal(serializeCookie(name, value, options), expected, what)
  }
})

type Invalid = readonly [what: string, name: unknown, value: unknown, options: LooseOptions | undefined, error: { name: string, code: string }]

const nameInvalid = { name: 'TypeError', code: ErrorCodes.COOKIE_NAME_INVALID }
const valueInvalid = { name: 'TypeError', code: ErrorCodes.COOKIE_VALUE_INVALID }
const pathInvalid = { name: 'TypeError', code: ErrorCodes.COOKIE_PATH_INVALID }
const domainInvalid = { name: 'TypeError', code: ErrorCodes.COOKIE_DOMAIN_INVALID }
const maxAgeType = { name: 'TypeError', code: ErrorCodes.COOKIE_MAX_AGE_INVALID }
const maxAgeRange = { name: 'RangeError', code: ErrorCodes.COOKIE_MAX_AGE_INVALID }
const expiresType = { name: 'TypeError', code: ErrorCodes.COOKIE_EXPIRES_INVALID }
const expiresRange = { name: 'RangeError', code: ErrorCodes.COOKIE_EXPIRES_INVALID }
const sameSiteInvalid = { name: 'TypeError', code: ErrorCodes.COOKIE_SAMESITE_INVALID }
const priorityInvalid = { name: 'TypeError', code: ErrorCodes.COOKIE_PRIORITY_INVALID }
const insecure = { name: 'TypeError', code: ErrorCodes.COOKIE_INSECURE }
const prefix = { name: 'TypeError', code: ErrorCodes.COOKIE_PREFIX_VIOLATION }
const tooLarge = { name: 'RangeError', code: ErrorCodes.COOKIE_TOO_LARGE }
const optionInvalid = { name: 'TypeError', code: ErrorCodes.OPTION_INVALID }

const invalid: Invalid[] = [
  // Names: RFC 9110 token only.
  ...['', 'a;b', 'a=b', 'a b', 'a\tb', 'a\x00', 'a\x7f', '\r\n', 'é', 'a,b', '"a"', '(a)', 'a/b', 'a:b', '[a]', '{a}', 'a?', 'a@', 'a\\b', 'a\u2028']
    .map((name): Invalid => [`name ${show(name)}`, name, 'v', undefined, nameInvalid]),
  ['name not a string', 42, 'v', undefined, nameInvalid],
  ['name undefined', undefined, 'v', undefined, nameInvalid],

  // Values: cookie-octets only, not encoded by default; the quoted form is not emitted.
  ...['a;b', 'a,b', 'a"b', '"ab"', 'a b', ' a', 'a\tb', '\r\n', 'a\x00', 'a\x7f', 'a\\b', 'é', '✓', '\u{1F36A}']
    .map((value): Invalid => [`value ${show(value)}`, 'a', value, undefined, valueInvalid]),
  ['value not a string', 'a', 42, undefined, valueInvalid],
  ['value undefined', 'a', undefined, undefined, valueInvalid],
  ['value not a string, with encode', 'a', 42, { encode: encodeURIComponent }, valueInvalid],
  ['encode output validated', 'a', 'a b', { encode: (v: string) => v }, valueInvalid],
  ['encode output must be a string', 'a', 'b', { encode: () => 42 }, valueInvalid],
  ['encode not a function', 'a', 'b', { encode: 'yes' }, optionInvalid],

  // Size, counted after encoding.
  ['4097 bytes', 'a', 'x'.repeat(4096), undefined, tooLarge],
  ['4096-byte name plus a value', 'n'.repeat(4096), 'v', undefined, tooLarge],
  ['4097-byte name, empty value', 'n'.repeat(4097), '', undefined, tooLarge],
  ['encoding makes it too large', 'a', 'é'.repeat(700), { encode: encodeURIComponent }, tooLarge],

  // Path: av-octets, starting with "/" (CVE-2024-47764 inputs first).
  ['CVE-2024-47764 path attribute injection', 'a', 'b', { path: '/; Path=/x' }, pathInvalid],
  ['CVE-2024-47764 path header injection', 'a', 'b', { path: '/\r\nSet-Cookie: a=b' }, pathInvalid],
  ...['/a;b', '/\x00', '/\x7f', '/\t', '/é', '', 'relative', '/trailing ']
    .map((path): Invalid => [`path ${show(path)}`, 'a', 'b', { path }, pathInvalid]),
  ['path not a string', 'a', 'b', { path: 42 }, pathInvalid],
  ['path null', 'a', 'b', { path: null }, pathInvalid],
  ['path over 1024 characters', 'a', 'b', { path: '/' + 'p'.repeat(1024) }, { name: 'RangeError', code: ErrorCodes.COOKIE_PATH_INVALID }],

  // Domain: hostname syntax, optional leading dot.
  ['CVE-2024-47764 domain attribute injection', 'a', 'b', { domain: 'example.com; Path=/' }, domainInvalid],
  ...['example.com\r\nX: y', '', '.', '..example.com', 'example.com.', '-a.com', 'a-.com', 'a.-b.com', 'a..b',
    'exa mple.com', 'é.com', 'a_b.com', `${'a'.repeat(64)}.com`, `${label63}.${label63}.${label63}.${'a'.repeat(62)}`,
    '[::1]', 'example.com:80', '*.example.com']
    .map((domain): Invalid => [`domain ${show(domain.slice(0, 40))}`, 'a', 'b', { domain }, domainInvalid]),
  ['domain not a string', 'a', 'b', { domain: 42 }, domainInvalid],
  ['domain null', 'a', 'b', { domain: null }, domainInvalid],

  // maxAge: finite numbers of seconds, ≤ 400 days.
  ...[NaN, Infinity, -Infinity, '1e3', '60', null, true, {}, 10n]
    .map((maxAge): Invalid => [`maxAge ${String(maxAge)}`, 'a', 'b', { maxAge }, maxAgeType]),
  ['maxAge one second past 400 days', 'a', 'b', { maxAge: MAX_AGE_LIMIT_SECONDS + 1 }, maxAgeRange],
  ['maxAge huge', 'a', 'b', { maxAge: 1e21 }, maxAgeRange],

  // expires: a valid Date in 1601–9999.
  ...['Sun, 06 Nov 1994 08:49:37 GMT', 784111777000, null, {}, new Date(NaN)]
    .map((expires): Invalid => [`expires ${String(expires)}`, 'a', 'b', { expires }, expiresType]),
  ['expires in 1600', 'a', 'b', { expires: new Date(Date.UTC(1601, 0, 1) - 1) }, expiresRange],
  ['expires in 10000', 'a', 'b', { expires: new Date(Date.UTC(10000, 0, 1)) }, expiresRange],
  ['expires far future', 'a', 'b', { expires: new Date(8.64e15) }, expiresRange],

  // Keywords.
  ...[true, false, 'strictest', '', 'Strict ', 1]
    .map((sameSite): Invalid => [`sameSite ${JSON.stringify(sameSite)}`, 'a', 'b', { sameSite }, sameSiteInvalid]),
  ...['urgent', '', 1, true]
    .map((priority): Invalid => [`priority ${JSON.stringify(priority)}`, 'a', 'b', { priority }, priorityInvalid]),

  // Secure requirements.
  ['SameSite=None without secure', 'a', 'b', { sameSite: 'None' }, insecure],
  ['sameSite none, secure false', 'a', 'b', { sameSite: 'none', secure: false }, insecure],
  ['partitioned without secure', 'a', 'b', { partitioned: true }, insecure],

  // Flags must be booleans.
  ['httpOnly "true"', 'a', 'b', { httpOnly: 'true' }, optionInvalid],
  ['secure 1', 'a', 'b', { secure: 1 }, optionInvalid],
  ['partitioned "yes"', 'a', 'b', { partitioned: 'yes', secure: true }, optionInvalid],

  // Prefixes (RFC 6265bis §4.1.3), case-insensitive.
  ['__Secure- without secure', '__Secure-a', 'b', undefined, prefix],
  ['__SECURE- without secure', '__SECURE-a', 'b', {}, prefix],
  ['__Host- without secure', '__host-a', 'b', { path: '/' }, prefix],
  ['__Host- without path', '__Host-a', 'b', { secure: true }, prefix],
  ['__Host- with another path', '__Host-a', 'b', { secure: true, path: '/x' }, prefix],
  ['__Host- with a domain', '__Host-a', 'b', { secure: true, path: '/', domain: 'example.com' }, prefix],
  ['__Http- without httpOnly', '__Http-a', 'b', { secure: true }, prefix],
  ['__Http- without secure', '__http-a', 'b', { httpOnly: true }, prefix],
  ['__Host-Http- without httpOnly', '__Host-Http-a', 'b', { secure: true, path: '/' }, prefix],
  ['__Host-Http- with a domain', '__Host-Http-a', 'b', { secure: true, httpOnly: true, path: '/', domain: 'example.com' }, prefix],
]

t.test('invalid input throws a coded error', async (t) => {
  for (const [what, name, value, options, error] of invalid) {
    t.throws(() => serializeCookie(name as string, value as string, options as CookieSerializeOptions), error, what)
  }
})

t.test('errors do not echo the cookie value', async (t) => {
  const secret = 'secret token'
  try {
    serializeCookie('sid', secret)
    t.fail('should throw')
  } catch (err) {
    t.match(err, valueInvalid)
    t.notOk((err as Error).message.includes(secret))
  }
})

t.test('errors from encode propagate unchanged', async (t) => {
  // encodeURIComponent throws URIError on a lone surrogate: that is the caller's function failing.
  t.throws(() => serializeCookie('a', '\ud800', { encode: encodeURIComponent }), { name: 'URIError' })
})

t.test('limits', async (t) => {
  t.equal(MAX_AGE_LIMIT_SECONDS, 400 * 24 * 60 * 60)
  t.equal(MAX_COOKIE_PAIR_BYTES, 4096)
})
