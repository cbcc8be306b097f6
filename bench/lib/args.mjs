/**
 * Command-line options of `npm run bench -- …`. `--name value` and `--name=value` both work.
 */
import { SERVERS } from './servers.mjs'

export const SCENARIOS = ['dashboard', 'public', 'cart', 'paired', 'storm', 'memory', 'soak']

const OPTIONS = {
  duration: { default: 5, help: 'seconds per measured run (throughput scenarios; storm phases use 2×)' },
  warmup: { default: 3, help: 'seconds of unrecorded load on each new server process before its measured run' },
  connections: { default: 50, help: 'autocannon connections (throughput scenarios)' },
  rounds: { default: 5, help: 'rounds (at least 5 for a recorded run); each round runs every server once, in the same order' },
  servers: { default: Object.keys(SERVERS).join(','), list: true, help: `comma list of: ${Object.keys(SERVERS).join(', ')}` },
  scenarios: { default: SCENARIOS.join(','), list: true, help: `comma list of: ${SCENARIOS.join(', ')}` },
  'redis-url': { default: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', string: true, help: 'Redis for the *-redis servers' },
  'bcrypt-cost': { default: 10, help: 'bcrypt cost of the bench users (BCRYPT_COST)' },
  'storm-server': { default: 'sessionkit-memory', string: true, help: 'server of the storm scenario' },
  'storm-connections': { default: 8, help: 'concurrent logins in the storm (and bcrypt calls in flight for the raw rate)' },
  'probe-connections': { default: 10, help: 'connections of the /dashboard latency probe during the storm' },
  'probe-rate': { default: 1000, help: 'requests per second of the probe (a fixed rate, so latency is not queueing)' },
  sessions: { default: 100_000, help: 'sessions for the MemoryStore footprint' },
  'soak-server': { default: 'sessionkit-memory', string: true, help: 'server of the soak scenario' },
  'soak-seconds': { default: 60, help: 'length of the soak' },
  'soak-warmup': { default: 10, help: 'seconds at the start of the soak left out of the flatness check' },
  'soak-connections': { default: 20, help: 'connections of the soak' },
  quick: { default: false, flag: true, help: 'a smoke run under a minute: bare, sessionkit-memory and sessionkit-redis on dashboard and cart, 5 rounds of 0.6 s after 0.2 s warm-ups, bcrypt cost 4 (never recorded)' },
  pin: { default: true, flag: true, help: '--no-pin: do not pin the load generator and the servers to separate CPUs (bench/lib/pin.mjs)' },
  profile: { default: false, flag: true, help: 'instead of measuring: CPU-profile each --servers (default sessionkit-memory) under each throughput --scenarios (default dashboard)' },
  json: { default: false, flag: true, help: 'print the results as JSON on stdout (progress goes to stderr)' },
  record: { default: false, flag: true, help: 'update bench/RESULTS.md, bench/results.json, bench/results.svg (tracked files: nothing in bench/ is written without it)' },
  help: { default: false, flag: true, help: 'this text' },
}

export function usage() {
  const lines = Object.entries(OPTIONS).map(([name, o]) => `  --${name}${o.flag ? '' : ' <value>'}`.padEnd(30) + `${o.help}${o.flag ? '' : ` (default ${o.default})`}`)
  return `Usage: npm run bench -- [options]\n\n${lines.join('\n')}\n`
}

const camel = (name) => name.replace(/-(\w)/g, (_, c) => c.toUpperCase())

/** Parse `argv` into options (camelCase names); throws with a message naming the bad option. */
export function parseArgs(argv) {
  const given = new Set()
  const out = {}
  for (const [name, o] of Object.entries(OPTIONS)) out[camel(name)] = o.default
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]
    const m = /^--(no-)?([a-z-]+)(?:=(.*))?$/.exec(arg)
    const o = m && OPTIONS[m[2]]
    if (!o) throw new Error(`unknown option ${arg}\n\n${usage()}`)
    const name = m[2]
    given.add(name)
    if (o.flag) {
      if (m[3] !== undefined) throw new Error(`--${name} takes no value`)
      out[camel(name)] = m[1] === undefined
      continue
    }
    const raw = m[3] ?? argv[++i]
    if (raw === undefined || m[1] !== undefined) throw new Error(`--${name} needs a value`)
    if (o.list) out[camel(name)] = raw.split(',').map((s) => s.trim()).filter(Boolean)
    else if (o.string) out[camel(name)] = raw
    else {
      const n = Number(raw)
      if (!Number.isFinite(n) || n <= 0) throw new Error(`--${name} must be a positive number, got "${raw}"`)
      out[camel(name)] = n
    }
  }
  for (const key of ['servers', 'scenarios']) if (typeof out[key] === 'string') out[key] = out[key].split(',')
  if (out.profile) {
    if (!given.has('servers')) out.servers = ['sessionkit-memory']
    if (!given.has('scenarios')) out.scenarios = ['dashboard']
  }
  if (out.quick) {
    if (out.record) throw new Error('--quick runs are too short to record; leave out --record')
    if (!given.has('servers')) out.servers = ['bare', 'sessionkit-memory', 'sessionkit-redis']
    if (!given.has('scenarios')) out.scenarios = ['dashboard', 'cart']
    if (!given.has('rounds')) out.rounds = 5
    if (!given.has('duration')) out.duration = 0.6
    if (!given.has('warmup')) out.warmup = 0.2
    if (!given.has('bcrypt-cost')) out.bcryptCost = 4
  }
  if (out.record && out.rounds < 5) throw new Error(`a recorded run needs at least 5 rounds (medians and quartiles), got --rounds ${out.rounds}`)
  for (const s of out.servers) if (!(s in SERVERS)) throw new Error(`unknown server "${s}"; known: ${Object.keys(SERVERS).join(', ')}`)
  for (const s of out.scenarios) if (!SCENARIOS.includes(s)) throw new Error(`unknown scenario "${s}"; known: ${SCENARIOS.join(', ')}`)
  for (const s of [out.stormServer, out.soakServer]) if (!(s in SERVERS)) throw new Error(`unknown server "${s}"`)
  return out
}
