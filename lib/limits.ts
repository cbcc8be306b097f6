/**
 * Limits that several modules enforce, defined once so they cannot drift apart: the cookie
 * lifetime cap (session timeouts, the server's configuration and the cookie serializer all stop
 * at it) and the longest delay a Node timer can take.
 */

/**
 * RFC 6265bis §5.6.1 / §5.6.2: user agents cap a cookie's Expires and Max-Age at 400 days
 * (400 × 86 400 = 34 560 000 seconds). A session that should outlive it would quietly end there.
 */
export const MAX_AGE_LIMIT_SECONDS = 400 * 86_400

/** {@link MAX_AGE_LIMIT_SECONDS} in milliseconds: the longest session timeout worth configuring. */
export const MAX_COOKIE_LIFETIME_MS = MAX_AGE_LIMIT_SECONDS * 1000

/**
 * The longest `setTimeout`/`setInterval` delay: Node stores it in a signed 32-bit integer, and a
 * longer one is replaced by 1 ms (the timer fires at once, with a TimeoutOverflowWarning).
 */
export const MAX_TIMER_MS = 2 ** 31 - 1
