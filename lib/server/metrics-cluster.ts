/**
 * Metrics of a node:cluster server, combined in the primary: a scrape must show the whole server,
 * never one random worker. The primary asks every live worker for its snapshot over IPC, waits at
 * most `timeoutMs`, and merges what came back (lib/metrics/exposition.ts: counters and histograms
 * summed, per-process gauges labelled `worker`). `sessionkit_workers{state}` says how many workers
 * answered, so a scrape taken while a worker restarts is visible as such instead of silently low.
 *
 * Who asks: the primary's METRICS_PORT listener directly; a worker serving `GET /metrics` on the
 * public port (METRICS_TOKEN) sends the request up to the primary and relays its answer.
 */
import cluster, { type Worker } from 'node:cluster'
import { mergeSnapshots, writeText } from '../metrics/exposition.js'
import type { FamilySnapshot } from '../metrics/registry.js'

const TAG = 'sessionkit:metrics'

export interface Message {
  tag: typeof TAG
  op: 'collect' | 'snapshot' | 'scrape' | 'text'
  id: number
  families?: FamilySnapshot[]
  text?: string
}

function isMessage(value: unknown): value is Message {
  return typeof value === 'object' && value !== null && (value as { tag?: unknown }).tag === TAG
}

/** In the primary: collect every worker's snapshot and answer scrapes (its own and workers'). */
export class ClusterMetrics {
  readonly #timeoutMs: number
  readonly #pending = new Map<number, { got: Map<number, FamilySnapshot[]>; expected: number; done: () => void }>()
  #nextId = 0

  constructor(options: { timeoutMs?: number } = {}) {
    this.#timeoutMs = options.timeoutMs ?? 2000
    cluster.on('message', (worker, message: unknown) => {
      if (!isMessage(message)) return
      if (message.op === 'snapshot') this.#received(worker, message)
      else if (message.op === 'scrape') {
        void this.text().then((text) => {
          if (worker.isConnected()) worker.send({ tag: TAG, op: 'text', id: message.id, text } satisfies Message)
        })
      }
    })
  }

  /** Every worker's metrics, merged, as exposition text. */
  async text(): Promise<string> {
    // Only called in the primary, where cluster.workers is always set.
    const workers = (Object.values(cluster.workers as NodeJS.Dict<Worker>) as Worker[]).filter((w) => w.isConnected())
    const id = this.#nextId++
    const got = new Map<number, FamilySnapshot[]>()
    await new Promise<void>((resolve) => {
      const timer = setTimeout(finish, this.#timeoutMs)
      timer.unref()
      function finish(): void {
        clearTimeout(timer)
        resolve()
      }
      this.#pending.set(id, { got, expected: workers.length, done: finish })
      for (const worker of workers) worker.send({ tag: TAG, op: 'collect', id } satisfies Message)
      if (workers.length === 0) finish()
    })
    this.#pending.delete(id)
    const ids = [...got.keys()].sort((a, b) => a - b)
    const merged = mergeSnapshots(ids.map((w) => got.get(w) as FamilySnapshot[]), ids.map(String))
    merged.push({
      name: 'sessionkit_workers',
      help: 'Worker processes by whether they answered this scrape.',
      type: 'gauge',
      aggregation: 'sum',
      labelNames: ['state'],
      series: [
        { labels: ['reporting'], value: got.size },
        { labels: ['missing'], value: workers.length - got.size },
      ],
    })
    return writeText(merged)
  }

  #received(worker: Worker, message: Message): void {
    const pending = this.#pending.get(message.id)
    if (pending === undefined) return // answered after the deadline: that scrape is gone
    pending.got.set(worker.id, message.families as FamilySnapshot[])
    if (pending.got.size >= pending.expected) pending.done()
  }
}

/** The worker's line to the primary: `process` in a cluster worker (a stand-in in tests). */
export interface Channel {
  send(message: Message): unknown
  on(event: 'message', listener: (message: unknown) => void): unknown
}

/**
 * In a worker: answer the primary's collect requests with `snapshot()`, and return a function that
 * asks the primary for the whole server's text (for `GET /metrics` on the public port).
 */
export function workerMetrics(
  snapshot: () => Promise<FamilySnapshot[]>,
  options: { timeoutMs?: number; channel?: Channel } = {},
): () => Promise<string> {
  const timeoutMs = options.timeoutMs ?? 3000
  const channel = options.channel ?? (process as unknown as Channel)
  const waiting = new Map<number, (text: string | null) => void>()
  let nextId = 0
  channel.on('message', (message: unknown) => {
    if (!isMessage(message)) return
    if (message.op === 'collect') {
      void snapshot().then((families) => channel.send({ tag: TAG, op: 'snapshot', id: message.id, families }))
    } else if (message.op === 'text') {
      waiting.get(message.id)?.(message.text as string)
    }
  })
  return () =>
    new Promise<string>((resolve, reject) => {
      const id = nextId++
      const timer = setTimeout(() => settle(null), timeoutMs)
      timer.unref()
      function settle(text: string | null): void {
        clearTimeout(timer)
        waiting.delete(id)
        if (text === null) reject(new Error('the primary did not answer the metrics request'))
        else resolve(text)
      }
      waiting.set(id, settle)
      channel.send({ tag: TAG, op: 'scrape', id })
    })
}
