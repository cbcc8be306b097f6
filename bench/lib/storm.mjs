/**
 * Scenario "storm": a login storm against one server (sessionkit on memory by default).
 *
 * Three timed phases on the same server process, plus the yardstick:
 *   raw    bcrypt compares/s on this machine (bench/bcrypt-rate.mjs, same concurrency);
 *   calm   the /dashboard probe alone: a fixed request rate, so its latency shows how quickly the
 *          event loop answers, not how long a saturated queue is;
 *   logins the storm alone: `stormConnections` clients posting correct logins back to back;
 *   storm  both at once.
 * Targets: logins/s ≥ 0.9 × raw (the server adds little to bcrypt), and the probe's p99 during the
 * storm ≤ 3 × calm (bcrypt never blocks the event loop).
 *
 * Logins go round-robin over twice as many users as connections, so no account ever has more than
 * a couple of attempts in flight: the throttle (5 attempts per account, cleared by a success) is
 * not what gets measured. The probe's user is not among them (see `storm` below).
 */
import { execFile } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'
import { cannon, summarize } from './load.mjs'
import { expectOk, login, startServer } from './servers.mjs'

const rateScript = fileURLToPath(new URL('../bcrypt-rate.mjs', import.meta.url))

/** Raw bcrypt compares per second, measured in a fresh process. */
export async function bcryptRate(cost, concurrency, seconds) {
  const { stdout } = await promisify(execFile)(process.execPath, [rateScript, String(cost), String(concurrency), String(seconds)])
  return JSON.parse(stdout)
}

function loginRequests(users) {
  let next = 0
  return [
    {
      method: 'POST',
      path: '/login',
      headers: { 'content-type': 'application/json' },
      setupRequest: (req) => {
        const user = users[next++ % users.length]
        return { ...req, body: JSON.stringify({ email: user.email, password: user.password }) }
      },
    },
  ]
}

/**
 * @param {object} o options: server, users, usersFile, redisUrl, bcryptCost, seconds, warmup,
 *   stormConnections, probeConnections, probeRate, log
 */
export async function runStorm(o) {
  const log = o.log
  log(`storm: raw bcrypt rate (${o.stormConnections} in flight, ${o.seconds} s)`)
  const raw = await bcryptRate(o.bcryptCost, o.stormConnections, o.seconds)
  const server = await startServer(o.server, o)
  try {
    const cookie = await login(server.url, o.users[0])
    await expectOk(server.url, '/dashboard', cookie)
    const probe = (duration) =>
      cannon({
        url: `${server.url}/dashboard`,
        headers: { cookie },
        connections: o.probeConnections,
        overallRate: o.probeRate,
        duration,
      })
    const storm = (duration) =>
      cannon({
        url: server.url,
        // Not the probe's user: the server keeps at most MAX_SESSIONS_PER_USER (10) sessions per
        // user and evicts the oldest, so logging the probe's user in again would end its session.
        requests: loginRequests(o.users.slice(1, 1 + 2 * o.stormConnections)),
        connections: o.stormConnections,
        duration,
        timeout: 30,
      })
    log(`storm: warm-up ${o.warmup} s`)
    await Promise.all([probe(o.warmup), storm(o.warmup)])
    log(`storm: calm — /dashboard probe alone (${o.probeRate} req/s, ${o.seconds} s)`)
    const calm = summarize(await probe(o.seconds))
    log(`storm: logins alone (${o.stormConnections} connections, ${o.seconds} s)`)
    const logins = summarize(await storm(o.seconds))
    log(`storm: logins and the probe together (${o.seconds} s)`)
    const [probeDuring, loginsDuring] = (await Promise.all([probe(o.seconds), storm(o.seconds)])).map(summarize)
    return {
      server: o.server,
      raw,
      calm,
      logins,
      probeDuring,
      loginsDuring,
      loginRatio: logins.rps / raw.perSecond,
      loginRatioDuring: loginsDuring.rps / raw.perSecond,
      p99Ratio: probeDuring.p99 / calm.p99,
      valid: calm.valid && logins.valid && probeDuring.valid && loginsDuring.valid,
      settings: {
        stormConnections: o.stormConnections,
        users: Math.min(o.users.length - 1, 2 * o.stormConnections),
        probeConnections: o.probeConnections,
        probeRate: o.probeRate,
        seconds: o.seconds,
        bcryptCost: o.bcryptCost,
      },
    }
  } finally {
    await server.stop()
  }
}
