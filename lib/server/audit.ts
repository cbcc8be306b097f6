/**
 * Security events raised by the auth server's endpoints (login, logout, password change, admin
 * actions), on the same stream as the session engine's (`sessions.events`, lib/events.ts).
 *
 * Callers check `events.active` first, so a server nobody observes builds nothing. The helper
 * adds who and where: the client IP (TRUST_PROXY aware) and the User-Agent, truncated — never the
 * request's cookie, the session ID or a password (OWASP ASVS 5.0 16.2.5).
 */
import type { IncomingMessage } from 'node:http'
import type { EventContext, SecurityEventMap, SecurityEvents } from '../events.js'
import { clientIp } from '../http.js'

const MAX_USER_AGENT = 256

export type Audit = <T extends keyof SecurityEventMap>(
  req: IncomingMessage,
  type: T,
  fields: EventContext & SecurityEventMap[T],
) => void

/** Build the emitter the routes use: `if (events.active) audit(req, 'logout', { … })`. */
export function auditor(events: SecurityEvents, trustProxy: boolean): Audit {
  return (req, type, fields) => {
    events.emit(type, {
      ip: clientIp(req, { trustProxy }),
      userAgent: (req.headers['user-agent'] ?? '').slice(0, MAX_USER_AGENT),
      ...fields,
    })
  }
}
