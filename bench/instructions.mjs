/**
 * `npm run bench:instructions`: what logs and metrics add to an authenticated GET /dashboard, in
 * CPU instructions per request counted by valgrind's callgrind, not in time. On a machine whose
 * neighbours make identical server processes 30–50 % apart in CPU time from one round to the next,
 * an overhead of a few per cent cannot be timed; an instruction count repeats to 0.1 %.
 *
 * How: bench/servers/sessionkit.mjs (MemoryStore) runs under `valgrind --tool=callgrind` once per
 * mode (plain, logs + metrics, logs, metrics), two at a time. One keep-alive connection sends
 * GET /dashboard in batches of 10 requests written at once, the next batch only when all 10
 * answers have arrived, so every mode reads the same batches (with free-running connections the
 * batch sizes, and with them the per-batch costs of the event loop, follow the server's speed).
 * After a warm-up the counters are zeroed (`callgrind_control -z`), the measured requests run, and
 * the counters are dumped: instructions per request = instructions in user space on the main
 * thread over that window ÷ requests. What it does not see: kernel time (socket I/O, the log's
 * write(2)) and how fast the instructions run (cache misses, garbage collection pauses count only
 * as their instructions).
 *
 * V8's optimizing compiler is left out of the compared figure and shown on its own. It runs on the
 * main thread here (`--single-threaded`), and a function called once per batch of lines (the
 * log's) reaches its optimization threshold late, so whether a compilation lands inside the
 * measured window varies from run to run: the same build counted +4.6 k or +9.2 k instructions a
 * request over plain (after 6000 warm-up requests), and the difference was all TurboFan
 * (`v8::internal::compiler::`, from `callgrind_annotate`'s per-function self costs). A real server
 * pays a compilation once, not per request. With the main thread alone and 24000 warm-up requests
 * (below), three processes of a mode agree within 0.2 k; a process still compiling in the window
 * shows in the compiling column and reads ~1.5 k high (its code not yet optimized): compare
 * medians of `--runs 3` or more.
 *
 * Under valgrind the server runs ~50× slower, so work that is paced by the clock rather than by
 * requests would weigh ~50× too much per request: BENCH_CALLGRIND=1 makes the bench server slow
 * its `performance.now()` by that factor (a millisecond spans as many requests as under real load,
 * which is what the log's per-millisecond time stamp cache sees), write pending log lines by size
 * only (no 20 ms timer) and leave out the event-loop delay monitor's 10 ms timer.
 *
 * Needs valgrind (`apt-get install valgrind`); not part of `npm run bench` or of CI.
 */
import { execFileSync, spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import net from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { login } from './lib/servers.mjs'
import { quantile } from './lib/throughput.mjs'
import { makeUsers } from './lib/users.mjs'

const MODES = { plain: '', 'logs + metrics': '1', logs: 'logs', metrics: 'metrics' }
/**
 * Requests before the counters are zeroed. After 6000, V8 was still optimizing the logger's
 * functions (called once per batch of lines) inside the measured window, and they ran in their
 * unoptimized tiers until then: 2.6–7.7 k instructions a request of compiling alone. After 24000,
 * plain compiles nothing in the window, logs + metrics ~1 k.
 */
const WARMUP = 24000
const MEASURED = 6000
const BATCH = 10
/**
 * Processes counted per mode (`--runs N`, default 1): one process now and then lands a few hundred
 * instructions a request off the others (a JIT decision inside the window), so compare builds on
 * the median of 3 or more.
 */
/** `--modes plain,logs`: the modes to count (default all; plain always, everything is against it). */
const modesArg = process.argv.indexOf('--modes')
const MODE_NAMES = modesArg === -1 ? Object.keys(MODES) : ['plain', ...process.argv[modesArg + 1].split(',').filter((m) => m !== 'plain')]
if (MODE_NAMES.some((m) => !(m in MODES))) {
  console.error(`--modes: a comma list of ${Object.keys(MODES).join(', ')}`)
  process.exit(2)
}
const runsArg = process.argv.indexOf('--runs')
const RUNS = runsArg === -1 ? 1 : Number(process.argv[runsArg + 1])
if (!Number.isInteger(RUNS) || RUNS < 1 || RUNS > 20) {
  console.error('--runs: an integer from 1 to 20')
  process.exit(2)
}
/** A small young generation, so the measured window holds many scavenges, not zero or one. */
const NODE_FLAGS = ['--no-allocation-site-pretenuring', '--min-semi-space-size=2', '--max-semi-space-size=2', '--single-threaded']

function valgrindMissing() {
  try {
    execFileSync('valgrind', ['--version'], { stdio: 'ignore' })
    return false
  } catch {
    return true
  }
}

/** V8's optimizing compilers: their functions' own (self) instructions are compiling, not serving. */
const COMPILER = /v8::internal::(compiler|maglev|baseline)::/

/** Instructions a callgrind dump spent in the optimizing compilers (self costs, per function). */
function compiling(file) {
  const text = execFileSync('callgrind_annotate', ['--inclusive=no', '--threshold=100', file], { encoding: 'utf8', maxBuffer: 64 << 20 })
  let sum = 0
  for (const line of text.split('\n')) {
    const m = /^\s*([\d,]+) \([^)]*\)\s+(.*)$/.exec(line)
    if (m !== null && COMPILER.test(m[2])) sum += Number(m[1].replaceAll(',', ''))
  }
  return sum
}

