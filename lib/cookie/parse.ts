/**
 * Reading the `Cookie` request header (RFC 6265bis §4.2, §5.6): {@link parseCookie} builds the
 * whole record, {@link readCookie} finds one cookie without building it.
 *
 * Parse leniently: neither ever throws. A pair they cannot make sense of is skipped; a bad
 * %-escape leaves the raw value. A cookie is input from the network: a malformed one means "no
 * such cookie", never a 500. Both read the header through the shared scanner (./scan.ts), so
 * they agree pair for pair: `readCookie(h, k) === parseCookie(h)[k]` for every header and name.
 */
import { isOws, Segments } from './scan.js'

/**
 * The most `name=value` pairs {@link parseCookie} / {@link readCookie} read from one header;
 * pairs after that are ignored. Browsers keep about 180 cookies per domain (Chromium and Firefox:
 * 180; RFC 6265bis §6.1 asks for at least 50), and a request can carry a host's cookies plus its
 * parent domain's, so 256 leaves room for real traffic while bounding the record we build. The
 * header itself is already bounded by Node's `--max-http-header-size` (16 KiB by default), which
 * still fits thousands of tiny pairs ("a=;"). Every segment containing "=" counts, including a
 * repeated name or an empty one.
 */
export const MAX_COOKIE_PAIRS = 256

/**
 * What {@link parseCookie} returns: cookie name → value. It inherits nothing: `__proto__`,
 * `constructor` and `toString` are ordinary keys, a name not sent reads as `undefined`, and
 * `Object.prototype` is never consulted or touched.
 */
export type CookieRecord = Record<string, string | undefined>

/**
 * Records are made by `new CookieRecordObject()`: its prototype is one frozen, empty object whose
 * own prototype is null, so lookups find nothing inherited and nobody can add to the shared parent.
 * Not `Object.create(null)`: V8 makes those dictionary-mode objects, which measured 1.3× to several
 * times slower to fill than this fast-mode shape (jshttp/cookie uses the same trick).
 */
const CookieRecordObject = function (this: CookieRecord) {} as unknown as new () => CookieRecord
CookieRecordObject.prototype = Object.freeze(Object.create(null) as object)

/** This module's scanner, reused by every call (see {@link Segments} for why that is safe). */
const pairs = new Segments()

/**
 * Parse a `Cookie` request header into a {@link CookieRecord}. Never throws.
 *
 * - Pairs are separated by ";"; OWS (spaces, tabs) around names and values is trimmed; empty
 *   segments (";;") and a trailing ";" are fine.
 * - A segment without "=" is skipped, and so is one whose name is empty ("=v"). RFC 6265bis §5.6
 *   would store either as a nameless cookie, but no server can address a nameless cookie, and
 *   jshttp/cookie skips them too.
 * - When a name repeats, the first one wins (jshttp/cookie#60). RFC 6265bis §4.2.2 says servers
 *   should not rely on the order; its retrieval algorithm sends longer paths first, so the first
 *   is usually the most specific.
 * - Names are taken as sent (not decoded). Values: one pair of surrounding DQUOTEs is removed
 *   (RFC 6265bis §4.1.1 allows them; like Go's net/http and Python's http.cookies, unlike
 *   jshttp/cookie@2, which keeps them), then the value is %-decoded when it contains "%"; a bad
 *   %-escape leaves the raw value.
 * - At most {@link MAX_COOKIE_PAIRS} pairs are read; later ones are ignored.
 * - A non-string argument (say, `req.headers.cookie` when absent) gives an empty record.
 */
export function parseCookie(header: string): CookieRecord {
  const record = new CookieRecordObject()
  if (typeof header !== 'string') return record
  const s = pairs
  s.reset()
  for (let count = 0; count < MAX_COOKIE_PAIRS && s.nextPair(header); count++) {
    if (s.nameEnd > s.nameStart) {
      const name = s.name(header)
      if (record[name] === undefined) record[name] = s.value(header)
    }
  }
  return record
}

/**
 * Below this index a pair is always within the {@link MAX_COOKIE_PAIRS} cap: each pair before it
 * takes at least two characters, its "=" and the ";" that ends it, so fewer than
 * MAX_COOKIE_PAIRS pairs fit in front of a segment starting below 2 × MAX_COOKIE_PAIRS.
 */
const WITHIN_CAP = 2 * MAX_COOKIE_PAIRS

/**
 * The value of cookie `name` in a `Cookie` header: exactly `parseCookie(header)[name]`, without
 * building the record. This is the session engine's per-request path.
 *
 * It looks where `name` occurs (`indexOf`) instead of walking every pair: the first place that is
 * a pair's whole name ({@link Segments.pairNamedAt}) is the first pair with that name, so first
 * wins as in parseCookie, and below {@link WITHIN_CAP} that pair is within the cap. A name that
 * parseCookie can never produce (empty, with ";" or "=", or OWS at either end) is never found.
 * Past WITHIN_CAP (a header of hundreds of bytes before our cookie) it walks the pairs like
 * parseCookie, counting them, and stops at the first match. Only the matching value is sliced
 * and decoded.
 */
export function readCookie(header: string, name: string): string | undefined {
  if (typeof header !== 'string') return undefined
  const nameLength = name.length
  if (
    nameLength === 0 || name.indexOf(';') !== -1 || name.indexOf('=') !== -1 ||
    isOws(name.charCodeAt(0)) || isOws(name.charCodeAt(nameLength - 1))
  ) {
    return undefined
  }
  const s = pairs
  let at = header.indexOf(name)
  while (at !== -1 && at < WITHIN_CAP) {
    if (s.pairNamedAt(header, at, nameLength)) return s.value(header)
    at = header.indexOf(name, at + 1)
  }
  if (at === -1) return undefined
  s.reset()
  for (let count = 0; count < MAX_COOKIE_PAIRS && s.nextPair(header); count++) {
    if (s.nameEnd - s.nameStart === nameLength && header.startsWith(name, s.nameStart)) {
      return s.value(header)
    }
  }
  return undefined
}
