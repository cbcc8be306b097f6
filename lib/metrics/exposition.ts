/**
 * The Prometheus text exposition format, version 0.0.4, written by hand
 * (https://prometheus.io/docs/instrumenting/exposition_formats/#text-based-format), and the merge
 * of several processes' snapshots into one (the primary of a node:cluster server).
 *
 * Format rules this follows: one `# HELP` and one `# TYPE` line per family, before its samples;
 * help text escapes `\` and newline; label values escape `\`, `"` and newline; histogram buckets
 * are cumulative, carry an `le` label, end with `le="+Inf"` equal to `_count`, then `_sum` and
 * `_count`; the output ends with a newline. Histogram series never observed are left out.
 * `promtool check metrics` validates the output in the tests.
 */
import type { FamilySnapshot, SeriesSnapshot } from './registry.js'

/** The Content-Type of the format. */
export const CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8'

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

function escapeValue(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')
}

/** A sample value: Go's ParseFloat spellings for the special values. */
export function formatNumber(n: number): string {
  if (Number.isNaN(n)) return 'NaN'
  if (n === Infinity) return '+Inf'
  if (n === -Infinity) return '-Inf'
  return String(n)
}

function labelText(names: readonly string[], values: readonly string[], extra?: string): string {
  const parts: string[] = []
  for (let i = 0; i < names.length; i++) {
    // An empty value is the same as no label in Prometheus: leave it out.
    if (values[i] !== '') parts.push(`${names[i]}="${escapeValue(values[i] as string)}"`)
  }
  if (extra !== undefined) parts.push(extra)
  return parts.length === 0 ? '' : `{${parts.join(',')}}`
}

/** Write families as exposition text. */
export function writeText(families: readonly FamilySnapshot[]): string {
  let out = ''
  for (const f of families) {
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`
    for (const s of f.series) {
      if (f.type !== 'histogram') {
        out += `${f.name}${labelText(f.labelNames, s.labels)} ${formatNumber(s.value as number)}\n`
        continue
      }
      const bounds = f.buckets as number[]
      const counts = s.counts as number[]
      // A histogram series appears with its first observation (as prom-client does): fifteen
      // lines of zeros per never-used label set would only bloat every scrape.
      if (!counts.some((c) => c > 0)) continue
      let cumulative = 0
      for (let i = 0; i <= bounds.length; i++) {
        cumulative += counts[i] as number
        const le = i < bounds.length ? formatNumber(bounds[i] as number) : '+Inf'
        out += `${f.name}_bucket${labelText(f.labelNames, s.labels, `le="${le}"`)} ${cumulative}\n`
      }
      out += `${f.name}_sum${labelText(f.labelNames, s.labels)} ${formatNumber(s.sum as number)}\n`
      out += `${f.name}_count${labelText(f.labelNames, s.labels)} ${cumulative}\n`
    }
  }
  return out
}

/**
 * Combine the snapshots of several processes (`workers[i]` from the worker named `names[i]`)
 * into one set of families, each by its `aggregation`: counters and histograms are summed, so a
 * scrape sees the whole server and never one random worker; per-process gauges gain a `worker`
 * label. Families are matched by name; a family missing from a worker counts as empty there.
 */
export function mergeSnapshots(workers: ReadonlyArray<readonly FamilySnapshot[]>, names: readonly string[]): FamilySnapshot[] {
  const merged = new Map<string, { family: FamilySnapshot; series: Map<string, SeriesSnapshot & { n: number }> }>()
  workers.forEach((families, w) => {
    for (const f of families) {
      const perWorker = f.aggregation === 'worker'
      let entry = merged.get(f.name)
      if (entry === undefined) {
        const labelNames = perWorker ? [...f.labelNames, 'worker'] : [...f.labelNames]
        entry = { family: { ...f, labelNames, series: [] }, series: new Map() }
        merged.set(f.name, entry)
      }
      for (const s of f.series) {
        const labels = perWorker ? [...s.labels, names[w] as string] : s.labels
        const key = labels.join('\u0000')
        const into = entry.series.get(key)
        if (into === undefined) {
          entry.series.set(key, { ...s, labels, counts: s.counts && [...s.counts], n: 1 })
          continue
        }
        into.n++
        if (f.type === 'histogram') {
          const counts = s.counts as number[]
          ;(into.counts as number[]).forEach((c, i) => ((into.counts as number[])[i] = c + (counts[i] as number)))
          into.sum = (into.sum as number) + (s.sum as number)
        } else if (f.aggregation === 'max') {
          into.value = Math.max(into.value as number, s.value as number)
        } else {
          // 'sum', and 'avg' (divided once every worker is in, below).
          into.value = (into.value as number) + (s.value as number)
        }
      }
    }
  })
  return [...merged.values()].map(({ family, series }) => ({
    ...family,
    series: [...series.values()].map(({ n, ...s }) =>
      family.aggregation === 'avg' ? { ...s, value: (s.value as number) / n } : s,
    ),
  }))
}
