/**
 * The bench's users: `count` ordinary users written as a USERS_FILE (the format sessionkit's
 * UserDirectory.fromFile reads), hashed with sessionkit's own `hashPassword` at `cost`. Every
 * server reads this one file. Several users, because the login throttle allows 5 attempts per
 * account at a time (lib/auth/throttle.ts): a storm of concurrent logins must spread over accounts
 * the way real users do, or the throttle, not bcrypt, would be measured.
 */
import { mkdir, writeFile } from 'node:fs/promises'
import { fileURLToPath } from 'node:url'
import { hashPassword } from '../../dist/auth/password.js'

export const tmpDir = fileURLToPath(new URL('../.tmp/', import.meta.url))

/** @returns {Promise<{ file: string, users: Array<{ id: string, email: string, password: string }> }>} */
export async function makeUsers(count, cost) {
  const users = Array.from({ length: count }, (_, i) => ({
    id: `b${i}`,
    email: `bench${i}@example.com`,
    name: `Bench User ${i}`,
    role: 'user',
    password: `bench-password-${i}`,
  }))
  const hashes = await Promise.all(users.map((u) => hashPassword(u.password, cost)))
  const entries = users.map(({ password, ...u }, i) => ({ ...u, passwordHash: hashes[i] }))
  await mkdir(tmpDir, { recursive: true })
  // One file per harness process: two runs at once must not overwrite each other's users.
  const file = `${tmpDir}users-${process.pid}.json`
  await writeFile(file, `${JSON.stringify(entries, null, 2)}\n`, { mode: 0o600 })
  return { file, users }
}
