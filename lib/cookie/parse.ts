/**
 * Reading the `Cookie` request header (RFC 6265bis §4.2, §5.6): {@link parseCookie} builds the
 * whole record, {@link readCookie} finds one cookie without building it.
 *
 * Parse leniently: neither ever throws. A pair they cannot make sense of is skipped; a bad
 * %-escape leaves the raw value. A cookie is input from the network: a malformed one means "no
 * such cookie", never a 500. Both walk the header with the shared scanner (./scan.ts), so they
 * agree pair for pair: `readCookie(h, k) === parseCookie(h)[k]` for every header and name.
 */
import { Segments } from './scan.js'

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
 * The value of cookie `name` in a `Cookie` header: exactly `parseCookie(header)[name]`, without
 * building the record. It walks the same pairs under the same rules (trimming, skipping, first
 * wins, the {@link MAX_COOKIE_PAIRS} cap) and stops at the first match; only the matching value
 * is sliced and decoded. This is the session engine's per-request path.
 */
export function readCookie(header: string, name: string): string | undefined {
  if (typeof header !== 'string') return undefined
  const nameLength = name.length
  // parseCookie never stores an empty name, and a key it stores is a substring of the header.
  if (nameLength === 0 || header.indexOf(name) === -1) return undefined
  const s = pairs
  s.reset()
  for (let count = 0; count < MAX_COOKIE_PAIRS && s.nextPair(header); count++) {
    if (s.nameEnd - s.nameStart === nameLength && header.startsWith(name, s.nameStart)) {
      return s.value(header)
    }
  }
  return undefined
}
