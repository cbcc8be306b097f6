/**
 * Writing one `Set-Cookie` header value (RFC 6265bis §4.1, RFC 9110): {@link serializeCookie}.
 *
 * Serialize strictly: it throws a `TypeError` (wrong type or syntax) or a `RangeError` (right
 * syntax, quantity out of range) carrying an `ERR_COOKIE_*` code from lib/errors.ts. Whatever it
 * returns conforms to the RFC 6265bis §4.1.1 `set-cookie-string` grammar, so an option can never
 * smuggle in a second attribute or header (CVE-2024-47764).
 *
 * It runs on every response that sets a cookie. Validation uses 128-entry lookup tables for the
 * short strings (names, paths, domains) and one precompiled regular expression for values,
 * whichever measured faster for the typical length. Above each table or expression sits the
 * grammar rule it implements.
 */
import { ErrorCodes, rangeError, typeError } from '../errors.js'
import { MAX_AGE_LIMIT_SECONDS } from '../limits.js'
import { priorityOf, sameSiteOf, type CookiePriority, type CookieSameSite } from './keywords.js'

// --- character classes ------------------------------------------------------------------------

/** A 128-entry table: 1 for every code point in the given inclusive ranges, 0 elsewhere. */
function asciiTable(ranges: ReadonlyArray<readonly [number, number]>): Uint8Array {
  const table = new Uint8Array(128)
  for (const [from, to] of ranges) table.fill(1, from, to + 1)
  return table
}

/**
 * RFC 9110 §5.6.2:
 *   token = 1*tchar
 *   tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
 *           "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
 * RFC 6265bis §4.1.1: cookie-name = token. We serialize only tokens (stricter than jshttp/cookie,
 * which widened names in jshttp/cookie#191): a name outside the token set is not portable.
 */
const TCHAR = asciiTable([
  [0x21, 0x21], [0x23, 0x27], [0x2a, 0x2b], [0x2d, 0x2e], [0x30, 0x39], [0x41, 0x5a],
  [0x5e, 0x60], [0x61, 0x7a], [0x7c, 0x7c], [0x7e, 0x7e],
])

/**
 * RFC 6265bis §4.1.1:
 *   cookie-value = *cookie-octet / ( DQUOTE *cookie-octet DQUOTE )
 *   cookie-octet = %x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E
 *                  ; US-ASCII characters excluding CTLs, whitespace,
 *                  ; DQUOTE, comma, semicolon, and backslash
 * We emit only the unquoted form: the quotes would be part of the value for a user agent
 * (§4.1.1 "the initial and trailing DQUOTE characters are not stripped") while parsers differ.
 * A regular expression, not a table loop, on purpose: values are long (session tokens are 40+
 * characters) and V8 compiles this character class to native code, measured about twice as fast
 * as a charCodeAt loop at 40 characters (the loop wins only below ~10, hence tables for names).
 */
const COOKIE_VALUE = /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]*$/

/**
 * RFC 6265bis §4.1.1:
 *   path-value = *av-octet
 *   av-octet   = %x20-3A / %x3C-7E   ; any CHAR except CTLs or ";"
 * CHAR is %x01-7F (RFC 5234 B.1), CTL is %x00-1F / %x7F: so no ";", CR, LF or NUL can get into a
 * Path, which is what CVE-2024-47764 (`path: "/; Path=/x"`) exploited.
 */
const AV_OCTET = asciiTable([[0x20, 0x3a], [0x3c, 0x7e]])

/**
 * RFC 6265bis §4.1.1: domain-value = <subdomain>, RFC 1034 §3.5 as enhanced by RFC 1123 §2.1:
 *   <subdomain>   = <label> | <subdomain> "." <label>
 *   <label>       = <let-dig> [ [ <ldh-str> ] <let-dig> ]   ; at most 63 characters
 *   <let-dig-hyp> = <let-dig> | "-"
 * This table holds <let-dig-hyp>; {@link isDomain} checks the label shape around it.
 */
const LET_DIG_HYP = asciiTable([[0x2d, 0x2d], [0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]])

/** True when every character of `s` (which may be empty) is flagged in `table`. */
function allIn(s: string, table: Uint8Array): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 0x7f || table[c] === 0) return false
  }
  return true
}

/**
 * Domain syntax: <subdomain> above, with an optional leading "." (RFC 6265bis §4.1.2.3: a user
 * agent ignores it; kept for old code that writes ".example.com", as in jshttp/cookie#173), at
 * most 253 characters (RFC 1034 §3.1). A trailing "." fails: §4.1.2.3 says a user agent then
 * ignores the attribute. IP literals pass as digit labels; "[::1]" does not.
 */
