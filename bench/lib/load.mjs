/**
 * Load generation with autocannon's programmatic API, and the three throughput scenarios every
 * server runs. A run is valid only when every answer was 2xx and nothing failed: a server that
 * answers 401s or 503s fast must not look fast.
 */
import autocannon from 'autocannon'
import { sessionCookie } from './servers.mjs'

/** Run autocannon with `opts` (its own option names) and resolve to its result. */
export function cannon(opts) {
  return autocannon(opts)
}

/**
 * The figures a table needs from an autocannon result. `rps` is completed requests over the
 * measured time; latencies are in ms.
 */
export function summarize(result) {
  const total = result.requests.total
  const invalid = []
  if (total === 0) invalid.push('no requests completed')
  if (result.non2xx > 0) invalid.push(`${result.non2xx} non-2xx`)
  if (result.errors > 0) invalid.push(`${result.errors} errors (${result.timeouts} timeouts)`)
  return {
    rps: total / result.duration,
    total,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    statusCodes: result.statusCodeStats,
    valid: invalid.length === 0,
    invalid,
  }
}

/** The request body of every POST /cart. */
const CART_BODY = JSON.stringify({ item: 'bench-item' })
/** Writes per session in the cart scenario: under the 100-item cap of POST /cart. */
export const CART_WRITES_PER_SESSION = 99

/**
 * Throughput scenarios: name → what to ask of a server (autocannon options; a path goes in the
 * URL, since autocannon ignores a top-level `path`). `needsCookie` says whether the harness
 * logs in first and passes the session cookie; `check` is a path that must answer 200 with it.
 */
export const THROUGHPUT = {
  dashboard: {
    title: 'Authenticated GET /dashboard',
    needsCookie: true,
    check: '/dashboard',
    options: ({ url, cookie }) => ({ url: `${url}/dashboard`, headers: cookie ? { cookie } : {} }),
  },
  public: {
    title: 'Anonymous GET /assets/app.css (public route, no store access)',
    needsCookie: false,
    check: '/assets/app.css',
    options: ({ url }) => ({ url: `${url}/assets/app.css` }),
  },
  cart: {
    title: 'Session write: POST /cart',
    needsCookie: false,
    check: null,
    options: ({ url }) => ({ url, requests: cartRequests() }),
  },
}

/**
 * POST /cart on every request. Each connection starts without a cookie: its first POST creates a
 * session (the cart is open to anonymous visitors) and the answer's Set-Cookie is kept; the next
 * 98 POSTs add to that session's cart. autocannon clears the per-connection context when its
 * request list wraps around, so the 100th request starts a fresh session — the cart never reaches
 * its 100-item cap (which answers 400), and 98 of every 99 requests rewrite an existing session.
 */
function cartRequests() {
  const headers = { 'content-type': 'application/json' }
  const create = {
    method: 'POST',
    path: '/cart',
    headers,
    body: CART_BODY,
    onResponse: (status, body, context, resHeaders) => {
      context.cookie = sessionCookie(resHeaders)
    },
  }
  const update = {
    method: 'POST',
    path: '/cart',
    headers,
    body: CART_BODY,
    // No onResponse here: a cart write keeps the session ID, so the cookie never changes (and
    // parsing every answer's headers would make the client, not the server, the bottleneck).
    setupRequest: (req, context) => (context.cookie ? { ...req, headers: { ...req.headers, cookie: context.cookie } } : req),
  }
  return [create, ...Array.from({ length: CART_WRITES_PER_SESSION - 1 }, () => update)]
}
