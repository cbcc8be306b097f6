import { hashSync, verifySync } from '@node-rs/bcrypt'
import t from 'tap'
import { BcryptPool } from '../../lib/auth/bcrypt-pool.js'

t.test('hashes and verifies like the binding, on at most `size` workers', async (t) => {
  const pool = new BcryptPool(2)
  t.teardown(() => pool.close())
  const hashes = await Promise.all(Array.from({ length: 5 }, (_, i) => pool.hash(`password-${i}`, 4)))
  for (const [i, h] of hashes.entries()) {
    t.ok(verifySync(`password-${i}`, h), 'the binding accepts the pool hash')
    t.equal(await pool.verify(`password-${i}`, h), true)
    t.equal(await pool.verify('wrong', h), false)
  }
  t.equal(await pool.verify('x', hashSync('x', 4)), true)
  t.equal(await pool.verify('x', 'not a hash'), false, 'a malformed hash is a plain false')
  await t.rejects(pool.hash('x', 99), Error, 'a binding error rejects')
})

t.test('the default size is one worker per core, at least 1', async (t) => {
  t.ok(new BcryptPool().size >= 1)
  t.equal(new BcryptPool(0).size, 1)
})

t.test('close() rejects queued jobs; a closed pool starts again on use', async (t) => {
  const pool = new BcryptPool(1)
  const running = t.rejects(pool.hash('first', 8), /exited/)
  const queued = t.rejects(pool.hash('second', 4), /closed/)
  await pool.close()
  await running
  await queued
  t.equal(await pool.verify('again', await pool.hash('again', 4)), true)
  await pool.close()
})
