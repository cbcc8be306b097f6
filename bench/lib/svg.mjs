/**
 * bench/results.svg: horizontal bars of each server's throughput as a ratio to bare node:http,
 * one group per throughput scenario, the targets drawn as dashed marks. Hand-written SVG.
 */
import { SERVERS } from './servers.mjs'

const TARGETS = { dashboard: { 'sessionkit-memory': 0.75, 'sessionkit-redis': 0.45 }, cart: { 'sessionkit-memory': 0.5 } }
const COLORS = { bare: '#9aa5b1', sessionkit: '#1f6feb', express: '#d29922', fastify: '#8250df' }

const esc = (s) => String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')

export function renderSvg(results) {
  const groups = Object.values(results.throughput ?? {}).filter((t) => t.rows.some((r) => r.ratio != null))
  const labelW = 330
  const barW = 360
  const rowH = 20
  const width = labelW + barW + 70
  const max = Math.max(1, ...groups.flatMap((g) => g.rows.map((r) => r.ratio ?? 0)))
  const x = (ratio) => labelW + (ratio / max) * barW
  const out = []
  let y = 44
  for (const g of groups) {
    out.push(`<text x="10" y="${y}" class="h">${esc(g.title)}</text>`)
    y += 10
    for (const r of g.rows) {
      if (r.ratio == null) continue
      const family = r.server.split('-')[0]
      const w = Math.max(1, x(r.ratio) - labelW)
      out.push(`<text x="${labelW - 8}" y="${y + 14}" text-anchor="end">${esc(SERVERS[r.server]?.label ?? r.server)}</text>`)
      out.push(`<rect x="${labelW}" y="${y + 3}" width="${w.toFixed(1)}" height="${rowH - 6}" fill="${COLORS[family] ?? '#57606a'}"${r.valid ? '' : ' fill-opacity="0.35"'}/>`)
      const target = TARGETS[g.scenario]?.[r.server]
      // The value goes right of the bar or of the target mark, whichever ends later.
      const labelX = Math.max(labelW + w, target === undefined ? 0 : x(target)) + 5
      out.push(`<text x="${labelX.toFixed(1)}" y="${y + 14}">${r.ratio.toFixed(2)}${r.valid ? '' : ' INVALID'}</text>`)
      if (target !== undefined) {
        const tx = x(target).toFixed(1)
        out.push(`<line x1="${tx}" x2="${tx}" y1="${y + 1}" y2="${y + rowH - 1}" stroke="#cf222e" stroke-width="2" stroke-dasharray="3 2"><title>target ${target}</title></line>`)
      }
      y += rowH
    }
    y += 24
  }
  const height = y
  const axis = [0, 0.25, 0.5, 0.75, 1].filter((v) => v <= max)
  const grid = axis.map((v) => `<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="28" y2="${height - 20}" stroke="#d0d7de"/><text x="${x(v).toFixed(1)}" y="${height - 6}" text-anchor="middle" class="s">${v}</text>`)
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">
<style>.h{font-weight:600;font-size:13px}.s{fill:#57606a;font-size:11px}</style>
<rect width="100%" height="100%" fill="#fff"/>
<text x="10" y="18" class="h">Throughput as a ratio to bare node:http (same run); dashed red: target</text>
${grid.join('\n')}
${out.join('\n')}
</svg>
`
}