/** Instructions per request of one server mode: all of them, and those spent compiling. */
async function count(observed, usersFile, user) {
  const dir = mkdtempSync(join(tmpdir(), 'sk-callgrind-'))
  const server = new URL('./servers/sessionkit.mjs', import.meta.url).pathname
  const child = spawn('valgrind', ['--tool=callgrind', '--separate-threads=yes', `--callgrind-out-file=${dir}/out.%p`, '--dump-instr=no', 'node', ...NODE_FLAGS, server], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: {
      ...process.env,
      NODE_ENV: 'development',
      BENCH_STORE: 'memory',
      BENCH_USERS_FILE: usersFile,
      BENCH_PREFIX: 'unused:',
      BENCH_REDIS_URL: 'redis://127.0.0.1:6379',
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      BCRYPT_COST: '4',
      BENCH_OBSERVED: observed,
      BENCH_CALLGRIND: '1',
    },
  })
  let stderr = ''
  child.stderr.on('data', (d) => (stderr += d))
  const exited = new Promise((resolve) => child.once('exit', resolve))
  try {
    const url = await Promise.race([
      new Promise((resolve) => child.on('message', (m) => m?.type === 'ready' && resolve(m.url))),
      exited.then(() => Promise.reject(new Error(`server under valgrind exited: ${stderr.slice(-1000)}`))),
    ])
    const cookie = await login(url, user)
    const { port } = new URL(url)
    const request = `GET /dashboard HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nCookie: ${cookie}\r\n\r\n`
    const socket = net.connect(Number(port), '127.0.0.1')
    socket.setNoDelay(true)
    await new Promise((resolve, reject) => socket.once('connect', resolve).once('error', reject))
    let received = ''
    let waiting = null
    socket.on('data', (d) => {
      received += d.toString('latin1')
      if (waiting !== null && waiting.check()) waiting.done()
    })
    // Answers are counted by their status lines; every one must be a 200.
    const answers = () => received.split('HTTP/1.1 ').length - 1
    const batches = async (requests) => {
      for (let sent = 0; sent < requests; sent += BATCH) {
        const until = answers() + BATCH
        await new Promise((done) => {
          waiting = { check: () => answers() >= until, done }
          socket.write(request.repeat(BATCH))
        })
        waiting = null
        const bad = received.split('HTTP/1.1 ').slice(1).find((a) => !a.startsWith('200 '))
        if (bad !== undefined) throw new Error(`not a 200: ${bad.slice(0, 40)}`)
        received = ''
      }
    }
    await batches(WARMUP)
    execFileSync('callgrind_control', ['--zero', String(child.pid)], { stdio: 'ignore' })
    await batches(MEASURED)
    execFileSync('callgrind_control', [`--dump=measured`, String(child.pid)], { stdio: 'ignore' })
    socket.destroy()
    child.send({ type: 'stop' })
    await exited
    let instructions = null
    let dumped = ''
    // The main thread's dump only (thread 1, `-01`): the bcrypt pool's worker threads start, idle
    // and exit on their own schedule, and one doing so inside the window added ~4 k instructions a
    // request (with a garbage collection of its heap) to whichever mode it happened in.
    for (const name of readdirSync(dir)) {
      if (!name.endsWith('-01')) continue
      const text = readFileSync(join(dir, name), 'utf8')
      if (!/^desc: Trigger: .*measured/m.test(text)) continue
      instructions = Number(/^summary: (\d+)/m.exec(text)[1])
      dumped = join(dir, name)
    }
    if (instructions === null) throw new Error('callgrind wrote no measured dump')
    return { total: instructions / MEASURED, compiling: compiling(dumped) / MEASURED }
  } finally {
    child.kill('SIGKILL')
    rmSync(dir, { recursive: true, force: true })
  }
}

if (valgrindMissing()) {
  console.error('bench:instructions needs valgrind (apt-get install valgrind)')
  process.exit(2)
}
const { file: usersFile, users } = await makeUsers(2, 4)
try {
  const names = MODE_NAMES
  const runs = {}
  for (const name of names) runs[name] = []
  // Every mode `RUNS` times, in rounds; two processes at a time (a 2-CPU machine): counts do not
  // depend on what else runs.
  const jobs = Array.from({ length: RUNS }, () => names).flat()
  for (let i = 0; i < jobs.length; i += 2) {
    const pair = jobs.slice(i, i + 2)
    const counts = await Promise.all(pair.map((name) => count(MODES[name], usersFile, users[0])))
    pair.forEach((name, k) => runs[name].push(counts[k]))
    console.error(`[instructions] ${Math.min(i + 2, jobs.length)}/${jobs.length} processes counted`)
  }
  const median = (values) => quantile(values, 0.5)
  const k = (n) => `${(n / 1000).toFixed(2)} k`
  // Compared without the compiler's share (see the top of this file); the total is shown too.
  const serving = (r) => r.total - r.compiling
  const plain = median(runs.plain.map(serving))
  console.log(`GET /dashboard, MemoryStore: user-space instructions per request (callgrind; ${WARMUP} warm-up + ${MEASURED} measured requests, batches of ${BATCH} on one connection; ${RUNS === 1 ? 'one process' : `median of ${RUNS} processes, min–max`} per mode; ${process.version})`)
  console.log('| mode | instructions / request, without compiling | × plain | added | compiling (V8 JIT) | total |')
  console.log('| --- | ---: | ---: | ---: | ---: | ---: |')
  // The median, and with several processes their min–max.
  const spread = (values) => `${k(median(values))}${RUNS === 1 ? '' : ` (${k(Math.min(...values))}–${k(Math.max(...values))})`}`
  for (const name of names) {
    const values = runs[name].map(serving)
    const n = median(values)
    console.log(`| ${name} | ${spread(values)} | ${(n / plain).toFixed(3)} | ${name === 'plain' ? '–' : k(n - plain)} | ${spread(runs[name].map((r) => r.compiling))} | ${k(median(runs[name].map((r) => r.total)))} |`)
  }
} finally {
  rmSync(usersFile, { force: true })
}
