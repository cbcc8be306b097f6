/**
 * The keyword attributes shared by the serializer and the Set-Cookie parser: `SameSite`
 * (RFC 6265bis §4.1.2.7, §5.6.7) and `Priority` (a Chromium extension, not in RFC 6265bis).
 * One canonical spelling each, matched case-insensitively on input, so what serialize.ts writes
 * and what set-cookie.ts reads back are the same words.
 */

/** `SameSite` values, canonical spelling. Input is matched case-insensitively. */
export type CookieSameSite = 'Strict' | 'Lax' | 'None'
/** `Priority` values (a Chromium extension, not in RFC 6265bis), canonical spelling. */
export type CookiePriority = 'Low' | 'Medium' | 'High'

/** The keywords in their canonical spelling, the most common first (checked in this order). */
const SAME_SITE: readonly CookieSameSite[] = ['Lax', 'Strict', 'None']
const PRIORITY: readonly CookiePriority[] = ['Medium', 'High', 'Low']

/** The keyword of `keywords` that `value` spells in any case, in its canonical spelling, or undefined. */
function keywordOf<K extends string>(keywords: readonly K[], value: unknown): K | undefined {
  // Canonical spellings first: no toLowerCase() allocation on the per-response path.
  for (const keyword of keywords) if (value === keyword) return keyword
  if (typeof value !== 'string') return undefined
  const lower = value.toLowerCase()
  for (const keyword of keywords) if (lower === keyword.toLowerCase()) return keyword
  return undefined
}

/** The canonical `SameSite` keyword for `value` (any case), or undefined. */
export function sameSiteOf(value: unknown): CookieSameSite | undefined {
  return keywordOf(SAME_SITE, value)
}

/** The canonical `Priority` keyword for `value` (any case), or undefined. */
export function priorityOf(value: unknown): CookiePriority | undefined {
  return keywordOf(PRIORITY, value)
}