function isDomain(domain: string): boolean {
  const len = domain.length
  let start = domain.charCodeAt(0) === 0x2e /* . */ ? 1 : 0
  if (len === start || len - start > 253) return false
  for (let i = start; i <= len; i++) {
    const c = i === len ? 0x2e : domain.charCodeAt(i)
    if (c === 0x2e) {
      const labelLength = i - start
      if (labelLength === 0 || labelLength > 63) return false
      if (domain.charCodeAt(start) === 0x2d || domain.charCodeAt(i - 1) === 0x2d) return false
      start = i + 1
    } else if (c > 0x7f || LET_DIG_HYP[c] === 0) {
      return false
    }
  }
  return true
}

// --- limits -----------------------------------------------------------------------------------

// The 400-day cap on Expires and Max-Age (RFC 6265bis §5.6.1 / §5.6.2) is lib/limits.ts's
// MAX_AGE_LIMIT_SECONDS, shared with the session timeouts and the server's configuration.
export { MAX_AGE_LIMIT_SECONDS }

/** RFC 6265bis §5.6: a user agent ignores a cookie whose name + value exceed 4096 octets. */
export const MAX_COOKIE_PAIR_BYTES = 4096

/**
 * `expires` must fall in years 1601–9999: RFC 6265bis §5.1.1 fails a cookie-date whose year is
 * below 1601, and IMF-fixdate (RFC 9110 §5.6.7) has a four-digit year.
 */
const EXPIRES_MIN_MS = Date.UTC(1601, 0, 1)
const EXPIRES_END_MS = Date.UTC(10_000, 0, 1)

/** RFC 6265bis §5.6: a user agent ignores an attribute whose value exceeds 1024 octets. */
const MAX_ATTRIBUTE_VALUE_BYTES = 1024

// --- serializing ------------------------------------------------------------------------------

/** Options of {@link serializeCookie}. Every one is optional; absent means "attribute not sent". */
export interface CookieSerializeOptions {
  /**
   * Turns the value into cookie-octets, e.g. `encodeURIComponent`; its output is validated like
   * a raw value and counted against the size limit. Errors it throws propagate unchanged.
   * Default: none, the value must already be cookie-octets.
   */
  encode?: (value: string) => string
  /**
   * Lifetime in **seconds** (RFC 6265bis §4.1.2.2), a finite number; fractions are floored.
   * Zero or negative sends `Max-Age=0` (expire now). Above 400 days throws. Default: none.
   */
  maxAge?: number
  /** Expiry as a valid `Date` in years 1601–9999, sent as an IMF-fixdate. Default: none. */
  expires?: Date
  /** Hostname the cookie is scoped to, optional leading ".". Default: none (host-only). */
  domain?: string
  /** Path scope; must start with "/" and not end with a space. Default: none (the request path's directory). */
  path?: string
  /** Hide from `document.cookie`. Default: false. */
  httpOnly?: boolean
  /** Send over HTTPS only. Default: false. */
  secure?: boolean
  /** CHIPS partitioned cookie; requires `secure`. Default: false. */
  partitioned?: boolean
  /** Low, Medium or High, case-insensitive. Default: none. */
  priority?: CookiePriority | Lowercase<CookiePriority>
  /** Strict, Lax or None, case-insensitive; None requires `secure`. Default: none. */
  sameSite?: CookieSameSite | Lowercase<CookieSameSite>
}

const DAY_NAMES = ['Thu', 'Fri', 'Sat', 'Sun', 'Mon', 'Tue', 'Wed'] // 1970-01-01 was a Thursday
const MONTH_NAMES = ['Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec', 'Jan', 'Feb']

function twoDigits(n: number): string {
  return n < 10 ? '0' + n : '' + n
}

/**
 * RFC 9110 §5.6.7:
 *   IMF-fixdate = day-name "," SP date1 SP time-of-day SP GMT
 *   date1       = day SP month SP year   ; e.g., 02 Jun 1982
 * The same text as `date.toUTCString()` for years 1000–9999, computed with integer arithmetic
 * (Howard Hinnant's civil_from_days) because V8's toUTCString measured ~2.5× slower.
 */
