/**
 * Where the time goes in a V8 CPU profile (`node --cpu-prof` writes one on exit): the top
 * functions by self time, aggregated by function name + script URL + line, with their inclusive
 * ("total") time, then self time per script. Self time is summed from the sample time deltas, so
 * it is in ms of wall clock spent on the main thread with that function on top of the stack;
 * percentages are of the busy (not idle) time.
 *
 *   node bench/profile-summary.mjs <file.cpuprofile> [top=25]
 *
 * `npm run bench -- --profile` writes profiles to bench/.tmp/profiles/ and prints this summary.
 */
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('../', import.meta.url))

function shortUrl(url) {
  if (url === '') return ''
  const path = url.startsWith('file://') ? fileURLToPath(url) : url
  return path.startsWith(root) ? path.slice(root.length) : path.replace(/^.*\/node_modules\//, 'node_modules/')
}

/**
 * @param {{ nodes: Array<{ id: number, callFrame: { functionName: string, url: string, lineNumber: number }, children?: number[] }>, samples: number[], timeDeltas: number[], startTime: number, endTime: number }} profile
 * @returns {{ totalMs: number, busyMs: number, rows: Array<{ name: string, where: string, selfMs: number, selfPct: number, totalMs: number, totalPct: number }>, scripts: Array<{ script: string, selfMs: number, selfPct: number }>, groups: Array<{ group: string, selfMs: number, selfPct: number }> }}
 */
export function summarizeProfile(profile, top = 25) {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]))
  const parent = new Map()
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id)
  const keyOf = (n) => {
    const f = n.callFrame
    const url = shortUrl(f.url)
    return `${f.functionName || '(anonymous)'}\u0000${url}${url ? `:${f.lineNumber + 1}` : ''}`
  }
  const self = new Map()
  const total = new Map()
  let all = 0
  // Sample i lasted timeDeltas[i + 1] (the delta is the time since the previous sample).
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000
    all += dt
    const leaf = byId.get(profile.samples[i])
    const k = keyOf(leaf)
    self.set(k, (self.get(k) ?? 0) + dt)
    // Inclusive time: count each function once per sample, however deep it recurses.
    const seen = new Set()
    for (let id = leaf.id; id !== undefined; id = parent.get(id)) {
      const key = keyOf(byId.get(id))
      if (seen.has(key)) continue
      seen.add(key)
      total.set(key, (total.get(key) ?? 0) + dt)
    }
  }
  // Percentages are of the busy time: a server waiting for the client is not a cost to cut.
  const busy = all - (self.get('(idle)\u0000') ?? 0)
  self.delete('(idle)\u0000')
  const rows = [...self.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, top)
    .map(([key, ms]) => {
      const [name, where] = key.split('\u0000')
      return { name, where, selfMs: ms, selfPct: (100 * ms) / busy, totalMs: total.get(key), totalPct: (100 * total.get(key)) / busy }
    })
  // Self time per script: how much is ours (dist/), node's HTTP stack, the kernel write, GC.
  const perScript = new Map()
  for (const [key, ms] of self) {
    const [name, where] = key.split('\u0000')
    const script = where === '' ? name : where.replace(/:\d+$/, '')
    perScript.set(script, (perScript.get(script) ?? 0) + ms)
  }
  // Coarser still: our code, node's own JavaScript, native calls (syscalls such as writev), GC.
  const perGroup = new Map()
  for (const [key, ms] of self) {
    const [name, where] = key.split('\u0000')
    const group = where.startsWith('dist/')
      ? 'sessionkit (dist/)'
      : where.startsWith('node:')
        ? 'node internals (node:*)'
        : where.startsWith('node_modules/')
          ? 'dependencies (node_modules/)'
          : where.startsWith('bench/')
            ? 'bench server code (bench/)'
            : where === '' && !name.startsWith('(')
              ? 'native calls (writev, …)'
              : where === '' ? name : 'other'
    perGroup.set(group, (perGroup.get(group) ?? 0) + ms)
  }
  const groups = [...perGroup.entries()].sort((a, b) => b[1] - a[1]).map(([group, ms]) => ({ group, selfMs: ms, selfPct: (100 * ms) / busy }))
  const scripts = [...perScript.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, 12)
    .map(([script, ms]) => ({ script, selfMs: ms, selfPct: (100 * ms) / busy }))
  return { totalMs: all, busyMs: busy, rows, scripts, groups }
}

/** The summary as a fixed-width text table. */
export function formatSummary({ totalMs, busyMs, rows, scripts, groups }) {
  const lines = [
    `profile: ${(totalMs / 1000).toFixed(2)} s sampled, ${(busyMs / 1000).toFixed(2)} s busy (not idle); % are of busy time`,
    ' self ms  self %  total %  function  (where)',
  ]
  for (const r of rows) {
    lines.push(`${r.selfMs.toFixed(1).padStart(8)}  ${r.selfPct.toFixed(1).padStart(5)} %  ${r.totalPct.toFixed(1).padStart(5)} %  ${r.name}${r.where ? `  (${r.where})` : ''}`)
  }
  lines.push('', 'self time by script:', ' self ms  self %  script')
  for (const s of scripts) lines.push(`${s.selfMs.toFixed(1).padStart(8)}  ${s.selfPct.toFixed(1).padStart(5)} %  ${s.script}`)
  lines.push('', 'self time by kind:', ' self ms  self %  kind')
  for (const g of groups) lines.push(`${g.selfMs.toFixed(1).padStart(8)}  ${g.selfPct.toFixed(1).padStart(5)} %  ${g.group}`)
  return lines.join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, top = '25'] = process.argv.slice(2)
  if (file === undefined) {
    console.error('usage: node bench/profile-summary.mjs <file.cpuprofile> [top=25]')
    process.exit(1)
  }
  console.log(formatSummary(summarizeProfile(JSON.parse(readFileSync(file, 'utf8')), Number(top))))
}
