/**
 * CPU pinning: the load generator (this harness, running autocannon) and the servers under test on
 * separate CPUs, so that a server's req/s is not decided by how the scheduler shares two cores
 * between it and its own client. Linux `taskset` (util-linux), only when this process may run on
 * at least two CPUs (`os.availableParallelism()` and the affinity list agree); otherwise nothing
 * is pinned and the report says so. redis-server is not ours to pin: it floats, and on a 2-CPU
 * machine shares a CPU with one side or the other.
 */
import { spawnSync } from 'node:child_process'
import { availableParallelism } from 'node:os'

/** "0-2,5" → [0, 1, 2, 5] */
export function parseCpuList(text) {
  const out = []
  for (const part of text.trim().split(',')) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part.trim())
    if (m === null) return []
    const from = Number(m[1])
    const to = m[2] === undefined ? from : Number(m[2])
    for (let c = from; c <= to; c++) out.push(c)
  }
  return out
}

/**
 * The plan: `{ pinned: true, load: [cpus], server: [cpus] }` (the first half of the allowed CPUs,
 * at least one, for the load generator; the rest for the servers), or `{ pinned: false, reason }`.
 * `wanted: false` (--no-pin) always answers unpinned.
 */
export function cpuPlan(wanted = true) {
  if (!wanted) return { pinned: false, reason: 'not asked (--no-pin)' }
  if (availableParallelism() < 2) return { pinned: false, reason: `os.availableParallelism() is ${availableParallelism()}` }
  const r = spawnSync('taskset', ['-pc', String(process.pid)], { encoding: 'utf8' })
  if (r.error !== undefined || r.status !== 0) return { pinned: false, reason: 'taskset is not available' }
  const allowed = parseCpuList(r.stdout.slice(r.stdout.lastIndexOf(':') + 1))
  if (allowed.length < 2) return { pinned: false, reason: `this process may run on ${allowed.length} CPU(s) only` }
  const loadCount = Math.max(1, Math.floor(allowed.length / 2))
  return { pinned: true, load: allowed.slice(0, loadCount), server: allowed.slice(loadCount) }
}

/** Pin every thread of this process to `cpus`; throws if taskset fails. */
export function pinSelf(cpus) {
  const r = spawnSync('taskset', ['-a', '-pc', cpus.join(','), String(process.pid)], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`taskset failed: ${r.stderr || r.error?.message}`)
}

/** How to start `node args…` on `cpus` (or anywhere when `cpus` is undefined): [command, argv]. */
export function pinnedCommand(cpus, nodeArgs) {
  return cpus === undefined ? [process.execPath, nodeArgs] : ['taskset', ['-c', cpus.join(','), process.execPath, ...nodeArgs]]
}

/** A line for the report. */
export function describePlan(plan) {
  return plan.pinned
    ? `pinned with taskset: load generator on CPU ${plan.load.join(',')}, servers on CPU ${plan.server.join(',')} (redis-server unpinned)`
    : `not pinned: ${plan.reason}`
}
