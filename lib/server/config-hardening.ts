/**
 * The auth server's hardening settings, read from the environment with the rest of the
 * configuration (lib/server/config.ts): login throttle limits, the per-client limit on new
 * anonymous sessions, the memory store's budgets, the proxy set-up and security headers.
 * SECURITY.md explains each default.
 *
 * | variable                 | default            | meaning                                           |
 * |--------------------------|--------------------|---------------------------------------------------|
 * | LOGIN_PAIR_LIMIT         | 5                  | attempts per account and client per window        |
 * | LOGIN_CLIENT_LIMIT       | 50                 | failed attempts per client per window             |
 * | LOGIN_ACCOUNT_LIMIT      | 100                | failed attempts per account (all clients)         |
 * | LOGIN_WINDOW_MS          | 900000 (15 min)    | window of the pair and client limits              |
 * | LOGIN_ACCOUNT_WINDOW_MS  | 3600000 (1 h)      | window of the account-wide limit                  |
 * | ANON_SESSION_LIMIT       | 1000               | new anonymous sessions per client per window (0 = off) |
 * | ANON_SESSION_WINDOW_MS   | 3600000 (1 h)      | its window                                        |
 * | MEMORY_MAX_SESSIONS      | 100000             | memory store: sessions held                       |
 * | MEMORY_MAX_ANON_SESSIONS | half the above     | memory store: anonymous sessions held             |
 * | MEMORY_MAX_COUNTERS      | 100000             | memory store: rate-limit counters held            |
 * | PUBLIC_ORIGIN            | (unset)            | comma-separated origins the CSRF Origin check accepts |
 * | TRUST_FORWARDED_HOST     | false              | with TRUST_PROXY: X-Forwarded-Host/-Proto are the origin |
 * | HSTS_INCLUDE_SUBDOMAINS  | false              | production HSTS covers subdomains too             |
 * | CLEAR_SITE_DATA_COOKIES  | false              | logout also clears every cookie of the site       |
 * | SESSION_COOKIE_NAME      | sid / __Host-sid   | session cookie name (production: a `__Host-` one) |
 */
import { ConfigError, envFlag, envInteger, envText } from './env.js'

export interface HardeningConfig {
  login: {
    maxFailuresPerPair: number
    maxFailuresPerClient: number
    maxFailuresPerAccount: number
    windowMs: number
    accountWindowMs: number
  }
  /** New anonymous sessions per client per window; `limit` 0 turns the limit off. */
  anonymousSessions: { limit: number; windowMs: number }
  memory: { maxSessions?: number; maxAnonymousSessions?: number; maxCounters?: number }
  /** Origins (`scheme://host[:port]`) the CSRF check accepts; empty: compare with Host. */
  publicOrigins: string[]
  /** With TRUST_PROXY: take the expected origin from X-Forwarded-Host and X-Forwarded-Proto. */
  trustForwardedHost: boolean
  hstsIncludeSubdomains: boolean
  clearSiteCookies: boolean
  cookieName: string
}

const HOUR = 3_600_000
const DAY = 24 * HOUR
const MAX_COUNT = 1e9

type Env = NodeJS.ProcessEnv

function optional(env: Env, name: string): number | undefined {
  return envText(env, name) === undefined ? undefined : envInteger(env, name, 0, 1, MAX_COUNT)
}

/** PUBLIC_ORIGIN entries as serialized origins; a path, query or credentials are refused. */
function origins(raw: string | undefined): string[] {
  if (raw === undefined) return []
  return raw.split(',').map((s) => s.trim()).filter((s) => s !== '').map((entry) => {
    const url = URL.canParse(entry) ? new URL(entry) : null
    if (url === null || (url.protocol !== 'https:' && url.protocol !== 'http:') || url.username !== '' ||
      url.password !== '' || url.pathname !== '/' || url.search !== '' || url.hash !== '' || entry.endsWith('/')) {
      throw new ConfigError(`PUBLIC_ORIGIN entries must be origins like https://app.example.com (scheme, host, optional port; no path), got "${entry}"`)
    }
    return url.origin
  })
}

/** A cookie name: an RFC 9110 token; a `__Secure-`/`__Host-`-style prefix only in production (it needs Secure). */
function cookieName(env: Env, production: boolean): string {
  const name = envText(env, 'SESSION_COOKIE_NAME')
  if (name === undefined) return production ? '__Host-sid' : 'sid'
  if (!/^[!#$%&'*+.^`|~\w-]+$/.test(name)) throw new ConfigError(`SESSION_COOKIE_NAME must be a cookie name token, got "${name}"`)
  if (/^__(secure|host|http)-/i.test(name) && !production) {
    throw new ConfigError(`SESSION_COOKIE_NAME "${name}" has a prefix that needs a Secure cookie: only with NODE_ENV=production`)
  }
  return name
}

export function loadHardening(env: Env, production: boolean, trustProxy: boolean): HardeningConfig {
  const trustForwardedHost = envFlag(env, 'TRUST_FORWARDED_HOST')
  if (trustForwardedHost && !trustProxy) {
    throw new ConfigError('TRUST_FORWARDED_HOST needs TRUST_PROXY=true: the X-Forwarded-* headers are client-controlled without a proxy')
  }
  return {
    login: {
      maxFailuresPerPair: envInteger(env, 'LOGIN_PAIR_LIMIT', 5, 1, MAX_COUNT),
      maxFailuresPerClient: envInteger(env, 'LOGIN_CLIENT_LIMIT', 50, 1, MAX_COUNT),
      maxFailuresPerAccount: envInteger(env, 'LOGIN_ACCOUNT_LIMIT', 100, 1, MAX_COUNT),
      windowMs: envInteger(env, 'LOGIN_WINDOW_MS', 15 * 60_000, 1000, DAY),
      accountWindowMs: envInteger(env, 'LOGIN_ACCOUNT_WINDOW_MS', HOUR, 1000, DAY),
    },
    anonymousSessions: {
      limit: envInteger(env, 'ANON_SESSION_LIMIT', 1000, 0, MAX_COUNT),
      windowMs: envInteger(env, 'ANON_SESSION_WINDOW_MS', HOUR, 1000, DAY),
    },
    memory: {
      maxSessions: optional(env, 'MEMORY_MAX_SESSIONS'),
      maxAnonymousSessions: optional(env, 'MEMORY_MAX_ANON_SESSIONS'),
      maxCounters: optional(env, 'MEMORY_MAX_COUNTERS'),
    },
    publicOrigins: origins(env.PUBLIC_ORIGIN),
    trustForwardedHost,
    hstsIncludeSubdomains: envFlag(env, 'HSTS_INCLUDE_SUBDOMAINS'),
    clearSiteCookies: envFlag(env, 'CLEAR_SITE_DATA_COOKIES'),
    cookieName: cookieName(env, production),
  }
}
