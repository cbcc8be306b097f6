/**
 * sessionkit's public API. This file only re-exports; each concern lives in its own module.
 */
export * from './errors.js'
export type * from './store.js'
export { parseCookie, readCookie } from './cookie/parse.js'
export type { CookieRecord } from './cookie/parse.js'
export { serializeCookie } from './cookie/serialize.js'
export type { CookieSerializeOptions } from './cookie/serialize.js'
export type { CookieSameSite, CookiePriority } from './cookie/keywords.js'
export { parseSetCookie } from './cookie/set-cookie.js'
export type { SetCookie, SetCookieAttributes } from './cookie/set-cookie.js'
export { sign, unsign, createSigner, MIN_SECRET_BYTES, SIGNATURE_LENGTH } from './signature.js'
export type { Secret, Signer, Unsigned } from './signature.js'
export {
  generateSessionId,
  hashSessionId,
  isWellFormedSessionId,
  sessionHandle,
  SESSION_ID_BYTES,
  SESSION_ID_LENGTH,
  SESSION_HANDLE_LENGTH,
} from './id.js'
export { MemoryStore } from './stores/memory.js'
export type { MemoryStoreOptions, MemoryStoreStats } from './stores/memory.js'
export { RedisStore } from './stores/redis.js'
export type { RedisStoreOptions, ClusterNodeAddress } from './stores/redis.js'
export { Router } from './router.js'
export type { Handler, RequestContext, RouteMatch, RouterOptions } from './router.js'
export { readJsonBody, sendJson, HttpError, parseJsonBody, requireFields, clientIp, isJsonContentType } from './http.js'
export type { HttpErrorOptions, ReadJsonBodyOptions, FieldSpec, Fields, ClientIpOptions } from './http.js'
export { createSessionManager, SessionManager } from './manager.js'
export type { CommitResult, SessionInfo, SessionStatus } from './manager.js'
export { Session } from './session.js'
export type { RegenerateOptions } from './session.js'
export type { SessionManagerOptions, SessionCookieOptions, ResolvedOptions, ResolvedCookieOptions, SessionLimitPolicy } from './options.js'
export { requireAuth, requireAdmin, requireRole, requireRecentAuth, REAUTH_REQUIRED } from './auth/guards.js'
export { SecurityEvents, SECURITY_EVENT_TYPES } from './events.js'
export type { SecurityEvent, SecurityEventType, SecurityEventMap, EventContext, RevokeReason, LoginFailureReason } from './events.js'
export type { Principal, UserLookup } from './auth/guards.js'
export { hashPassword, verifyPassword, passwordProblem, MAX_PASSWORD_BYTES } from './auth/password.js'
export { LoginThrottle } from './auth/throttle.js'
export type { LoginThrottleOptions, ThrottleDecision } from './auth/throttle.js'
export { canonicalIp, clientKey } from './ip.js'
export { redactCredentials } from './redact.js'
