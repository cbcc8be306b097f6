/**
 * HMAC-SHA256 signatures for cookie values, with secret rotation and constant-time checks.
 *
 * A signed value is `value + '.' + base64url(HMAC-SHA256(secret, UTF-8(value)))`: the value, a
 * dot, and 43 characters of signature (32 bytes, no padding). The session cookie carries a random
 * ID that is already unguessable; the signature is a cheap first filter on top: a forged or
 * mangled cookie is refused by one HMAC, before any store lookup, so guessing at IDs costs the
 * attacker a MAC they cannot compute instead of costing us a store round trip.
 *
 * Rotation: give a list of secrets, current first. New values are always signed with the first;
 * values signed with any listed secret still verify, and {@link Unsigned.secretIndex} tells the
 * caller to re-sign. Drop a secret from the list to retire it.
 *
 * @module
 */
import { timingSafeEqual } from 'node:crypto'
import { ErrorCodes, typeError } from './errors.js'
import { sha256Base64url, sha256Bytes } from './sha256.js'

/**
 * A signing secret: a string (its UTF-8 bytes are the key) or a Buffer. At least
 * {@link MIN_SECRET_BYTES} bytes; generate one with `crypto.randomBytes(32).toString('base64url')`.
 */
export type Secret = string | Buffer

/**
 * Shortest secret accepted, in bytes: the SHA-256 output length. RFC 2104 §3: a key shorter than
 * the output "is strongly discouraged as it would decrease the security strength of the
 * function".
 */
export const MIN_SECRET_BYTES = 32

/** Length of the signature part in base64url characters: ceil(32 * 8 / 6) = 43, no padding. */
export const SIGNATURE_LENGTH = 43

/** What {@link unsign} returns for a valid signed string. */
export interface Unsigned {
  /** The value that was signed. */
  readonly value: string
  /**
   * Which secret verified it: 0 is the current secret. Anything else means the value was signed
   * with an older secret still in the rotation list; the caller should re-sign it with the
   * current one (send a fresh cookie) so the old secret can be retired.
   */
  readonly secretIndex: number
}

/** A signer bound to a validated, pre-processed list of secrets. See {@link createSigner}. */
export interface Signer {
  /** Sign with the current (first) secret. Throws `ERR_SIGN_VALUE_INVALID` like {@link sign}. */
  sign(value: string): string
  /** Verify against every secret, current first. Never throws; `null` when invalid. */
  unsign(signed: string): Unsigned | null
}

// --- HMAC-SHA256 -------------------------------------------------------------------------------
//
// RFC 2104 §2, written out over one-shot SHA-256 instead of crypto.createHmac():
//
//   HMAC(K, m) = H((K' ⊕ opad) ‖ H((K' ⊕ ipad) ‖ m)),  K' = K zero-padded to the 64-byte block
//                                                       (H(K) first when K is longer, §3)
//
// Why by hand: this runs on every request, and a profile of unsign() put ~45 % of its time in
// the Hmac constructor and ~15 % in GC of the Hmac objects. crypto.hash() hashes a buffer without
// creating any object, and K' ⊕ ipad / K' ⊕ opad are computed once per secret. Measured: about
// 1.2× createHmac per MAC, and signer.sign / signer.unsign at 1.4–1.7× cookie-signature's
// sign / unsign (bench/RESULTS.md, "Micro: cookie and signature").
// The output is checked against crypto.createHmac (RFC 4231 vectors and a property over random
// keys and values in test/signature.ts), so only speed differs.

const BLOCK_BYTES = 64 // SHA-256 block size
const DIGEST_BYTES = 32

/** A secret turned into its two padded blocks (RFC 2104's K' ⊕ ipad and K' ⊕ opad). */
interface MacKey {
  readonly innerPad: Buffer
  readonly outerPad: Buffer
}

function macKey(key: Buffer): MacKey {
  const k = key.length > BLOCK_BYTES ? sha256Bytes(key) : key
  const innerPad = Buffer.alloc(BLOCK_BYTES, 0x36)
  const outerPad = Buffer.alloc(BLOCK_BYTES, 0x5c)
  for (let i = 0; i < k.length; i++) {
    innerPad[i] = (innerPad[i] as number) ^ (k[i] as number)
    outerPad[i] = (outerPad[i] as number) ^ (k[i] as number)
  }
  return { innerPad, outerPad }
}

