/**
 * The auth server's login page: one HTML document and two static assets, no framework and no
 * build step. `GET /` serves the page, `GET /assets/app.js` its script and `GET /assets/app.css`
 * its stylesheet; the texts live in ./assets/ and the script talks to the JSON routes with fetch.
 *
 * Bodies and headers are computed once at import: every request writes the same Buffer.
 */
import type { OutgoingHttpHeaders } from 'node:http'
import type { RequestContext, Router } from '../router.js'
import { sha256Base64url } from '../sha256.js'
import { APP_CSS } from './assets/app-css.js'
import { APP_JS } from './assets/app-js.js'
import { PAGE_HTML } from './assets/page-html.js'

/**
 * The Content-Security-Policy of the page and its assets. Everything comes from our own origin and
 * nothing is inline, so an injected `<script>` or `onerror=` attribute does not run (OWASP Content
 * Security Policy Cheat Sheet); `frame-ancestors 'none'` stops clickjacking of the login form
 * (OWASP Clickjacking Defense Cheat Sheet), `form-action 'self'` stops an injected form from posting
 * credentials elsewhere, `base-uri 'none'` stops a `<base>` tag from redirecting relative URLs.
 */
export const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "connect-src 'self'",
  "img-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ')

/** Headers sent with every page response, 200 and 304 alike. */
const SECURITY_HEADERS = {
  'Content-Security-Policy': PAGE_CSP,
  // Browsers must not guess another type for our script or stylesheet (MIME confusion).
  'X-Content-Type-Options': 'nosniff',
  // The page URL goes nowhere: it has no secret today, and a referrer is not needed for any link.
  'Referrer-Policy': 'no-referrer',
  // For browsers without CSP frame-ancestors support (OWASP Clickjacking Defense Cheat Sheet).
  'X-Frame-Options': 'DENY',
  // Revalidate on each use: a deploy is visible at once, and the ETag makes a revalidation a
  // bodyless 304 (RFC 9111 §5.2.2.4).
  'Cache-Control': 'no-cache',
} as const

interface Asset {
  readonly body: Buffer
  readonly etag: string
  readonly ok: OutgoingHttpHeaders
  readonly notModified: OutgoingHttpHeaders
}

function asset(text: string, contentType: string): Asset {
  const body = Buffer.from(text, 'utf8')
  // A content hash, not a time or a counter: every worker of a cluster gives the same ETag.
  const etag = `"${sha256Base64url(body).slice(0, 27)}"`
  const notModified = { ...SECURITY_HEADERS, ETag: etag }
  return {
    body,
    etag,
    ok: { ...notModified, 'Content-Type': contentType, 'Content-Length': body.length },
    notModified,
  }
}

/** The three routes and what they serve. text/javascript is the registered type (RFC 9239). */
const ASSETS: ReadonlyMap<string, Asset> = new Map([
  ['/', asset(PAGE_HTML, 'text/html; charset=utf-8')],
  ['/assets/app.js', asset(APP_JS, 'text/javascript; charset=utf-8')],
  ['/assets/app.css', asset(APP_CSS, 'text/css; charset=utf-8')],
])

/**
 * True when an If-None-Match header names `etag` or is `*`. If-None-Match uses the weak
 * comparison (RFC 9110 §13.1.2), so `W/"x"` matches `"x"`.
 */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false
  return header.split(',').some((tag) => {
    const t = tag.trim()
    return t === '*' || (t.startsWith('W/') ? t.slice(2) : t) === etag
  })
}

function send({ req, res }: RequestContext, file: Asset): void {
  if (matchesEtag(req.headers['if-none-match'], file.etag)) {
    res.writeHead(304, file.notModified).end()
    return
  }
  res.writeHead(200, file.ok).end(req.method === 'HEAD' ? undefined : file.body)
}

/**
 * Add `GET /`, `GET /assets/app.js` and `GET /assets/app.css` (HEAD answered too) to `router`.
 * Conditional GET with If-None-Match is answered 304.
 * @throws TypeError `ERR_ROUTE_INVALID` when one of the paths is already registered for GET.
 */
export function registerPage<C extends RequestContext>(router: Router<C>): Router<C> {
  for (const [path, file] of ASSETS) router.get(path, (ctx) => send(ctx, file))
  return router
}
