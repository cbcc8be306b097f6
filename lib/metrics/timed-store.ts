/**
 * A {@link Store} that counts every call of the store it wraps, by operation and outcome, and
 * times calls into a histogram with the same labels. Outcomes: `ok` (it answered), `refused` (it
 * declined with `ERR_STORE_FULL`: working as designed at its size bound, not a failure of the
 * store) or `error` (any other rejection: the store failed). The session engine and the login
 * throttle are given the wrapper, so every store call the server makes is measured, with no
 * change to either.
 *
 * A remote store's every call is timed, until its promise settles (one extra promise reaction per
 * call): its latency is a network round trip, what an operator watches. A local store's
 * (`local: true`, the memory store) calls are counted one by one, and one in {@link LOCAL_SAMPLE}
 * of each operation is timed, synchronously, since its work happens inside the call. Why sampled:
 * such a call is a map lookup of a microsecond or two, and the two clock reads around it cost
 * about as much, ~2 % of an authenticated GET's throughput by the paired bench
 * (bench/RESULTS.md); one call in 16 still shows the distribution (a GC pause inside a call, a
 * slow `listByUser`), and the counter keeps the exact number. A local store's `get`, `write`,
 * `touch`, `destroy`, … settle inside the call and reject only once the store is closed, so they
 * are counted `ok` when called, with no promise reaction on the hot path; its `create` and
 * `consume`, the calls by which it refuses for room (`ERR_STORE_FULL`), have their outcome read
 * from the settled promise. Only installed when metrics are on. `local` and `selfTimed` are passed
 * through: the engine decides on them.
 *
 * Many processes: each worker counts and samples its own calls; the primary sums every worker's
 * series into one scrape (lib/server/metrics-cluster.ts), so the totals are the server's.
 */
import { performance } from 'node:perf_hooks' // not the global: see lib/router.ts
import type { ConsumeResult, CounterLimit, IndexedSession, SessionLimit, SessionRecord, SessionUpdate, Store, WriteResult } from '../store.js'
import { ErrorCodes, isStoreError } from '../errors.js'
import type { Counter, Histogram, HistogramSeries, Scalar } from './registry.js'

export type StoreOperation = 'get' | 'create' | 'write' | 'touch' | 'destroy' | 'listByUser' | 'destroyByUser' | 'consume' | 'hit' | 'resetHits' | 'ping'

export const STORE_OPERATIONS: readonly StoreOperation[] = [
  'get', 'create', 'write', 'touch', 'destroy', 'listByUser', 'destroyByUser', 'consume', 'hit', 'resetHits', 'ping',
]

/** The operations by which a local store may refuse (`ERR_STORE_FULL`) while open. */
const REFUSING: ReadonlySet<StoreOperation> = new Set(['create', 'consume'])

/** A local store's calls of one operation are timed one in this many (the first one timed). */
export const LOCAL_SAMPLE = 16

/** One outcome's series: the call counter and the latency histogram. */
interface OutcomeSeries {
  readonly calls: Scalar
  readonly seconds: HistogramSeries
}

/** One operation's series, whether a local store may refuse it, and its calls until the next timed one. */
interface OperationSeries {
  readonly ok: OutcomeSeries
  readonly refused: OutcomeSeries
  readonly error: OutcomeSeries
  readonly mayRefuse: boolean
  untilTimed: number
}

export class TimedStore implements Store {
  readonly kind: string
  readonly local?: boolean
  readonly selfTimed?: boolean
  readonly #inner: Store
  readonly #sync: boolean
  // One field per operation, each call passing its own: no lookup by operation name per call.
  readonly #get: OperationSeries
  readonly #create: OperationSeries
  readonly #write: OperationSeries
  readonly #touch: OperationSeries
  readonly #destroy: OperationSeries
  readonly #listByUser: OperationSeries
  readonly #destroyByUser: OperationSeries
  readonly #consume: OperationSeries
  readonly #hit: OperationSeries
  readonly #resetHits: OperationSeries
  readonly #ping: OperationSeries

  /** `calls` and `histogram` have the labels (operation, outcome). */
  constructor(inner: Store, calls: Counter, histogram: Histogram) {
    this.#inner = inner
    this.#sync = inner.local === true
    this.kind = inner.kind
    if (inner.local !== undefined) this.local = inner.local
    if (inner.selfTimed !== undefined) this.selfTimed = inner.selfTimed
    const outcome = (op: StoreOperation, name: string): OutcomeSeries => ({ calls: calls.series(op, name), seconds: histogram.series(op, name) })
    const series = (op: StoreOperation): OperationSeries => ({
      ok: outcome(op, 'ok'),
      refused: outcome(op, 'refused'),
      error: outcome(op, 'error'),
      mayRefuse: REFUSING.has(op),
      untilTimed: 1,
    })
    // Every series exists from the start, so a scrape shows each operation's zeros.
    this.#get = series('get')
    this.#create = series('create')
    this.#write = series('write')
    this.#touch = series('touch')
    this.#destroy = series('destroy')
    this.#listByUser = series('listByUser')
    this.#destroyByUser = series('destroyByUser')
    this.#consume = series('consume')
    this.#hit = series('hit')
    this.#resetHits = series('resetHits')
    this.#ping = series('ping')
  }

