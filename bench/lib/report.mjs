/**
 * Turning results into text: the console table, the targets, and the generated section of
 * bench/RESULTS.md. Every number printed is computed here from the measurements, never by hand.
 */
import { summary } from './throughput.mjs'

/**
 * The targets, checked against whatever scenarios the results hold. A throughput target is met only
 * when the first quartile of the per-round ratios meets it (the whole lower half of the IQR above
 * the line), not the median alone: on a shared 2-core machine a median can cross a line by luck.
 */
export function targets(results) {
  const out = []
  const ratio = (scenario, server) => results.throughput?.[scenario]?.rows.find((r) => r.server === server)
  for (const [scenario, server, min, what] of [
    ['dashboard', 'sessionkit-memory', 0.85, 'authenticated GET, MemoryStore'],
    ['dashboard', 'sessionkit-redis', 0.75, 'authenticated GET, RedisStore (client cache on)'],
    ['cart', 'sessionkit-memory', 0.5, 'POST /cart (a write per request), MemoryStore'],
  ]) {
    const row = ratio(scenario, server)
    if (row?.ratio == null) continue
    const q1 = row.ratioIqr?.[0] ?? row.ratio
    out.push({ what: `${what}: × bare node:http, median (IQR)`, measured: mark(withIqr(row.ratio, row.ratioIqr), row.valid), target: `IQR low ≥ ${min}`, met: row.valid && q1 >= min })
  }
  // Logs and metrics on must keep ≥ 95 % of the authenticated GET throughput. Measured best by the
  // paired scenario (both servers at once on one CPU, bench/lib/paired.mjs); without it, from the
  // dashboard scenario's rounds (the two servers back to back in every round).
  const pairedObserved = results.paired?.rows.find((r) => r.measured === 'sessionkit-memory-observed')
  const plain = ratio('dashboard', 'sessionkit-memory')
  const observed = ratio('dashboard', 'sessionkit-memory-observed')
  if (pairedObserved) {
    const k = pairedObserved.kept
    out.push({ what: 'authenticated GET with logs + metrics on: × without, both at once on one CPU, median (IQR)', measured: mark(withIqr(k.median, [k.q1, k.q3]), pairedObserved.valid), target: 'IQR low ≥ 0.95', met: pairedObserved.valid && k.q1 >= 0.95 })
  } else if (plain && observed) {
    const kept = summary(observed.rounds.map((r, i) => r.rps / plain.rounds[i].rps))
    const valid = plain.valid && observed.valid
    out.push({ what: 'authenticated GET with logs + metrics on: × without, median (IQR)', measured: mark(withIqr(kept.median, [kept.q1, kept.q3]), valid), target: 'IQR low ≥ 0.95', met: valid && kept.q1 >= 0.95 })
  }
  const storm = results.storm
  if (storm) {
    out.push({ what: 'login throughput: × raw bcrypt compares/s', measured: mark(fixed(storm.loginRatio), storm.logins.valid), target: '≥ 0.9', met: storm.valid && storm.loginRatio >= 0.9 })
    out.push({ what: '/dashboard p99 during the storm: × calm p99', measured: mark(fixed(storm.p99Ratio), storm.calm.valid && storm.probeDuring.valid && storm.loginsDuring.valid), target: '≤ 3', met: storm.valid && storm.p99Ratio <= 3 })
  }
  for (const row of results.memory?.rows ?? []) {
    out.push({ what: `MemoryStore bytes/session (${row.label})`, measured: String(row.bytesPerSession), target: '≤ 1024', met: row.bytesPerSession <= 1024 })
  }
  const soak = results.soak
  if (soak) {
    out.push({ what: `RSS over the ${soak.seconds} s soak after ${soak.warmup} s: max deviation from median`, measured: mark(pct(soak.maxDeviation), soak.valid), target: '≤ ±10 %', met: soak.valid && soak.flat })
  }
  return out
}

