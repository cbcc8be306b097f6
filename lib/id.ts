/**
 * Session IDs: how they are made, checked, and turned into store keys and public handles.
 *
 * Three values, each derived one-way from the one before, and each with one job:
 *
 * | value        | where it lives             | what it can do                        |
 * |--------------|----------------------------|---------------------------------------|
 * | session ID   | the cookie only            | authenticates the request (a bearer)  |
 * | storage key  | the store (Redis / memory) | finds the record; cannot authenticate |
 * | handle       | "your sessions" lists, logs | names a session to revoke; nothing else |
 *
 * @module
 */
import crypto from 'node:crypto'
import { sha256Base64url } from './sha256.js'

/** Bytes of randomness in a session ID: 32 bytes = 256 bits. */
export const SESSION_ID_BYTES = 32

/** Length of a session ID in base64url characters: ceil(32 * 8 / 6) = 43, no padding. */
export const SESSION_ID_LENGTH = 43

/** Length of a {@link sessionHandle} in base64url characters (16 × 6 = 96 bits). */
export const SESSION_HANDLE_LENGTH = 16

// How many IDs one refill of the pool serves. crypto.randomUUID() caches 128 UUIDs' worth of
// entropy the same way (node's `lib/internal/crypto/random.js`, "uuidData"), for the same reason:
// each randomFillSync() call is a trip into OpenSSL, and one 4 KiB fill costs about as much as a
// 32-byte one. bench/micro.ts measures the pool at >10× randomBytes(32) per ID (bench/RESULTS.md).
const POOL_IDS = 128
const pool = Buffer.alloc(SESSION_ID_BYTES * POOL_IDS)
let poolOffset = pool.length // empty: the first call fills it

/**
 * A new session ID: 32 bytes from the operating system's CSPRNG, as 43 base64url characters.
 *
 * Why 256 bits. OWASP's Session Management Cheat Sheet asks for at least 64 bits of entropy and
 * ASVS 5.0 (V7.2) asks for at least 128. With 128 bits, an attacker making 10^9 guesses a second
 * against a site with 10^6 live sessions still needs 2^127 / (10^6 · 10^9) ≈ 1.7·10^23 seconds
 * (5·10^15 years) for an even chance of hitting any one; 256 bits adds a margin that costs
 * nothing (21 more cookie characters than 128 bits would) and makes the count of live sessions
 * irrelevant.
 *
 * Why not `Math.random()`. V8's Math.random is xorshift128+: 128 bits of state, not a CSPRNG, and
 * its state can be solved for from a handful of outputs, after which every later "random" ID is
 * predictable. `crypto.randomFillSync` reads the OS generator (getrandom(2) via OpenSSL).
 *
 * The bytes come from a pool of 128 IDs filled in one call. Each ID's bytes are zeroed as soon as
 * they are encoded, so the pool never holds an ID that has been handed out.
 */
export function generateSessionId(): string {
  if (poolOffset === pool.length) {
    crypto.randomFillSync(pool)
    poolOffset = 0
  }
  const start = poolOffset
  const end = start + SESSION_ID_BYTES
  poolOffset = end
  const id = pool.toString('base64url', start, end)
  pool.fill(0, start, end)
  return id
}

// 42 characters from the base64url alphabet, then one whose low 2 bits are zero. 43 characters
// carry 258 bits but 32 bytes are 256, so the encoder always writes 0 in the last 2 bits: the
// last character is one of the 16 alphabet entries whose index is a multiple of 4. Refusing the
// other 48 keeps the ID canonical: exactly one string per 32-byte value.
const SESSION_ID_RE = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/

/**
 * True when `id` has the exact shape {@link generateSessionId} produces: 43 base64url characters,
 * canonical last character. The engine calls this before hashing, so junk cookies (empty, huge,
 * wrong alphabet) cost one regular-expression test and never reach the store. Never throws.
 */
export function isWellFormedSessionId(id: unknown): id is string {
  return typeof id === 'string' && id.length === SESSION_ID_LENGTH && SESSION_ID_RE.test(id)
}

/**
 * The key a session is stored under: SHA-256 of the ID, base64url (43 characters).
 *
 * The store never sees the ID itself, so a leaked dump, a replica, a backup or a `MONITOR` log
 * holds keys that cannot be replayed as cookies: turning a key back into an ID is a SHA-256
 * preimage search over 2^256 inputs. (The Lucia guide and OWASP's cheat sheet give the same
 * advice: treat session IDs like passwords at rest.) A plain hash is enough here; a slow or salted
 * hash protects low-entropy secrets such as passwords, and a 256-bit random ID is not guessable.
 *
 * Call {@link isWellFormedSessionId} first; this function hashes whatever string it is given.
 */
export function hashSessionId(id: string): string {
  return sha256Base64url(id)
}

/**
 * A short public name for a session, for "signed-in devices" lists and revoke-by-handle APIs:
 * the first 16 base64url characters (96 bits) of SHA-256('handle:' + storageKey).
 *
 * It reveals nothing usable. It is one-way from the storage key, which is itself one-way from the
 * ID, so a handle shown in a page or a log leads neither to the cookie nor to the store record.
 * The `handle:` prefix separates this hash from {@link hashSessionId}'s, so a handle is never a
 * prefix of any storage key. 96 bits keep collisions out of reach (about 2^48 sessions before a
 * one-in-two chance of any two handles colliding), while staying short enough for a URL.
 *
 * A handle is not an authenticator: the routes that accept one must still check that the
 * requesting user owns the session it names.
 */
export function sessionHandle(storageKey: string): string {
  return sha256Base64url('handle:' + storageKey).slice(0, SESSION_HANDLE_LENGTH)
}
