/**
 * Counters, gauges and histograms with labels, held in plain objects, and a registry that
 * snapshots them for the text writer (lib/metrics/exposition.ts). Hand-written on purpose (no
 * prom-client): a few dozen series, no dependency, and a snapshot that is plain JSON, so worker
 * processes can send theirs to the primary over IPC to be summed (lib/server/metrics-cluster.ts).
 *
 * Hot-path cost: `series(...labelValues)` finds a series by one string key in a Map; callers that
 * know their labels up front keep the series object and call `inc`/`observe` on it directly.
 *
 * Naming follows https://prometheus.io/docs/practices/naming/: base units (seconds, bytes),
 * counters end in `_total`, label values bounded (route patterns, never raw paths).
 */
import { ErrorCodes, typeError } from '../errors.js'

export type MetricType = 'counter' | 'gauge' | 'histogram'

/**
 * How the primary combines one series reported by several workers: `sum` (requests, events,
 * connections), `avg` (one shared quantity each worker estimates independently: live sessions in
 * Redis), `max` (one shared quantity each worker reads exactly: users), or `worker` (a per-process
 * quantity such as RSS: kept apart under a `worker` label).
 */
export type Aggregation = 'sum' | 'avg' | 'max' | 'worker'

/** A series in a snapshot: label values in the family's label order, then its value(s). */
export interface SeriesSnapshot {
  labels: string[]
  /** Counter or gauge value. */
  value?: number
  /** Histogram: per-bucket (non-cumulative) counts, one more than `buckets` (the +Inf bucket). */
  counts?: number[]
  sum?: number
}

/** One metric family as plain JSON. */
export interface FamilySnapshot {
  name: string
  help: string
  type: MetricType
  aggregation: Aggregation
  labelNames: string[]
  /** Histogram upper bounds in seconds (or the metric's unit), ascending, without +Inf. */
  buckets?: number[]
  series: SeriesSnapshot[]
}

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/

/** A counter or gauge series. */
export class Scalar {
  value = 0
  constructor(readonly labels: string[]) {}
  inc(by = 1): void {
    this.value += by
  }
  set(value: number): void {
    this.value = value
  }
}

/**
 * A histogram series: non-cumulative bucket counts (cumulated when written), sum and count. Bounds
 * and counts are Float64Arrays of its own: every series then hands `observe` the same kinds of
 * array, and V8 keeps its loads inline. With plain arrays (the family's frozen copy of its bounds,
 * or the caller's array) `observe` met more than one kind, and its loads went through V8's keyed
 * load stub: ~100 instructions a request more, by `npm run bench:instructions`.
 */
export class HistogramSeries {
  readonly counts: Float64Array
  readonly bounds: Float64Array
  sum = 0
  constructor(readonly labels: string[], bounds: readonly number[]) {
    this.bounds = Float64Array.from(bounds)
    this.counts = new Float64Array(bounds.length + 1)
  }
  observe(value: number): void {
    const bounds = this.bounds
    let i = 0
    // Linear scan: a dozen bounds, and most observations land in the first few.
    while (i < bounds.length && value > (bounds[i] as number)) i++
    ;(this.counts[i] as number)++
    this.sum += value
  }
}

abstract class Family<S extends { labels: string[] }> {
  readonly #series = new Map<string, S>()
  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    readonly aggregation: Aggregation,
  ) {
    if (!NAME.test(name)) throw typeError(ErrorCodes.OPTION_INVALID, `bad metric name ${name}`)
    for (const label of labelNames) if (!LABEL.test(label) || label.startsWith('__')) throw typeError(ErrorCodes.OPTION_INVALID, `bad label name ${label}`)
  }

  protected abstract make(labels: string[]): S

  /** The series for these label values (created at zero on first use). */
  series(...values: string[]): S {
    if (values.length !== this.labelNames.length) {
      throw typeError(ErrorCodes.OPTION_INVALID, `${this.name} takes ${this.labelNames.length} label values, got ${values.length}`)
    }
    const key = values.length === 1 ? (values[0] as string) : values.join('\u0000')
    let series = this.#series.get(key)
    if (series === undefined) this.#series.set(key, (series = this.make(values)))
    return series
  }

  protected all(): IterableIterator<S> {
    return this.#series.values()
  }

  /** Forget every series (a gauge refilled at each collection). */
  reset(): void {
    this.#series.clear()
  }
}

