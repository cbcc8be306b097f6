/**
 * The `paired` scenario: what logs and metrics cost an authenticated GET /dashboard, measured with
 * both servers of a pair running at the same time, pinned to the same single CPU, each driven
 * flat out by its own autocannon (half the connections each) from the harness's CPUs.
 *
 * Why at the same time: on a shared machine the speed of a CPU can swing by 20–30 % from one
 * second to the next (other tenants' load on caches and memory; bench/RESULTS.md). Servers
 * measured one after the other see different machines, and a few-per-cent difference drowns. Two
 * servers sharing one CPU take turns on it every few milliseconds, so both see the same swings,
 * and their ratio cancels them. Both are always runnable, so the scheduler splits the CPU between
 * them about evenly, and each server's CPU time per request is its cost; the ratio of the two
 * costs is the share of throughput the second keeps against the first, the quantity the target
 * asks about (a server alone on a CPU serves 1 ÷ its cost per request).
 *
 * Every round starts fresh processes for each pair, warms both at once, then measures both at
 * once. A plain-against-plain pair (A/A) runs in every round too: its ratio shows how far the
 * method is from 1.00 when nothing differs. A run is invalid if an answer was not 2xx, if a
 * request failed, or if the pair did not keep the CPU busy (the servers must be the bottleneck,
 * not the load generator).
 */
import { cannon, summarize, THROUGHPUT } from './load.mjs'
import { BENCH_V8_FLAGS, cpuSecondsOf, expectOk, login, SERVERS, startServer } from './servers.mjs'
import { summary } from './throughput.mjs'

/** [reference, measured]: the A/A pair first, then each observed server against the plain one. */
export const PAIRS = [
  ['sessionkit-memory', 'sessionkit-memory'],
  ['sessionkit-memory', 'sessionkit-memory-observed'],
  ['sessionkit-memory', 'sessionkit-memory-logs'],
  ['sessionkit-memory', 'sessionkit-memory-metrics'],
]

/** Below this many CPU-seconds per second for the pair together, the CPU was not kept busy. */
const BUSY = 0.9

/** The dashboard scenario's requests (bench/lib/load.mjs), the same as the sequential runs'. */
const DASHBOARD = THROUGHPUT.dashboard

/** Run both servers of a pair for `seconds`, both at once; per server: req/s, CPU µs/req, share. */
async function both(servers, cookies, seconds, connections) {
  const before = await Promise.all(servers.map((s) => cpuSecondsOf(s.pid)))
  const results = await Promise.all(
    servers.map((s, i) => cannon({ connections, ...DASHBOARD.options({ url: s.url, cookie: cookies[i] }), duration: seconds })),
  )
  const after = await Promise.all(servers.map((s) => cpuSecondsOf(s.pid)))
  return results.map((r, i) => {
    const s = summarize(r)
    const cpu = before[i] === null || after[i] === null ? null : after[i] - before[i]
    return { ...s, cpuUs: cpu === null ? null : (cpu / s.total) * 1e6, share: cpu === null ? null : cpu / r.duration }
  })
}

export async function runPaired(o) {
  const cpus = o.serverCpus === undefined ? undefined : [o.serverCpus[0]]
  const connections = Math.max(1, Math.round(o.connections / 2))
  const pairs = PAIRS.map(([a, b]) => ({ reference: a, measured: b, label: `${SERVERS[b].label} against ${SERVERS[a].label}`, rounds: [] }))
  for (let round = 0; round < o.rounds; round++) {
    for (const pair of pairs) {
      o.log(`paired: round ${round + 1}/${o.rounds}, ${pair.measured} with ${pair.reference}`)
      // Alternate which process starts first (and so which autocannon is created first).
      const names = round % 2 === 0 ? [pair.reference, pair.measured] : [pair.measured, pair.reference]
      const started = []
      try {
        for (const name of names) started.push(await startServer(name, { usersFile: o.usersFile, redisUrl: o.redisUrl, bcryptCost: o.bcryptCost, execArgv: BENCH_V8_FLAGS, serverCpus: cpus }))
        const servers = round % 2 === 0 ? started : [started[1], started[0]]
        const cookies = []
        for (const [i, s] of servers.entries()) {
          cookies.push(await login(s.url, o.users[i]))
          await expectOk(s.url, DASHBOARD.check, cookies[i])
        }
        await both(servers, cookies, o.warmup, connections)
        const [ref, measured] = await both(servers, cookies, o.duration, connections)
        pair.rounds.push({ reference: ref, measured })
      } finally {
        for (const s of started) await s.stop()
      }
    }
  }
  const rows = pairs.map((pair) => {
    const r = pair.rounds
    const kept = summary(r.map((x) => x.measured.rps / x.reference.rps))
    const cpuKept = r.every((x) => x.reference.cpuUs !== null && x.measured.cpuUs !== null) ? summary(r.map((x) => x.reference.cpuUs / x.measured.cpuUs)) : null
    const busy = r.map((x) => (x.reference.share ?? 0) + (x.measured.share ?? 0))
    const invalid = []
    for (const x of r) invalid.push(...x.reference.invalid, ...x.measured.invalid)
    if (cpus === undefined) invalid.push('servers not pinned to one CPU')
    else if (busy.some((b) => b < BUSY)) invalid.push(`the pair kept its CPU ${Math.round(Math.min(...busy) * 100)} % busy in some round (< ${BUSY * 100} %)`)
    const med = (f) => summary(r.map(f)).median
    return {
      ...pair,
      kept,
      cpuKept,
      referenceRps: med((x) => x.reference.rps),
      measuredRps: med((x) => x.measured.rps),
      referenceCpuUs: cpuKept === null ? null : med((x) => x.reference.cpuUs),
      measuredCpuUs: cpuKept === null ? null : med((x) => x.measured.cpuUs),
      busy: summary(busy).median,
      valid: invalid.length === 0,
      invalid: [...new Set(invalid)],
    }
  })
  return {
    title: 'Logs and metrics: their cost, servers paired on one CPU',
    settings: { connections, duration: o.duration, warmup: o.warmup, rounds: o.rounds, cpu: cpus?.[0] ?? null, pinning: o.pinning, v8Flags: BENCH_V8_FLAGS },
    rows,
  }
}
