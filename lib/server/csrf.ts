/**
 * CSRF defence for unsafe methods, by the browser's own request metadata: OWASP Cross-Site Request
 * Forgery Prevention Cheat Sheet, "Fetch Metadata headers" (W3C Fetch Metadata Request Headers:
 * `Sec-Fetch-Site`) and "Verifying Origin with Standard Headers" (`Origin`, RFC 6454). SameSite=Lax
 * on the session cookie is the first layer (RFC 6265bis §8.8); this is the second, for browsers
 * that send a cookie anyway (a same-site sibling, an old browser).
 *
 * Requests with neither header (curl, autocannon, server-to-server) pass: they are not a browser
 * riding on a victim's cookies. The router's context runs this before any handler
 * (lib/server/context.ts), so a refused request changes nothing.
 */
import type { IncomingMessage } from 'node:http'
import { HttpError } from '../http.js'

/** Where the CSRF Origin check takes the server's own origin from. */
export interface OriginPolicy {
  /**
   * The origins the site is served under (`https://app.example.com`), as configured by
   * PUBLIC_ORIGIN. When set, `Origin` must be one of them; `Host` is not consulted (a proxy may
   * rewrite it). Default: none (compare with `Host`).
   */
  publicOrigins?: readonly string[]
  /**
   * Behind a trusted proxy that sets X-Forwarded-Host and X-Forwarded-Proto: compare with them
   * instead of `Host` (last value, the one the nearest proxy set). Never without a proxy that
   * sets them: a client can send them itself. Default: false.
   */
  trustForwardedHost?: boolean
}

/**
 * Throws 403 when an unsafe request (not GET, HEAD or OPTIONS) comes from another site: a
 * `Sec-Fetch-Site` of `cross-site` or `same-site`, or an `Origin` that is not the server's own.
 */
export function checkCsrf(req: IncomingMessage, policy: OriginPolicy = {}): void {
  const method = req.method
  if (method === 'GET' || method === 'HEAD' || method === 'OPTIONS') return
  const site = req.headers['sec-fetch-site']
  // `same-site` is refused too: a sibling subdomain is another party (RFC 6265bis §8.8.1).
  if (site === 'cross-site' || site === 'same-site') throw new HttpError(403, 'Cross-site request refused')
  const origin = req.headers.origin
  if (origin === undefined) return
  // `Origin: null` (sandboxed frames, some redirects) and junk are not our origin.
  const url = URL.canParse(origin) ? new URL(origin) : null
  if (url === null || !sameOrigin(url, req, policy)) throw new HttpError(403, 'Cross-origin request refused')
}

function sameOrigin(url: URL, req: IncomingMessage, policy: OriginPolicy): boolean {
  const origins = policy.publicOrigins
  if (origins !== undefined && origins.length > 0) return origins.includes(url.origin)
  const headers = req.headers
  if (policy.trustForwardedHost === true) {
    const host = lastValue(headers['x-forwarded-host'])
    const proto = lastValue(headers['x-forwarded-proto'])
    if (host !== undefined) return url.host === host.toLowerCase() && (proto === undefined || url.protocol === `${proto.toLowerCase()}:`)
  }
  return url.host === headers.host
}

/** The last comma-separated value of a header (the one the nearest proxy appended). */
function lastValue(header: string | string[] | undefined): string | undefined {
  if (header === undefined) return undefined
  const text = String(header)
  const last = text.slice(text.lastIndexOf(',') + 1).trim()
  return last === '' ? undefined : last
}
