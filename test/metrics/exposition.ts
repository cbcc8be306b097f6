import t from 'tap'
import { formatNumber, mergeSnapshots, writeText } from '../../lib/metrics/exposition.js'
import { Registry, type FamilySnapshot } from '../../lib/metrics/registry.js'
import { promtoolCheck } from '../fixtures/prometheus.js'

t.test('text format 0.0.4: HELP/TYPE, escaping, cumulative buckets, +Inf, _sum and _count', async (t) => {
  const r = new Registry()
  r.counter('events_total', 'Help with \\ and\nnewline.', ['event', 'reason']).series('login.failed', 'say "hi"\\\n').inc(2)
  r.counter('logouts_total', 'No reason.', ['event', 'reason']).series('logout', '').inc()
  const h = r.histogram('d_seconds', 'D.', ['route'], [0.5, 1])
  h.series('/a').observe(0.25)
  h.series('/a').observe(2)
  h.series('/never')
  const text = writeText(await r.snapshot())
  t.equal(
    text,
    [
      '# HELP events_total Help with \\\\ and\\nnewline.',
      '# TYPE events_total counter',
      'events_total{event="login.failed",reason="say \\"hi\\"\\\\\\n"} 2',
      '# HELP logouts_total No reason.',
      '# TYPE logouts_total counter',
      'logouts_total{event="logout"} 1',
      '# HELP d_seconds D.',
      '# TYPE d_seconds histogram',
      'd_seconds_bucket{route="/a",le="0.5"} 1',
      'd_seconds_bucket{route="/a",le="1"} 1',
      'd_seconds_bucket{route="/a",le="+Inf"} 2',
      'd_seconds_sum{route="/a"} 2.25',
      'd_seconds_count{route="/a"} 2',
      '',
    ].join('\n'),
  )
  await promtoolCheck(t, text)
})

t.test('numbers: Go spellings of the special values', async (t) => {
  t.same([NaN, Infinity, -Infinity, 0.5, 12].map(formatNumber), ['NaN', '+Inf', '-Inf', '0.5', '12'])
})

t.test('merge: sum, avg, max, per-worker labels; histograms summed bucket by bucket', async (t) => {
  const family = (name: string, aggregation: FamilySnapshot['aggregation'], value: number, labels: string[] = []): FamilySnapshot => ({
    name, help: name, type: 'gauge', aggregation, labelNames: labels.length ? ['k'] : [], series: [{ labels, value }],
  })
  const hist = (counts: number[], sum: number): FamilySnapshot => ({
    name: 'h', help: 'h', type: 'histogram', aggregation: 'sum', labelNames: [], buckets: [1], series: [{ labels: [], counts, sum }],
  })
  const w1 = [family('s', 'sum', 1, ['a']), family('v', 'avg', 10), family('m', 'max', 3), family('rss', 'worker', 100), hist([1, 0], 0.5)]
  const w2 = [family('s', 'sum', 2, ['a']), family('v', 'avg', 20), family('m', 'max', 5), family('rss', 'worker', 200), hist([0, 2], 4), family('only2', 'sum', 7)]
  const merged = mergeSnapshots([w1, w2], ['1', '2'])
  const by = Object.fromEntries(merged.map((f) => [f.name, f]))
  t.same(by.s?.series, [{ labels: ['a'], value: 3 }])
  t.same(by.v?.series, [{ labels: [], value: 15 }])
  t.same(by.m?.series, [{ labels: [], value: 5 }])
  t.same(by.rss?.labelNames, ['worker'])
  t.same(by.rss?.series, [{ labels: ['1'], value: 100 }, { labels: ['2'], value: 200 }])
  t.same(by.h?.series, [{ labels: [], counts: [1, 2], sum: 4.5 }])
  t.same(by.only2?.series, [{ labels: [], value: 7 }])
  t.same(w1[4]?.series[0]?.counts, [1, 0], 'inputs untouched')
  await promtoolCheck(t, writeText(merged))
})