// Reused buffers for the two hash inputs, so a signature allocates only the inner digest. Safe to
// share: every use is synchronous. Values up to SCRATCH_CHARS UTF-16 units fit (UTF-8 needs at
// most 3 bytes per unit), which covers any value that fits in a 4096-byte cookie; longer ones get
// a one-off buffer instead of growing the scratch for good.
const SCRATCH_CHARS = 4096
const innerScratch = Buffer.allocUnsafe(BLOCK_BYTES + 3 * SCRATCH_CHARS)
const outerScratch = Buffer.allocUnsafe(BLOCK_BYTES + DIGEST_BYTES)

/** base64url(HMAC-SHA256(key, UTF-8(value))): 43 characters. */
function mac(key: MacKey, value: string): string {
  let inner: Buffer
  if (value.length <= SCRATCH_CHARS) {
    key.innerPad.copy(innerScratch, 0)
    inner = innerScratch.subarray(0, BLOCK_BYTES + innerScratch.write(value, BLOCK_BYTES, 'utf8'))
  } else {
    inner = Buffer.concat([key.innerPad, Buffer.from(value, 'utf8')])
  }
  key.outerPad.copy(outerScratch, 0)
  sha256Bytes(inner).copy(outerScratch, BLOCK_BYTES)
  return sha256Base64url(outerScratch)
}

// --- secrets ------------------------------------------------------------------------------------

/** Validate one secret and return its {@link MacKey}. */
function toKey(secret: unknown, label: string): MacKey {
  let length: number
  if (typeof secret === 'string') length = Buffer.byteLength(secret, 'utf8')
  else if (Buffer.isBuffer(secret)) length = secret.length
  else throw typeError(ErrorCodes.SECRET_INVALID, `${label} must be a string or a Buffer`)
  if (length < MIN_SECRET_BYTES) {
    throw typeError(
      ErrorCodes.SECRET_INVALID,
      `${label} must be at least ${MIN_SECRET_BYTES} bytes, got ${length}`,
    )
  }
  // The pads are new Buffers, so the caller mutating or zeroing its own Buffer later cannot
  // change the key under a live signer.
  return macKey(typeof secret === 'string' ? Buffer.from(secret, 'utf8') : secret)
}

/** Validate a rotation list (non-empty array, every entry a valid secret) and return its keys. */
function toKeys(secrets: unknown): MacKey[] {
  if (!Array.isArray(secrets) || secrets.length === 0) {
    throw typeError(ErrorCodes.SECRET_INVALID, 'secrets must be a non-empty array')
  }
  return secrets.map((secret: unknown, i) => toKey(secret, `secrets[${i}]`))
}

// --- sign / unsign ----------------------------------------------------------------------------

// String.prototype.isWellFormed is ES2024 (V8 11.1, so every Node >= 20); tsconfig's lib is ES2022.
const isWellFormed = (s: string): boolean =>
  (s as unknown as { isWellFormed(): boolean }).isWellFormed()

function signWith(key: MacKey, value: unknown): string {
  // A lone surrogate is encoded as U+FFFD before hashing, so '\uD800' and '\uFFFD' would share a
  // MAC: signing one would let an attacker present the other. Refusing ill-formed strings (and
  // returning null for them in unsign) keeps "verifies" meaning "this exact string was signed".
  if (typeof value !== 'string' || !isWellFormed(value)) {
    throw typeError(ErrorCodes.SIGN_VALUE_INVALID, 'value to sign must be a well-formed string')
  }
  return value + '.' + mac(key, value)
}

// The two sides of the comparison, preallocated. `provided` has room for 43 characters of 3
// UTF-8 bytes each, so writing any 43-unit string into it reports its true UTF-8 length.
const expectedScratch = Buffer.allocUnsafe(SIGNATURE_LENGTH)
const providedScratch = Buffer.allocUnsafe(3 * SIGNATURE_LENGTH)
const providedView = providedScratch.subarray(0, SIGNATURE_LENGTH)

