/**
 * The raw bcrypt rate, the yardstick of the login storm: how many `compare` calls per second this
 * machine completes with `concurrency` of them in flight on libuv's thread pool, for `seconds`.
 * Same library, cost and input as a sessionkit login (@node-rs/bcrypt on base64(SHA-256(NFC(pw))),
 * lib/auth/password.ts), in a fresh process like a server's, so the pool size is the same.
 *
 *   node bench/bcrypt-rate.mjs <cost> <concurrency> <seconds>   → one JSON line on stdout
 */
import { compare } from '@node-rs/bcrypt'
import { createHash } from 'node:crypto'
import { hashPassword } from '../dist/auth/password.js'

const [cost = 10, concurrency = 8, seconds = 5] = process.argv.slice(2).map(Number)
const password = 'bench-password-0'
const hash = await hashPassword(password, cost)
const input = createHash('sha256').update(password.normalize('NFC'), 'utf8').digest('base64')

/** Keep `concurrency` compares in flight until `untilMs`; resolve to the number that finished in time. */
async function run(untilMs) {
  let done = 0
  const worker = async () => {
    while (performance.now() < untilMs) {
      if (!(await compare(input, hash))) throw new Error('bcrypt compare answered false')
      if (performance.now() <= untilMs) done++
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return done
}

await run(performance.now() + 1000) // warm-up: the thread pool starts its threads lazily
const start = performance.now()
const done = await run(start + seconds * 1000)
const perSecond = done / seconds
console.log(JSON.stringify({ cost, concurrency, seconds, compares: done, perSecond }))
