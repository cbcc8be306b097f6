/**
 * Password hashing and checking with bcrypt (`@node-rs/bcrypt`, native), run on low-priority
 * worker threads (lib/auth/bcrypt-pool.ts), so a ~50–100 ms hash at cost 10 neither blocks nor
 * starves the event loop.
 *
 * **What goes into bcrypt.** bcrypt reads at most 72 bytes of its input and ignores the rest
 * (Provos & Mazières 1999; OWASP Password Storage Cheat Sheet, "Input Limits of bcrypt"), and some
 * implementations stop at the first NUL byte. So two 80-byte passwords that share their first 72
 * bytes would both verify, and so would `"a\0b"` against `"a\0c"` elsewhere. We therefore never
 * give bcrypt the password itself but
 *
 *     bcryptInput = base64( SHA-256( NFC(password) ) )      // 44 ASCII bytes
 *
 * - SHA-256 makes every byte of the password count, at any length up to {@link MAX_PASSWORD_BYTES}.
 * - base64 matters: the raw 32-byte digest may contain `0x00`, and an implementation that stops at
 *   NUL would hash only the bytes before it (a digest starting with `0x00` would match *every*
 *   other such password). base64 has no NUL and 44 < 72, so bcrypt sees all of it. This is the
 *   `bcrypt_sha256` construction of passlib.
 * - NFC (Unicode Normalization Form C, as RFC 8265's OpaqueString profile for passwords uses):
 *   "é" typed as one code point (macOS, Windows) or as "e" + combining accent must be the same
 *   password. NFC never folds visually different characters together (NFKC would turn "ﬁ" into
 *   "fi"), so it does not shrink the password space.
 *
 * **The caveat.** OWASP's cheat sheet calls pre-hashing dangerous "due to password shucking": if a
 * user reuses a password that another site leaked as an *unsalted* SHA-256, an attacker holding
 * both leaks can test that site's hashes directly against our bcrypt hashes (bcrypt's salt does
 * not stop this; the attacker feeds it candidate digests, not candidate passwords) and then crack
 * the fast SHA-256 instead of bcrypt. It only helps against passwords that are already exposed as
 * fast hashes elsewhere, which is why we accept it here in exchange for the 72-byte fix. The
 * complete remedy is a pepper: `HMAC-SHA-256(pepper, password)` instead of plain SHA-256, with the
 * pepper kept outside the user file; a leaked foreign digest then matches nothing. Adding one
 * later needs a hash-format marker, since existing hashes would no longer verify.
 */
import { createHash, randomBytes } from 'node:crypto'
import { bcryptPool } from './bcrypt-pool.js'
import { ErrorCodes, rangeError, typeError } from '../errors.js'

/**
 * Longest password accepted, in UTF-8 bytes. Longer input is refused before any hashing, so a
 * megabyte "password" costs nothing (OWASP Authentication Cheat Sheet: limit length to prevent
 * long-password DoS). Far above any real passphrase.
 */
export const MAX_PASSWORD_BYTES = 1024
/**
 * Shortest *new* password, in Unicode code points (OWASP Authentication Cheat Sheet, after NIST
 * SP 800-63B rev. 3 §5.1.1.2: at least 8; rev. 4 asks 15 for a password that is the only factor).
 */
export const MIN_PASSWORD_LENGTH = 8
/** bcrypt's cost range: 2^4 … 2^31 rounds. */
export const MIN_BCRYPT_COST = 4
export const MAX_BCRYPT_COST = 31

/**
 * A modular-crypt bcrypt string: `$2a$`, `$2b$` or `$2y$` (all verify the same for our ASCII
 * input; `$2x$` marks the old crypt_blowfish sign-extension bug and is refused), a two-digit cost,
 * then 22 characters of salt and 31 of hash in bcrypt's base64 alphabet.
 */
const BCRYPT_HASH = /^\$2[aby]\$(0[4-9]|[12]\d|3[01])\$[./A-Za-z0-9]{53}$/
/** In `u` mode a surrogate *pair* is one code point, so this matches only lone surrogates. */
const LONE_SURROGATE = /\p{Surrogate}/u