  /** The wrapped store. */
  get inner(): Store {
    return this.#inner
  }

  get(key: string): Promise<SessionRecord | null> {
    const op = this.#get
    return this.#done(op, this.#begin(op), this.#inner.get(key))
  }
  create(key: string, record: SessionRecord, limit?: SessionLimit): Promise<boolean | 'refused'> {
    const op = this.#create
    return this.#done(op, this.#begin(op), this.#inner.create(key, record, limit))
  }
  write(key: string, expectedVersion: number, update: SessionUpdate): Promise<WriteResult> {
    const op = this.#write
    return this.#done(op, this.#begin(op), this.#inner.write(key, expectedVersion, update))
  }
  touch(key: string, lastSeenAt: number, expiresAt: number): Promise<boolean> {
    const op = this.#touch
    return this.#done(op, this.#begin(op), this.#inner.touch(key, lastSeenAt, expiresAt))
  }
  destroy(key: string): Promise<boolean> {
    const op = this.#destroy
    return this.#done(op, this.#begin(op), this.#inner.destroy(key))
  }
  listByUser(userId: string): Promise<IndexedSession[]> {
    const op = this.#listByUser
    return this.#done(op, this.#begin(op), this.#inner.listByUser(userId))
  }
  destroyByUser(userId: string, exceptKey?: string): Promise<number> {
    const op = this.#destroyByUser
    return this.#done(op, this.#begin(op), this.#inner.destroyByUser(userId, exceptKey))
  }
  consume(counters: readonly CounterLimit[]): Promise<ConsumeResult> {
    const op = this.#consume
    return this.#done(op, this.#begin(op), this.#inner.consume(counters))
  }
  hit(key: string, windowMs: number, increment?: number): Promise<{ count: number; resetMs: number }> {
    const op = this.#hit
    return this.#done(op, this.#begin(op), this.#inner.hit(key, windowMs, increment))
  }
  resetHits(key: string): Promise<void> {
    const op = this.#resetHits
    return this.#done(op, this.#begin(op), this.#inner.resetHits(key))
  }
  ping(): Promise<void> {
    const op = this.#ping
    return this.#done(op, this.#begin(op), this.#inner.ping())
  }
  close(): Promise<void> {
    return this.#inner.close()
  }

  /**
   * The clock reading a call is timed from, read before the call (arguments evaluate left to
   * right), or -1 for a local store's call that is only counted (`performance.now()` is ≥ 0).
   */
  #begin(op: OperationSeries): number {
    return this.#sync && --op.untilTimed > 0 ? -1 : performance.now()
  }

  /** Count (and, when `start` was read, time) the call that returned `promise`. */
  #done<T>(op: OperationSeries, start: number, promise: Promise<T>): Promise<T> {
    return this.#sync ? this.#local(op, start, promise) : this.#remote(op, start, promise)
  }

  /**
   * A local store's call: it did its work inside the call, so timing the call is timing the work
   * (when `start` was read: one call in {@link LOCAL_SAMPLE}); -1 seconds marks a call only counted.
   */
  #local<T>(op: OperationSeries, start: number, promise: Promise<T>): Promise<T> {
    let seconds = -1
    if (start >= 0) {
      seconds = (performance.now() - start) / 1000
      op.untilTimed = LOCAL_SAMPLE
    }
    if (!op.mayRefuse) {
      record(op.ok, seconds)
      return promise
    }
    // The outcome is known once the promise settles (a side branch: the caller's chain is
    // unchanged, and the rejection still reaches the caller).
    promise.then(
      () => record(op.ok, seconds),
      (err: unknown) => record(failed(op, err), seconds),
    )
    return promise
  }

  /** A remote store's call, counted and timed from `start` until its promise settles. */
  #remote<T>(op: OperationSeries, start: number, promise: Promise<T>): Promise<T> {
    return promise.then(
      (value) => {
        record(op.ok, (performance.now() - start) / 1000)
        return value
      },
      (err: unknown) => {
        record(failed(op, err), (performance.now() - start) / 1000)
        throw err
      },
    )
  }
}

/** Count a call into `outcome`, and its time when it was timed (`seconds` ≥ 0). */
function record(outcome: OutcomeSeries, seconds: number): void {
  outcome.calls.inc()
  if (seconds >= 0) outcome.seconds.observe(seconds)
}

/** The series of a rejected call: `refused` for a refusal for room, else `error`. */
function failed(op: OperationSeries, err: unknown): OutcomeSeries {
  return isStoreError(err) && err.code === ErrorCodes.STORE_FULL ? op.refused : op.error
}