/** A measured value, flagged when the run behind it had failures. */
const mark = (text, valid) => (valid ? text : `${text} (INVALID run)`)
const fixed = (x, digits = 2) => (x == null || !Number.isFinite(x) ? '–' : x.toFixed(digits))
const pct = (x) => (x == null || !Number.isFinite(x) ? '–' : `${(x * 100).toFixed(1)} %`)
const int = (x) => Math.round(x).toLocaleString('en-US')
const ms = (x) => (Number.isInteger(x) ? String(x) : x < 10 ? x.toFixed(2) : x.toFixed(1))
const withIqr = (x, iqr) => (iqr == null ? fixed(x) : `${fixed(x)} (${fixed(iqr[0])}–${fixed(iqr[1])})`)
const mb = (bytes) => `${(bytes / 2 ** 20).toFixed(1)} MiB`

/** One markdown table (also readable as console text). */
function table(head, rows, align) {
  const line = (cells) => `| ${cells.join(' | ')} |`
  return [line(head), line(align.map((a) => (a === 'r' ? '---:' : a === 'c' ? ':---:' : '---'))), ...rows.map(line)].join('\n')
}

function throughputTable(t) {
  const head = ['server', 'req/s median (IQR)', 'p50 ms', 'p99 ms', 'server CPU µs/req', 'non-2xx', 'errors', '× bare median (IQR)', 'cache hit rate', 'valid']
  const rows = t.rows.map((r) => [
    r.label,
    r.rpsIqr ? `${int(r.rps)} (${int(r.rpsIqr[0])}–${int(r.rpsIqr[1])})` : int(r.rps),
    ms(r.p50),
    ms(r.p99),
    r.cpuUs == null ? '–' : r.cpuUs.toFixed(1),
    String(r.non2xx),
    String(r.errors),
    r.ratio == null ? '–' : `**${fixed(r.ratio)}**${r.ratioIqr ? ` (${fixed(r.ratioIqr[0])}–${fixed(r.ratioIqr[1])})` : ''}`,
    r.cache?.hitRate == null ? '–' : `${pct(r.cache.hitRate)} (${int(r.cache.hits)} hits, ${int(r.cache.misses + r.cache.bypassed)} reads from Redis)`,
    r.valid ? 'ok' : `INVALID: ${r.invalid.join(', ')}`,
  ])
  return table(head, rows, ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'])
}

/**
 * The cost of logs + metrics as CPU time: per round, the plain server's CPU µs per request ÷ the
 * observed one's (the share of throughput kept if the server's CPU were the only limit). Less
 * disturbed by a shared machine than req/s; printed beside the target, which stays on req/s.
 */
function observedCpuLine(t) {
  const plain = t.rows.find((r) => r.server === 'sessionkit-memory')
  const observed = t.rows.find((r) => r.server === 'sessionkit-memory-observed')
  if (!plain || !observed || plain.cpuUs == null || observed.cpuUs == null) return ''
  const kept = summary(observed.rounds.map((r, i) => plain.rounds[i].cpuUs / r.cpuUs))
  return `Logs + metrics on, by server CPU time: without ÷ with, per round = ${withIqr(kept.median, [kept.q1, kept.q3])} (median, IQR); ${fixed(observed.cpuUs - plain.cpuUs, 1)} µs more CPU per request (medians).`
}

function peerLine(t) {
  const get = (s) => t.rows.find((r) => r.server === s)?.rps
  const parts = []
  for (const [ours, peers] of [
    ['sessionkit-memory', ['express-memory', 'fastify-memory']],
    ['sessionkit-redis', ['express-redis', 'fastify-redis']],
    ['sessionkit-redis-nocache', ['express-redis', 'fastify-redis']],
  ]) {
    const mine = get(ours)
    if (mine === undefined) continue
    const vs = peers.filter((p) => get(p) !== undefined).map((p) => `${fixed(mine / get(p), 1)}× ${p}`)
    if (vs.length > 0) parts.push(`${ours} = ${vs.join(', ')}`)
  }
  return parts.length > 0 ? `Against the peers (req/s ÷ req/s): ${parts.join('; ')}.` : ''
}

function pairedTable(p) {
  const cpu = (x) => (x == null ? '–' : x.toFixed(1))
  return table(
    ['pair', 'req/s (measured, reference)', 'CPU µs/req (measured, reference)', 'kept, median (IQR)', 'kept by CPU, median (IQR)', 'busy', 'valid'],
    p.rows.map((r) => [
      r.label,
      `${int(r.measuredRps)}, ${int(r.referenceRps)}`,
      `${cpu(r.measuredCpuUs)}, ${cpu(r.referenceCpuUs)}`,
      `**${withIqr(r.kept.median, [r.kept.q1, r.kept.q3])}**`,
      r.cpuKept === null ? '–' : withIqr(r.cpuKept.median, [r.cpuKept.q1, r.cpuKept.q3]),
      fixed(r.busy),
      r.valid ? 'ok' : `INVALID: ${r.invalid.join(', ')}`,
    ]),
    ['l', 'r', 'r', 'r', 'r', 'r', 'l'],
  )
}

function stormTable(s) {
  const row = (name, r, extra) => [name, fixed(r.rps, 1), ms(r.p50), ms(r.p99), String(r.non2xx), String(r.errors), extra, r.valid ? 'ok' : `INVALID: ${r.invalid.join(', ')}`]
  return table(
    ['phase', 'req/s', 'p50 ms', 'p99 ms', 'non-2xx', 'errors', 'ratio', 'valid'],
    [
      ['raw bcrypt compares (bench/bcrypt-rate.mjs)', fixed(s.raw.perSecond, 1), '–', '–', '–', '–', '1.00', 'ok'],
      row('logins alone', s.logins, `**${fixed(s.loginRatio)}** × raw`),
      row('/dashboard probe, calm', s.calm, '1.00'),
      row('/dashboard probe, during the storm', s.probeDuring, `**${fixed(s.p99Ratio)}** × calm p99`),
      row('logins, with the probe running', s.loginsDuring, `${fixed(s.loginRatioDuring)} × raw`),
    ],
    ['l', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  )
}

function memoryTable(m) {
  return table(
    ['sessions', 'users', 'bytes/session'],
    m.rows.map((r) => [`${int(r.sessions)} (${r.label})`, int(r.users), String(r.bytesPerSession)]),
    ['l', 'r', 'r'],
  )
}

function soakTable(s) {
  const l = s.load
  return table(
    ['requests', 'req/s', 'p99 ms', 'non-2xx', 'errors', 'RSS median', 'RSS min–max', 'max deviation', 'RSS drift', 'heap drift', 'valid'],
    [[int(l.total), int(l.rps), ms(l.p99), String(l.non2xx), String(l.errors), mb(s.rssMedian), `${mb(s.rssMin)} – ${mb(s.rssMax)}`, pct(s.maxDeviation), pct(s.rssDrift), pct(s.heapDrift), l.valid ? 'ok' : `INVALID: ${l.invalid.join(', ')}`]],
    ['r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'r', 'l'],
  )
}

/** RSS samples as a compact line: MiB per second of the soak. */
function soakSamples(s) {
  const line = (key) => s.samples.map((x) => (x[key] / 2 ** 20).toFixed(0)).join(' ')
  return `RSS, MiB, one sample per second: ${line('rss')}\n\nHeap used, MiB, same samples: ${line('heapUsed')}`
}

function runLine(meta) {
  return [
    `Run: ${meta.date} · Node ${meta.node} · ${meta.nproc} vCPUs (\`nproc\`), ${meta.cpu} · 1-min load average ${meta.loadBefore.toFixed(2)} before, ${meta.loadAfter.toFixed(2)} after`,
    '',
    '```sh',
    meta.command,
    '```',
  ].join('\n')
}

/** Markdown for every scenario the merged results hold, in scenario order. */
export function markdownSections(results) {
  const parts = []
  for (const t of Object.values(results.throughput ?? {})) {
    const s = t.settings
    parts.push(`### ${t.title}\n\nautocannon -c ${s.connections}, ${s.duration} s × ${s.rounds} rounds (each after a ${s.warmup} s warm-up), servers interleaved${s.freshProcesses ? ', each a fresh process every round, alone while it runs' : ''}; ${s.pinning ?? 'pinning not recorded'}${s.v8Flags ? `; every server process runs with \`${s.v8Flags.join(' ')}\` (why: bench/lib/servers.mjs)` : ''}. req/s, p50 and p99 are medians over the rounds, with the interquartile range of req/s; × bare = the median of the per-round ratios (req/s ÷ bare's req/s in the same round) with their interquartile range. Cache hit rate: reads the RedisStore answered from memory over all its reads, measured runs only.\n\n${runLine(t.meta)}\n\n${throughputTable(t)}\n\n${[peerLine(t), observedCpuLine(t)].filter(Boolean).join('\n\n')}`.trimEnd())
  }
  if (results.paired) {
    const p = results.paired
    const c = p.settings
    parts.push(`### ${p.title}\n\nEach pair: two fresh server processes at once, both pinned to CPU ${c.cpu ?? '(not pinned)'}, each driven by its own autocannon -c ${c.connections} on GET /dashboard from the harness's CPUs, ${c.duration} s measured after a ${c.warmup} s warm-up, ${c.rounds} rounds; every server process runs with \`${c.v8Flags.join(' ')}\`. The two take turns on the one CPU, so both see the same machine from one millisecond to the next, and the ratio cancels how fast that machine is (bench/lib/paired.mjs says why). Kept = the measured server's req/s ÷ the reference's in the same round; by CPU = the reference's CPU µs per request ÷ the measured one's; median (IQR) over the rounds. The first row pairs two identical servers: how far from 1.00 the method reads when nothing differs. Busy: CPU-seconds per second the pair used (1.00 = the CPU kept busy).\n\n${runLine(p.meta)}\n\n${pairedTable(p)}`)
  }
  if (results.storm) {
    const s = results.storm
    const c = s.settings
    parts.push(`### Login storm (${s.server})\n\n${c.stormConnections} connections posting correct logins round-robin over ${c.users} users, bcrypt cost ${c.bcryptCost}; /dashboard probe at ${c.probeRate} req/s over ${c.probeConnections} connections; ${c.seconds} s per phase; raw rate with ${c.stormConnections} compares in flight.\n\n${runLine(s.meta)}\n\n${stormTable(s)}`)
  }
  if (results.memory) {
    parts.push(`### MemoryStore footprint\n\n\`bench/memory-footprint.ts\` at ${int(results.memory.count)} sessions (heap after \`gc()\`, store the only owner).\n\n${runLine(results.memory.meta)}\n\n${memoryTable(results.memory)}`)
  }
  if (results.soak) {
    const s = results.soak
    parts.push(`### Soak: RSS under a mixed load (${s.server})\n\n${s.connections} connections, ${s.seconds} s; each loops: log in, 50 × GET /dashboard, GET /cart, 10 × POST /cart, POST /logout. RSS sampled every second; the first ${s.warmup} s are warm-up. Drift = mean of the last 10 samples ÷ mean of the first 10 after warm-up − 1.\n\n${runLine(s.meta)}\n\n${soakTable(s)}\n\n${soakSamples(s)}`)
  }
  const ts = targets(results)
  if (ts.length > 0) {
    parts.unshift(`### Targets\n\nA throughput target is met only when the lower end of the IQR of the per-round ratios meets it.\n\n${table(['target', 'measured', 'wanted', ''], ts.map((t) => [t.what, t.measured, t.target, t.met ? '✓' : '✗']), ['l', 'r', 'r', 'c'])}\n\n![ratio to bare node:http per scenario](results.svg)`)
  }
  return parts.join('\n\n')
}

/** Console text for one run's results (only what this run measured). */
export function consoleReport(results) {
  return markdownSections(results).replace(/\*\*/g, '').replace(/\n\n!\[.*\]\(results\.svg\)/, '')
}
