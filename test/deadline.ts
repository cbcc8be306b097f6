// withDeadline (lib/deadline.ts): the promise's outcome, or the late error once the time is up.
import t from 'tap'
import { withDeadline } from '../lib/deadline.js'

const late = () => new Error('late')

t.test('a promise that settles in time passes through, value or rejection', async (t) => {
  t.equal(await withDeadline(Promise.resolve(7), 1000, late), 7)
  const boom = new Error('boom')
  await t.rejects(withDeadline(Promise.reject(boom), 1000, late), boom)
  await t.rejects(withDeadline(Promise.reject(boom), 1000, late, () => new Error('mapped')), { message: 'mapped' })
})

t.test('a promise that does not settle in time gets the late error', async (t) => {
  const alive = setInterval(() => {}, 1000) // the deadline's timer is unref'd
  await t.rejects(withDeadline(new Promise(() => {}), 20, late), { message: 'late' })
  clearInterval(alive)
  await t.rejects(withDeadline(Promise.reject(new Error('ignored')), 0, late), { message: 'late' }, 'no time left: at once')
})
