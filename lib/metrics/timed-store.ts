/**
 * A {@link Store} that times every call of the store it wraps into a histogram by operation and
 * outcome: `ok` (it answered), `refused` (it declined with `ERR_STORE_FULL`: working as designed
 * at its size bound, not a failure of the store) or `error` (any other rejection: the store
 * failed). The session engine and the login throttle are given the wrapper, so every store round
 * trip the server makes is measured, with no change to either.
 *
 * A remote store's call is timed until its promise settles (one extra promise reaction per call).
 * A local store's (`local: true`, the memory store) is timed synchronously, since its work happens
 * inside the call, and adds no promise reaction to the hot path: its `get`, `write`, `touch`,
 * `destroy`, … settle inside the call and reject only once the store is closed, so they are
 * counted `ok` when called. Its `create` and `consume`, the calls by which a local store refuses
 * for room (`ERR_STORE_FULL`), have their outcome read from the settled promise. Only installed
 * when metrics are on. `local` and `selfTimed` are passed through: the engine decides on them.
 */
import { performance } from 'node:perf_hooks' // not the global: see lib/router.ts
import type { ConsumeResult, CounterLimit, IndexedSession, SessionLimit, SessionRecord, SessionUpdate, Store, WriteResult } from '../store.js'
import { ErrorCodes, isStoreError } from '../errors.js'
import type { Histogram, HistogramSeries } from './registry.js'

export type StoreOperation = 'get' | 'create' | 'write' | 'touch' | 'destroy' | 'listByUser' | 'destroyByUser' | 'consume' | 'hit' | 'resetHits' | 'ping'

export const STORE_OPERATIONS: readonly StoreOperation[] = [
  'get', 'create', 'write', 'touch', 'destroy', 'listByUser', 'destroyByUser', 'consume', 'hit', 'resetHits', 'ping',
]

/** The operations by which a local store may refuse (`ERR_STORE_FULL`) while open. */
const REFUSING: ReadonlySet<StoreOperation> = new Set(['create', 'consume'])

/** One operation's three series, and whether a local store may refuse it. */
interface OperationSeries {
  readonly ok: HistogramSeries
  readonly refused: HistogramSeries
  readonly error: HistogramSeries
  readonly mayRefuse: boolean
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

  /** `histogram` has the labels (operation, outcome). */
  constructor(inner: Store, histogram: Histogram) {
    this.#inner = inner
    this.#sync = inner.local === true
    this.kind = inner.kind
    if (inner.local !== undefined) this.local = inner.local
    if (inner.selfTimed !== undefined) this.selfTimed = inner.selfTimed
    const series = (op: StoreOperation): OperationSeries => ({
      ok: histogram.series(op, 'ok'),
      refused: histogram.series(op, 'refused'),
      error: histogram.series(op, 'error'),
      mayRefuse: REFUSING.has(op),
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
    return this.#time(this.#get, performance.now(), this.#inner.get(key))
  }
  create(key: string, record: SessionRecord, limit?: SessionLimit): Promise<boolean | 'refused'> {
    return this.#time(this.#create, performance.now(), this.#inner.create(key, record, limit))
  }
  write(key: string, expectedVersion: number, update: SessionUpdate): Promise<WriteResult> {
    return this.#time(this.#write, performance.now(), this.#inner.write(key, expectedVersion, update))
  }
  touch(key: string, lastSeenAt: number, expiresAt: number): Promise<boolean> {
    return this.#time(this.#touch, performance.now(), this.#inner.touch(key, lastSeenAt, expiresAt))
  }
  destroy(key: string): Promise<boolean> {
    return this.#time(this.#destroy, performance.now(), this.#inner.destroy(key))
  }
  listByUser(userId: string): Promise<IndexedSession[]> {
    return this.#time(this.#listByUser, performance.now(), this.#inner.listByUser(userId))
  }
  destroyByUser(userId: string, exceptKey?: string): Promise<number> {
    return this.#time(this.#destroyByUser, performance.now(), this.#inner.destroyByUser(userId, exceptKey))
  }
  consume(counters: readonly CounterLimit[]): Promise<ConsumeResult> {
    return this.#time(this.#consume, performance.now(), this.#inner.consume(counters))
  }
  hit(key: string, windowMs: number, increment?: number): Promise<{ count: number; resetMs: number }> {
    return this.#time(this.#hit, performance.now(), this.#inner.hit(key, windowMs, increment))
  }
  resetHits(key: string): Promise<void> {
    return this.#time(this.#resetHits, performance.now(), this.#inner.resetHits(key))
  }
  ping(): Promise<void> {
    return this.#time(this.#ping, performance.now(), this.#inner.ping())
  }
  close(): Promise<void> {
    return this.#inner.close()
  }

  /** `start` is read before the call (arguments evaluate left to right). */
  #time<T>(op: OperationSeries, start: number, promise: Promise<T>): Promise<T> {
    if (this.#sync) {
      // A local store does its work inside the call; timing the call is timing the work.
      const seconds = (performance.now() - start) / 1000
      if (!op.mayRefuse) {
        op.ok.observe(seconds)
        return promise
      }
      // The outcome is known once the promise settles (a side branch: the caller's chain is
      // unchanged, and the rejection still reaches the caller).
      promise.then(
        () => op.ok.observe(seconds),
        (err: unknown) => failed(op, err).observe(seconds),
      )
      return promise
    }
    return promise.then(
      (value) => {
        op.ok.observe((performance.now() - start) / 1000)
        return value
      },
      (err: unknown) => {
        failed(op, err).observe((performance.now() - start) / 1000)
        throw err
      },
    )
  }
}

/** The series of a rejected call: `refused` for a refusal for room, else `error`. */
function failed(op: OperationSeries, err: unknown): HistogramSeries {
  return isStoreError(err) && err.code === ErrorCodes.STORE_FULL ? op.refused : op.error
}
