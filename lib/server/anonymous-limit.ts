/**
 * A per-client limit on new anonymous sessions.
 *
 * Anyone can make the server store a session without credentials (`POST /cart` with no cookie),
 * so without a limit one client fills the store: measured before this limit, 50,000 sessions
 * (57 MB) in 13 s on Redis, about 15 GB an hour, and on the memory store its flood evicted
 * logged-in users. Each new anonymous session is counted per client (an IPv4 address, an IPv6
 * /64: lib/ip.ts) in the shared store, checked and counted in one atomic step
 * ({@link Store.consume}), so the limit holds across instances and under parallel bursts.
 *
 * The default (1000 an hour per client) is sized for a NAT: a carrier-grade NAT or a campus
 * puts thousands of people behind one IPv4 address, and a visitor normally creates one session
 * and keeps its cookie. The worst case per client is then `limit` sessions per window: at the
 * default and about 1.1 KB per small session on Redis, about 1.1 MB an hour per client
 * (SECURITY.md, "Flood limits").
 */
import type { IncomingMessage } from 'node:http'
import { HttpError } from '../http.js'
import { clientKey } from '../ip.js'
import { sha256Base64url } from '../sha256.js'
import type { Store } from '../store.js'

export interface AnonymousLimitOptions {
  /** New anonymous sessions per client per window; 0 turns the limit off. */
  limit: number
  windowMs: number
  /** The request's client address (the proxy-reported one behind a trusted proxy). */
  clientIp: (req: IncomingMessage) => string
}

/** The session manager's `admitAnonymous` hook, or undefined when the limit is off. */
export function anonymousSessionLimit(store: Pick<Store, 'consume'>, options: AnonymousLimitOptions): ((req: IncomingMessage) => Promise<void>) | undefined {
  const { limit, windowMs, clientIp } = options
  if (limit === 0) return undefined
  return async (req) => {
    const client = sha256Base64url(clientKey(clientIp(req)))
    const verdict = await store.consume([{ key: `anon:${client}`, limit, windowMs }])
    if (!verdict.allowed) {
      const retryAfter = String(Math.max(1, Math.ceil(verdict.resetMs / 1000)))
      throw new HttpError(429, 'Too many new sessions from this network', { headers: { 'Retry-After': retryAfter } })
    }
  }
}
