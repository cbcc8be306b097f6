/**
 * bcrypt on worker threads that run at a lower CPU priority than the event loop.
 *
 * Why not the binding's async functions: they run on libuv's thread pool (4 threads) at the same
 * priority as the event loop. During a login storm on a 2-core machine, four threads hashing
 * compete with the event loop on equal terms, and every other request waits for CPU: we measured
 * the p99 of an authenticated GET go from ~10 ms to ~90 ms (bench/RESULTS.md, "Login storm").
 * bcrypt never *blocks* the event loop either way; the problem is that it starves it.
 *
 * So each worker thread here lowers its own priority (nice +10) before it hashes. On Linux,
 * setpriority(PRIO_PROCESS, 0, …) applies to the calling thread only (see setpriority(2), "BUGS"),
 * so the event loop keeps its priority and the kernel gives it the CPU whenever it has work, while
 * bcrypt gets every cycle left over: login throughput stays at the machine's bcrypt rate when
 * nothing else runs. Elsewhere, or if renicing is refused, the workers simply run at normal
 * priority. There is one worker per core (os.availableParallelism()), started on first use.
 */
import { createRequire } from 'node:module'
import { availableParallelism } from 'node:os'
import { performance } from 'node:perf_hooks'
import { Worker } from 'node:worker_threads'

/** Nice value of the bcrypt threads (higher = lower priority; +10 is allowed without privileges). */
const WORKER_NICE = 10

// CommonJS, evaluated in the worker: small enough to read here, and no extra file to ship.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
try { require('node:os').setPriority(${WORKER_NICE}) } catch {}
const { hashSync, verifySync } = require(workerData.bcrypt)
parentPort.on('message', ({ id, op, input, arg }) => {
  try {
    parentPort.postMessage({ id, result: op === 'hash' ? hashSync(input, arg) : verifySync(input, arg) })
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message || err) })
  }
})
`

interface Task {
  id: number
  op: 'hash' | 'verify'
  input: string
  arg: string | number
  /** performance.now() when a worker took the job. */
  startedAt: number
  resolve(value: unknown): void
  reject(err: Error): void
}

interface Slot {
  worker: Worker
  task: Task | null
}

/** A fixed set of worker threads taking bcrypt jobs from one queue. */
export class BcryptPool {
  readonly size: number
  readonly #bcryptPath = createRequire(import.meta.url).resolve('@node-rs/bcrypt')
  #slots: Slot[] = []
  readonly #queue: Task[] = []
  #nextId = 0
  /** Called with each job's run time on a worker, in seconds (metrics). */
  onDone: ((op: 'hash' | 'verify', seconds: number) => void) | null = null

  /** Jobs waiting for a free worker. */
  get queueDepth(): number {
    return this.#queue.length
  }

  constructor(size = availableParallelism()) {
    this.size = Math.max(1, size)
  }

  /** bcrypt `hashSync(input, cost)` on a worker. */
  hash(input: string, cost: number): Promise<string> {
    return this.#run('hash', input, cost) as Promise<string>
  }

  /** bcrypt `verifySync(input, hash)` on a worker; rejects if the binding throws. */
  verify(input: string, hash: string): Promise<boolean> {
    return this.#run('verify', input, hash) as Promise<boolean>
  }

  /** Stop the workers; queued jobs reject. The pool starts new workers if used again. */
  async close(): Promise<void> {
    const slots = this.#slots
    this.#slots = []
    for (const task of this.#queue.splice(0)) task.reject(new Error('bcrypt pool closed'))
    await Promise.all(slots.map((slot) => slot.worker.terminate()))
  }

  #run(op: Task['op'], input: string, arg: string | number): Promise<unknown> {
    return new Promise((resolve, reject) => {
      this.#queue.push({ id: this.#nextId++, op, input, arg, startedAt: 0, resolve, reject })
      this.#dispatch()
    })
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let slot = this.#slots.find((s) => s.task === null)
      if (slot === undefined) {
        if (this.#slots.length >= this.size) return
        slot = this.#spawn()
      }
      const task = this.#queue.shift() as Task
      slot.task = task
      task.startedAt = performance.now()
      // Busy workers keep the process alive until their job answers; idle ones do not.
      slot.worker.ref()
      slot.worker.postMessage({ id: task.id, op: task.op, input: task.input, arg: task.arg })
    }
  }

  #spawn(): Slot {
    const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { bcrypt: this.#bcryptPath } })
    const slot: Slot = { worker, task: null }
    worker.unref()
    worker.on('message', (msg: { id: number; result?: unknown; error?: string }) => {
      const task = slot.task as Task
      slot.task = null
      worker.unref()
      this.onDone?.(task.op, (performance.now() - task.startedAt) / 1000)
      if (msg.error === undefined) task.resolve(msg.result)
      else task.reject(new Error(msg.error))
      this.#dispatch()
    })
    // A worker that dies (out of memory, killed) fails its job and is replaced on the next one.
    // Its 'error' event is followed by 'exit', which does the work; the listener only keeps an
    // unhandled 'error' from crashing the process.
    worker.on('error', () => {})
    worker.on('exit', () => {
      this.#slots = this.#slots.filter((s) => s !== slot)
      slot.task?.reject(new Error('bcrypt worker exited'))
      slot.task = null
      this.#dispatch()
    })
    this.#slots.push(slot)
    return slot
  }
}

/** The process-wide pool password.ts uses. */
export const bcryptPool = new BcryptPool()