/** Counters and gauges: one number per series; they differ only in how they are used and typed. */
abstract class ScalarFamily extends Family<Scalar> {
  abstract readonly type: 'counter' | 'gauge'
  protected make(labels: string[]): Scalar {
    return new Scalar(labels)
  }
  snapshot(): FamilySnapshot {
    const series = [...this.all()].map((s) => ({ labels: s.labels, value: s.value }))
    return { name: this.name, help: this.help, type: this.type, aggregation: this.aggregation, labelNames: [...this.labelNames], series }
  }
}

export class Counter extends ScalarFamily {
  readonly type = 'counter'
}

export class Gauge extends ScalarFamily {
  readonly type = 'gauge'
}

export class Histogram extends Family<HistogramSeries> {
  readonly type = 'histogram'
  readonly buckets: readonly number[]
  constructor(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]) {
    super(name, help, labelNames, 'sum')
    if (buckets.length === 0 || buckets.some((b, i) => !Number.isFinite(b) || (i > 0 && b <= (buckets[i - 1] as number)))) {
      throw typeError(ErrorCodes.OPTION_INVALID, `${name}: buckets must be finite and strictly ascending`)
    }
    this.buckets = Object.freeze([...buckets])
  }
  protected make(labels: string[]): HistogramSeries {
    return new HistogramSeries(labels, this.buckets)
  }
  snapshot(): FamilySnapshot {
    return {
      name: this.name,
      help: this.help,
      type: 'histogram',
      aggregation: 'sum',
      labelNames: [...this.labelNames],
      buckets: [...this.buckets],
      series: [...this.all()].map((s) => ({ labels: s.labels, counts: [...s.counts], sum: s.sum })),
    }
  }
}

/**
 * The metrics of one process. `collect` hooks refresh gauges that are read rather than counted
 * (memory, live sessions) just before a snapshot; a hook that fails or takes longer than
 * `collectTimeoutMs` leaves its gauges at their last value instead of failing the scrape.
 */
export class Registry {
  readonly #families = new Map<string, Counter | Gauge | Histogram>()
  readonly #collectors: Array<() => void | Promise<void>> = []
  readonly #collectTimeoutMs: number

  constructor(options: { collectTimeoutMs?: number } = {}) {
    this.#collectTimeoutMs = options.collectTimeoutMs ?? 1000
  }

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#add(new Counter(name, help, labelNames, 'sum'))
  }

  gauge(name: string, help: string, labelNames: readonly string[] = [], aggregation: Aggregation = 'sum'): Gauge {
    return this.#add(new Gauge(name, help, labelNames, aggregation))
  }

  histogram(name: string, help: string, labelNames: readonly string[], buckets: readonly number[]): Histogram {
    return this.#add(new Histogram(name, help, labelNames, buckets))
  }

  /** Run `fn` before every snapshot. */
  onCollect(fn: () => void | Promise<void>): void {
    this.#collectors.push(fn)
  }

  /** Refresh the read gauges, then return every family as JSON-safe data. */
  async snapshot(): Promise<FamilySnapshot[]> {
    await Promise.all(this.#collectors.map((fn) => this.#bounded(fn)))
    return [...this.#families.values()].map((f) => f.snapshot())
  }

  async #bounded(fn: () => void | Promise<void>): Promise<void> {
    let timer: NodeJS.Timeout | undefined
    const deadline = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, this.#collectTimeoutMs).unref()
    })
    try {
      await Promise.race([Promise.resolve().then(fn), deadline])
    } catch {
      // A gauge that could not be read keeps its last value; the scrape goes on.
    } finally {
      clearTimeout(timer)
    }
  }

  #add<F extends Counter | Gauge | Histogram>(family: F): F {
    if (this.#families.has(family.name)) throw typeError(ErrorCodes.OPTION_INVALID, `metric ${family.name} registered twice`)
    this.#families.set(family.name, family)
    return family
  }
}