/** True if `value` looks like a bcrypt hash we can verify against (format only). */
export function isBcryptHash(value: unknown): value is string {
  return typeof value === 'string' && BCRYPT_HASH.test(value)
}

/**
 * Why `pw` is not acceptable, as a message for the user, or `null` if it is.
 *
 * Always refused: not a string, empty, more than {@link MAX_PASSWORD_BYTES} UTF-8 bytes, or a lone
 * UTF-16 surrogate (not text; UTF-8 encoding would turn every one into U+FFFD, so different inputs
 * would collide). With `forNew`, also fewer than {@link MIN_PASSWORD_LENGTH} code points. No
 * composition rules (OWASP Authentication Cheat Sheet: allow all characters, including spaces).
 */
export function passwordProblem(pw: unknown, options: { forNew?: boolean } = {}): string | null {
  if (typeof pw !== 'string') return 'password must be a string'
  if (pw === '') return 'password is empty'
  if (Buffer.byteLength(pw, 'utf8') > MAX_PASSWORD_BYTES) {
    return `password is longer than ${MAX_PASSWORD_BYTES} bytes`
  }
  if (LONE_SURROGATE.test(pw)) return 'password is not well-formed Unicode text'
  if (options.forNew === true && [...pw.normalize('NFC')].length < MIN_PASSWORD_LENGTH) {
    return `password must be at least ${MIN_PASSWORD_LENGTH} characters`
  }
  return null
}

/** base64(SHA-256(NFC(pw))): 44 ASCII bytes, no NUL, under bcrypt's 72 (see the file comment). */
function bcryptInput(pw: string): string {
  return createHash('sha256').update(pw.normalize('NFC'), 'utf8').digest('base64')
}

/**
 * Hash a new password. Rejects with `TypeError` `ERR_PASSWORD_INVALID` if {@link passwordProblem}
 * (with `forNew`) objects, and with `RangeError` `ERR_OPTION_INVALID` for a cost outside 4–31.
 *
 * @param cost bcrypt's log2 work factor. OWASP suggests at least 10; each +1 doubles the time.
 *   Default: `10`.
 * @returns a `$2b$` modular-crypt string with its own random salt.
 */
export async function hashPassword(pw: string, cost = 10): Promise<string> {
  if (!Number.isInteger(cost) || cost < MIN_BCRYPT_COST || cost > MAX_BCRYPT_COST) {
    // @node-rs/bcrypt would silently truncate 10.5 to 10: refuse instead.
    throw rangeError(ErrorCodes.OPTION_INVALID, `cost must be an integer from 4 to 31: ${String(cost)}`)
  }
  const problem = passwordProblem(pw, { forNew: true })
  if (problem !== null) throw typeError(ErrorCodes.PASSWORD_INVALID, problem)
  return bcryptPool.hash(bcryptInput(pw), cost)
}

/**
 * Check `pw` against a stored hash. Resolves `false` for a wrong password, for a password that
 * {@link passwordProblem} refuses (before bcrypt runs), and for a missing or malformed stored hash.
 * Never rejects and logs nothing: a broken user record must look like a wrong password, never
 * like a 500 that tells the caller which accounts exist.
 */
export async function verifyPassword(pw: unknown, storedHash: unknown): Promise<boolean> {
  if (passwordProblem(pw) !== null || !isBcryptHash(storedHash)) return false
  try {
    return await bcryptPool.verify(bcryptInput(pw as string), storedHash)
  } catch {
    // The binding answers `false` for every malformed hash we found; this keeps the promise of
    // "never rejects" if a future version throws instead.
    return false
  }
}

/**
 * A hash of a random password that nobody knows. For a login with an unknown email, verify the
 * submitted password against this instead of returning early, so that "no such user" takes as
 * long as "wrong password" and response times do not reveal which emails have accounts (OWASP
 * Authentication Cheat Sheet, "Authentication and Error Messages"). Use the same cost as the
 * stored hashes; create it once at start-up.
 */
export function createDummyHash(cost = 10): Promise<string> {
  return hashPassword(randomBytes(32).toString('base64url'), cost)
}