function imfFixdate(timeMs: number): string {
  const days = Math.floor(timeMs / 86_400_000)
  let seconds = Math.floor(timeMs / 1000) - days * 86_400
  const hours = Math.floor(seconds / 3600)
  seconds -= hours * 3600
  const minutes = Math.floor(seconds / 60)
  seconds -= minutes * 60
  // Days since 0000-03-01 in the proleptic Gregorian calendar, split into 400-year eras.
  const z = days + 719_468
  const era = Math.floor(z / 146_097)
  const dayOfEra = z - era * 146_097
  const yearOfEra = Math.floor((dayOfEra - Math.floor(dayOfEra / 1460) + Math.floor(dayOfEra / 36_524) - Math.floor(dayOfEra / 146_096)) / 365)
  const dayOfYear = dayOfEra - (365 * yearOfEra + Math.floor(yearOfEra / 4) - Math.floor(yearOfEra / 100))
  const month = Math.floor((5 * dayOfYear + 2) / 153) // 0 = March … 11 = February
  const day = dayOfYear - Math.floor((153 * month + 2) / 5) + 1
  const year = yearOfEra + era * 400 + (month >= 10 ? 1 : 0)
  return DAY_NAMES[((days % 7) + 7) % 7] + ', ' + twoDigits(day) + ' ' + MONTH_NAMES[month] + ' ' + year +
    ' ' + twoDigits(hours) + ':' + twoDigits(minutes) + ':' + twoDigits(seconds) + ' GMT'
}

/** True when `name` starts with `prefix` (given in lower case), ignoring ASCII case. */
function hasPrefix(name: string, prefix: string): boolean {
  return name.length >= prefix.length && name.slice(0, prefix.length).toLowerCase() === prefix
}

/** A value for an error message: strings quoted, numbers as written, anything else by its type. */
function describe(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value)
  return typeof value === 'number' ? String(value) : typeof value
}

/** Throws unless a boolean option is a boolean or absent; `key` names it in the message. */
function checkFlag(value: unknown, key: string): void {
  if (value !== undefined && typeof value !== 'boolean') {
    throw typeError(ErrorCodes.OPTION_INVALID, `cookie option ${key} must be a boolean`)
  }
}

/**
 * The last name and path that passed validation. A server serializes the same cookie name and
 * path over and over; validation is a pure function of the string, so a string identical to the
 * last good one needs no second character scan. (Values differ per cookie and are always checked.)
 */
const NOTHING_YET: unknown = Object.freeze({}) // equal to no argument a caller can pass
let lastGoodName: unknown = NOTHING_YET
let lastGoodPath: unknown = NOTHING_YET

/**
 * Serialize one cookie as a `Set-Cookie` header value. Strict: invalid input throws; the result
 * always matches RFC 6265bis §4.1.1 `set-cookie-string = cookie-pair *( ";" SP cookie-av )`.
 *
 * Attribute order (jshttp/cookie's): Max-Age, Domain, Path, Expires, HttpOnly, Secure,
 * Partitioned, Priority, SameSite.
 *
 * Throws, with `code`:
 * - `TypeError` ERR_COOKIE_NAME_INVALID: name is not an RFC 9110 token;
 * - `TypeError` ERR_COOKIE_VALUE_INVALID: value (after `encode`) is not cookie-octets. The value
 *   is not echoed in the message: it may be a session token, and errors get logged;
 * - `RangeError` ERR_COOKIE_TOO_LARGE: name + value over 4096 bytes (all ASCII by then, so
 *   characters are bytes);
 * - ERR_COOKIE_MAX_AGE_INVALID: `TypeError` for a non-number or non-finite `maxAge`
 *   (`'1e3'`, `NaN`, `Infinity`), `RangeError` above 400 days. We throw rather than clamp: user
 *   agents clamp silently, so a "one year" session would quietly end after 400 days while the
 *   store still holds it; a programmer should learn that at startup;
 * - ERR_COOKIE_EXPIRES_INVALID: `TypeError` for a non-Date or invalid Date, `RangeError` for a
 *   year outside 1601–9999. No 400-day check: user agents clamp Expires (§5.6.1), and a far
 *   date is a common way to say "long-lived" that does no harm;
 * - ERR_COOKIE_DOMAIN_INVALID / ERR_COOKIE_PATH_INVALID (`TypeError`; a Path over 1024 characters
 *   is a `RangeError`): the CVE-2024-47764 inputs `"/; Path=/x"`, `"example.com; Path=/"`,
 *   `"/\r\nSet-Cookie: a=b"` all land here;
 * - `TypeError` ERR_COOKIE_SAMESITE_INVALID / ERR_COOKIE_PRIORITY_INVALID: unknown keyword;
 * - `TypeError` ERR_COOKIE_INSECURE: `SameSite=None` or `Partitioned` without `Secure`
 *   (RFC 6265bis §5.7; CHIPS);
 * - `TypeError` ERR_COOKIE_PREFIX_VIOLATION: RFC 6265bis §4.1.3 and §5.7, prefixes
 *   matched case-insensitively: `__Secure-` needs `secure`; `__Host-` needs `secure`,
 *   `path: '/'` and no `domain`. The later draft prefixes `__Http-` (`secure` + `httpOnly`) and
 *   `__Host-Http-` (`__Host-` rules + `httpOnly`) are enforced as well;
 * - `TypeError` ERR_OPTION_INVALID: `encode` not a function, a flag not a boolean.
 */
