/**
 * SHA-256 in one call: the one helper behind store keys and session handles (lib/id.ts), the
 * hand-written HMAC (lib/signature.ts), the throttle's counter keys and the server's ETags and
 * metrics-token check. (The password pre-hash, base64 for bcrypt, stays in lib/auth/password.ts.)
 *
 * crypto.hash hashes without building a Hash object: about 3× createHash() for inputs this short.
 * It arrived in Node 21.7 / 20.12; older 20.x releases take createHash, which gives the same bytes.
 */
import crypto from 'node:crypto'

const oneShot = typeof crypto.hash === 'function'

/** SHA-256 of `data` (a string is hashed as UTF-8), base64url without padding: 43 characters. */
export function sha256Base64url(data: string | Buffer): string {
  return oneShot
    ? crypto.hash('sha256', data, 'base64url')
    : crypto.createHash('sha256').update(data).digest('base64url')
}

/** SHA-256 of `data`, the 32 raw bytes. */
export function sha256Bytes(data: Buffer): Buffer {
  return oneShot ? crypto.hash('sha256', data, 'buffer') : crypto.createHash('sha256').update(data).digest()
}
