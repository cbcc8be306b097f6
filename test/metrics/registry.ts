import t from 'tap'
import { ErrorCodes } from '../../lib/errors.js'
import { Registry } from '../../lib/metrics/registry.js'

t.test('counters, gauges and histograms snapshot as plain data', async (t) => {
  const r = new Registry()
  const c = r.counter('a_total', 'A.', ['kind'])
  c.series('x').inc()
  c.series('x').inc(2)
  c.series('y')
  const g = r.gauge('g', 'G.')
  g.series().set(5)
  g.series().inc(-2)
  const h = r.histogram('h_seconds', 'H.', ['op', 'outcome'], [0.1, 1])
  const s = h.series('get', 'ok')
  for (const v of [0.05, 0.1, 0.5, 3]) s.observe(v)
  t.same(await r.snapshot(), [
    { name: 'a_total', help: 'A.', type: 'counter', aggregation: 'sum', labelNames: ['kind'], series: [{ labels: ['x'], value: 3 }, { labels: ['y'], value: 0 }] },
    { name: 'g', help: 'G.', type: 'gauge', aggregation: 'sum', labelNames: [], series: [{ labels: [], value: 3 }] },
    { name: 'h_seconds', help: 'H.', type: 'histogram', aggregation: 'sum', labelNames: ['op', 'outcome'], buckets: [0.1, 1], series: [{ labels: ['get', 'ok'], counts: [2, 1, 1], sum: 3.65 }] },
  ])
  t.equal(h.series('get', 'ok'), s, 'the same series object for the same labels')
  g.reset()
  t.same((await r.snapshot())[1]?.series, [])
})

t.test('collect hooks run before a snapshot; a failing or slow one leaves its gauge as it was', async (t) => {
  const r = new Registry({ collectTimeoutMs: 30 })
  // The deadline timer is unref'd (a server keeps the process alive); keep this one up meanwhile.
  const keepAlive = setInterval(() => {}, 1000)
  t.teardown(() => clearInterval(keepAlive))
  const fast = r.gauge('fast', 'F.').series()
  const slow = r.gauge('slow', 'S.').series()
  const bad = r.gauge('bad', 'B.').series()
  slow.set(7)
  bad.set(9)
  let n = 0
  r.onCollect(() => fast.set(++n))
  r.onCollect(() => new Promise<void>(() => {}))
  r.onCollect(() => {
    throw new Error('cannot read')
  })
  const snap = await r.snapshot()
  t.same(snap.map((f) => f.series[0]?.value), [1, 7, 9])
  t.equal(new Registry().snapshot instanceof Function, true)
})

t.test('programmer errors are coded TypeErrors', async (t) => {
  const r = new Registry()
  r.counter('dup_total', 'D.')
  const bad = { code: ErrorCodes.OPTION_INVALID }
  t.throws(() => r.counter('dup_total', 'D.'), bad, 'registered twice')
  t.throws(() => r.counter('bad-name', 'B.'), bad)
  t.throws(() => r.gauge('ok', 'O.', ['bad-label']), bad)
  t.throws(() => r.gauge('ok2', 'O.', ['__reserved']), bad)
  t.throws(() => r.histogram('h1', 'H.', [], []), bad, 'no buckets')
  t.throws(() => r.histogram('h2', 'H.', [], [1, 1]), bad, 'not ascending')
  t.throws(() => r.histogram('h3', 'H.', [], [1, Infinity]), bad, 'not finite')
  t.throws(() => r.counter('c_total', 'C.', ['a']).series(), bad, 'wrong label count')
})
