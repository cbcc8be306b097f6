/**
 * Reading a `Set-Cookie` response header (RFC 6265bis §5.6), for HTTP clients, tests and
 * benchmarks: {@link parseSetCookie}. The server itself only writes Set-Cookie (serialize.ts);
 * this is how our tests and clients check what it wrote, with the user agent's rules.
 *
 * Lenient like the Cookie parser (parse.ts): it never throws, and it walks the line with the
 * same scanner (./scan.ts) under the same value policy, so a value reads the same in both.
 */
import { priorityOf, sameSiteOf, type CookiePriority, type CookieSameSite } from './keywords.js'
import { Segments } from './scan.js'

/** The attributes {@link parseSetCookie} understood. Optional ones are absent when not sent. */
export interface SetCookieAttributes {
  /** Seconds, as sent (may be 0 or negative: "expire now", RFC 6265bis §5.6.2). */
  maxAge?: number
  expires?: Date
  /** As sent: a leading "." and the case are kept (a user agent drops and lowercases them). */
  domain?: string
  /**
   * Absent means the default path (RFC 6265bis §5.1.4, the request path's directory), which a
   * later empty or non-"/" `Path` attribute also selects (§5.6.4: the last `Path` wins).
   */
  path?: string
  secure: boolean
  httpOnly: boolean
  /**
   * The last `SameSite` attribute (§5.6.7); `'Default'` when its value is none of Strict, Lax,
   * None (a user agent then applies its default enforcement, usually Lax).
   */
  sameSite?: CookieSameSite | 'Default'
  partitioned: boolean
  priority?: CookiePriority
}

/** One parsed `Set-Cookie` line. */
export interface SetCookie {
  name: string
  /** Same quote and %-decoding policy as `parseCookie` (./scan.ts `readValue`). */
  value: string
  attributes: SetCookieAttributes
}

/** RFC 6265bis §5.6.2: "-"? 1*DIGIT, else the attribute is ignored. */
function deltaSeconds(value: string): number | undefined {
  const first = value.charCodeAt(0) === 0x2d /* - */ ? 1 : 0
  if (value.length === first) return undefined
  for (let i = first; i < value.length; i++) {
    const c = value.charCodeAt(i)
    if (c < 0x30 || c > 0x39) return undefined
  }
  return Number(value)
}

/** This module's scanner, reused by every call (see {@link Segments} for why that is safe). */
const segments = new Segments()

/**
 * Parse one `Set-Cookie` header value, for HTTP clients, tests and benchmarks. Lenient and
 * never throws; returns `null` when the line has no `name=value` before its first ";" or the
 * name is empty (RFC 6265bis §5.6 would keep "v" as a nameless cookie; `parseCookie` skips it too).
 *
 * Attributes follow RFC 6265bis §5.6: names are case-insensitive, OWS is trimmed, unknown ones
 * are ignored, an invalid value ignores that attribute, and the last valid one wins (§5.7).
 * `Max-Age` must be "-"? DIGITs (§5.6.2); `Expires` is read with `Date.parse` (which accepts
 * IMF-fixdate and more than §5.1.1 does); an empty `Domain` is ignored (§5.6.3); a `Path` not
 * starting with "/" selects the default path, i.e. removes `path` (§5.6.4); an unknown `SameSite`
 * value is `'Default'` (§5.6.7); `SameSite` / `Priority` keywords come back in canonical case.
 * Not enforced (a user agent would): the 4096-byte and 1024-byte limits, CTL rejection, prefix
 * rules. The scan is linear in the line's length.
 */
export function parseSetCookie(line: string): SetCookie | null {
  if (typeof line !== 'string') return null
  segments.reset()
  if (!segments.nextSegment(line) || !segments.hasEq()) return null
  const name = segments.name(line)
  if (name.length === 0) return null
  const value = segments.value(line)
  const attributes: SetCookieAttributes = { secure: false, httpOnly: false, partitioned: false }
  while (segments.nextSegment(line)) {
    const val = segments.rawValue(line)
    switch (segments.name(line).toLowerCase()) {
      case 'max-age': {
        const seconds = deltaSeconds(val)
        if (seconds !== undefined) attributes.maxAge = seconds
        break
      }
      case 'expires': {
        const ms = Date.parse(val)
        if (!Number.isNaN(ms)) attributes.expires = new Date(ms)
        break
      }
      case 'domain':
        if (val.length > 0) attributes.domain = val
        break
      case 'path':
        // §5.6.4: an empty or relative value means the default path, and the last Path counts,
        // so it must also undo an earlier valid one ("Path=/dog; Path=" is the default path).
        if (val.charCodeAt(0) === 0x2f /* / */) attributes.path = val
        else delete attributes.path
        break
      case 'secure':
        attributes.secure = true
        break
      case 'httponly':
        attributes.httpOnly = true
        break
      case 'partitioned':
        attributes.partitioned = true
        break
      case 'samesite':
        // §5.6.7: the last SameSite counts; an unknown value is "Default", not "ignore me".
        attributes.sameSite = sameSiteOf(val) ?? 'Default'
        break
      case 'priority': {
        const priority = priorityOf(val)
        if (priority !== undefined) attributes.priority = priority
        break
      }
    }
  }
  return { name, value, attributes }
}
