/**
 * One way to bound a promise in time, for every store deadline: the manager's `storeTimeoutMs`
 * around a store call (lib/manager.ts) and what is left of a request's budget around its user
 * lookup (lib/server/signed-in.ts). A store that does not answer must give a fast 503, never a
 * hung request.
 */

/**
 * What `promise` settles to, or the error `late()` builds once `ms` have passed (at once when
 * `ms` ≤ 0; the promise's own outcome is then ignored, never an unhandled rejection). The timer is
 * unref'd — a deadline never keeps a process alive — and cleared when the promise settles first.
 * `rejected` turns the promise's own rejection into the error passed on (default: unchanged).
 */
export function withDeadline<T>(promise: Promise<T>, ms: number, late: () => Error,
  rejected: (err: unknown) => unknown = (err) => err): Promise<T> {
  if (ms <= 0) {
    promise.catch(() => {})
    return Promise.reject(late())
  }
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(late()), ms)
    timer.unref()
    promise.then(
      (value) => {
        clearTimeout(timer)
        resolve(value)
      },
      (err: unknown) => {
        clearTimeout(timer)
        reject(rejected(err))
      },
    )
  })
}