function unsignWith(keys: readonly MacKey[], signed: unknown): Unsigned | null {
  if (typeof signed !== 'string') return null
  // The signature is the last 43 characters and must follow a '.'. The base64url alphabet has no
  // '.', so this is the same split as "at the last dot", without scanning the value. Fixing the
  // length is what makes extra bytes fail: cookie-signature 1.1.0 copied the input into a buffer
  // sized to the expected MAC, so `signed + 'anything'` verified (tj/node-cookie-signature#40,
  // fixed in 1.2.0; tinyhttp shipped the same bug as GHSA-63x4-8g8c-vhww).
  const dot = signed.length - SIGNATURE_LENGTH - 1
  if (dot < 0 || signed.charCodeAt(dot) !== 0x2e /* . */) return null
  const value = signed.slice(0, dot)
  if (!isWellFormed(value)) return null
  // Compare base64url text, not decoded bytes. Decoding is lenient (Node skips characters outside
  // the alphabet and ignores the 2 spare bits of the 43rd character), so many strings decode to
  // the same 32 bytes; the text the encoder produces is canonical, so equal text is the only way
  // to match. UTF-8 (not latin1) on the untrusted side: a non-ASCII character takes 2+ bytes and
  // fails the length check, where latin1 would truncate 'Ł' (U+0141) to 'A' (0x41).
  // timingSafeEqual throws on unequal lengths, so the length is checked first: bad input is
  // null, never a throw.
  if (providedScratch.write(signed.slice(dot + 1), 0, 'utf8') !== SIGNATURE_LENGTH) return null
  for (let i = 0; i < keys.length; i++) {
    expectedScratch.write(mac(keys[i] as MacKey, value), 0, 'latin1')
    // Constant time in the signature bytes, so response timing does not tell an attacker how many
    // leading characters of a forged signature were right.
    if (timingSafeEqual(expectedScratch, providedView)) return { value, secretIndex: i }
  }
  return null
}

/**
 * Sign `value` with `secret`: `value + '.' + base64url(HMAC-SHA256(secret, value))`.
 *
 * Validates the secret on every call; per-request code should hold a {@link createSigner}.
 *
 * @throws TypeError `ERR_SECRET_INVALID` if `secret` is not a string/Buffer of ≥ 32 bytes;
 *   `ERR_SIGN_VALUE_INVALID` if `value` is not a string or contains a lone surrogate.
 */
export function sign(value: string, secret: Secret): string {
  return signWith(toKey(secret, 'secret'), value)
}

/**
 * Verify a signed string against `secrets` (current first) and return the value and the index of
 * the secret that verified it, or `null` if no secret does. A tampered, truncated or extended
 * string, a non-string, or any other junk is `null`: a bad cookie is not an error.
 *
 * The secrets are validated on every call, before the input is looked at, so a misconfigured
 * list throws even for a missing cookie; per-request code should hold a {@link createSigner}.
 *
 * @throws TypeError `ERR_SECRET_INVALID` if `secrets` is empty or holds an invalid secret.
 */
export function unsign(signed: string, secrets: readonly Secret[]): Unsigned | null {
  return unsignWith(toKeys(secrets), signed)
}

/**
 * A signer for a fixed rotation list: the secrets are validated and turned into HMAC pad blocks
 * once, here, so `sign` and `unsign` neither re-check nor re-derive them. The returned object is
 * frozen.
 *
 * @param secrets current secret first, then older ones still accepted for verification.
 * @throws TypeError `ERR_SECRET_INVALID` if the list is empty or an entry is not a string/Buffer
 *   of ≥ 32 bytes (the message names the index).
 */
export function createSigner(secrets: readonly Secret[]): Signer {
  const keys = Object.freeze(toKeys(secrets))
  const current = keys[0] as MacKey
  return Object.freeze({
    sign: (value: string): string => signWith(current, value),
    unsign: (signed: string): Unsigned | null => unsignWith(keys, signed),
  })
}
