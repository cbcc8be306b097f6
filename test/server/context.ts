import t from 'tap'
import { ErrorCodes, StoreError } from '../../lib/errors.js'
import { HttpError } from '../../lib/http.js'
import { storeFailure } from '../../lib/server/context.js'

function thrown(fn: () => unknown): unknown {
  try {
    fn()
  } catch (err) {
    return err
  }
  return undefined
}

t.test('storeFailure turns store errors into 503 and lets everything else through', async (t) => {
  const handle = storeFailure(7)
  const cause = new StoreError(ErrorCodes.STORE_TIMEOUT, 'slow')
  const err = thrown(() => handle(cause))
  t.type(err, HttpError)
  t.match(err, { status: 503, expose: true, headers: { 'Retry-After': '7' }, message: 'Session store unavailable' })
  t.equal((err as HttpError).cause, cause)
  const busy = thrown(() => handle(new StoreError(ErrorCodes.STORE_CONFLICT, 'contention')))
  t.match(busy, { status: 503, message: 'Session is busy, retry' })
  const bug = new TypeError('not a store problem')
  t.equal(thrown(() => handle(bug)), bug, 'a programmer error stays itself (→ 500, logged)')
})
