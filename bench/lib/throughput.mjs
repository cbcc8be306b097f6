/**
 * The throughput scenarios (dashboard, public, cart): every selected server runs at once, each in
 * its own process, idle while another is measured; the rounds interleave them (A B C A B C), so
 * drift of the machine (thermal, neighbours, GC of the harness) hits every server alike. Each
 * measured run follows an unrecorded warm-up on the same server.
 */
import { cannon, summarize, THROUGHPUT } from './load.mjs'
import { expectOk, login, SERVERS, startServer } from './servers.mjs'

const mean = (xs) => xs.reduce((a, b) => a + b, 0) / xs.length

/**
 * @param {'dashboard' | 'public' | 'cart'} scenario
 * @param {object} o options: servers, users, usersFile, redisUrl, bcryptCost, duration, warmup,
 *   connections, rounds, log
 */
export async function runThroughput(scenario, o) {
  const spec = THROUGHPUT[scenario]
  const running = []
  try {
    for (const name of o.servers) running.push(await startServer(name, o))
    const cookies = new Map()
    for (const server of running) {
      const cookie = spec.needsCookie ? await login(server.url, o.users[0]) : ''
      if (spec.check !== null) await expectOk(server.url, spec.check, cookie)
      cookies.set(server.name, cookie)
    }
    const rounds = new Map(running.map((s) => [s.name, []]))
    for (let round = 1; round <= o.rounds; round++) {
      for (const server of running) {
        o.log(`${scenario}: round ${round}/${o.rounds}, ${server.name}`)
        const options = { connections: o.connections, ...spec.options({ url: server.url, cookie: cookies.get(server.name) }) }
        await cannon({ ...options, duration: o.warmup })
        rounds.get(server.name).push(summarize(await cannon({ ...options, duration: o.duration })))
      }
    }
    const rows = running.map(({ name }) => {
      const rs = rounds.get(name)
      const rps = mean(rs.map((r) => r.rps))
      return {
        server: name,
        label: SERVERS[name].label,
        rps,
        spread: (Math.max(...rs.map((r) => r.rps)) - Math.min(...rs.map((r) => r.rps))) / rps,
        p50: mean(rs.map((r) => r.p50)),
        p99: mean(rs.map((r) => r.p99)),
        non2xx: rs.reduce((a, r) => a + r.non2xx, 0),
        errors: rs.reduce((a, r) => a + r.errors, 0),
        valid: rs.every((r) => r.valid),
        invalid: [...new Set(rs.flatMap((r) => r.invalid))],
        rounds: rs,
      }
    })
    const bare = rows.find((r) => r.server === 'bare')
    for (const row of rows) {
      row.ratio = bare ? row.rps / bare.rps : null
      // Each round's ratio against bare in the same round: how stable the ratio is.
      row.roundRatios = bare ? row.rounds.map((r, i) => r.rps / bare.rounds[i].rps) : null
    }
    return {
      scenario,
      title: spec.title,
      settings: { connections: o.connections, duration: o.duration, warmup: o.warmup, rounds: o.rounds },
      rows,
    }
  } finally {
    await Promise.all(running.map((s) => s.stop()))
  }
}