export function serializeCookie(name: string, value: string, options?: CookieSerializeOptions): string {
  if (name !== lastGoodName) {
    if (typeof name !== 'string' || name.length === 0 || !allIn(name, TCHAR)) {
      throw typeError(ErrorCodes.COOKIE_NAME_INVALID, `cookie name is not an RFC 9110 token: ${describe(name)}`)
    }
    lastGoodName = name
  }
  if (typeof value !== 'string') {
    throw typeError(ErrorCodes.COOKIE_VALUE_INVALID, `cookie ${name}: value must be a string`)
  }
  let encoded = value
  const encode = options?.encode
  if (encode !== undefined) {
    if (typeof encode !== 'function') {
      throw typeError(ErrorCodes.OPTION_INVALID, 'cookie option encode must be a function')
    }
    encoded = encode(value)
    if (typeof encoded !== 'string') {
      throw typeError(ErrorCodes.COOKIE_VALUE_INVALID, `cookie ${name}: encode must return a string`)
    }
  }
  if (!COOKIE_VALUE.test(encoded)) {
    throw typeError(ErrorCodes.COOKIE_VALUE_INVALID, `cookie ${name}: value has characters outside cookie-octet`)
  }
  if (name.length + encoded.length > MAX_COOKIE_PAIR_BYTES) {
    throw rangeError(ErrorCodes.COOKIE_TOO_LARGE, `cookie ${name}: name + value exceed ${MAX_COOKIE_PAIR_BYTES} bytes`)
  }
  let str = name + '=' + encoded
  if (options === undefined) {
    // Nothing else to validate, except a prefixed name, which needs attributes it cannot have.
    if (name.charCodeAt(0) === 0x5f && name.charCodeAt(1) === 0x5f) checkPrefix(name, false, false, undefined, undefined)
    return str
  }

  const { maxAge, domain, path, expires } = options
  if (maxAge !== undefined) {
    if (typeof maxAge !== 'number' || !Number.isFinite(maxAge)) {
      throw typeError(ErrorCodes.COOKIE_MAX_AGE_INVALID, `cookie option maxAge must be a finite number of seconds: ${describe(maxAge)}`)
    }
    const seconds = Math.floor(maxAge)
    if (seconds > MAX_AGE_LIMIT_SECONDS) {
      throw rangeError(ErrorCodes.COOKIE_MAX_AGE_INVALID, `cookie option maxAge exceeds 400 days (${MAX_AGE_LIMIT_SECONDS} s): ${seconds}`)
    }
    // RFC 6265bis §4.1.1 writes max-age-av = "Max-Age=" non-zero-digit *DIGIT, but §5.6.2 defines
    // delta ≤ 0 as "expire now" and every user agent implements it; "Max-Age=0" is what servers
    // send to delete a cookie (Go's net/http does the same for MaxAge < 0). A negative number
    // would mean the same thing, so we normalise to 0.
    str += seconds > 0 ? '; Max-Age=' + seconds : '; Max-Age=0'
  }
  if (domain !== undefined) {
    if (typeof domain !== 'string' || !isDomain(domain)) {
      throw typeError(ErrorCodes.COOKIE_DOMAIN_INVALID, `cookie option domain is invalid: ${describe(domain)}`)
    }
    str += '; Domain=' + domain
  }
  if (path !== undefined) {
    // Stricter than `path-value = *av-octet`, where a user agent would silently do something
    // else: §5.6.4 replaces an empty Path or one not starting with "/" by the default path, and
    // §5.6 trims trailing whitespace off an attribute value. Both are programming mistakes.
    if (path !== lastGoodPath) {
      if (
        typeof path !== 'string' || path.charCodeAt(0) !== 0x2f /* / */ ||
        path.charCodeAt(path.length - 1) === 0x20 || !allIn(path, AV_OCTET)
      ) {
        throw typeError(ErrorCodes.COOKIE_PATH_INVALID, `cookie option path is invalid: ${describe(path)}`)
      }
      if (path.length > MAX_ATTRIBUTE_VALUE_BYTES) {
        throw rangeError(ErrorCodes.COOKIE_PATH_INVALID, `cookie option path exceeds ${MAX_ATTRIBUTE_VALUE_BYTES} bytes`)
      }
      lastGoodPath = path
    }
    str += '; Path=' + path
  }
  if (expires !== undefined) {
    const timeMs = expires instanceof Date ? expires.getTime() : NaN
    if (Number.isNaN(timeMs)) {
      throw typeError(ErrorCodes.COOKIE_EXPIRES_INVALID, 'cookie option expires must be a valid Date')
    }
    if (timeMs < EXPIRES_MIN_MS || timeMs >= EXPIRES_END_MS) {
      throw rangeError(ErrorCodes.COOKIE_EXPIRES_INVALID, `cookie option expires must fall in years 1601-9999: ${expires.toISOString()}`)
    }
    // RFC 6265bis §4.1.1: sane-cookie-date = IMF-fixdate.
    str += '; Expires=' + imfFixdate(timeMs)
  }
  const { httpOnly, secure, partitioned } = options
  checkFlag(httpOnly, 'httpOnly')
  checkFlag(secure, 'secure')
  checkFlag(partitioned, 'partitioned')
  if (httpOnly === true) str += '; HttpOnly'
  if (secure === true) str += '; Secure'
  if (partitioned === true) {
    // CHIPS (draft-cutler-httpbis-partitioned-cookies): a Partitioned cookie must be Secure.
    if (secure !== true) throw typeError(ErrorCodes.COOKIE_INSECURE, `cookie ${name}: partitioned requires secure`)
    str += '; Partitioned'
  }
  if (options.priority !== undefined) {
    const priority = priorityOf(options.priority)
    if (priority === undefined) {
      throw typeError(ErrorCodes.COOKIE_PRIORITY_INVALID, `cookie option priority must be Low, Medium or High: ${describe(options.priority)}`)
    }
    str += '; Priority=' + priority
  }
  if (options.sameSite !== undefined) {
    // Only the three keywords: jshttp/cookie's `sameSite: true` → Strict is not accepted, so a
    // boolean cannot silently pick the strictest (or any) mode.
    const sameSite = sameSiteOf(options.sameSite)
    if (sameSite === undefined) {
      throw typeError(ErrorCodes.COOKIE_SAMESITE_INVALID, `cookie option sameSite must be Strict, Lax or None: ${describe(options.sameSite)}`)
    }
    // RFC 6265bis §5.7: a user agent drops a SameSite=None cookie without Secure.
    if (sameSite === 'None' && secure !== true) {
      throw typeError(ErrorCodes.COOKIE_INSECURE, `cookie ${name}: sameSite None requires secure`)
    }
    str += '; SameSite=' + sameSite
  }
  // Prefix rules are checked only for names starting "__" (the cheap test first).
  if (name.charCodeAt(0) === 0x5f && name.charCodeAt(1) === 0x5f) checkPrefix(name, secure === true, httpOnly === true, path, domain)
  return str
}

/** RFC 6265bis §4.1.3 cookie name prefixes (see {@link serializeCookie}). */
function checkPrefix(name: string, secure: boolean, httpOnly: boolean, path: string | undefined, domain: string | undefined): void {
  const host = hasPrefix(name, '__host-')
  const http = hasPrefix(name, '__http-') || hasPrefix(name, '__host-http-')
  if ((host || http || hasPrefix(name, '__secure-')) && !secure) {
    throw typeError(ErrorCodes.COOKIE_PREFIX_VIOLATION, `cookie ${name}: its prefix requires secure`)
  }
  if (host && (path !== '/' || domain !== undefined)) {
    throw typeError(ErrorCodes.COOKIE_PREFIX_VIOLATION, `cookie ${name}: __Host- requires path "/" and no domain`)
  }
  if (http && !httpOnly) {
    throw typeError(ErrorCodes.COOKIE_PREFIX_VIOLATION, `cookie ${name}: its prefix requires httpOnly`)
  }
}
