/**
 * `npm run bench`: sessionkit against bare node:http, express-session and @fastify/session, in one
 * run on one machine, so every ratio compares servers measured under the same load and the
 * performance targets (bench/lib/report.mjs `targets`) can be checked. `npm run bench -- --help`
 * lists the options.
 *
 * Each server is its own process (bench/servers/); the harness logs in over HTTP and drives the
 * load with autocannon's programmatic API. Scenarios: dashboard, public, cart (throughput, every
 * server, interleaved rounds), storm (login storm), memory (MemoryStore bytes/session), soak (RSS
 * over a mixed load). Results: a table on stdout (or JSON with --json), and only with --record,
 * bench/results.json (latest result per scenario), bench/RESULTS.md (its generated section) and
 * bench/results.svg. `--quick`: a smoke run under a minute. `--profile` CPU-profiles servers
 * instead (bench/lib/profile.mjs). The harness (the load generator) and the servers are pinned to
 * separate CPUs when the machine has them (bench/lib/pin.mjs, `--no-pin` to leave it to the OS).
 */
import { readFileSync } from 'node:fs'
import { rm } from 'node:fs/promises'
import { availableParallelism, loadavg } from 'node:os'
import { parseArgs, usage } from './lib/args.mjs'
import { cpuPlan, describePlan, pinSelf } from './lib/pin.mjs'
import { runFootprint, runSoak } from './lib/memory.mjs'
import { runProfiles } from './lib/profile.mjs'
import { record } from './lib/record.mjs'
import { consoleReport } from './lib/report.mjs'
import { checkRedis, cleanRedis, SERVERS } from './lib/servers.mjs'
import { runPaired } from './lib/paired.mjs'
import { runStorm } from './lib/storm.mjs'
import { runThroughput } from './lib/throughput.mjs'
import { makeUsers } from './lib/users.mjs'

let o
try {
  o = parseArgs(process.argv.slice(2))
} catch (err) {
  console.error(err.message)
  process.exit(2)
}
if (o.help) {
  console.log(usage())
  process.exit(0)
}

/** CPUs of the machine for the report, read before the harness pins itself to some of them. */
const nproc = availableParallelism()
const log = (msg) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}`)
const cpu = (/^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8')) ?? [])[1] ?? 'unknown CPU'
const args = process.argv.slice(2)
const command = `npm run bench${args.length > 0 ? ` -- ${args.join(' ')}` : ''}\n# = npm run build && node bench/bench.mjs${args.length > 0 ? ` ${args.join(' ')}` : ''}`

/** Date, machine and load around one scenario, as bench/RESULTS.md asks of every run. */
async function measured(fn) {
  const loadBefore = loadavg()[0]
  const result = await fn()
  const date = new Date().toISOString().replace('T', ' ').slice(0, 16) + ' UTC'
  result.meta = { date, node: process.version, nproc, cpu, loadBefore, loadAfter: loadavg()[0], command }
  return result
}

const plan = cpuPlan(o.pin)
if (plan.pinned) pinSelf(plan.load)
const pinning = describePlan(plan)
log(pinning)

const needsRedis = [...o.servers, o.stormServer, o.soakServer].some((s) => SERVERS[s].store === 'redis')
if (needsRedis) await checkRedis(o.redisUrl)
const userCount = Math.max(8, 2 * o.stormConnections + 1, 2 * o.soakConnections)
log(`hashing ${userCount} bench users at bcrypt cost ${o.bcryptCost}`)
const { file: usersFile, users } = await makeUsers(userCount, o.bcryptCost)
const common = { ...o, users, usersFile, log, serverCpus: plan.pinned ? plan.server : undefined, pinning }

const results = {}
try {
  if (o.profile) {
    await runProfiles(common)
  } else {
    for (const scenario of o.scenarios) {
      if (scenario === 'storm') {
        results.storm = await measured(() => runStorm({ ...common, server: o.stormServer, seconds: 2 * o.duration }))
      } else if (scenario === 'paired') {
        results.paired = await measured(() => runPaired(common))
      } else if (scenario === 'memory') {
        results.memory = await measured(() => runFootprint(o.sessions, log))
      } else if (scenario === 'soak') {
        results.soak = await measured(() => runSoak({ ...common, server: o.soakServer }))
      } else {
        results.throughput ??= {}
        results.throughput[scenario] = await measured(() => runThroughput(scenario, common))
      }
    }
  }
} finally {
  await rm(usersFile, { force: true })
  if (needsRedis) log(`deleted ${await cleanRedis(o.redisUrl)} Redis keys of this run`)
}

if (!o.profile) {
  if (o.json) console.log(JSON.stringify(results, null, 2))
  else console.log(`\n${consoleReport(results)}\n`)
  if (o.record) log(`recorded in ${(await record(results)).join(', ')}`)
}
