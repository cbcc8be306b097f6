// parseSetCookie on fixed vectors, and round trips of serializeCookie output.
import t from 'tap'
import { parseSetCookie, type SetCookie, type SetCookieAttributes } from '../../lib/cookie/set-cookie.js'
import { serializeCookie, type CookieSerializeOptions } from '../../lib/cookie/serialize.js'

/** A test name for any string: JSON-quoted, everything outside printable ASCII escaped (TAP is line-based). */
const show = (s: string): string =>
  JSON.stringify(s).replace(/[^\x20-\x7e]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'))

const flags = { secure: false, httpOnly: false, partitioned: false } as const
const attrs = (extra: Partial<SetCookieAttributes>): SetCookieAttributes => ({ ...flags, ...extra })
const cookie = (name: string, value: string, extra: Partial<SetCookieAttributes> = {}): SetCookie =>
  ({ name, value, attributes: attrs(extra) })

type Row = readonly [what: string, line: string, expected: SetCookie | null]

const rows: Row[] = [
  // RFC 6265bis §3.1 examples.
  ['RFC: session cookie', 'SID=31d4d96e407aad42; Path=/; Secure; HttpOnly',
    cookie('SID', '31d4d96e407aad42', { path: '/', secure: true, httpOnly: true })],
  ['RFC: domain cookie', 'lang=en-US; Path=/; Domain=example.com',
    cookie('lang', 'en-US', { path: '/', domain: 'example.com' })],
  ['RFC: persistent', 'lang=en-US; Expires=Wed, 09 Jun 2021 10:18:14 GMT',
    cookie('lang', 'en-US', { expires: new Date(Date.UTC(2021, 5, 9, 10, 18, 14)) })],
  ['RFC: delete', 'lang=; Expires=Sun, 06 Nov 1994 08:49:37 GMT',
    cookie('lang', '', { expires: new Date(784111777000) })],
  ['RFC: __Host- example', '__Host-SID=12345; Secure; Path=/', cookie('__Host-SID', '12345', { secure: true, path: '/' })],

  // No valid name=value: null.
  ['empty line', '', null],
  ['no =', 'novalue', null],
  ['no = before the first ;', 'a; b=c', null],
  ['empty first segment', '; a=b', null],
  ['empty name', '=v; Path=/', null],
  ['blank name', ' \t=v', null],

  // The pair itself.
  ['bare pair', 'a=b', cookie('a', 'b')],
  ['empty value', 'a=', cookie('a', '')],
  ['OWS trimmed', ' a \t= b ;Secure', cookie('a', 'b', { secure: true })],
  ['= in value', 'a=b=c', cookie('a', 'b=c')],
  ['quoted and decoded value', 'a="b%20c"; Path=/', cookie('a', 'b c', { path: '/' })],
  ['malformed escape kept', 'a=%E0%A4%A', cookie('a', '%E0%A4%A')],

  // Attribute names are case-insensitive; keywords come back canonical.
  ['case-insensitive names', 'a=b; max-age=10; DOMAIN=x.example; pAtH=/p; SECURE; httponly; PARTITIONED; samesite=lax; priority=HIGH',
    cookie('a', 'b', { maxAge: 10, domain: 'x.example', path: '/p', secure: true, httpOnly: true, partitioned: true, sameSite: 'Lax', priority: 'High' })],
  ['SameSite Strict', 'a=b; SameSite=Strict', cookie('a', 'b', { sameSite: 'Strict' })],
  ['SameSite none', 'a=b; SameSite=none', cookie('a', 'b', { sameSite: 'None' })],
  ['Priority low', 'a=b; Priority=low', cookie('a', 'b', { priority: 'Low' })],
  ['Priority Medium', 'a=b; Priority=Medium', cookie('a', 'b', { priority: 'Medium' })],
  ['OWS around attributes', 'a=b ;  Path = /x ;  Secure ', cookie('a', 'b', { path: '/x', secure: true })],
  ['flags ignore a value', 'a=b; Secure=no; HttpOnly=0; Partitioned=', cookie('a', 'b', { secure: true, httpOnly: true, partitioned: true })],
  ['empty attribute segments', 'a=b;;; ;Secure;', cookie('a', 'b', { secure: true })],
  ['= inside an attribute value', 'a=b; Path=/x=y', cookie('a', 'b', { path: '/x=y' })],
  ['flag before a valued attribute', 'a=b; Secure; Path=/p', cookie('a', 'b', { secure: true, path: '/p' })],
  ['leading dot and case kept', 'a=b; Domain=.Example.COM', cookie('a', 'b', { domain: '.Example.COM' })],

  // Max-Age: "-"? DIGITs (RFC 6265bis §5.6.2).
  ['Max-Age 0', 'a=b; Max-Age=0', cookie('a', 'b', { maxAge: 0 })],
  ['Max-Age negative', 'a=b; Max-Age=-5', cookie('a', 'b', { maxAge: -5 })],
  ...['abc', '', '-', '1.5', '+5', '5s', '1e3', ' ', '--1']
    .map((v): Row => [`Max-Age ${show(v)} ignored`, `a=b; Max-Age=${v}`, cookie('a', 'b')]),

  // Other invalid values are ignored, unknown attributes too.
  ['Expires garbage', 'a=b; Expires=garbage', cookie('a', 'b')],
  ['Expires empty', 'a=b; Expires=', cookie('a', 'b')],
  ['Domain empty', 'a=b; Domain=', cookie('a', 'b')],
  ['Path empty', 'a=b; Path=', cookie('a', 'b')],
  ['Path relative', 'a=b; Path=relative', cookie('a', 'b')],
  ['SameSite unknown is Default (§5.6.7)', 'a=b; SameSite=bogus', cookie('a', 'b', { sameSite: 'Default' })],
  ['SameSite without value is Default', 'a=b; SameSite', cookie('a', 'b', { sameSite: 'Default' })],
  ['Priority unknown', 'a=b; Priority=urgent', cookie('a', 'b')],
  ['unknown attributes', 'a=b; Version=1; Comment=hi; Foo', cookie('a', 'b')],

  // Last valid one wins (RFC 6265bis §5.7).
  ['last Max-Age wins', 'a=b; Max-Age=1; Max-Age=2', cookie('a', 'b', { maxAge: 2 })],
  ['invalid later Max-Age ignored', 'a=b; Max-Age=1; Max-Age=x', cookie('a', 'b', { maxAge: 1 })],
  ['last Path wins', 'a=b; Path=/a; Path=/b', cookie('a', 'b', { path: '/b' })],
  ['last SameSite wins', 'a=b; SameSite=Lax; SameSite=Strict', cookie('a', 'b', { sameSite: 'Strict' })],
  // http-state corpus cases: a later invalid Path / SameSite still counts (§5.6.4, §5.6.7).
  ['later empty Path selects the default path', 'foo=bar; path=/dog; path=', cookie('foo', 'bar')],
  ['later relative Path selects the default path', 'foo=bar; Path=/dog; Path=cat', cookie('foo', 'bar')],
  ['valid Path after an invalid one', 'foo=bar; Path=; Path=/cat', cookie('foo', 'bar', { path: '/cat' })],
  ['later unknown SameSite is Default', 'a=b; SameSite=Strict; SameSite=bogus', cookie('a', 'b', { sameSite: 'Default' })],
  ['later empty SameSite is Default', 'a=b; SameSite=Lax; SameSite=', cookie('a', 'b', { sameSite: 'Default' })],
  ['known SameSite after an unknown one', 'a=b; SameSite=bogus; SameSite=none', cookie('a', 'b', { sameSite: 'None' })],
]

t.test('parseSetCookie vectors', async (t) => {
  for (const [what, line, expected] of rows) t.same(parseSetCookie(line), expected, `${what}: ${show(line)}`)
})

t.test('a non-string line is null', async (t) => {
  for (const line of [undefined, null, 42, {}]) t.equal(parseSetCookie(line as unknown as string), null, String(line))
})

t.test('many attributes are scanned in one pass', async (t) => {
  // "; x" many times, then an "=" only at the very end: the "=" search is reused, not repeated.
  const line = 'a=b' + '; x'.repeat(20_000) + '; Path=/end'
  t.same(parseSetCookie(line), cookie('a', 'b', { path: '/end' }))
})

t.test('serializeCookie output round-trips through parseSetCookie', async (t) => {
  const expires = new Date(Date.UTC(2030, 0, 2, 3, 4, 5))
  const cases: Array<[CookieSerializeOptions, Partial<SetCookieAttributes>]> = [
    [{}, {}],
    [{ maxAge: 3600 }, { maxAge: 3600 }],
    [{ maxAge: -10 }, { maxAge: 0 }],
    [{ domain: '.example.com' }, { domain: '.example.com' }],
    [{ path: '/a b/c' }, { path: '/a b/c' }],
    [{ expires }, { expires }],
    [{ httpOnly: true }, { httpOnly: true }],
    [{ secure: true }, { secure: true }],
    [{ partitioned: true, secure: true }, { partitioned: true, secure: true }],
    [{ priority: 'medium' }, { priority: 'Medium' }],
    [{ sameSite: 'strict' }, { sameSite: 'Strict' }],
    [
      { maxAge: 60, domain: 'example.com', path: '/', expires, httpOnly: true, secure: true, partitioned: true, priority: 'High', sameSite: 'None' },
      { maxAge: 60, domain: 'example.com', path: '/', expires, httpOnly: true, secure: true, partitioned: true, priority: 'High', sameSite: 'None' },
    ],
  ]
  for (const [options, expected] of cases) {
    const line = serializeCookie('sid', 'abc.DEF-123', options)
    t.same(parseSetCookie(line), cookie('sid', 'abc.DEF-123', expected), line)
  }
  const encoded = serializeCookie('a', 'x y;é', { encode: encodeURIComponent, path: '/' })
  t.same(parseSetCookie(encoded), cookie('a', 'x y;é', { path: '/' }), 'encoded value decodes back')
})
