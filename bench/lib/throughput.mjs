/**
 * The throughput scenarios (dashboard, public, cart): each server in its own process, started
 * anew for every round and stopped after it; the rounds interleave the servers (A B C A B C), so
 * drift of the machine (thermal, neighbours, GC of the harness) hits every server alike. Each
 * measured run follows an unrecorded warm-up of the same process.
 *
 * Figures are medians over the rounds with their interquartile range, never means: one round
 * disturbed by a neighbour moves a mean but not a median. A server's ratio to bare node:http is
 * computed per round (against bare in the same round) and then summarised the same way; a target
 * counts as met only when the IQR's lower end (the first quartile) meets it (bench/lib/report.mjs).
 */
import { cannon, summarize, THROUGHPUT } from './load.mjs'
import { cpuSecondsOf, expectOk, login, SERVERS, startServer, BENCH_V8_FLAGS } from './servers.mjs'

/** Quantile `q` of `xs` by linear interpolation between closest ranks (R's type 7, numpy's default). */
export function quantile(xs, q) {
  const s = [...xs].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const pos = (s.length - 1) * q
  const lo = Math.floor(pos)
  const hi = Math.ceil(pos)
  return s[lo] + (s[hi] - s[lo]) * (pos - lo)
}

/** `{ median, q1, q3 }` of `xs`. */
export const summary = (xs) => ({ median: quantile(xs, 0.5), q1: quantile(xs, 0.25), q3: quantile(xs, 0.75) })

/** The change of the client-cache counters over one measured run, or null (no cache). */
function cacheDelta(before, after) {
  if (before == null || after == null) return null
  const d = (k) => after[k] - before[k]
  return { hits: d('hits'), misses: d('misses'), bypassed: d('bypassed'), invalidations: d('invalidations'), flushes: d('flushes') }
}

/**
 * @param {'dashboard' | 'public' | 'cart'} scenario
 * @param {object} o options: servers, users, usersFile, redisUrl, bcryptCost, duration, warmup,
 *   connections, rounds, serverCpus, log
 */
export async function runThroughput(scenario, o) {
  const spec = THROUGHPUT[scenario]
  // A fresh process per server and round, alone on its CPUs from start to stop: nothing one
  // process fell into early (heap sizing, pretenuring, JIT: see BENCH_V8_FLAGS) carries through a
  // whole run, and no idle server shares the CPU. The warm-up brings each new process to its
  // steady state before it is measured.
  const rounds = new Map(o.servers.map((name) => [name, []]))
  for (let round = 1; round <= o.rounds; round++) {
    for (const name of o.servers) {
      o.log(`${scenario}: round ${round}/${o.rounds}, ${name}`)
      const server = await startServer(name, { ...o, execArgv: BENCH_V8_FLAGS })
      try {
        const cookie = spec.needsCookie ? await login(server.url, o.users[0]) : ''
        if (spec.check !== null) await expectOk(server.url, spec.check, cookie)
        const options = { connections: o.connections, ...spec.options({ url: server.url, cookie }) }
        await cannon({ ...options, duration: o.warmup })
        const before = await server.stats()
        const cpuBefore = await cpuSecondsOf(server.pid)
        const result = summarize(await cannon({ ...options, duration: o.duration }))
        const cpuAfter = await cpuSecondsOf(server.pid)
        result.cache = cacheDelta(before, await server.stats())
        // The server's CPU time per answered request over the measured run (the harness is
        // another process): what a request costs, whatever else the machine was doing.
        result.cpuUs = cpuBefore === null || cpuAfter === null || result.total === 0 ? null : ((cpuAfter - cpuBefore) * 1e6) / result.total
        rounds.get(name).push(result)
      } finally {
        await server.stop()
      }
    }
  }
  const bare = rounds.get('bare')
  const rows = o.servers.map((name) => {
    const rs = rounds.get(name)
    const rps = summary(rs.map((r) => r.rps))
    // Each round's ratio against bare in the same round.
    const roundRatios = bare ? rs.map((r, i) => r.rps / bare[i].rps) : null
    const ratio = roundRatios ? summary(roundRatios) : null
    const caches = rs.map((r) => r.cache).filter((c) => c !== null)
    const sum = (k) => caches.reduce((a, c) => a + c[k], 0)
    const reads = sum('hits') + sum('misses') + sum('bypassed')
    return {
      server: name,
      label: SERVERS[name].label,
      rps: rps.median,
      rpsIqr: [rps.q1, rps.q3],
      p50: quantile(rs.map((r) => r.p50), 0.5),
      p99: quantile(rs.map((r) => r.p99), 0.5),
      cpuUs: rs.every((r) => r.cpuUs != null) ? quantile(rs.map((r) => r.cpuUs), 0.5) : null,
      non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
      errors: rs.reduce((a, r) => a + r.errors, 0),
      valid: rs.every((r) => r.valid),
      invalid: [...new Set(rs.flatMap((r) => r.invalid))],
      ratio: ratio?.median ?? null,
      ratioIqr: ratio ? [ratio.q1, ratio.q3] : null,
      roundRatios,
      cache: caches.length === 0 ? null : { hits: sum('hits'), misses: sum('misses'), bypassed: sum('bypassed'), flushes: sum('flushes'), hitRate: reads === 0 ? null : sum('hits') / reads },
      rounds: rs,
    }
  })
  return {
    scenario,
    title: spec.title,
    settings: { connections: o.connections, duration: o.duration, warmup: o.warmup, rounds: o.rounds, pinning: o.pinning, v8Flags: BENCH_V8_FLAGS, freshProcesses: true },
    rows,
  }
}
